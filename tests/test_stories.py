"""Stories: the single-pass grouping (pure logic, on vectors made here), and ``newsbeam stories`` through
Beam with the real sentence model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.cli import main
from schemas.records import Entity
from tests.builders import article
from transforms.lib.embeddings import DIMENSIONS
from transforms.lib.records import CANONICAL, record_from_article
from transforms.lib.stories import DEFAULT, StoryIndex, StoryUnit, assign_stories, story_names, story_text
from transforms.stories import story_unit

RNG = np.random.default_rng(7)


def direction() -> np.ndarray:
    v = RNG.normal(size=DIMENSIONS)
    return v / np.linalg.norm(v)


def packed(v: np.ndarray) -> bytes:
    return np.clip(np.round(v / np.linalg.norm(v) * 127.0), -127, 127).astype(np.int8).tobytes()


def near(v: np.ndarray, cosine: float) -> bytes:
    """A vector at about ``cosine`` to ``v``."""
    other = direction()
    other -= (other @ v) * v
    other /= np.linalg.norm(other)
    return packed(cosine * v + np.sqrt(1 - cosine ** 2) * other)


def unit(record_id: str, time: str, vector: bytes, names=(), copies=()) -> StoryUnit:
    return StoryUnit(record_id, time, f"title {record_id}", f"{record_id}.example", vector, tuple(names), (),
                     tuple(copies))


def stories(units, index=None) -> dict[str, str]:
    assignments, _index = assign_stories(units, index)
    return {a.record_id: a.story_id for a in assignments}


def test_reports_alike_in_meaning_and_names_join_one_story_and_an_unrelated_one_does_not():
    fire, strike = direction(), direction()
    names = ("dunmore", "okafor", "quarry", "140")
    got = stories([
        unit("a", "2026-11-20T06:00:00Z", packed(fire), names),
        unit("b", "2026-11-20T14:00:00Z", near(fire, 0.55), names[:3] + ("gym",)),
        unit("c", "2026-11-20T15:00:00Z", packed(strike), ("halvergate",)),
    ])
    assert got == {"a": "a", "b": "a", "c": "c"}


def test_the_same_actors_a_week_apart_are_two_stories():
    statement = direction()
    names = ("minister", "okafor", "budget")
    got = stories([unit("monday", "2026-11-16T09:00:00Z", packed(statement), names),
                   unit("next-monday", "2026-11-23T09:00:00Z", near(statement, 0.95), names)])
    assert got["next-monday"] == "next-monday"
    # the same two inside the window: one story
    got = stories([unit("monday", "2026-11-16T09:00:00Z", packed(statement), names),
                   unit("tuesday", "2026-11-17T09:00:00Z", near(statement, 0.95), names)])
    assert got["tuesday"] == "monday"


def test_a_story_spans_at_most_max_span_days_and_takes_at_most_max_members():
    event = direction()
    daily = [unit(f"day{d:02d}", f"2026-11-{d:02d}T12:00:00Z", near(event, 0.95), ("norland",))
             for d in range(1, 21)]
    got = stories(daily)
    span = DEFAULT.max_span_days
    assert {got[f"day{d:02d}"] for d in range(1, int(span) + 2)} == {"day01"}
    assert got[f"day{int(span) + 2:02d}"] != "day01"
    small = StoryIndex(DEFAULT._replace(max_members=3))
    got = stories(daily[:5], small)
    assert [got[u.record_id] for u in daily[:5]] == ["day01"] * 3 + ["day04"] * 2


def test_copies_take_their_originals_story_and_a_copy_of_an_unknown_record_gets_none():
    event = direction()
    index = StoryIndex()
    index.add(unit("original", "2026-11-20T06:00:00Z", packed(event), ("x",), copies=("copy1",)))
    index.add(unit("follow-up", "2026-11-20T09:00:00Z", near(event, 0.9), ("x",)))
    assert index.add_copy("follow-up", "copy2") == "original"
    assert index.story_of("copy1") == index.story_of("copy2") == "original"
    assert index.add_copy("never-seen", "copy3") is None
    row = index.rows()[0]
    assert row.records == 2 and row.copies == 2 and row.reprint_clusters == ["original", "follow-up"]  # by time
    assert row.members[1].hours_after_first == 3.0 and row.members[1].shared_names == ["x"]


def test_two_runs_through_the_saved_index_give_the_stories_of_one_batch():
    events = [direction() for _ in range(6)]
    units = []
    for i in range(60):
        event = i % 6
        units.append(unit(f"r{i:02d}", f"2026-11-{1 + i // 6:02d}T{i % 24:02d}:00:00Z",
                          near(events[event], 0.7), (f"name{event}", f"n{i}")))
    batch = stories(units)
    first = StoryIndex()
    assign_stories(units[:30], first)
    saved = StoryIndex.from_bytes(first.to_bytes())
    assert saved.to_bytes() == first.to_bytes()
    second = stories(units[30:], saved)
    assert {**stories(units[:30]), **second} == batch
    assert len(set(batch.values())) < 60  # (not all singletons: the test would hold trivially)


def test_expire_forgets_stories_with_no_recent_report_and_a_known_record_keeps_its_story():
    index = StoryIndex()
    old, recent = direction(), direction()
    index.add(unit("old", "2026-11-01T00:00:00Z", packed(old), ("a",), copies=("old-copy",)))
    index.add(unit("recent", "2026-11-20T00:00:00Z", packed(recent), ("b",)))
    assert index.expire("2026-11-21T00:00:00Z") == 1
    assert index.story_of("old") is None and index.story_of("old-copy") is None
    assert index.add(unit("recent", "2026-11-22T00:00:00Z", packed(old), ("a",))).story_id == "recent"
    assert len(index) == 1


def test_story_text_reads_the_title_and_first_prose_sentences_and_names_skip_sentence_openers():
    body = ("Home | News | Sport\n\nFire gutted the Dunmore Paper Mill warehouse on Friday. Chief Teresa Okafor "
            "said 140 residents left. The cause is unknown. A fourth sentence stays out.")
    text = story_text("Mill fire", body)
    assert text.startswith("Mill fire. Fire gutted") and "fourth" not in text
    names = story_names(body)
    assert {"dunmore", "okafor", "teresa", "140"} <= set(names) and "fire" not in names


FIRE = ("Fire swept through a warehouse of the Dunmore Paper Mill overnight, and fire chief Teresa Okafor said "
        "about 140 residents of Quarry Lane were evacuated as a precaution. Crews from four stations fought the "
        "blaze for six hours. No one was hurt, Okafor said, and the cause is under investigation.")
FIRE_OTHER = ("Families from Quarry Lane spent the night on camp beds in the Riverbend High School gym after "
              "flames tore through the old Dunmore mill. Chief Okafor told reporters that the 140 people moved "
              "out would be allowed home once inspectors had checked the air. The mill's owner thanked crews.")
STRIKE = ("Dockworkers at the Port of Halvergate walked out on Tuesday over pay, leaving 23 container ships at "
          "anchor. The union said talks with the port authority had broken down after nine months.")


def test_newsbeam_stories_puts_independent_reports_of_one_event_and_a_copy_in_one_story(tmp_path):
    docs = [
        {"id": "fire-1", "title": "Fire guts Dunmore mill warehouse", "text": FIRE,
         "published": "2026-11-20T06:10:00Z", "source": "coastaltimes.example"},
        {"id": "fire-2", "title": "Quarry Lane families spend night in school gym after mill fire",
         "text": FIRE_OTHER, "published": "2026-11-20T14:30:00Z", "source": "riverbendpost.example"},
        {"id": "fire-1-copy", "title": "Fire guts Dunmore mill warehouse", "text": FIRE,
         "published": "2026-11-20T09:00:00Z", "source": "metrogazette.example"},
        {"id": "strike", "title": "Dockworkers strike at Halvergate", "text": STRIKE,
         "published": "2026-11-20T10:00:00Z", "source": "globalwire.example"},
        {"title": "no id"},
    ]
    source, output = tmp_path / "docs.jsonl", tmp_path / "stories.jsonl"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs))
    assert main(["stories", "--input", str(source), "--output", str(output)]) == 0
    lines = {row["id"]: row for row in map(json.loads, output.read_text().splitlines())}
    assert set(lines) == {"fire-1", "fire-2", "fire-1-copy", "strike"}
    assert lines["fire-1-copy"]["duplicate_of"] == "fire-1"
    assert lines["fire-1"]["story_id"] == lines["fire-2"]["story_id"] == lines["fire-1-copy"]["story_id"] == "fire-1"
    assert lines["strike"]["story_id"] == "strike"
    table = [json.loads(line) for line in (tmp_path / "stories.table.jsonl").read_text().splitlines()]
    fire = next(row for row in table if row["story_id"] == "fire-1")
    assert fire["records"] == 2 and fire["copies"] == 1 and fire["reprint_clusters"] == ["fire-1"]
    assert fire["outlets"] == ["coastaltimes.example", "riverbendpost.example"]
    joined = next(m for m in fire["members"] if m["record_id"] == "fire-2")
    assert "okafor" in joined["shared_names"] and joined["hours_after_first"] == pytest.approx(8.33, abs=0.01)
    dead = (tmp_path / "stories.jsonl.dead_letters.jsonl").read_text().splitlines()
    assert len(dead) == 1 and json.loads(dead[0])["reason"] == "no_id"


def test_newsbeam_stories_refuses_a_bad_window_in_one_line(tmp_path, capsys):
    source = tmp_path / "docs.jsonl"
    source.write_text("")
    assert main(["stories", "--input", str(source), "--output", str(tmp_path / "o.jsonl"),
                 "--story_window", "0"]) == 2
    assert capsys.readouterr().err.strip() == "newsbeam stories: --story_window must be > 0, got 0.0"


def test_a_records_top_entities_are_ranked_by_their_mention_counts():
    made = record_from_article(article("k", "Body text.", "2026-11-20T06:00:00Z", "http://a.example/k"), None,
                               CANONICAL)
    made = made._replace(entities=[Entity("Alpha", "ORG", 1, 0), Entity("Zulu", "PERSON", 5, 10),
                                   Entity("Mike", "GPE", 3, 20)])
    assert story_unit(made).entities[:3] == ("Zulu", "Mike", "Alpha")
