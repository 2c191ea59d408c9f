"""Stage 6b, streaming form: stories across an unbounded stream, in keyed state with expiry timers.

The batch form (``transforms.stories``) meets all of a run's records in one
place and visits them in publication order. A stream meets them as they
arrive: each record joins a story on arrival (the same ``StoryIndex`` and
thresholds), and what the story became is emitted at once.

``StreamStories``: ``{"records": NewsRecord (canonical), "duplicates":
NewsRecord, "corrections": DedupCorrection}`` ->
``{"records", "duplicates"`` (with ``story_id``), ``"stories"`` (``Story``:
the story's row after each change; keep the latest per ``story_id``),
``"story_corrections"`` (``StoryCorrection``), ``"dead_letters"}``.

One ``StoryIndex`` in the state of one key, kept as ``transforms.stream_dedup``
keeps the reprint index: an append-only log of rows, a version token, and
the decoded index cached in the DoFn while the token matches. An
event-time timer forgets stories with no report within ``keep_days`` and
rewrites the log.

Arrival order, and why copies wait. Copies skip the entity stage, so a copy
usually reaches this step before its original. It waits in state (keyed by
the record it copies) and goes out, with the original's ``story_id``, when
the original joins a story. A copy whose original never comes (its entities
failed: a dead letter) goes out with ``story_id`` None once the watermark is
``COPY_WAIT_S`` past it (``stories.copies_without_story``); if the original
comes after all, a ``StoryCorrection`` gives the copy its story.

Re-roots. When dedup finds that a record emitted as canonical is a copy of
a later arrival (a ``DedupCorrection``), the record becomes that original's
copy here too. If the original has not joined a story yet, it joins the
record's story (a copy is always in its original's story; no correction is
needed). If it already is in another story, the record and its copies move
there and each gets a ``StoryCorrection``.

Stories are not merged or split after the fact: a late report that would
bridge two stories joins the better one, as in batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import partial
from typing import Any

import apache_beam as beam
from apache_beam.coders import BytesCoder, FloatCoder, StrUtf8Coder, TupleCoder
from apache_beam.ml.inference.base import PredictionResult
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import BagStateSpec, ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.utils.timestamp import Duration, Timestamp

from schemas.records import DedupCorrection, NewsRecord, Story, StoryCorrection
from transforms.batching import ApplyModel
from transforms.deadletters import count
from transforms.lib.stories import DEFAULT, StoryIndex, StoryThresholds, StoryUnit
from transforms.lib.times import utc_now
from transforms.sentence_vectors import SentenceVectorModelHandler
from transforms.stories import story_unit, with_text, with_vector
from transforms.stream_state import LoggedIndexCache, days, watermark_iso
from transforms.tagging import split, tag

INDEX_KEY = "story-index"
COPY_WAIT_S = 600  # event time a copy waits for its original before it goes out without a story
UNIT, COPY, REROOT = "unit", "copy", "reroot"
_RECORD_CODER = beam.coders.registry.get_coder(NewsRecord)


def _story_correction(record_id: str, story_id: str, previous: str | None, reason: str) -> StoryCorrection:
    return StoryCorrection(record_id, story_id, previous, reason, utc_now())


class StoryStateFn(beam.DoFn):
    """(INDEX_KEY, (kind, payload)) -> tagged records / duplicates / stories / story_corrections.

    ``kind`` is ``UNIT`` (payload: ``(StoryUnit, NewsRecord)``), ``COPY`` (a duplicate ``NewsRecord``) or
    ``REROOT`` (a ``DedupCorrection``).
    """

    LOG = BagStateSpec("log", BytesCoder())
    VERSION = ReadModifyWriteStateSpec("version", StrUtf8Coder())
    WAITING = BagStateSpec("waiting", TupleCoder([FloatCoder(), _RECORD_CODER]))  # (deadline, copy)
    # JSON [record id, the id it now copies, seconds]: re-roots whose original is not here yet, and copies
    # that went out without a story (their original may still come)
    LINKS = BagStateSpec("links", StrUtf8Coder())
    EXPIRY = TimerSpec("expiry", TimeDomain.WATERMARK)
    FLUSH = TimerSpec("flush", TimeDomain.WATERMARK)

    def __init__(self, thresholds: StoryThresholds = DEFAULT):
        self._thresholds = thresholds
        self._cache = LoggedIndexCache(partial(StoryIndex, self._thresholds), "stories.index_rebuilt_from_state")

    def process(self, element: tuple[str, tuple[str, Any]], timestamp=beam.DoFn.TimestampParam,
                log=beam.DoFn.StateParam(LOG), version=beam.DoFn.StateParam(VERSION),
                waiting=beam.DoFn.StateParam(WAITING), links=beam.DoFn.StateParam(LINKS),
                expiry=beam.DoFn.TimerParam(EXPIRY), flush=beam.DoFn.TimerParam(FLUSH)) -> Iterable[Any]:
        key, (kind, payload) = element
        index = self._cache.read(key, log, version)
        touched: set[str] = set()
        rows: list[dict] = []
        if kind == UNIT:
            yield from self._unit(index, payload, rows, touched, waiting, links)
        elif kind == COPY:
            yield from self._copy(index, payload, rows, touched, float(timestamp), waiting, flush)
        else:
            yield from self._reroot(index, payload, rows, touched, float(timestamp), links)
        for row in rows:
            log.add(json.dumps(row, separators=(",", ":")).encode("utf-8"))
        if rows:
            self._cache.saved(key, index, version)
        for story in index.rows(touched):
            yield tag("stories", story)
        oldest = index.oldest_last()
        if oldest is not None:
            expiry.set(max(timestamp, Timestamp(oldest) + days(self._thresholds.keep_days)))

    def _unit(self, index: StoryIndex, payload: tuple[StoryUnit, NewsRecord], rows: list[dict], touched: set[str],
              waiting: Any, links: Any) -> Iterable[Any]:
        unit, record = payload
        known = index.story_of(record.id)
        if known is not None:  # met before (a message delivered again): it keeps its story
            count("stories.met_again")
            yield tag("records", record._replace(story_id=known))
            return
        linked = [json.loads(link) for link in links.read()]
        now_copies = [copy_id for copy_id, original, _ in linked if original == record.id]
        joined = next((index.story_of(r) for r in now_copies if index.story_of(r) is not None), None)
        assignment = index.join(unit, joined) if joined else index.add(unit)
        rows.append(index.member_row(record.id))
        touched.add(assignment.story_id)
        count("stories.joined_copy_story" if joined else "stories.assigned")
        yield tag("records", record._replace(story_id=assignment.story_id))
        for copy_id in now_copies:  # re-rooted records and copies that went out early become its copies
            moved, previous = index.make_copy(copy_id, record.id)
            rows.append(StoryIndex.recopy_row(copy_id, record.id))
            if previous:
                touched.add(previous)
            for moved_id in moved:
                count("stories.corrections")
                yield tag("story_corrections",
                          _story_correction(moved_id, assignment.story_id, previous, "original_arrived_late"))
        if now_copies:
            links.clear()
            for link in linked:
                if link[1] != record.id:
                    links.add(json.dumps(link))
        held = list(waiting.read())
        mine = [copy for _, copy in held if copy.duplicate_of == record.id]
        if mine:
            waiting.clear()
            for deadline, copy in held:
                if copy.duplicate_of != record.id:
                    waiting.add((deadline, copy))
        for copy in mine:
            index.add_copy(record.id, copy.id)
            rows.append(StoryIndex.copy_row(record.id, copy.id))
            count("stories.copies_waited")
            yield tag("duplicates", copy._replace(story_id=assignment.story_id))

    def _copy(self, index: StoryIndex, copy: NewsRecord, rows: list[dict], touched: set[str], now: float,
              waiting: Any, flush: Any) -> Iterable[Any]:
        story_id = index.add_copy(copy.duplicate_of, copy.id) if copy.duplicate_of else None
        if story_id is not None:
            rows.append(StoryIndex.copy_row(copy.duplicate_of, copy.id))
            touched.add(story_id)
            yield tag("duplicates", copy._replace(story_id=story_id))
            return
        deadline = now + COPY_WAIT_S
        earlier = [due for due, _ in waiting.read()]
        waiting.add((deadline, copy))
        count("stories.copies_waiting")
        if not earlier or deadline < min(earlier):  # the timer is set for the earliest deadline
            flush.set(Timestamp(deadline))

    def _reroot(self, index: StoryIndex, correction: DedupCorrection, rows: list[dict], touched: set[str],
                now: float, links: Any) -> Iterable[Any]:
        if index.story_of(correction.duplicate_of) is None:  # the original has not joined a story yet
            links.add(json.dumps([correction.id, correction.duplicate_of, now]))
            return
        moved, previous = index.make_copy(correction.id, correction.duplicate_of)
        rows.append(StoryIndex.recopy_row(correction.id, correction.duplicate_of))
        story_id = index.story_of(correction.duplicate_of)
        touched.update(s for s in (previous, story_id) if s)
        for moved_id in moved:
            count("stories.corrections")
            yield tag("story_corrections", _story_correction(moved_id, story_id, previous, "dedup_rerooted"))

    @on_timer(FLUSH)
    def flush_copies(self, fired=beam.DoFn.TimestampParam, waiting=beam.DoFn.StateParam(WAITING),
                     links=beam.DoFn.StateParam(LINKS), flush=beam.DoFn.TimerParam(FLUSH)) -> Iterable[Any]:
        held = list(waiting.read())
        waiting.clear()
        later = []
        for deadline, copy in held:
            if Timestamp(deadline) <= fired:
                count("stories.copies_without_story")
                links.add(json.dumps([copy.id, copy.duplicate_of, deadline]))  # its original may come yet
                yield tag("duplicates", copy)
            else:
                later.append((deadline, copy))
        for item in later:
            waiting.add(item)
        if later:
            flush.set(Timestamp(min(deadline for deadline, _ in later)))

    @on_timer(EXPIRY)
    def expire(self, key=beam.DoFn.KeyParam, fired=beam.DoFn.TimestampParam, log=beam.DoFn.StateParam(LOG),
               version=beam.DoFn.StateParam(VERSION), links=beam.DoFn.StateParam(LINKS),
               expiry=beam.DoFn.TimerParam(EXPIRY)) -> None:
        index = self._cache.read(key, log, version)
        newest = watermark_iso(fired)
        end = newest is None  # the end of time: a finished stream's last timers
        if not end:
            count("stories.index_expired", index.expire(newest))
        log.clear()  # rewritten from what is left, so the state shrinks with the index
        for row in index.log_rows():
            log.add(json.dumps(row, separators=(",", ":")).encode("utf-8"))
        self._cache.saved(key, index, version)
        cutoff = float(fired) - self._thresholds.keep_days * 86400
        kept = [link for link in links.read() if end or json.loads(link)[2] >= cutoff]
        links.clear()
        for link in kept:
            links.add(link)
        oldest = index.oldest_last()
        if oldest is not None and not end:
            expiry.set(max(fired + Duration(seconds=1), Timestamp(oldest) + days(self._thresholds.keep_days)))


def _keyed_text(record: NewsRecord) -> tuple[tuple[StoryUnit, NewsRecord], list[str]]:
    """RunInference's (key, example): the record travels in the key, so no join is needed after it."""
    unit, text = with_text(story_unit(record), record)
    return (unit, record), text


def _unit_work(item: tuple[tuple[StoryUnit, NewsRecord], PredictionResult]) -> tuple[str, Any]:
    (unit, record), result = item
    return UNIT, (with_vector((unit, result)), record)


class StreamStories(beam.PTransform):
    def __init__(self, thresholds: StoryThresholds = DEFAULT, model_path: str | None = None):
        super().__init__()
        self._thresholds = thresholds
        self._handler = SentenceVectorModelHandler(model_path)

    def expand(self, inputs: dict[str, beam.PCollection]) -> dict[str, beam.PCollection]:
        records = inputs["records"]
        units = (records
                 | "StoryText" >> beam.Map(_keyed_text)
                 | "StoryVectors" >> ApplyModel(self._handler)
                 | "Units" >> beam.Map(_unit_work))
        copies = inputs["duplicates"] | "Copies" >> beam.Map(lambda d: (COPY, d))
        reroots = inputs["corrections"] | "Reroots" >> beam.Map(lambda c: (REROOT, c))
        tagged = ((units, copies, reroots)
                  | "AllStoryWork" >> beam.Flatten()
                  | "OneIndex" >> beam.Map(lambda work: (INDEX_KEY, work))
                  | "StoryState" >> beam.ParDo(StoryStateFn(self._thresholds)))
        outputs = split(tagged, "StoryOutputs", "records", "duplicates", "stories", "story_corrections",
                        types={"records": NewsRecord, "duplicates": NewsRecord, "stories": Story,
                               "story_corrections": StoryCorrection})
        return {**outputs, "dead_letters": records.pipeline | "NoStoryDeadLetters" >> beam.Create([])}


__all__ = ["COPY_WAIT_S", "StoryStateFn", "StreamStories"]
