"""robots.txt in a whole run, against a loopback server that logs every request."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from pipeline.cli import main
from tests.conftest import beam_test_pipeline
from tests.faultserver import FaultServer, fixed, redirect
from tests.pipeline_run import read_outputs, read_table
from transforms.lib.http import FetchSettings
from transforms.lib.robots import RobotsPolicy
from transforms.robots import FetchRobots

ARTICLE = ("<html lang='en'><body><article><h1>{title}</h1>"
           + "".join(f"<p>Paragraph {n}: the harbour council of Carrow met on Monday to discuss item {n} of the "
                     f"budget, and {n * 7} residents attended, officials said.</p>" for n in range(6))
           + "</article></body></html>")
SUMMARY = "The harbour council of Carrow met on Monday to discuss the budget, officials said. " * 4
PATHS = ("/news/a1", "/news/a2", "/private/a3")


def serve_site(server, robots: bytes | None) -> str:
    items = "".join(f"<item><title>{path}</title><link>{server.url(path)}</link><guid>{server.url(path)}</guid>"
                    f"<pubDate>Tue, 24 Nov 2026 0{i}:00:00 GMT</pubDate><description>{SUMMARY}</description></item>"
                    for i, path in enumerate(PATHS))
    rss = f"<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
    for path in PATHS:
        server.route(path, fixed(200, ARTICLE.format(title=path).encode()))
    if robots is not None:
        server.route("/robots.txt", fixed(200, robots, "text/plain"))
    return server.route("/feed.xml", fixed(200, rss, "application/rss+xml"))


def run(feed: str, output, *extra: str) -> int:
    return main(["run", "--feeds", feed, "--output", str(output), "--allow_private_networks", "--per_host_delay", "0",
                 "--no_dedup", "--no_entities", *extra])


def starts(server, *paths: str) -> list[float]:
    return sorted(t for path in paths for t in server.times[path])


def test_a_disallowed_page_is_not_requested_and_the_crawl_delay_spaces_the_rest(fault_server, tmp_path):
    feed = serve_site(fault_server, b"User-agent: *\nDisallow: /private/\nCrawl-delay: 0.5\n")
    assert run(feed, tmp_path) == 0
    out = read_outputs(tmp_path)
    assert fault_server.hits["/private/a3"] == 0 and fault_server.hits["/robots.txt"] == 1
    records = {r["url"]: r for r in out["records"]}
    private = records[fault_server.url("/private/a3")]
    assert private["body_source"] == "feed" and "robots_disallowed" in private["body_note"]
    assert "disallow /private/" in private["body_note"]
    assert all(records[fault_server.url(p)]["body_source"] == "page" for p in PATHS[:2])
    times = starts(fault_server, "/robots.txt", "/news/a1", "/news/a2")
    assert all(b - a >= 0.45 for a, b in zip(times, times[1:])), times  # 0.5 s, less timer slack
    summary = out["summary"]
    assert summary["pages"]["robots_disallowed"] == 1 and summary["invariant"]["holds"]
    assert summary["robots"]["outcomes"] == {"parsed": 1} and summary["robots"]["crawl_delay_capped"] == {}
    [row] = read_table(tmp_path, "robots")
    assert (row["origin"], row["outcome"], row["rules"], row["crawl_delay"]) == (
        f"http://127.0.0.1:{fault_server.port}", "parsed", ["disallow /private/"], 0.5)


def test_ignore_robots_for_fetches_the_page_without_asking(fault_server, tmp_path):
    feed = serve_site(fault_server, b"User-agent: *\nDisallow: /\n")
    assert run(feed, tmp_path, "--ignore_robots_for", "127.0.0.1") == 0
    out = read_outputs(tmp_path)
    assert fault_server.hits["/robots.txt"] == 0 and fault_server.hits["/private/a3"] == 1
    assert {r["body_source"] for r in out["records"]} == {"page"}
    assert out["summary"]["robots"]["ignored_hosts"] == ["127.0.0.1"]


def test_a_crawl_delay_beyond_the_cap_is_fetched_at_the_cap_and_reported(fault_server, tmp_path, capsys):
    feed = serve_site(fault_server, b"User-agent: newsbeam\nCrawl-delay: 3600\n")
    assert run(feed, tmp_path, "--max_crawl_delay", "0.3") == 0
    out = read_outputs(tmp_path)
    times = starts(fault_server, "/robots.txt", *PATHS)
    assert len(times) == 4 and all(b - a >= 0.25 for a, b in zip(times, times[1:])), times
    assert times[-1] - times[0] < 30  # the cap, not the hour the host asked for
    origin = f"http://127.0.0.1:{fault_server.port}"
    assert out["summary"]["robots"]["crawl_delay_capped"] == {origin: 3600}
    assert out["summary"]["counters"][f"robots.crawl_delay_capped.{origin}"] == 1
    assert f"Crawl-delay capped at 0.3 s (--max_crawl_delay): {origin} asked 3600 s" in capsys.readouterr().out


def test_robots_fetch_outcomes_follow_rfc_9309(fault_server):
    """A 5xx disallows everything this run (never cached), a redirect is followed, a 404 allows everything."""
    fault_server.route("/robots.txt", fixed(503, b"down"))
    with FaultServer() as redirecting, FaultServer() as missing:
        redirecting.route("/robots.txt", redirect("/site/robots-v2.txt", 301))
        redirecting.route("/site/robots-v2.txt", fixed(200, b"User-agent: *\nDisallow: /x\n", "text/plain"))
        origins = {f"http://127.0.0.1:{server.port}": name
                   for server, name in ((fault_server, "down"), (redirecting, "moved"), (missing, "missing"))}
        settings = FetchSettings(allow_private_networks=True, backoff_seconds=0.01, max_retries=1)
        with beam_test_pipeline() as p:
            out = p | beam.Create(sorted(origins)) | FetchRobots(settings, RobotsPolicy())
            assert_that(out["robots"] | beam.Map(lambda r: (origins[r.origin], r.outcome, r.status, list(r.rules),
                                                             r.expires > r.fetched_at)),
                        equal_to([("down", "unreachable", 503, [], False),
                                  ("moved", "parsed", 200, ["disallow /x"], True),
                                  ("missing", "unavailable", 404, [], True)]))
    assert fault_server.hits["/robots.txt"] == 2  # retried like any 5xx, then given up for this run
