"""Stage 3: feed entries -> fetched pages.

``FetchPages`` takes ``PCollection[FeedEntry]`` and returns
``{"pages": PCollection[FetchedPage], "dead_letters": PCollection[DeadLetter]}``.
A page that cannot be fetched is not a dead letter yet: the page comes out
with ``html=None`` and the reason in ``error``, so extraction can fall back
to the feed's own content. Only unexpected failures are dead letters here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import apache_beam as beam

from schemas.records import FeedEntry, FetchedPage, FetchResult
from transforms.batching import Batch
from transforms.deadletters import count, with_dead_letters
from transforms.fetching import ConcurrentFetchFn
from transforms.lib.http import FetchError, FetchSettings
from transforms.lib.text import decode_html
from transforms.lib.times import utc_now


class FetchPagesFn(ConcurrentFetchFn):
    """A batch of entries -> FetchedPage per entry."""

    stage = "fetch_page"
    unit = "entry"
    kind = "page"

    def url_of(self, element: FeedEntry) -> str:
        return element.url

    def fetch_for(self, entry: FeedEntry, fetch: Callable[..., FetchResult]) -> FetchedPage:
        try:
            result = fetch(entry.url)
        except FetchError as error:
            return FetchedPage(entry, None, None, error.status, f"{error.reason}: {error}", utc_now())
        return FetchedPage(entry, decode_html(result.body, result.charset), result.final_url, result.status, None,
                           result.fetched_at)

    def emit(self, entry: FeedEntry, page: FetchedPage) -> Iterable[FetchedPage]:
        if page.error is None:
            count("pages.fetched")
        else:
            count(f"pages.failed.{page.error.split(':', 1)[0]}")
        yield page


class FetchPages(beam.PTransform):
    def __init__(self, settings: FetchSettings, concurrency: int = 16, batch_size: int = 32, portable: bool = False):
        super().__init__()
        self._settings = settings
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._portable = portable

    def expand(self, entries: beam.PCollection) -> dict[str, beam.PCollection]:
        batches = entries | "BatchEntries" >> Batch(self._batch_size, self._portable, key_fn=lambda e: e.entry_key)
        pages, dead = with_dead_letters(batches, FetchPagesFn(self._settings, self._concurrency), "FetchPages",
                                       FetchedPage)
        return {"pages": pages, "dead_letters": dead}
