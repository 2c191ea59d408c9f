"""A DoFn that fetches a batch of elements concurrently with the shared ``Fetcher``.

Fetching is I/O bound: one blocking request per element at a time would
leave the worker idle. Elements are batched upstream (``BatchElements``) and
each batch is fetched on a thread pool created once per DoFn instance; the
per-host limiter inside the fetcher keeps this polite.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import apache_beam as beam

from schemas.records import FetchResult
from transforms.deadletters import busy, count, dead_letter
from transforms.lib.http import Fetcher, FetchSettings
from transforms.tagging import DEAD_LETTERS, MAIN, Tagged, tag

_LOG = logging.getLogger(__name__)


class ConcurrentFetchFn(beam.DoFn):
    """Base class: subclasses say which URL an element names and what a result becomes."""

    stage = "fetch"
    unit = "entry"
    kind = "page"  # the fetcher's content-type rules: "page" or "feed"

    def __init__(self, settings: FetchSettings, concurrency: int):
        self._settings = settings
        self._concurrency = concurrency
        self._fetcher: Fetcher | None = None
        self._executor: ThreadPoolExecutor | None = None

    def setup(self) -> None:
        self._fetcher = Fetcher(self._settings)
        self._executor = ThreadPoolExecutor(max_workers=self._concurrency, thread_name_prefix=f"newsbeam-{self.stage}")

    def teardown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        if self._fetcher is not None:
            self._fetcher.close()

    def url_of(self, element: Any) -> str:
        raise NotImplementedError

    def fetch_for(self, element: Any, fetch: Callable[..., FetchResult]) -> Any:
        """Runs on a pool thread: fetch what ``element`` needs and return it. Raise to dead-letter."""
        raise NotImplementedError

    def emit(self, element: Any, fetched: Any) -> Iterable[Any]:
        """Runs on the bundle's thread (where counters work): the outputs for one element (values, or
        ``tag(name, value)`` pairs for other outputs)."""
        raise NotImplementedError

    def dead_letter_element(self, element: Any) -> Any:
        """What a dead letter records as the element."""
        return element

    def also_on_failure(self, element: Any, error: BaseException) -> Iterable[Tagged]:
        """Tagged outputs besides the dead letter when ``element`` fails (a feed's Retry-After, say)."""
        return ()

    def _fetch_in_thread(self, element: Any) -> tuple[Any, BaseException | None]:
        try:
            return self.fetch_for(element, self._fetch), None
        except Exception as error:
            return None, error

    def _fetch(self, url: str, headers: dict[str, str] | None = None) -> FetchResult:
        assert self._fetcher is not None
        return self._fetcher.fetch(url, kind=self.kind, headers=headers)

    def process(self, batch: list[Any]) -> Iterable[Any]:
        assert self._executor is not None
        with busy(self.stage):  # the batch's wall time: its fetches overlap
            done = list(self._executor.map(self._fetch_in_thread, batch))
        for element, (fetched, error) in zip(batch, done):
            count(f"stage_in.{self.stage}")
            if error is None:
                try:
                    yield from [output if isinstance(output, Tagged) else tag(MAIN, output)
                                for output in self.emit(element, fetched)]
                    continue
                except Exception as emit_error:
                    error = emit_error
            if getattr(error, "reason", None) is None:
                _LOG.warning("%s failed on %s: %r", self.stage, self.url_of(element), error)
            yield tag(DEAD_LETTERS, dead_letter(self.stage, self.unit, self.dead_letter_element(element), error,
                                                url=self.url_of(element)))
            yield from self.also_on_failure(element, error)
