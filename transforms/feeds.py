"""Stage 1-2: feed URLs -> normalised feed entries.

``ReadFeeds`` takes a ``PCollection[str]`` of feed URLs and returns
``{"entries": PCollection[FeedEntry], "dead_letters": PCollection[DeadLetter]}``.
Feeds are fetched with the project's fetcher (never by feedparser) and parsed
from bytes. A feed that cannot be fetched or parsed is a dead letter with
unit ``feed``; an entry without a usable link is one with unit ``entry``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam

from schemas.records import FeedEntry, FetchResult
from transforms.batching import Batch
from transforms.deadletters import StageDoFn, count, dead_letter, with_dead_letters
from transforms.fetching import ConcurrentFetchFn
from transforms.lib.feedparse import parse_feed
from transforms.lib.http import FetchSettings
from transforms.tagging import DEAD_LETTERS, tag


class FetchFeedsFn(ConcurrentFetchFn):
    """A batch of feed URLs -> FetchResult per feed."""

    stage = "fetch_feed"
    unit = "feed"
    kind = "feed"

    def url_of(self, element: str) -> str:
        return element

    def fetch_for(self, element: str, fetch: Callable[..., FetchResult]) -> FetchResult:
        return fetch(element)

    def emit(self, element: str, fetched: FetchResult) -> Iterable[FetchResult]:
        count("feeds.fetched")
        yield fetched


class ParseFeedFn(StageDoFn):
    """FetchResult -> FeedEntry per entry; entries without a usable link are dead letters."""

    stage = "parse_feed"
    unit = "feed"

    def handle(self, result: FetchResult) -> Iterable[Any]:
        if result.status == 304:
            count("feeds.not_modified")
            return
        parsed = parse_feed(result)
        count("feeds.parsed")
        count(f"feeds.format.{parsed.version}")
        for entry in parsed.entries:
            count("entries.in")
            yield entry
        for bad in parsed.bad_entries:
            count("entries.in")
            yield tag(DEAD_LETTERS, dead_letter(self.stage, "entry", bad.entry, bad, url=result.url))


class ReadFeeds(beam.PTransform):
    """PCollection[str] of feed URLs -> entries and dead letters."""

    def __init__(self, settings: FetchSettings, concurrency: int = 16, batch_size: int = 16, portable: bool = False):
        super().__init__()
        self._settings = settings
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._portable = portable

    def expand(self, feed_urls: beam.PCollection) -> dict[str, beam.PCollection]:
        batches = feed_urls | "BatchFeedUrls" >> Batch(self._batch_size, self._portable, key_fn=str)
        fetched, fetch_dead = with_dead_letters(
            batches, FetchFeedsFn(self._settings, self._concurrency), "FetchFeeds")
        entries, parse_dead = with_dead_letters(fetched, ParseFeedFn(), "ParseFeeds", FeedEntry)
        dead = (fetch_dead, parse_dead) | "FeedDeadLetters" >> beam.Flatten()
        return {"entries": entries, "dead_letters": dead}
