"""The summary on runners without metrics: counts rebuilt from the written tables, unknowns said so."""

from __future__ import annotations

from collections import Counter

from pipeline.summary import render, summarise
from schemas.records import DeadLetter, FeedStatus
from transforms.sinks import dead_letter_tallies, feed_status_tally

NOW = "2026-11-25T12:00:00Z"


def test_feed_counts_from_tables_match_what_the_metrics_count():
    statuses = [FeedStatus("https://a.example/rss", 200, None, None, 3, NOW),
                FeedStatus("https://b.example/rss", 304, '"v1"', None, 0, NOW),
                FeedStatus("https://c.example/rss", 429, None, None, 0, NOW, "2026-11-25T13:00:00Z")]
    dead = [DeadLetter("parse_feed", "feed", "{}", "FeedError", "not_a_feed", "html", NOW, "https://d.example/"),
            DeadLetter("fetch_feed", "feed", "{}", "FetchError", "http_429", "busy", NOW, "https://c.example/rss"),
            DeadLetter("parse_feed", "entry", "{}", "EntryError", "no_link", "no link", NOW, "https://a.example/rss")]
    tallies = Counter(name for s in statuses for name in feed_status_tally(s))
    tallies.update(name for d in dead for name in dead_letter_tallies(d))
    summary = summarise(dict(tallies), feeds_listed=4, wall_seconds=1.0)
    # a, b and d were fetched (d was not a feed); c failed to fetch and is a feed dead letter
    assert summary["feeds"]["fetched"] == 3 and summary["feeds"]["parsed"] == 1
    assert summary["feeds"]["not_modified"] == 1 and summary["feeds"]["failed"] == 2
    assert tallies["entries.in"] == 1  # the bad entry is an input entry


def test_page_fetches_are_not_reported_as_zero_without_metrics():
    summary = summarise({"entries.in": 0}, feeds_listed=0, wall_seconds=1.0)
    assert "pages      0 fetched" in render(summary)
    summary.update(counters_from="tallies", runner="DaskRunner")
    assert "pages      not counted on DaskRunner" in render(summary)
