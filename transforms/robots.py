"""Stage 2b: the origins of the pages to fetch -> what each origin's robots.txt says.

``FetchRobots`` takes ``PCollection[str]`` of distinct origins (``http://host[:port]``,
see ``transforms.lib.robots.origin_of``) and returns
``{"robots": PCollection[RobotsOutcome], "dead_letters": PCollection[DeadLetter]}``.
Each origin's ``/robots.txt`` is fetched once, with the project's fetcher (same
limits, politeness and network safety as pages), unless ``cached`` holds a
fresh outcome from an earlier scheduled run. A failed fetch is not a dead
letter: it is an outcome (RFC 9309 2.3.1: 4xx allows everything, 5xx and
network failures disallow everything this run) that ``FetchPages`` applies and
the ``robots`` table records.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import apache_beam as beam

from schemas.records import FeedEntry, FetchResult, PageRequest, RobotsOutcome
from transforms.batching import Batch
from transforms.deadletters import count, with_dead_letters
from transforms.fetching import ConcurrentFetchFn
from transforms.lib.http import Fetcher, FetchError, FetchSettings
from transforms.lib.robots import (
    UNREACHABLE,
    RobotsPolicy,
    effective_crawl_delay,
    is_fresh,
    origin_of,
    outcome_for_error,
    outcome_for_response,
)
from transforms.lib.times import utc_now
from transforms.tagging import Tagged, split, tag

_LOG = logging.getLogger(__name__)


def robots_origin(entry: FeedEntry, policy: RobotsPolicy) -> Iterable[str]:
    """The origin whose robots.txt governs the entry's page; nothing for hosts in ``--ignore_robots_for``."""
    origin = origin_of(entry.url)
    if origin is not None and not policy.ignores(urlsplit(entry.url).hostname):
        yield origin


class FetchRobotsFn(ConcurrentFetchFn):
    """A batch of origins -> RobotsOutcome per origin. Never raises: every failure is an outcome."""

    stage = "fetch_robots"
    unit = "host"
    kind = "robots"

    def __init__(self, settings: FetchSettings, concurrency: int, policy: RobotsPolicy):
        super().__init__(settings, concurrency)
        self._policy = policy

    def url_of(self, element: str) -> str:
        return f"{element}/robots.txt"

    def fetch_for(self, origin: str, fetch: Callable[..., FetchResult]) -> RobotsOutcome:
        agent, ttl = self._policy.agent, self._policy.ttl_seconds
        try:
            result = fetch(self.url_of(origin))
        except FetchError as error:
            return outcome_for_error(origin, agent, error.reason, error.status, str(error), utc_now(), ttl)
        except Exception as error:  # a bug here must not become crawling without rules: disallow, and say why
            _LOG.warning("robots.txt of %s: %r", origin, error)
            return outcome_for_error(origin, agent, "exception", None, repr(error), utc_now(), ttl)
        outcome = outcome_for_response(origin, agent, result.status, result.body, result.fetched_at, ttl)
        delay, _capped = effective_crawl_delay(outcome, self._policy)
        if delay and self._fetcher is not None:
            self._fetcher.limiter.hold(urlsplit(origin).hostname or "", delay)
        return outcome

    def emit(self, origin: str, outcome: RobotsOutcome) -> Iterable[RobotsOutcome]:
        count("robots.fetched")
        yield outcome


def _cached_or_fetch(origin: str, cached: dict[str, RobotsOutcome]) -> Tagged:
    if origin in cached:
        count("robots.from_state")
        return tag("cached", cached[origin])
    return tag("fetch", origin)


def _count_outcome(outcome: RobotsOutcome, policy: RobotsPolicy) -> RobotsOutcome:
    """Counted once per origin, wherever the outcome came from."""
    count(f"robots.outcome.{outcome.outcome}")
    _delay, capped = effective_crawl_delay(outcome, policy)
    if capped:
        count(f"robots.crawl_delay_capped.{outcome.origin}")
    return outcome


class FetchRobots(beam.PTransform):
    def __init__(self, settings: FetchSettings, policy: RobotsPolicy, concurrency: int = 16,
                 cached: dict[str, RobotsOutcome] | None = None, batch_size: int = 16, portable: bool = False):
        super().__init__()
        self._settings = settings
        self._policy = policy
        self._concurrency = concurrency
        self._cached = cached or {}
        self._batch_size = batch_size
        self._portable = portable

    def expand(self, origins: beam.PCollection) -> dict[str, beam.PCollection]:
        routed = split(origins | "CachedOrFetch" >> beam.Map(_cached_or_fetch, self._cached), "Robots",
                       "cached", "fetch", types={"cached": RobotsOutcome, "fetch": str})
        batches = routed["fetch"] | "BatchOrigins" >> Batch(self._batch_size, self._portable, key_fn=str)
        fetched, dead = with_dead_letters(
            batches, FetchRobotsFn(self._settings, self._concurrency, self._policy), "FetchRobotsTxt",
            RobotsOutcome)
        outcomes = ((routed["cached"], fetched)
                    | "AllRobots" >> beam.Flatten()
                    | "CountRobots" >> beam.Map(_count_outcome, self._policy).with_output_types(RobotsOutcome))
        return {"robots": outcomes, "dead_letters": dead}


class CachedRobotsFn(beam.DoFn):
    """Streaming: ``FeedEntry`` -> ``PageRequest`` with its origin's robots.txt outcome.

    A stream has no run to fetch robots.txt once in: each worker process asks
    an origin once and keeps the outcome until it expires (24 h for parsed
    and 4xx outcomes, RFC 9309 2.4); an unreachable robots.txt disallows the
    host and is asked again after ``UNREACHABLE_RETRY_S``.
    """

    UNREACHABLE_RETRY_S = 60.0

    def __init__(self, settings: FetchSettings, policy: RobotsPolicy):
        self._settings, self._policy = settings, policy
        self._fetcher: Fetcher | None = None
        self._cache: dict[str, tuple[RobotsOutcome, float]] = {}

    def setup(self) -> None:
        self._fetcher = Fetcher(self._settings)
        self._cache = {}

    def teardown(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()

    def _outcome(self, origin: str) -> RobotsOutcome:
        cached = self._cache.get(origin)
        if cached is not None and ((time.monotonic() < cached[1] and is_fresh(cached[0], utc_now()))
                                   or (cached[0].outcome == UNREACHABLE and time.monotonic() < cached[1])):
            return cached[0]
        assert self._fetcher is not None
        agent, ttl = self._policy.agent, self._policy.ttl_seconds
        try:
            result = self._fetcher.fetch(f"{origin}/robots.txt", kind="robots")
            outcome = outcome_for_response(origin, agent, result.status, result.body, result.fetched_at, ttl)
        except FetchError as error:
            outcome = outcome_for_error(origin, agent, error.reason, error.status, str(error), utc_now(), ttl)
        count("robots.fetched")
        count(f"robots.outcome.{outcome.outcome}")
        keep = self.UNREACHABLE_RETRY_S if outcome.outcome == UNREACHABLE else ttl
        self._cache[origin] = (outcome, time.monotonic() + keep)
        return outcome

    def process(self, entry: FeedEntry) -> Iterable[PageRequest]:
        origin = origin_of(entry.url)
        if origin is None or self._policy.ignores(urlsplit(entry.url).hostname):
            yield PageRequest(entry, None)
            return
        yield PageRequest(entry, self._outcome(origin))
