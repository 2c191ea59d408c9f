"""Every feed of feedparser's test suite and of the real-world corpus through the feed stage (../shared)."""

from __future__ import annotations

import ast
import csv
import shutil
from pathlib import Path

import apache_beam as beam
import feedparser
import pytest
from apache_beam.testing.util import assert_that

from pipeline.siteserver import SiteServer
from schemas.records import FetchResult
from tests.conftest import SHARED, beam_test_pipeline
from transforms.feeds import ReadFeeds
from transforms.lib.feedparse import FeedParseError, parse_bytes, parse_feed
from transforms.lib.http import FetchSettings
from transforms.lib.netpolicy import ConnectTo
from transforms.lib.text import html_to_text

FEEDPARSER_TESTS = SHARED / "corpora" / "feedparser-tests"
REALFEEDS = SHARED / "corpora" / "realfeeds"


def manifest() -> list[dict[str, str]]:
    if not FEEDPARSER_TESTS.is_dir():
        return []
    with open(FEEDPARSER_TESTS / "MANIFEST.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def fetched(path: Path, headers: dict[str, str] | None = None, as_recorded: bool = False) -> FetchResult:
    """The file as a fetch result; ``as_recorded`` gives feedparser exactly the headers the manifest used."""
    default_type = "" if as_recorded else "application/xml"
    content_type, _, params = (headers or {}).get("content-type", default_type).partition(";")
    charset = params.split("=", 1)[1].strip().strip("'\"") if "charset=" in params else None
    url = (headers or {}).get("content-location") or ("" if as_recorded else f"http://corpus.example/{path.name}")
    return FetchResult(url, url, 200, content_type.strip(), charset, path.read_bytes(), "2026-11-24T00:00:00Z",
                       None, None)


ROWS = manifest()
needs_shared = pytest.mark.skipif(not ROWS, reason=f"{FEEDPARSER_TESTS} is absent (not in a user's clone)")


@needs_shared
def test_every_feedparser_test_file_gives_entries_or_a_reason():
    outcomes = {"entries": 0, "bad_entries": 0, "not_a_feed": 0}
    for row in ROWS:
        headers = ast.literal_eval(row["http_headers"]) if row["http_headers"] else None
        try:
            feed = parse_feed(fetched(FEEDPARSER_TESTS / row["path"], headers))
        except FeedParseError as error:
            # a file that ends before its root closes and yields no entry says so (the truncated-feed issue)
            assert error.reason in ("not_a_feed", "truncated_feed"), row["path"]
            outcomes["not_a_feed"] += 1
            continue
        assert len(feed.entries) + len(feed.bad_entries) == int(row["n_entries"]), row["path"]
        outcomes["entries"] += len(feed.entries)
        outcomes["bad_entries"] += len(feed.bad_entries)
        for entry in feed.entries:  # output safety: plain text, http(s) links only
            assert entry.url.startswith(("http://", "https://"))
            for text in (entry.title, entry.summary, entry.author):
                assert text is None or "<script" not in text.lower()
    assert sum(outcomes.values()) > 0


@needs_shared
def test_our_byte_handling_keeps_feedparsers_answers_on_entry_fields():
    """Where a file's own Expect line is about entries, it holds on the result our feed stage parses."""
    checked = 0
    for row in ROWS:
        if "entries" not in row["expect"] or row["expect_holds"] != "True":
            continue
        headers = ast.literal_eval(row["http_headers"]) if row["http_headers"] else None
        result = parse_bytes(fetched(FEEDPARSER_TESTS / row["path"], headers, as_recorded=True))
        namespace = {"feedparser": feedparser, **result}
        try:
            holds = eval(row["expect"], {"feedparser": feedparser}, namespace)
        except (IndexError, KeyError, AttributeError, TypeError):
            holds = False
        assert holds, (row["path"], row["expect"])
        checked += 1
    assert checked >= 250


@needs_shared
def test_entry_titles_are_the_plain_text_of_feedparsers_titles():
    for row in ROWS:
        path = FEEDPARSER_TESTS / row["path"]
        headers = ast.literal_eval(row["http_headers"]) if row["http_headers"] else None
        try:
            feed = parse_feed(fetched(path, headers))
        except FeedParseError:
            continue
        raw = parse_bytes(fetched(path, headers))
        usable = [e for e in raw.entries if any(k in e for k in ("link", "links", "id"))]
        for ours in feed.entries:
            match = next((e for e in usable if html_to_text(e.get("title")) == (ours.title or "")), None)
            assert match is not None or ours.title is None, (row["path"], ours.title)


@needs_shared
def test_the_feed_stage_over_http_never_crashes(tmp_path):
    """All 644 + 31 files served over loopback and read by the ReadFeeds transform."""
    root = tmp_path / "site"
    shutil.copytree(SHARED / "corpora", root / "corpus.example",
                    ignore=shutil.ignore_patterns("article-extraction-benchmark"))
    files = sorted(p for p in (SHARED / "corpora").rglob("*") if p.is_file()
                   and p.parent.name != "LICENSES" and p.suffix not in (".md", ".tsv", "") and p.name != "LICENSE"
                   and "article-extraction-benchmark" not in p.parts)
    assert len(files) >= 644 + 31
    with SiteServer(root) as server:
        urls = [f"http://corpus.example/{p.relative_to(SHARED / 'corpora').as_posix()}" for p in files]
        settings = FetchSettings(allow_private_networks=True, per_host_concurrency=8, max_retries=0,
                                 connect_to=(ConnectTo("corpus.example", 80, "127.0.0.1", server.port),))
        with beam_test_pipeline() as p:
            out = p | beam.Create(urls) | ReadFeeds(settings, concurrency=8)

            def no_crash(dead_letters):
                unexpected = [d for d in dead_letters if d.reason == "exception"]
                assert unexpected == [], unexpected[:3]

            def entries_arrived(entries):
                assert len(entries) >= 600

            assert_that(out["dead_letters"], no_crash, label="no crash")
            assert_that(out["entries"], entries_arrived, label="entries")
