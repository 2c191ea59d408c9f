"""Stage 1-2: feed URLs -> normalised feed entries.

``ReadFeeds`` takes a ``PCollection[str]`` of feed URLs and returns
``{"entries": PCollection[FeedEntry], "dead_letters": PCollection[DeadLetter],
"feed_status": PCollection[FeedStatus]}``. ``conditional`` maps a feed URL
to the validators of its last fetch (``If-None-Match``, ``If-Modified-Since``):
a 304 answer is no work. A feed whose fetch failed with a ``Retry-After`` is a
dead letter and also has a ``feed_status`` row with ``not_before``.
Feeds are fetched with the project's fetcher (never by feedparser) and parsed
from bytes. A feed that cannot be fetched or parsed is a dead letter with
unit ``feed``; an entry without a usable link is one with unit ``entry``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

import apache_beam as beam

from schemas.records import FeedEntry, FeedStatus, FetchResult
from transforms.batching import Batch
from transforms.deadletters import StageDoFn, count, dead_letter
from transforms.fetching import ConcurrentFetchFn
from transforms.lib.feedparse import parse_feed
from transforms.lib.http import FetchError, FetchSettings
from transforms.lib.times import ISO_FORMAT, parse_iso, utc_now
from transforms.tagging import DEAD_LETTERS, MAIN, Tagged, split, tag

FEED_STATUS = "feed_status"


class FetchFeedsFn(ConcurrentFetchFn):
    """A batch of feed URLs -> FetchResult per feed."""

    stage = "fetch_feed"
    unit = "feed"
    kind = "feed"

    def url_of(self, element: str) -> str:
        return element

    def __init__(self, settings: FetchSettings, concurrency: int, conditional: dict[str, dict[str, str]]):
        super().__init__(settings, concurrency)
        self._conditional = conditional

    def fetch_for(self, element: str, fetch: Callable[..., FetchResult]) -> FetchResult:
        return fetch(element, headers=self._conditional.get(element))

    def emit(self, element: str, fetched: FetchResult) -> Iterable[FetchResult]:
        count("feeds.fetched")
        yield fetched

    def also_on_failure(self, element: str, error: BaseException) -> Iterable[Tagged]:
        # The server asked us to come back later (429/503 with Retry-After): the next scheduled run
        # must not poll this feed before then (pipeline/scheduled.py reads this row).
        retry_after = getattr(error, "retry_after", None)
        if isinstance(error, FetchError) and retry_after is not None:
            count("feeds.retry_after")
            now = utc_now()
            not_before = (parse_iso(now) + timedelta(seconds=retry_after)).strftime(ISO_FORMAT)
            yield tag(FEED_STATUS, FeedStatus(element, error.status or 0, None, None, 0, now, not_before))


class ParseFeedFn(StageDoFn):
    """FetchResult -> FeedEntry per entry; entries without a usable link are dead letters."""

    stage = "parse_feed"
    unit = "feed"

    def handle(self, result: FetchResult) -> Iterable[Any]:
        if result.status == 304:
            count("feeds.not_modified")
            yield tag(FEED_STATUS, FeedStatus(result.url, 304, result.etag, result.last_modified, 0,
                                              result.fetched_at))
            return
        parsed = parse_feed(result)
        count("feeds.parsed")
        if parsed.truncated:
            count("feeds.truncated")
        count(f"feeds.format.{parsed.version}")
        for entry in parsed.entries:
            count("entries.in")
            yield entry
        for bad in parsed.bad_entries:
            count("entries.in")
            yield tag(DEAD_LETTERS, dead_letter(self.stage, "entry", bad.entry, bad, url=result.url))
        yield tag(FEED_STATUS, FeedStatus(result.url, result.status, result.etag, result.last_modified,
                                          len(parsed.entries) + len(parsed.bad_entries), result.fetched_at,
                                          truncated=parsed.truncated))


class ReadFeeds(beam.PTransform):
    """PCollection[str] of feed URLs -> entries and dead letters."""

    def __init__(self, settings: FetchSettings, concurrency: int = 16, batch_size: int = 16, portable: bool = False,
                 conditional: dict[str, dict[str, str]] | None = None):
        super().__init__()
        self._settings = settings
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._portable = portable
        self._conditional = conditional or {}

    def expand(self, feed_urls: beam.PCollection) -> dict[str, beam.PCollection]:
        batches = feed_urls | "BatchFeedUrls" >> Batch(self._batch_size, self._portable, key_fn=str)
        fetched = split(batches | "FetchFeeds" >> beam.ParDo(
            FetchFeedsFn(self._settings, self._concurrency, self._conditional)), "FetchFeeds", MAIN, DEAD_LETTERS,
            FEED_STATUS, types={FEED_STATUS: FeedStatus})
        parsed = split(fetched[MAIN] | "ParseFeeds" >> beam.ParDo(ParseFeedFn()), "Parsed", MAIN, DEAD_LETTERS,
                       FEED_STATUS, types={MAIN: FeedEntry, FEED_STATUS: FeedStatus})
        dead = (fetched[DEAD_LETTERS], parsed[DEAD_LETTERS]) | "FeedDeadLetters" >> beam.Flatten()
        status = (parsed[FEED_STATUS], fetched[FEED_STATUS]) | "FeedStatuses" >> beam.Flatten()
        return {"entries": parsed[MAIN], "dead_letters": dead, "feed_status": status}
