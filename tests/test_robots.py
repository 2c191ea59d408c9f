"""robots.txt (RFC 9309): groups, matching, crawl delay, fetch outcomes, expiry; pure functions, no network."""

from __future__ import annotations

import time

import pytest

from transforms.lib.robots import (
    MAX_ROBOTS_BYTES,
    PARSED,
    REFUSED,
    UNAVAILABLE,
    UNREACHABLE,
    RobotsPolicy,
    effective_crawl_delay,
    is_fresh,
    normalise,
    origin_of,
    outcome_for_error,
    outcome_for_response,
    parse_robots,
    product_token,
    refusal,
)

FETCHED_AT = "2026-11-24T06:00:00Z"
ROBOTS = b"""# a comment line
User-agent: otherbot
Disallow: /

User-Agent: NewsBeam/2.0   # our group: the token matches case-insensitively, the version is ignored
Disallow: /private/
Allow: /private/open/
Disallow: /*.pdf$
Disallow: /search?
Crawl-delay: 2.5

User-agent: *
Disallow: /everyone-else/

Sitemap: http://w.example/sitemap.xml
"""


def test_product_token_is_the_user_agents_first_token():
    assert product_token("newsbeam/0.1.0 (news feed and article fetcher) (+mailto:x@y)") == "newsbeam"
    assert product_token("My_Crawler-2/1.0") == "my_crawler-"


def test_our_group_applies_and_the_others_do_not():
    rules = parse_robots(ROBOTS, "newsbeam")
    assert not rules.allowed("http://w.example/private/a.html")
    assert rules.allowed("http://w.example/private/open/a.html")  # the longer (allow) rule wins
    assert rules.allowed("http://w.example/everyone-else/a")  # the * group is not ours when ours exists
    assert rules.allowed("http://w.example/news/a.html")
    assert rules.crawl_delay == 2.5


def test_the_star_group_applies_when_no_group_names_us():
    rules = parse_robots(ROBOTS, "somebot")
    assert not rules.allowed("/everyone-else/a") and rules.allowed("/private/a")
    assert rules.crawl_delay is None


def test_a_group_matches_the_whole_token_not_a_substring():
    # urllib.robotparser binds "newsbeam" to "User-agent: news"; RFC 9309 does not.
    rules = parse_robots(b"User-agent: news\nDisallow: /\n\nUser-agent: *\nDisallow: /x\n", "newsbeam")
    assert rules.allowed("/a") and not rules.allowed("/x")


def test_groups_for_the_same_agent_are_combined_and_consecutive_agents_share_a_group():
    body = b"User-agent: a\nUser-agent: newsbeam\nDisallow: /one\n\nUser-agent: newsbeam\nDisallow: /two\n"
    rules = parse_robots(body, "newsbeam")
    assert not rules.allowed("/one") and not rules.allowed("/two") and rules.allowed("/three")


def test_wildcards_and_end_anchor():
    rules = parse_robots(ROBOTS, "newsbeam")
    assert not rules.allowed("/files/report.pdf")
    assert rules.allowed("/files/report.pdf?download=1")  # $ anchors the end of path and query
    assert not rules.allowed("/search?q=harbour")
    assert rules.allowed("/search")
    star = parse_robots(b"User-agent: *\nDisallow: /*/drafts/*.html\n", "newsbeam")
    assert not star.allowed("/2026/drafts/a.html") and star.allowed("/2026/final/a.html")


def test_longest_match_wins_and_allow_wins_a_tie():
    rules = parse_robots(b"User-agent: *\nAllow: /page\nDisallow: /*.htm\nDisallow: /page\n", "newsbeam")
    assert rules.allowed("/page")  # equal length: allow
    assert not rules.allowed("/page.htm")  # "/*.htm" (6) is longer than "/page" (5)


def test_empty_disallow_allows_everything_and_robots_txt_is_always_allowed():
    assert parse_robots(b"User-agent: *\nDisallow:\n", "newsbeam").allowed("/anything")
    assert parse_robots(b"User-agent: *\nDisallow: /\n", "newsbeam").allowed("/robots.txt")


def test_rules_before_any_user_agent_and_unknown_lines_are_ignored():
    rules = parse_robots(b"Disallow: /\nnonsense line\nFoo: bar\nUser-agent: *\nDisallow: /x\n", "newsbeam")
    assert rules.allowed("/a") and not rules.allowed("/x")


def test_percent_encoding_is_compared_normalised():
    assert normalise("/a%7eb/%2f/caf\u00e9") == "/a~b/%2F/caf%C3%A9"
    rules = parse_robots("User-agent: *\nDisallow: /caf\u00e9/\n".encode(), "newsbeam")
    assert not rules.allowed("http://w.example/caf%C3%A9/menu") and not rules.allowed("/caf\u00e9/menu")


def test_a_hostile_pattern_does_not_make_matching_exponential():
    rules = parse_robots(("User-agent: *\nDisallow: /" + "*a" * 40 + "b\n").encode(), "newsbeam")
    started = time.monotonic()
    assert rules.allowed("/" + "a" * 5000)
    assert time.monotonic() - started < 2


def test_only_the_first_500_kib_are_parsed_and_a_cut_line_is_dropped():
    filler = b"# " + b"x" * 1000 + b"\n"
    body = b"User-agent: *\nDisallow: /early\n" + filler * (MAX_ROBOTS_BYTES // len(filler) + 1)
    body += b"Disallow: /late\n"
    rules = parse_robots(body, "newsbeam")
    assert not rules.allowed("/early") and rules.allowed("/late")
    cut = b"User-agent: *\n" + b"#" * (MAX_ROBOTS_BYTES - len(b"User-agent: *\n") - 5) + b"\nDisallow: /a/long/path\n"
    assert parse_robots(cut, "newsbeam").allowed("/a")  # "Disallow: /a" would be a different, wider rule


def test_crawl_delay_is_read_and_capped_by_policy():
    outcome = outcome_for_response("http://w.example", "newsbeam", 200, b"User-agent: *\nCrawl-delay: 120\n",
                                   FETCHED_AT)
    assert outcome.crawl_delay == 120
    assert effective_crawl_delay(outcome, RobotsPolicy(max_crawl_delay=30)) == (30, True)
    assert effective_crawl_delay(outcome._replace(crawl_delay=4.0), RobotsPolicy()) == (4.0, False)
    assert parse_robots(b"User-agent: *\nCrawl-delay: soon\n", "newsbeam").crawl_delay is None


def test_a_2xx_is_parsed_and_cached_for_24_hours():
    outcome = outcome_for_response("http://w.example", "newsbeam", 200, ROBOTS, FETCHED_AT)
    assert outcome.outcome == PARSED and outcome.expires == "2026-11-25T06:00:00Z"
    assert refusal(outcome, "http://w.example/private/x") and refusal(outcome, "http://w.example/ok") is None
    assert is_fresh(outcome, "2026-11-25T05:59:59Z") and not is_fresh(outcome, "2026-11-25T06:00:00Z")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_a_4xx_means_everything_is_allowed(status):
    outcome = outcome_for_error("http://w.example", "newsbeam", f"http_{status}", status, "gone", FETCHED_AT)
    assert outcome.outcome == UNAVAILABLE and refusal(outcome, "http://w.example/anything") is None
    assert is_fresh(outcome, "2026-11-24T12:00:00Z")


@pytest.mark.parametrize("reason,status", [("http_500_after_retries", 500), ("http_503_after_retries", 503),
                                           ("retry_after_too_long", 429), ("connect_timeout_after_retries", None),
                                           ("dns_error", None), ("too_large", None)])
def test_5xx_429_and_network_failures_disallow_everything_this_run(reason, status):
    outcome = outcome_for_error("http://w.example", "newsbeam", reason, status, "down", FETCHED_AT)
    assert outcome.outcome == UNREACHABLE
    why = refusal(outcome, "http://w.example/news/a.html")
    assert why and "unreachable" in why and reason in why
    assert not is_fresh(outcome, FETCHED_AT)  # never cached: asked again next run


def test_too_many_redirects_is_unavailable_and_our_own_refusal_is_not_a_disallow():
    redirects = outcome_for_error("http://w.example", "newsbeam", "too_many_redirects", None, "6 hops", FETCHED_AT)
    assert redirects.outcome == UNAVAILABLE and refusal(redirects, "http://w.example/a") is None
    blocked = outcome_for_error("http://w.example", "newsbeam", "blocked_address", None, "loopback", FETCHED_AT)
    assert blocked.outcome == REFUSED and refusal(blocked, "http://w.example/a") is None  # the page meets it too
    assert refusal(None, "http://w.example/a") is None  # robots.txt not consulted (--ignore_robots_for)


def test_origin_is_scheme_host_and_port():
    assert origin_of("HTTP://WWW.Example.ORG:80/a?b") == "http://www.example.org"
    assert origin_of("https://example.org:8443/a") == "https://example.org:8443"
    assert origin_of("http://[::1]:8080/a") == "http://[::1]:8080"
    assert origin_of("ftp://example.org/a") is None and origin_of("http://bad:port/") is None


def test_policy_ignores_hosts_case_insensitively():
    policy = RobotsPolicy(ignore_hosts=frozenset({"mysite.example"}))
    assert policy.ignores("MySite.Example") and not policy.ignores("other.example")
