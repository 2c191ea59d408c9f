"""URL canonicalisation and record ids.

Two links to one article should give one canonical URL, and two different
articles should never do so: only parts that cannot select content are
removed (fragment, default port, user info, known tracking parameters).
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

ALLOWED_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that only say where a click came from. Kept explicit (rather
# than a broad pattern such as "anything containing 'source'") because
# removing a parameter that selects content would merge distinct articles.
TRACKING_PARAM_RE = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|gclsrc|dclid|msclkid|yclid|igshid|twclid|ttclid|wbraid|gbraid"
    r"|mc_cid|mc_eid|_ga|_gl|_hsenc|_hsmi|mkt_tok|oly_anon_id|oly_enc_id|vero_id|vero_conv"
    r"|ref_src|ref_url|cmpid|ito|xtor|at_medium|at_campaign|at_source|ns_mchannel|ns_campaign"
    r"|ocid|sr_share|smid|rss|rss_id|feed_id|__twitter_impression)$",
    re.IGNORECASE,
)

# Characters left unescaped in a canonical path (RFC 3986 pchar plus "/").
_PATH_SAFE = "/:@!$&'()*+,;=-._~"


class BadUrl(ValueError):
    """A URL that cannot be fetched or canonicalised."""


def canonical_url(url: str) -> str:
    """The canonical form of an absolute http(s) URL.

    Lower-case scheme and host (IDNA-encoded), no user info, no default
    port, no fragment, dot segments resolved, percent-encoding normalised,
    tracking parameters removed and the rest sorted.

    >>> canonical_url("HTTP://Example.COM:80/a/./b/../c?utm_source=x&b=2&a=1#top")
    'http://example.com/a/c?a=1&b=2'
    """
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl(f"unparseable URL {url[:200]!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BadUrl(f"scheme {scheme or '(none)'!r} is not http or https: {url[:200]!r}")
    host = _canonical_host(parts.hostname or "")
    if not host:
        raise BadUrl(f"URL has no host: {url[:200]!r}")
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, _canonical_path(parts.path), _canonical_query(parts.query), ""))


def _canonical_host(host: str) -> str:
    host = host.strip().rstrip(".").lower()
    if not host:
        return ""
    if ":" in host:  # IPv6 literal
        return f"[{host}]"
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        if re.fullmatch(r"[a-z0-9._-]+", host):  # e.g. labels idna rejects, such as "a_b"
            return host
        raise BadUrl(f"invalid host name {host!r}") from None


def _canonical_path(path: str) -> str:
    if not path:
        return "/"
    trailing = path.endswith("/")
    resolved = posixpath.normpath(path)
    if resolved.startswith("//"):  # normpath keeps a leading "//"
        resolved = "/" + resolved.lstrip("/")
    if trailing and resolved != "/":
        resolved += "/"
    return quote(unquote(resolved), safe=_PATH_SAFE)


def _canonical_query(query: str) -> str:
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if not TRACKING_PARAM_RE.match(k)]
    return urlencode(sorted(pairs))


def source_domain(url: str) -> str:
    """The host of a URL without a leading ``www.``, for grouping by outlet."""
    host = urlsplit(url).hostname or ""
    return host[4:] if host.startswith("www.") else host


def record_id(canonical: str) -> str:
    """A record id: deterministic from the canonical URL, 16 hex digits."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def is_http_url(url: str | None) -> bool:
    """True for an absolute http or https URL with a host."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ALLOWED_SCHEMES and bool(parts.hostname)
