"""Stories in a stream, with keyed state and timers, driven by TestStream: copies before their originals,
copies whose original never comes, dedup re-roots, expiry, and the log the state keeps.

The state-machine tests feed ``StoryStateFn`` directly (vectors made here, so the order of arrival is the
order of the stream); the transform test runs ``StreamStories`` with the real sentence model.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.testing.test_stream import TestStream as EventStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue
from apache_beam.typehints import KV

from schemas.records import DedupCorrection, DedupInfo, NewsRecord
from tests.builders import article
from tests.test_stories import near, packed
from tests.test_stream_dedup import streaming_pipeline
from transforms.lib.embeddings import DIMENSIONS
from transforms.lib.records import CANONICAL, record_from_article
from transforms.lib.stories import StoryIndex, StoryUnit
from transforms.stream_stories import COPY, COPY_WAIT_S, INDEX_KEY, REROOT, UNIT, StoryStateFn, StreamStories

DAY0 = "2026-11-20T06:00:00Z"
T0 = datetime.fromisoformat(DAY0.replace("Z", "+00:00")).timestamp()
EVENT, OTHER = np.eye(DIMENSIONS)[0], np.eye(DIMENSIONS)[1]  # unrelated: cosine 0


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(key: str, at: float, body: str = "", duplicate_of: str | None = None) -> NewsRecord:
    info = CANONICAL if duplicate_of is None else DedupInfo("near_verbatim", 0.95, duplicate_of, [], None)
    return record_from_article(article(key, body or f"A report called {key}.", iso(at), f"http://{key}.example/a"),
                               duplicate_of, info)


def unit_work(key: str, at: float, vector: bytes, names: tuple[str, ...] = ("Valencia",)) -> tuple[str, Any]:
    r = record(key, at)
    return UNIT, (StoryUnit(r.id, r.published, r.title, r.source_domain, vector, names), r)


def copy_work(key: str, at: float, original: str) -> tuple[str, Any]:
    return COPY, record(key, at, duplicate_of=f"id-{original}")


def reroot_work(key: str, original: str) -> tuple[str, Any]:
    info = DedupInfo("near_verbatim", 0.95, f"id-{original}", [], None)
    return REROOT, DedupCorrection(f"id-{key}", key, f"id-{original}", None, info, DAY0)


def at(work: tuple[str, Any], seconds: float) -> TimestampedValue:
    return TimestampedValue((INDEX_KEY, work), seconds)


def run_state_fn(stream: EventStream, check: Any) -> None:
    with streaming_pipeline() as p:
        out = (p | stream | beam.Map(lambda kv: kv).with_output_types(KV[str, Any])
               | beam.ParDo(StoryStateFn()))
        assert_that(out | beam.Map(lambda tagged: (tagged.tag, tagged.value)), check)


def by_tag(tagged: list) -> dict[str, list]:
    out: dict[str, list] = {}
    for name, value in tagged:
        out.setdefault(name, []).append(value)
    return out


def test_a_copy_waits_for_its_original_and_one_whose_original_comes_too_late_is_corrected():
    stream = (EventStream()
              .advance_watermark_to(T0 - 60)
              .add_elements([at(copy_work("copy-a", T0, "a"), T0)])  # copies skip entities: here first
              .add_elements([at(unit_work("a", T0, packed(EVENT)), T0)])
              .add_elements([at(copy_work("copy-b", T0 + 10, "b"), T0 + 10)])
              .advance_watermark_to(T0 + COPY_WAIT_S + 60)  # copy-b waited long enough: out without a story
              .add_elements([at(unit_work("b", T0 + 700, packed(OTHER), ("Lagos",)), T0 + 700)])
              .advance_watermark_to_infinity())

    def check(tagged: list) -> None:
        out = by_tag(tagged)
        assert sorted((r.id, r.story_id) for r in out["records"]) == [("id-a", "id-a"), ("id-b", "id-b")]
        assert sorted((d.id, d.story_id) for d in out["duplicates"]) == [("id-copy-a", "id-a"), ("id-copy-b", None)]
        assert [(c.id, c.story_id, c.previous_story_id, c.reason) for c in out["story_corrections"]] == [
            ("id-copy-b", "id-b", None, "original_arrived_late")]
        latest = {s.story_id: s for s in out["stories"]}  # a story's row is emitted after each change
        assert latest["id-b"].copies == 1 and latest["id-a"].members[0].copies == ["id-copy-a"]

    run_state_fn(stream, check)


def test_a_late_original_joins_the_story_its_copy_started_and_takes_the_copy_into_its_cluster():
    stream = (EventStream()
              .advance_watermark_to(T0 - 60)
              .add_elements([at(unit_work("reprint", T0 + 3600, packed(EVENT)), T0)])  # here first: a story
              .add_elements([at(copy_work("reprint-copy", T0 + 3700, "reprint"), T0 + 5)])
              # dedup meets the original: both are now its copies (the corrections skip entities: first)
              .add_elements([at(reroot_work("reprint", "original"), T0 + 20),
                             at(reroot_work("reprint-copy", "original"), T0 + 20)])
              .add_elements([at(unit_work("original", T0, packed(OTHER), ("Lagos",)), T0 + 20)])
              .advance_watermark_to_infinity())

    def check(tagged: list) -> None:
        out = by_tag(tagged)
        # the original's vector is unlike the story's: it joined because its copy is there, not by score
        assert sorted((r.id, r.story_id) for r in out["records"]) == [("id-original", "id-reprint"),
                                                                        ("id-reprint", "id-reprint")]
        assert [(d.id, d.story_id) for d in out["duplicates"]] == [("id-reprint-copy", "id-reprint")]
        assert "story_corrections" not in out  # nobody's story changed
        final = [s for s in out["stories"] if s.story_id == "id-reprint"][-1]
        assert [(m.record_id, sorted(m.copies)) for m in final.members] == [
            ("id-original", ["id-reprint", "id-reprint-copy"])]

    run_state_fn(stream, check)


def original_then_unlike_reprint() -> EventStream:
    """An original in one story, then a reprint whose vector starts another (dedup has not matched them yet)."""
    return (EventStream()
            .advance_watermark_to(T0 - 60)
            .add_elements([at(unit_work("original", T0, packed(OTHER), ("Lagos",)), T0)])
            .add_elements([at(unit_work("reprint", T0 + 3600, packed(EVENT)), T0 + 10)]))


def test_a_reroot_into_another_story_moves_the_record_and_its_copies_with_corrections():
    stream = (original_then_unlike_reprint()
              .add_elements([at(copy_work("reprint-copy", T0 + 3700, "reprint"), T0 + 15)])
              .add_elements([at(reroot_work("reprint", "original"), T0 + 20)])
              .advance_watermark_to_infinity())

    def check(tagged: list) -> None:
        out = by_tag(tagged)
        assert sorted((c.id, c.story_id, c.previous_story_id, c.reason) for c in out["story_corrections"]) == [
            ("id-reprint", "id-original", "id-reprint", "dedup_rerooted"),
            ("id-reprint-copy", "id-original", "id-reprint", "dedup_rerooted")]
        final = [s for s in out["stories"] if s.story_id == "id-original"][-1]
        assert final.copies == 2 and final.records == 1

    run_state_fn(stream, check)


def test_a_record_met_again_keeps_its_story_even_after_it_became_a_copy():
    stream = (original_then_unlike_reprint()
              .add_elements([at(reroot_work("reprint", "original"), T0 + 20)])
              .add_elements([at(unit_work("reprint", T0 + 3600, packed(EVENT)), T0 + 30)])  # delivered again
              .advance_watermark_to_infinity())

    def check(tagged: list) -> None:
        out = by_tag(tagged)
        assert sorted((r.id, r.story_id) for r in out["records"]) == [
            ("id-original", "id-original"), ("id-reprint", "id-original"), ("id-reprint", "id-reprint")]

    run_state_fn(stream, check)


def test_stories_expire_after_keep_days_so_a_later_copy_of_their_record_finds_none():
    later = T0 + 9 * 86400
    stream = (EventStream()
              .advance_watermark_to(T0 - 60)
              .add_elements([at(unit_work("old", T0, packed(EVENT)), T0)])
              .advance_watermark_to(later)  # past keep_days (7): the story is forgotten
              .add_elements([at(unit_work("new", later, near(EVENT, 0.95)), later)])
              .add_elements([at(copy_work("old-copy", later, "old"), later + 1)])
              # (what a timer emits as the watermark jumps to infinity never reaches assert_that on this runner)
              .advance_watermark_to(later + COPY_WAIT_S + 60)
              .advance_watermark_to_infinity())

    def check(tagged: list) -> None:
        out = by_tag(tagged)
        assert sorted((r.id, r.story_id) for r in out["records"]) == [("id-new", "id-new"), ("id-old", "id-old")]
        assert [(d.id, d.story_id) for d in out["duplicates"]] == [("id-old-copy", None)]

    run_state_fn(stream, check)


def test_the_state_log_replays_to_the_same_index():
    index = StoryIndex()
    rows = []
    for key, day, vector, name in (("a", DAY0, packed(EVENT), "Valencia"),
                                   ("b", "2026-11-20T09:00:00Z", near(EVENT, 0.9), "Valencia"),
                                   ("c", "2026-11-20T10:00:00Z", packed(OTHER), "Lagos")):
        index.add(StoryUnit(key, day, key, f"{key}.example", vector, (name,)))
        rows.append(index.member_row(key))
    index.add_copy("a", "a-copy")
    rows.append(StoryIndex.copy_row("a", "a-copy"))
    assert index.make_copy("c", "b") == (["c"], "c")
    rows.append(StoryIndex.recopy_row("c", "b"))
    replayed = StoryIndex()
    for row in rows:
        replayed.apply(json.loads(json.dumps(row)))
    assert replayed.rows() == index.rows() and len(index) == 1
    compacted = StoryIndex()
    for row in index.log_rows():
        compacted.apply(row)
    assert compacted.rows() == index.rows()
    assert {r: index.story_of(r) for r in ("a", "a-copy", "b", "c")} == dict.fromkeys(("a", "a-copy", "b", "c"), "a")


BODIES = {
    "valencia-1": "Flash floods in Valencia killed at least 95 people, Spanish officials said on Wednesday. Rescue "
                  "teams in Paiporta searched for survivors as the rain eased. The regional government declared "
                  "three days of mourning.",
    "valencia-2": "The death toll from the floods in Valencia rose to 95 on Wednesday as rescuers reached Paiporta, "
                  "the town worst hit by the torrential rain. Spain declared three days of mourning.",
    "lagos": "The central bank of Nigeria raised its benchmark interest rate in Lagos on Tuesday to curb "
             "inflation, which reached 33 percent in October, the governor told reporters.",
}


def test_stream_stories_with_the_real_model_groups_one_event_and_gives_copies_their_story():
    records = {key: record(key, T0 + i * 3600, body) for i, (key, body) in enumerate(BODIES.items())}
    copy = record("valencia-copy", T0 + 7200, BODIES["valencia-1"], duplicate_of="id-valencia-1")
    stream = (EventStream()
              .advance_watermark_to(T0 - 60)
              .add_elements([TimestampedValue(copy, T0)])
              .add_elements([TimestampedValue(r, T0 + 1) for r in records.values()])
              .advance_watermark_to_infinity())
    with streaming_pipeline() as p:
        tagged = p | stream | beam.Map(lambda r: ("duplicates" if r.duplicate_of else "records", r))
        records_in = tagged | "Records" >> beam.FlatMap(
            lambda t: [t[1]] if t[0] == "records" else []).with_output_types(NewsRecord)
        copies_in = tagged | "Copies" >> beam.FlatMap(
            lambda t: [t[1]] if t[0] == "duplicates" else []).with_output_types(NewsRecord)
        out = ({"records": records_in, "duplicates": copies_in,
                "corrections": p | beam.Create([]).with_output_types(DedupCorrection)}
               | StreamStories())
        stories = (out["records"], out["duplicates"]) | beam.Flatten() | beam.Map(lambda r: (r.id, r.story_id))
        assert_that(stories, equal_to([("id-valencia-1", "id-valencia-1"), ("id-valencia-2", "id-valencia-1"),
                                       ("id-lagos", "id-lagos"), ("id-valencia-copy", "id-valencia-1")]))
        assert_that(out["story_corrections"], equal_to([]), label="no corrections")
