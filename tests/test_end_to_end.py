"""The README's run command on the bundled sample, checked against sample/EXPECTED.json."""

from __future__ import annotations

import json

import jsonschema
import pyarrow.parquet as pq
import pytest

from pipeline.cli import main
from schemas.derive import json_schema
from schemas.records import DeadLetter, NewsRecord, Story
from tests.conftest import SAMPLE
from tests.pipeline_run import read_outputs, run_dir
from transforms.lib.urls import canonical_url, record_id

EXPECTED = json.loads((SAMPLE / "EXPECTED.json").read_text())


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory):
    output = tmp_path_factory.mktemp("demo")
    assert main(["demo", "--output", str(output)]) == 0
    return read_outputs(output)


def by_url(rows):
    return {row["canonical_url"]: row for row in rows}


def test_accounting_invariant_and_counts(demo_output):
    summary = demo_output["summary"]
    assert summary["invariant"]["holds"]
    assert summary["entries"] == EXPECTED["feed_entries"]
    assert len(demo_output["records"]) + len(demo_output["duplicates"]) + len(
        [d for d in demo_output["dead_letters"] if d["unit"] == "entry"]) == EXPECTED["feed_entries"]
    assert summary["feeds"]["parsed"] == len(EXPECTED["feeds"]) and summary["runner"] == "FnApiRunner"


def test_wire_copies_are_duplicates_of_the_original(demo_output):
    duplicates = by_url(demo_output["duplicates"])
    for case in EXPECTED["duplicates"]:
        if case["kind"] not in ("verbatim", "edited"):
            continue
        row = duplicates[case["url"]]
        assert row["duplicate_of"] == record_id(canonical_url(case["duplicate_of"])), case
        assert row["dedup"]["kind"] in ("same_text", "near_verbatim", "edited")
        assert row["dedup"]["evidence"]


def test_independent_reports_stay_canonical(demo_output):
    records = by_url(demo_output["records"])
    for pair in EXPECTED["independent"]:
        for url in pair:
            assert url in records and records[url]["duplicate_of"] is None


def test_tracking_parameter_twin_is_an_exact_duplicate(demo_output):
    twin = EXPECTED["tracking_twin"]
    records = by_url(demo_output["records"])
    duplicates = [d for d in demo_output["duplicates"] if d["canonical_url"] == twin["canonical_url"]]
    assert twin["canonical_url"] in records
    assert len(duplicates) == 1 and duplicates[0]["dedup"]["kind"] == "same_url"
    assert duplicates[0]["duplicate_of"] == records[twin["canonical_url"]]["id"]


def test_missing_page_uses_the_feed_content(demo_output):
    records = by_url(demo_output["records"])
    for url in EXPECTED["missing_page"]:
        assert records[url]["body_source"] == "feed"
        assert "http_404" in records[url]["body_note"] and len(records[url]["body"]) > 500


def test_a_page_disallowed_by_robots_txt_is_not_fetched_and_uses_the_feed_content(demo_output):
    records = by_url(demo_output["records"])
    for url in EXPECTED["robots_disallowed"]:
        assert records[url]["body_source"] == "feed"
        assert "robots_disallowed" in records[url]["body_note"] and len(records[url]["body"]) > 500
    summary = demo_output["summary"]
    assert summary["pages"]["robots_disallowed"] == len(EXPECTED["robots_disallowed"])
    assert summary["robots"]["outcomes"] == {"parsed": 1, "unavailable": 4}  # one sample host has a robots.txt


def test_independent_reports_of_one_event_share_a_story_and_copies_share_their_originals(demo_output):
    records = by_url(demo_output["records"])
    for pair in EXPECTED["independent"]:
        assert len({records[url]["story_id"] for url in pair}) == 1, pair
    by_id = {r["id"]: r for r in demo_output["records"]}
    for duplicate in demo_output["duplicates"]:
        assert duplicate["story_id"] == by_id[duplicate["duplicate_of"]]["story_id"] is not None
    stories = {s["story_id"]: s for s in demo_output["stories"]}
    assert {r["story_id"] for r in by_id.values()} == set(stories)
    assert sum(s["records"] for s in stories.values()) == len(by_id)
    assert sum(s["copies"] for s in stories.values()) == len(demo_output["duplicates"])
    assert demo_output["summary"]["stories"]["stories"] == len(stories)


def test_most_records_carry_entities(demo_output):
    records = demo_output["records"]
    with_entities = [r for r in records if r["entities"]]
    assert len(with_entities) >= 0.8 * len(records)


def test_every_written_row_validates_against_the_derived_json_schema(demo_output):
    record_schema, dead_schema = json_schema(NewsRecord), json_schema(DeadLetter)
    for row in demo_output["records"] + demo_output["duplicates"]:
        jsonschema.validate(row, record_schema)
    for row in demo_output["stories"]:
        jsonschema.validate(row, json_schema(Story))
    for row in demo_output["dead_letters"]:
        jsonschema.validate(row, dead_schema)


def without_run_times(rows: list[dict]) -> list[str]:
    """Rows as JSON without what records the moment of the run (fetch times; the date an undated entry
    takes from its fetch; a dead letter's time)."""
    kept = []
    for row in rows:
        row = {k: v for k, v in row.items() if k not in ("fetched_at", "time")}
        if row.get("published_from") == "fetched":
            row.pop("published")
        kept.append(json.dumps(row, sort_keys=True))
    return sorted(kept)


def test_a_run_on_another_day_gives_the_same_records_and_verdicts(demo_output, tmp_path, monkeypatch):
    """Ids, verdicts, bodies and entities do not depend on when the run happens (the clock is moved
    five years on: the sample's articles are then far past the dedup horizon from "now")."""
    monkeypatch.setenv("NEWSBEAM_CLOCK", "2031-06-01T12:00:00Z")
    assert main(["demo", "--output", str(tmp_path)]) == 0
    again = read_outputs(tmp_path)
    assert all(r["fetched_at"].startswith("2031-06-01") for r in again["records"])  # the clock was moved
    for table in ("records", "duplicates", "dead_letters", "stories"):
        assert without_run_times(again[table]) == without_run_times(demo_output[table]), table
    # The state's reprint index is cut by event time: five years later it still keeps the sample's articles.
    assert again["summary"]["state"]["reprint_articles"] == demo_output["summary"]["state"]["reprint_articles"] > 0


def test_parquet_output_has_the_same_records(demo_output, tmp_path):
    assert main(["demo", "--output", str(tmp_path), "--format", "parquet"]) == 0
    table = pq.read_table([str(p) for p in run_dir(tmp_path).glob("records-*.parquet")])
    assert sorted(table.column("id").to_pylist()) == sorted(r["id"] for r in demo_output["records"])
    assert str(table.schema.field("published").type) == "timestamp[us, tz=UTC]"
    assert set(table.column("story_id").to_pylist()) == {r["story_id"] for r in demo_output["records"]}
    stories = pq.read_table([str(p) for p in run_dir(tmp_path).glob("stories-*.parquet")])
    assert sorted(stories.column("story_id").to_pylist()) == sorted(s["story_id"] for s in demo_output["stories"])


def test_the_sample_paraphrase_is_caught_with_its_credit(demo_output):
    duplicates = by_url(demo_output["duplicates"])
    for case in EXPECTED["duplicates"]:
        if case["kind"] == "paraphrase":
            row = duplicates[case["url"]]
            assert row["dedup"]["kind"] == "paraphrase"
            assert row["duplicate_of"] == record_id(canonical_url(case["duplicate_of"]))
            assert row["dedup"]["attributed_source"] == EXPECTED["attribution"][case["url"]]


def test_dedup_and_entities_can_be_turned_off(tmp_path):
    from pipeline.siteserver import SiteServer

    with SiteServer(SAMPLE / "site") as server:
        code = main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(tmp_path), "--no_dedup",
                     "--no_entities", "--allow_private_networks", "--per_host_delay", "0",
                     *server.connect_to_args()])
    out = read_outputs(tmp_path)
    assert code == 0 and out["summary"]["invariant"]["holds"]
    assert [d["dedup"]["kind"] for d in out["duplicates"]] == ["same_url"]  # matched before fetching, still
    assert len(out["records"]) == EXPECTED["feed_entries"] - 1
    assert all(r["entities"] == [] for r in out["records"])
