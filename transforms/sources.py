"""Per-source figures of a run: ``{"records", "duplicates", "dead_letters"}`` -> ``PCollection[SourceRun]``.

One ``SourceRun`` per source domain (``www.`` dropped, as records have
it): how its entries ended, where its bodies came from (the page, or the
feed because the page failed or was thin), why pages failed, the median
length of bodies extracted from its pages, its languages. Written as
``sources-*.jsonl``; the run report's per-source table and, with
``--state``, source health across runs (``pipeline.health``) read it.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from statistics import median_low
from typing import Any, NamedTuple

import apache_beam as beam

from schemas.records import Count, DeadLetter, NewsRecord, SourceRun
from transforms.lib.extraction import NOTE_NO_TEXT, NOTE_NOT_FETCHED, NOTE_THIN
from transforms.lib.urls import source_domain
from transforms.lib.verdicts import EXACT_KINDS

THIN_NOTES = (NOTE_THIN, NOTE_NO_TEXT)
NOT_FETCHED_NOTE = f"{NOTE_NOT_FETCHED}: "


class Observation(NamedTuple):
    """What one output row says about its source."""

    outcome: str  # "record", "duplicate", "dead_letter", "feed_failure"
    body_source: str | None  # "page" or "feed" when the row is an article with a body
    thin: bool
    failure: str | None  # why the page (or the feed) failed
    page_body_chars: int | None
    page_body_hash: str | None
    language: str | None


def observe_record(record: NewsRecord, outcome: str) -> tuple[str, Observation]:
    exact = record.dedup.kind in EXACT_KINDS  # matched in the feeds: no page of its own was fetched
    note = record.body_note or ""
    failure = None
    if note.startswith(NOT_FETCHED_NOTE):  # "page not fetched: REASON: message"
        failure = note[len(NOT_FETCHED_NOTE):].split(":", 1)[0].strip() or "unknown"
    body_source = None if exact or not record.body else record.body_source
    from_page = body_source == "page" and bool(record.body)
    return record.source_domain, Observation(
        outcome, body_source, note.startswith(THIN_NOTES), failure, len(record.body) if from_page else None,
        hashlib.blake2b(record.body.encode("utf-8"), digest_size=8).hexdigest() if from_page else None,
        None if exact else record.language)


def observe_dead_letter(dead: DeadLetter) -> Iterable[tuple[str, Observation]]:
    # robots.txt hosts and unusable feed-list lines have no source to charge them to
    if dead.unit in ("entry", "feed") and dead.url and dead.stage != "read_feed_list":
        outcome = "dead_letter" if dead.unit == "entry" else "feed_failure"
        failure = dead.reason.removeprefix("page_")
        yield source_domain(dead.url), Observation(outcome, None, False, failure, None, None, None)


class SourceRunCombine(beam.CombineFn):
    """Observations of one source -> its ``SourceRun`` (the key is added after)."""

    def create_accumulator(self) -> dict[str, Any]:
        return {"counts": Counter(), "failures": Counter(), "languages": Counter(), "bodies": Counter(),
                "lengths": []}

    def add_input(self, accumulator: dict[str, Any], seen: Observation) -> dict[str, Any]:
        counts = accumulator["counts"]
        counts[seen.outcome] += 1
        if seen.body_source:
            counts[f"from_{seen.body_source}"] += 1
        counts["thin"] += seen.thin
        if seen.failure:
            accumulator["failures"][seen.failure] += 1
        if seen.language:
            accumulator["languages"][seen.language] += 1
        if seen.page_body_chars is not None:
            accumulator["lengths"].append(seen.page_body_chars)
            accumulator["bodies"][seen.page_body_hash] += 1
        return accumulator

    def merge_accumulators(self, accumulators: Iterable[dict[str, Any]]) -> dict[str, Any]:
        merged = self.create_accumulator()
        for accumulator in accumulators:
            for name in ("counts", "failures", "languages", "bodies"):
                merged[name].update(accumulator[name])
            merged["lengths"].extend(accumulator["lengths"])
        return merged

    def extract_output(self, accumulator: dict[str, Any]) -> dict[str, Any]:
        return accumulator


def source_run(item: tuple[str, dict[str, Any]]) -> SourceRun:
    source, accumulator = item
    counts = accumulator["counts"]
    lengths = accumulator["lengths"]
    return SourceRun(
        source_domain=source,
        entries=counts["record"] + counts["duplicate"] + counts["dead_letter"],
        records=counts["record"],
        duplicates=counts["duplicate"],
        dead_letters=counts["dead_letter"],
        feed_failures=counts["feed_failure"],
        bodies_from_page=counts["from_page"],
        bodies_from_feed=counts["from_feed"],
        thin_pages=counts["thin"],
        repeated_page_bodies=sum(n for n in accumulator["bodies"].values() if n > 1),
        page_failures=_counts(accumulator["failures"]),
        median_page_body_chars=median_low(lengths) if lengths else None,
        languages=_counts(accumulator["languages"]),
    )


def _counts(counter: Counter) -> list[Count]:
    return [Count(name, n) for name, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


class SourceFigures(beam.PTransform):
    def expand(self, outputs: dict[str, beam.PCollection]) -> beam.PCollection:
        observed = (
            outputs["records"] | "ObserveRecords" >> beam.Map(observe_record, "record"),
            outputs["duplicates"] | "ObserveDuplicates" >> beam.Map(observe_record, "duplicate"),
            outputs["dead_letters"] | "ObserveDeadLetters" >> beam.FlatMap(observe_dead_letter),
        ) | "Observations" >> beam.Flatten()
        return (
            observed
            | "PerSource" >> beam.CombinePerKey(SourceRunCombine())
            | "SourceRun" >> beam.Map(source_run).with_output_types(SourceRun)
        )
