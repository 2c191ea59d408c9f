"""The whole streaming graph, driven by TestStream: polled feeds, pushed work, re-polls, malformed messages.

The sample sites are served from a loopback HTTP server; the stream is two
poll ticks of the six sample feeds (the second finds nothing new) plus
malformed messages. Whatever order the runner interleaves the feeds in, the
verdicts after applying the stream's corrections must equal the batch
ground truth in sample/EXPECTED.json.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

import apache_beam as beam
from apache_beam.io.gcp.pubsub import PubsubMessage
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.test_stream import TestStream as EventStream
from apache_beam.testing.util import assert_that
from apache_beam.transforms.window import TimestampedValue

from pipeline.options import add_run_arguments, config_from_args
from pipeline.siteserver import SiteServer
from pipeline.streaming import build_from_work, build_streaming
from schemas.records import DedupCorrection, NewsRecord
from tests.builders import entry as make_entry
from tests.conftest import SAMPLE, beam_test_pipeline
from tests.test_stream_dedup import streaming_pipeline
from tests.test_stream_stories import by_tag
from transforms.lib.urls import canonical_url, record_id
from transforms.stories import AssignStories
from transforms.stream_io import ParseWork, WriteWindowedTable
from transforms.stream_stories import COPY_WAIT_S

FEEDS = [line for line in (SAMPLE / "feeds.txt").read_text().splitlines() if line and not line.startswith("#")]
T0 = 1_795_000_000  # 2026-11-18: seconds since the epoch


def expected_final_verdicts() -> dict[str, str | None]:
    """Canonical URL -> the record id it duplicates (None: canonical), from the sample's ground truth."""
    truth = json.loads((SAMPLE / "EXPECTED.json").read_text())
    verdicts: dict[str, str | None] = {canonical_url(a["url"]): None for a in truth["all_articles"]}
    for case in truth["duplicates"]:
        if case["kind"] != "same_url":
            verdicts[canonical_url(case["url"])] = record_id(canonical_url(case["duplicate_of"]))
    return verdicts


def feed_message(url: str) -> PubsubMessage:
    return PubsubMessage(json.dumps({"feed_url": url}).encode(), {})


def config_for(server: SiteServer, output: str):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, feeds_required=False)
    return config_from_args(parser.parse_args([
        "--output", output, "--allow_private_networks", "--per_host_delay", "0", "--no_entities",
        *server.connect_to_args()]))


def test_polled_twice_with_bad_messages_ends_in_the_batch_verdicts(tmp_path):
    malformed = [PubsubMessage(b"not json", {}), PubsubMessage(b'{"feed_url": "ftp://x.example/feed"}', {}),
                 PubsubMessage(b'{"colour": "blue"}', {})]
    stream = (
        EventStream()
        .advance_watermark_to(T0)
        .add_elements([TimestampedValue(feed_message(url), T0) for url in FEEDS])
        .add_elements([TimestampedValue(m, T0 + 1) for m in malformed])
        .advance_watermark_to(T0 + 900)
        .add_elements([TimestampedValue(feed_message(url), T0 + 900) for url in FEEDS])  # the next poll tick
        .advance_watermark_to_infinity()
    )
    with SiteServer(SAMPLE / "site") as server:
        config = config_for(server, str(tmp_path))
        with streaming_pipeline() as p:
            work = p | stream | ParseWork()
            outputs = build_from_work(p, config, [work["feeds"]], [work["entries"]], [work["dead_letters"]])
            everything = [outputs[name] | f"Tag_{name}" >> beam.Map(lambda x, n=name: (n, x))
                          for name in ("records", "duplicates", "corrections", "dead_letters", "seen")]
            assert_that(everything | beam.Flatten(), check_stream_outcome)


def check_stream_outcome(tagged: list) -> None:
    by_table = by_tag(tagged)
    records, duplicates = by_table.get("records", []), by_table.get("duplicates", [])
    corrections: list[DedupCorrection] = by_table.get("corrections", [])
    dead = by_table.get("dead_letters", [])
    # Every entry met once is a record or a duplicate; the second poll met all 35 again.
    assert len(records) + len(duplicates) == 35, (len(records), len(duplicates))
    assert len(by_table.get("seen", [])) == 35
    assert sorted((d.unit, d.stage, d.reason) for d in dead) == [
        ("message", "read_message", "bad_url"), ("message", "read_message", "not_json"),
        ("message", "read_message", "unknown_message")]
    # Apply corrections (in order of emission does not matter: each names its final canonical).
    final = {r.canonical_url: r.duplicate_of for r in records}
    by_id = {r.id: r.canonical_url for r in records}
    for correction in corrections:
        final[by_id[correction.id]] = correction.duplicate_of
    for row in duplicates:
        final.setdefault(row.canonical_url, row.duplicate_of)
    expected = expected_final_verdicts()
    assert {url: final.get(url) for url in expected} == expected


_COLLECTED: list[tuple[str, Any]] = []  # a pipeline's outputs: these runners run in this process


def _collect(item: tuple[str, Any]) -> None:
    _COLLECTED.append(item)


def test_the_stream_gives_the_stories_batch_gives_for_the_same_articles(tmp_path):
    stream = (EventStream()
              .advance_watermark_to(T0)
              .add_elements([TimestampedValue(feed_message(url), T0) for url in FEEDS])
              .advance_watermark_to(T0 + COPY_WAIT_S + 60)
              .advance_watermark_to_infinity())
    _COLLECTED.clear()
    with SiteServer(SAMPLE / "site") as server:
        config = config_for(server, str(tmp_path))
        with streaming_pipeline() as p:
            work = p | stream | ParseWork()
            outputs = build_from_work(p, config, [work["feeds"]], [work["entries"]], [work["dead_letters"]])
            for name in ("records", "duplicates", "corrections", "story_corrections", "stories"):
                _ = (outputs[name] | f"Tag_{name}" >> beam.Map(lambda x, n=name: (n, x))
                     | f"Collect_{name}" >> beam.Map(_collect))
    streamed = by_tag(_COLLECTED)
    # The stream's final verdicts and stories, after its corrections.
    rerooted = {c.id: c.duplicate_of for c in streamed.get("corrections", [])}
    story_of = {r.id: r.story_id for r in [*streamed["records"], *streamed["duplicates"]]}
    for correction in streamed.get("story_corrections", []):
        story_of[correction.id] = correction.story_id
    assert None not in story_of.values(), story_of
    records = [r._replace(story_id=None) for r in streamed["records"] if r.id not in rerooted]
    duplicates = [d._replace(story_id=None) for d in streamed["duplicates"]]
    duplicates += [r._replace(story_id=None, duplicate_of=rerooted[r.id]) for r in streamed["records"]
                   if r.id in rerooted]
    # Batch stories for the same records and copies.
    _COLLECTED.clear()
    with beam_test_pipeline() as p:
        batch = ({"records": p | "Records" >> beam.Create(records).with_output_types(NewsRecord),
                  "duplicates": p | "Duplicates" >> beam.Create(duplicates).with_output_types(NewsRecord)}
                 | AssignStories())
        _ = ((batch["records"], batch["duplicates"]) | beam.Flatten()
             | beam.Map(lambda r: ("batch", (r.id, r.story_id))) | beam.Map(_collect))
    batch_story_of = dict(value for _name, value in _COLLECTED)
    assert set(batch_story_of) == set(story_of)

    def partition(assigned: dict[str, str]) -> set[frozenset[str]]:
        groups: dict[str, set[str]] = {}
        for member, story_id in assigned.items():
            groups.setdefault(story_id, set()).add(member)
        return {frozenset(group) for group in groups.values()}

    assert partition(story_of) == partition(batch_story_of)
    assert len(partition(story_of)) < len(story_of)  # (some stories hold several records: not trivially equal)
    latest = {row.story_id: row for row in streamed["stories"]}
    assert set(latest) == set(story_of.values())


def test_windowed_files_hold_every_row_once_in_whole_files(tmp_path):
    rows = [make_entry()._replace(entry_key=f"k{i}", id=f"id{i}") for i in range(40)]
    stream = EventStream().advance_watermark_to(T0)
    for i in range(0, 40, 10):
        stream = stream.add_elements([TimestampedValue(r, T0 + i) for r in rows[i:i + 10]])
    stream = stream.advance_watermark_to_infinity()
    with streaming_pipeline() as p:
        _ = p | stream | WriteWindowedTable(str(tmp_path), "records", window_seconds=1)
    files = sorted(tmp_path.iterdir())
    assert files and all(re.fullmatch(r"records-\d{8}T\d{6}Z-\d{8}T\d{6}Z-\d{3}\.jsonl", f.name) for f in files), files
    written = [json.loads(line)["entry_key"] for f in files for line in f.read_text().splitlines()]
    assert sorted(written) == sorted(r.entry_key for r in rows)


# The top-level transform names of the streaming job: Dataflow maps a running job's state to a replacement job
# by these names (``--update``). Renaming one needs ``--transform_name_mapping``: change this list deliberately.
STABLE_NAMES = [
    "ReadWork", "ParseWork", "AllFeedUrls", "ReadFeeds", "AllEntries", "ExactDedup", "Robots", "FetchPages",
    "Extract", "Dedup", "Entities", "AllDuplicates", "Stories", "AllDeadLetters", "CountRecords", "CountDuplicates",
    "CountDeadLetters", "RecordsAndCorrections", "PublishRecords", "PublishDuplicates", "PublishDeadLetters",
    "Files_records", "Files_duplicates", "Files_dead_letters", "Files_corrections", "Files_stories",
    "Files_story_corrections",
]


def test_streaming_transform_names_are_stable(tmp_path):
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, feeds_required=False)
    config = config_from_args(parser.parse_args([
        "--output", str(tmp_path), "--input_subscription", "projects/newsbeam-test/subscriptions/work",
        "--output_topic", "projects/newsbeam-test/topics/records",
        "--duplicates_topic", "projects/newsbeam-test/topics/duplicates",
        "--dead_letter_topic", "projects/newsbeam-test/topics/dead", "--window_seconds", "60"]))
    p = beam.Pipeline(options=PipelineOptions(["--streaming", "--runner=BundleBasedDirectRunner"]))
    build_streaming(p, config, [])
    assert [part.full_label for part in p.transforms_stack[0].parts] == STABLE_NAMES
