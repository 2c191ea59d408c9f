"""robots.txt (RFC 9309): parsing, matching, crawl delay, and what a fetch outcome means.

Plain functions, no Beam and no network: the pipeline fetches ``/robots.txt``
with the project's ``Fetcher`` (``transforms.robots``) and hands the status
and bytes to ``outcome_for_response`` / ``outcome_for_error``.

Why not ``urllib.robotparser``: it picks a group when the group's user-agent
value is a *substring* of ours ("User-agent: news" would bind "newsbeam"),
ignores ``*`` and ``$`` in paths, applies the first matching rule instead of
the longest, and has no notion of the RFC's fetch outcomes. RFC 9309 matching
is short, so it is implemented here:

- groups: the group(s) whose user-agent equals our product token
  (case-insensitive) are combined; otherwise the ``*`` group(s); otherwise no
  rules;
- rules: the longest matching pattern wins, ``allow`` wins a tie; ``*`` matches
  any run of characters, a trailing ``$`` anchors the end; paths and patterns
  are compared after the same percent-encoding normalisation; ``/robots.txt``
  is always allowed;
- fetch outcomes (RFC 9309 2.3.1): 2xx parse; 4xx (and more than
  ``max_redirects`` redirects) "unavailable": everything allowed; 5xx, 429 and
  network failures "unreachable": everything disallowed for this run;
- at most 500 KiB of a robots.txt is parsed (2.5); rules are cached for at
  most 24 hours (2.4).

``Crawl-delay`` is not in the RFC; it is read from the same group and taken
as the minimum number of seconds between requests to the host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from schemas.records import RobotsOutcome
from transforms.lib.times import ISO_FORMAT, parse_iso

MAX_ROBOTS_BYTES = 500 * 1024  # RFC 9309 2.5: parse at least 500 KiB; the rest is ignored
ROBOTS_TTL_SECONDS = 24 * 3600  # RFC 9309 2.4: a cached copy is not used for longer than 24 hours

# Fetch outcomes (RobotsOutcome.outcome).
PARSED = "parsed"  # 2xx: the rules apply
UNAVAILABLE = "unavailable"  # 4xx or too many redirects: no rules, everything allowed (2.3.1.3)
UNREACHABLE = "unreachable"  # 5xx, 429, network errors: everything disallowed this run (2.3.1.4)
REFUSED = "refused"  # our own network policy refused the host: not asked; the page fetch meets the same refusal
CACHEABLE = frozenset({PARSED, UNAVAILABLE})

_TOKEN_RE = re.compile(r"[A-Za-z_-]+")
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_HEX = frozenset("0123456789abcdefABCDEF")
# Fetch failures that mean "there is no robots.txt to follow" rather than "the server is in trouble".
_UNAVAILABLE_REASONS = frozenset({"too_many_redirects", "redirect_loop", "bad_redirect", "bad_scheme"})


@dataclass(frozen=True)
class RobotsPolicy:
    """How a run treats robots.txt; part of the run's configuration."""

    agent: str = "newsbeam"  # our product token: the User-Agent's first token, lower case
    ignore_hosts: frozenset[str] = field(default_factory=frozenset)  # --ignore_robots_for: one's own sites
    max_crawl_delay: float = 30.0  # a longer Crawl-delay is honoured only up to this (and reported)
    ttl_seconds: float = ROBOTS_TTL_SECONDS

    def ignores(self, host: str | None) -> bool:
        return (host or "").lower().rstrip(".") in self.ignore_hosts


def product_token(user_agent: str) -> str:
    """The product token robots.txt groups are matched against: "newsbeam/0.1.0 (...)" -> "newsbeam"."""
    match = _TOKEN_RE.match(user_agent.strip())
    return match.group(0).lower() if match else "*"


def origin_of(url: str) -> str | None:
    """The scope of one robots.txt: scheme, host and port (RFC 9309 2.3); None for a URL without one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = 80 if scheme == "http" else 443
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def normalise(path: str) -> str:
    """The form paths and patterns are compared in (RFC 9309 2.2.2): non-ASCII percent-encoded as UTF-8,
    escapes of unreserved characters decoded, other escapes in upper case."""
    out: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char == "%" and i + 2 < len(path) and path[i + 1] in _HEX and path[i + 2] in _HEX:
            decoded = chr(int(path[i + 1:i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + path[i + 1:i + 3].upper())
            i += 3
            continue
        if ord(char) > 127:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _wildcard_match(pattern: str, text: str) -> bool:
    """Does ``pattern`` (``*`` = any run, a trailing ``$`` = end of text) match the start of ``text``?

    Greedy matching that backtracks only to the last ``*`` (O(len(pattern) * len(text)) at worst), not
    a regular expression: a hostile robots.txt must not be able to make matching exponential.
    """
    if pattern.endswith("$"):
        pattern = pattern[:-1]
    else:
        pattern += "*"  # a rule matches any path that starts with it
    p = t = 0
    star, star_t = -1, 0
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, star_t = p, t
            p += 1
        elif p < len(pattern) and pattern[p] == text[t]:
            p += 1
            t += 1
        elif star >= 0:
            p = star + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


@dataclass(frozen=True)
class Rule:
    allow: bool
    pattern: str  # normalised

    def matches(self, path: str) -> bool:
        return _wildcard_match(self.pattern, path)

    def line(self) -> str:
        return f"{'allow' if self.allow else 'disallow'} {self.pattern}"


@dataclass(frozen=True)
class RobotsRules:
    """The rules of the group(s) that apply to one product token."""

    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None

    def deciding_rule(self, url_or_path: str) -> Rule | None:
        """The rule that decides (longest pattern; ``allow`` on a tie), or None when no rule matches."""
        path = _path_of(url_or_path)
        if path == "/robots.txt":
            return None
        best: Rule | None = None
        for rule in self.rules:
            if rule.matches(path) and (best is None or len(rule.pattern) > len(best.pattern)
                                       or (len(rule.pattern) == len(best.pattern) and rule.allow)):
                best = rule
        return best

    def allowed(self, url_or_path: str) -> bool:
        rule = self.deciding_rule(url_or_path)
        return rule is None or rule.allow

    def lines(self) -> list[str]:
        return [rule.line() for rule in self.rules]

    @classmethod
    def from_lines(cls, lines: list[str] | tuple[str, ...], crawl_delay: float | None = None) -> RobotsRules:
        rules = []
        for line in lines:
            kind, _, pattern = line.partition(" ")
            rules.append(Rule(kind == "allow", pattern))
        return cls(tuple(rules), crawl_delay)


def _path_of(url_or_path: str) -> str:
    if _SCHEME_RE.match(url_or_path):
        parts = urlsplit(url_or_path)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    else:
        path = url_or_path or "/"
    return normalise(path)


@dataclass
class _Group:
    agents: set[str] = field(default_factory=set)
    rules: list[Rule] = field(default_factory=list)
    delays: list[float] = field(default_factory=list)


def parse_robots(body: bytes | str, agent: str) -> RobotsRules:
    """The rules in a robots.txt body that apply to product token ``agent``.

    Only the first ``MAX_ROBOTS_BYTES`` are read; a line cut by that limit is dropped (half a path would
    be a different, wider rule).
    """
    if isinstance(body, str):
        body = body.encode("utf-8")
    if len(body) > MAX_ROBOTS_BYTES:
        body = body[:MAX_ROBOTS_BYTES]
        body = body[: body.rfind(b"\n") + 1]
    text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
    groups: list[_Group] = []
    current: _Group | None = None
    collecting_agents = False  # consecutive user-agent lines share one group
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        key, colon, value = line.partition(":")
        if not colon:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "user-agent":
            if current is None or not collecting_agents:
                current = _Group()
                groups.append(current)
                collecting_agents = True
            token = "*" if value.startswith("*") else (product_token(value) if value else "")
            if token:
                current.agents.add(token)
        elif key in ("allow", "disallow") and current is not None:
            collecting_agents = False
            if value:  # an empty Disallow allows everything: no rule
                current.rules.append(Rule(key == "allow", normalise(value)))
        elif key == "crawl-delay" and current is not None:
            collecting_agents = False
            delay = _seconds(value)
            if delay is not None:
                current.delays.append(delay)
        # sitemap and unknown records do not affect groups (RFC 9309 2.2.4)
    agent = agent.lower()
    chosen = [g for g in groups if agent in g.agents] or [g for g in groups if "*" in g.agents]
    rules = tuple(rule for group in chosen for rule in group.rules)
    delays = [d for group in chosen for d in group.delays]
    return RobotsRules(rules, max(delays) if delays else None)


def _seconds(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def _expires(fetched_at: str, seconds: float) -> str:
    return (parse_iso(fetched_at) + timedelta(seconds=seconds)).strftime(ISO_FORMAT)


def outcome_for_response(origin: str, agent: str, status: int, body: bytes, fetched_at: str,
                         ttl_seconds: float = ROBOTS_TTL_SECONDS) -> RobotsOutcome:
    """A fetched robots.txt (after redirects): 2xx is parsed; anything else the fetcher returned is no rules."""
    if 200 <= status < 300:
        rules = parse_robots(body, agent)
        return RobotsOutcome(origin, agent, PARSED, status, rules.lines(), rules.crawl_delay, None, fetched_at,
                             _expires(fetched_at, ttl_seconds), "fetched")
    return RobotsOutcome(origin, agent, UNAVAILABLE, status, [], None, f"HTTP {status}", fetched_at,
                         _expires(fetched_at, ttl_seconds), "fetched")


def outcome_for_error(origin: str, agent: str, reason: str, status: int | None, message: str, fetched_at: str,
                      ttl_seconds: float = ROBOTS_TTL_SECONDS) -> RobotsOutcome:
    """A robots.txt fetch that failed, as RFC 9309 2.3.1 reads it."""
    error = f"{reason}: {message}"[:500]
    if (status is not None and 400 <= status < 500 and status != 429) or reason in _UNAVAILABLE_REASONS:
        kind, expires = UNAVAILABLE, _expires(fetched_at, ttl_seconds)
    elif reason == "blocked_address":
        kind, expires = REFUSED, fetched_at
    else:
        # 5xx, 429 (the server asks us to slow down, as Google also reads it), timeouts, resets, DNS,
        # a robots.txt over the byte cap: complete disallow, and asked again next run (never cached).
        kind, expires = UNREACHABLE, fetched_at
    return RobotsOutcome(origin, agent, kind, status, [], None, error, fetched_at, expires, "fetched")


@lru_cache(maxsize=4096)
def _rules(lines: tuple[str, ...]) -> RobotsRules:
    return RobotsRules.from_lines(lines)


def refusal(outcome: RobotsOutcome | None, url: str) -> str | None:
    """Why ``url`` may not be fetched under ``outcome`` (None: it may; also when robots.txt was not consulted)."""
    if outcome is None or outcome.outcome in (UNAVAILABLE, REFUSED):
        return None
    if outcome.outcome == UNREACHABLE:
        return (f"robots.txt of {outcome.origin} unreachable ({outcome.error}): "
                "every page of the host is disallowed this run (RFC 9309 2.3.1.4)")
    rule = _rules(tuple(outcome.rules)).deciding_rule(url)
    if rule is None or rule.allow:
        return None
    return f"robots.txt of {outcome.origin} disallows {url} for {outcome.agent} (rule '{rule.line()}')"


def is_fresh(outcome: RobotsOutcome, now_iso: str) -> bool:
    """May a cached outcome still be used at ``now_iso``? Only parsed and 4xx outcomes are ever cached."""
    return outcome.outcome in CACHEABLE and outcome.expires > now_iso


def effective_crawl_delay(outcome: RobotsOutcome | None, policy: RobotsPolicy) -> tuple[float | None, bool]:
    """(seconds to keep between requests to the host, whether the host's Crawl-delay was capped)."""
    if outcome is None or outcome.crawl_delay is None:
        return None, False
    if outcome.crawl_delay > policy.max_crawl_delay:
        return policy.max_crawl_delay, True
    return outcome.crawl_delay, False
