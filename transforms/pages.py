"""Stage 3: feed entries -> fetched pages.

``FetchPages`` takes ``PCollection[FeedEntry]``, or ``{"entries": PCollection[FeedEntry],
"robots": PCollection[RobotsOutcome]}`` (see ``transforms.robots``), and returns
``{"pages": PCollection[FetchedPage], "dead_letters": PCollection[DeadLetter]}``.
A page that cannot be fetched is not a dead letter yet: the page comes out
with ``html=None`` and the reason in ``error``, so extraction can fall back
to the feed's own content. Only unexpected failures are dead letters here.

With robots outcomes, a page its origin's robots.txt disallows is not
requested (``error`` "robots_disallowed: ..."), and a ``Crawl-delay`` becomes
that host's minimum spacing between requests (capped by the policy's
``max_crawl_delay``). Entries are joined to their origin's outcome with a
CoGroupByKey rather than a side input: DaskRunner re-evaluates side inputs for
every consumer, which would fetch robots.txt again and again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import apache_beam as beam

from schemas.records import FeedEntry, FetchedPage, FetchResult, PageRequest
from transforms.batching import Batch
from transforms.deadletters import count, with_dead_letters
from transforms.fetching import ConcurrentFetchFn
from transforms.lib.http import FetchError, FetchSettings
from transforms.lib.robots import RobotsPolicy, effective_crawl_delay, origin_of, refusal
from transforms.lib.text import decode_html
from transforms.lib.times import utc_now

ROBOTS_DISALLOWED = "robots_disallowed"


class FetchPagesFn(ConcurrentFetchFn):
    """A batch of page requests -> FetchedPage per entry."""

    stage = "fetch_page"
    unit = "entry"
    kind = "page"

    def __init__(self, settings: FetchSettings, concurrency: int, policy: RobotsPolicy | None = None):
        super().__init__(settings, concurrency)
        self._policy = policy or RobotsPolicy()

    def url_of(self, element: PageRequest) -> str:
        return element.entry.url

    def dead_letter_element(self, element: PageRequest) -> FeedEntry:
        return element.entry  # the entry is the unit of accounting; its robots.txt outcome is in the robots table

    def fetch_for(self, request: PageRequest, fetch: Callable[..., FetchResult]) -> FetchedPage:
        entry = request.entry
        why = refusal(request.robots, entry.url)
        if why is not None:
            return FetchedPage(entry, None, None, None, f"{ROBOTS_DISALLOWED}: {why}", utc_now())
        delay, _capped = effective_crawl_delay(request.robots, self._policy)
        if delay:
            assert self._fetcher is not None
            self._fetcher.set_host_delay(urlsplit(entry.url).hostname or "", delay)
        try:
            result = fetch(entry.url)
        except FetchError as error:
            return FetchedPage(entry, None, None, error.status, f"{error.reason}: {error}", utc_now())
        return FetchedPage(entry, decode_html(result.body, result.charset), result.final_url, result.status, None,
                           result.fetched_at)

    def emit(self, request: PageRequest, page: FetchedPage) -> Iterable[FetchedPage]:
        if page.error is None:
            count("pages.fetched")
        elif page.error.startswith(f"{ROBOTS_DISALLOWED}:"):
            count(f"pages.{ROBOTS_DISALLOWED}")  # not requested: not a failure
        else:
            count(f"pages.failed.{page.error.split(':', 1)[0]}")
        yield page


def _keyed_by_origin(entry: FeedEntry) -> tuple[str, FeedEntry]:
    return origin_of(entry.url) or "", entry


def _with_robots(group: tuple[str, dict[str, list[Any]]]) -> Iterable[PageRequest]:
    _origin, joined = group
    outcomes = list(joined["robots"])
    robots = outcomes[0] if outcomes else None  # none: an ignored host, or a URL without an origin
    for entry in joined["entries"]:
        yield PageRequest(entry, robots)


class FetchPages(beam.PTransform):
    def __init__(self, settings: FetchSettings, concurrency: int = 16, batch_size: int = 32, portable: bool = False,
                 policy: RobotsPolicy | None = None):
        super().__init__()
        self._settings = settings
        self._concurrency = concurrency
        self._batch_size = batch_size
        self._portable = portable
        self._policy = policy

    def expand(self, inputs: beam.PCollection | dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        if isinstance(inputs, dict) and "requests" in inputs:  # robots outcomes already attached (streaming)
            requests = inputs["requests"]
        elif isinstance(inputs, dict):
            requests = (
                {"entries": inputs["entries"] | "EntryByOrigin" >> beam.Map(_keyed_by_origin),
                 "robots": inputs["robots"] | "RobotsByOrigin" >> beam.Map(lambda r: (r.origin, r))}
                | "JoinRobots" >> beam.CoGroupByKey()
                | "WithRobots" >> beam.FlatMap(_with_robots).with_output_types(PageRequest))
        else:  # robots.txt not consulted (a caller that has none to give)
            requests = inputs | "WithoutRobots" >> beam.Map(PageRequest, None).with_output_types(PageRequest)
        batches = requests | "BatchEntries" >> Batch(self._batch_size, self._portable,
                                                     key_fn=lambda r: r.entry.entry_key)
        pages, dead = with_dead_letters(batches, FetchPagesFn(self._settings, self._concurrency, self._policy),
                                       "FetchPages", FetchedPage)
        return {"pages": pages, "dead_letters": dead}

