"""Per-source figures of a run, and source health across scheduled runs (a site that changes its template)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.corpus import article_text, story
from pipeline.cli import main
from pipeline.health import flags, next_history
from pipeline.siteserver import SiteServer
from tests.pipeline_run import read_outputs, read_table
from tests.seedpages import page, rss, write_site

STEADY, REDESIGNED = "steady.example", "redesigned.example"
START = datetime(2026, 11, 20, 6, tzinfo=UTC)


def teaser_page(title: str, first_paragraph: str, site: str) -> str:
    """The new template: a one-line teaser, the story behind a script that no extractor runs."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} - {site}</title></head>
<body><header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<main><div class="teaser"><h1>{title}</h1><p>{first_paragraph[:120]}</p></div>
<div id="app" data-story="locked"></div><script>window.__STORY__ = "subscribe to read";</script></main>
<footer>Copyright {site}.</footer></body></html>"""


def publish_run(site_root: Path, run: int, redesigned: bool, rng: random.Random) -> None:
    """Each run: four new stories on each site (the older ones were seen by earlier runs)."""
    for host in (STEADY, REDESIGNED):
        files, items = {}, []
        for n in range(4):
            title, paragraphs = article_text(rng, story(rng))
            path = f"/news/run{run}-story{n}.html"
            when = START + timedelta(hours=run, minutes=n)
            items.append((title, path, when.strftime("%a, %d %b %Y %H:%M:%S GMT")))
            files[path] = (teaser_page(title, paragraphs[0], host) if redesigned and host == REDESIGNED
                           else page(title, paragraphs, host, []))
        files["/rss.xml"] = rss(host, items)
        write_site(site_root, host, files)


def test_a_site_that_changes_its_template_is_flagged_and_a_steady_one_is_not(tmp_path, capsys):
    rng = random.Random(3)
    site, output = tmp_path / "site", tmp_path / "out"
    summaries = []
    for run in range(4):
        publish_run(site, run, redesigned=run == 3, rng=rng)
        with SiteServer(site) as server:
            assert main(["run", "--feeds", f"http://{STEADY}/rss.xml", "--feeds", f"http://{REDESIGNED}/rss.xml",
                         "--output", str(output), "--state", str(tmp_path / "state"), "--poll_all",
                         "--allow_private_networks", "--per_host_delay", "0", "--no_entities", "--no_dedup",
                         *server.connect_to_args()]) == 0
        summaries.append(read_outputs(output)["summary"])
    printed = capsys.readouterr().out
    for summary in summaries[:3]:
        assert summary["source_health"] == {"sources": 2, "flagged": []}
    [flag] = summaries[3]["source_health"]["flagged"]
    assert flag["source"] == REDESIGNED and flag["flag"] == "extraction_degraded"
    assert "median page body" in flag["detail"]
    assert f"{REDESIGNED}: extraction degraded: median page body" in printed
    # This run's per-source table says the same in figures.
    figures = {row["source_domain"]: row for row in read_table(output, "sources")}
    assert figures[STEADY]["entries"] == figures[REDESIGNED]["entries"] == 4
    assert figures[REDESIGNED]["median_page_body_chars"] < 200 < figures[STEADY]["median_page_body_chars"]


def _row(source: str, page_bodies: int, median_chars: int | None, thin: int = 0, entries: int = 4,
         failures: list[dict] | None = None, feed_failures: int = 0) -> dict:
    return {"source_domain": source, "entries": entries, "bodies_from_page": page_bodies,
            "bodies_from_feed": thin, "thin_pages": thin, "repeated_page_bodies": 0,
            "median_page_body_chars": median_chars, "page_failures": failures or [], "feed_failures": feed_failures}


def test_history_needs_a_baseline_and_judges_each_source_against_its_own_past():
    history: dict = {}
    # One earlier run is not a baseline: a collapse on the second run is not yet judged.
    history = next_history(history, [_row("a.example", 4, 3000)], "2026-11-20T06:00:00Z")
    history = next_history(history, [_row("a.example", 4, 300)], "2026-11-21T06:00:00Z")
    assert flags(history, "2026-11-21T06:00:00Z") == []
    # A site whose pages were always short is not "collapsing" at 300 chars.
    for day in range(20, 24):
        history = next_history(history, [_row("short.example", 4, 300)], f"2026-11-{day}T06:00:00Z")
    assert flags(history, "2026-11-23T06:00:00Z") == []
    # Pages turning thin (the feed's text used instead) is a degradation too.
    for day, thin in ((22, 0), (23, 4)):
        history = next_history(history, [_row("a.example", 4 - thin, 3000 if not thin else None, thin=thin)],
                               f"2026-11-{day}T06:00:00Z")
    [flag] = flags(history, "2026-11-23T06:00:00Z")
    assert flag["source"] == "a.example" and "thin pages (feed text used) 0% -> 100%" in flag["detail"]


def test_a_source_failing_three_runs_running_is_flagged_and_robots_refusals_are_not_failures():
    history: dict = {}
    http_errors = [{"name": "http_503", "count": 3}]
    refused = [{"name": "robots_disallowed", "count": 4}]
    for day in (20, 21, 22):
        history = next_history(history, [_row("down.example", 1, 2000, failures=http_errors),
                                         _row("polite.example", 0, None, failures=refused),
                                         _row("gone.example", 0, None, entries=0, feed_failures=1)],
                               f"2026-11-{day}T06:00:00Z")
    found = {(f["source"], f["flag"]): f["detail"] for f in flags(history, "2026-11-22T06:00:00Z")}
    assert set(found) == {("down.example", "failing"), ("gone.example", "failing")}
    assert "75%, 75%, 75% of entries" in found[("down.example", "failing")]
    # Sources no run has seen for 30 days leave the history.
    later = next_history(history, [], "2026-12-30T06:00:00Z", forget_before="2026-11-30T06:00:00Z")
    assert later == {}


def test_source_figures_count_each_outcome_body_source_and_failure_reason():
    import apache_beam as beam
    from apache_beam.testing.util import assert_that, equal_to

    from schemas.records import Count, DeadLetter, DedupInfo, SourceRun
    from tests.builders import article
    from tests.conftest import beam_test_pipeline
    from transforms.lib.records import CANONICAL, record_from_article
    from transforms.sources import SourceFigures

    def record(key: str, body: str, body_source: str = "page", note: str | None = None, dedup=CANONICAL):
        made = article(key, body, "2026-11-20T06:00:00Z", f"http://a.example/{key}")
        return record_from_article(made._replace(body_source=body_source, body_note=note), None, dedup)

    records = [record("one", "x" * 1000), record("two", "x" * 1000), record("three", "y" * 3000),
               record("feed", "z" * 500, "feed", "page not fetched: http_404: HTTP 404 from http://a.example/feed"),
               record("thin", "t" * 600, "feed", "page body thin (80 chars)")]
    duplicates = [record("copy", "w" * 2000, dedup=DedupInfo("same_url", 1.0, "id-one", [], None))]
    dead = [DeadLetter("extract", "entry", "{}", "FetchError", "page_http_410", "gone", "2026-11-20T06:00:00Z",
                       "http://a.example/gone"),
            DeadLetter("fetch_feed", "feed", "{}", "FetchError", "http_503", "down", "2026-11-20T06:00:00Z",
                       "http://feeds.b.example/rss"),
            DeadLetter("robots", "host", "{}", "FetchError", "unreachable", "", "2026-11-20T06:00:00Z",
                       "http://a.example")]
    with beam_test_pipeline() as p:
        figures = {"records": p | "R" >> beam.Create(records), "duplicates": p | "D" >> beam.Create(duplicates),
                   "dead_letters": p | "X" >> beam.Create(dead)} | SourceFigures()
        assert_that(figures, equal_to([
            SourceRun("a.example", entries=7, records=5, duplicates=1, dead_letters=1, feed_failures=0,
                      bodies_from_page=3, bodies_from_feed=2, thin_pages=1, repeated_page_bodies=2,
                      page_failures=[Count("http_404", 1), Count("http_410", 1)], median_page_body_chars=1000,
                      languages=[Count("en", 5)]),
            SourceRun("feeds.b.example", entries=0, records=0, duplicates=0, dead_letters=0, feed_failures=1,
                      bodies_from_page=0, bodies_from_feed=0, thin_pages=0, repeated_page_bodies=0,
                      page_failures=[Count("http_503", 1)], median_page_body_chars=None, languages=[]),
        ]))
