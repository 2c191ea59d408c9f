"""The BigQuery sink against a real BigQuery emulator (bqemulator on 127.0.0.1), and `newsbeam schema`."""

from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.testing.util import assert_that, equal_to

from pipeline.cli import main
from pipeline.siteserver import SiteServer
from schemas.derive import bigquery_schema, json_schema
from schemas.records import DeadLetter, NewsRecord
from tests.builders import entry
from tests.conftest import SAMPLE
from tests.pipeline_run import read_outputs
from transforms.bigquery import BigQueryTarget, WriteBigQuery
from transforms.lib.records import CANONICAL, record_from_entry


def test_a_bigquery_target_names_three_tables_and_refuses_what_is_not_one():
    target = BigQueryTarget.parse("my-project:news.daily")
    assert [target.table(t) for t in ("records", "dead_letters")] == ["my-project:news.daily_records",
                                                                      "my-project:news.daily_dead_letters"]
    assert BigQueryTarget.parse("news.daily").table("duplicates") == "news.daily_duplicates"
    for bad in ("news", "my-project:news", "a:b:c.d", "news.daily.extra"):
        with pytest.raises(ValueError, match=r"PROJECT:DATASET\.PREFIX"):
            BigQueryTarget.parse(bad)


def test_schema_command_prints_the_derived_schemas(capsys):
    assert main(["schema", "--table", "duplicates"]) == 0
    assert json.loads(capsys.readouterr().out) == bigquery_schema(NewsRecord)
    assert main(["schema", "--format", "json", "--table", "dead_letters"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema(DeadLetter)
    assert main(["schema", "--format", "arrow"]) == 0
    assert "published: timestamp[us, tz=UTC]" in capsys.readouterr().out


def test_file_loads_without_a_gcs_temp_location_are_refused_in_one_line(tmp_path, capsys):
    code = main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(tmp_path / "out"),
                 "--bigquery_table", "p-roject:news.daily"])
    assert code == 2
    assert "--temp_location gs://" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_run_writes_records_duplicates_and_dead_letters_to_bigquery(bigquery_emulator, tmp_path):
    bq = bigquery_emulator
    bq.create_dataset("sample")
    output = tmp_path / "out"
    with SiteServer(SAMPLE / "site") as server, bq.beam_clients():
        assert main(["run", "--feeds", str(SAMPLE / "feeds.opml"), "--output", str(output),
                     "--feeds", "http://www.globalwire.example/no-such-feed.xml",  # a dead letter too
                     "--allow_private_networks", "--per_host_delay", "0", *server.connect_to_args(),
                     "--bigquery_table", f"{bq.project}:sample.run", "--bigquery_method", "STREAMING_INSERTS",
                     "--project", bq.project]) == 0
    files = read_outputs(output)
    assert files["records"] and files["duplicates"] and files["dead_letters"]
    for table, rows in (("records", files["records"]), ("duplicates", files["duplicates"]),
                        ("dead_letters", files["dead_letters"])):
        stored = bq.query(f"SELECT * FROM sample.run_{table}")
        assert len(stored) == len(rows), table
        if table != "dead_letters":
            assert sorted(r["id"] for r in stored) == sorted(r["id"] for r in rows), table
        schema = bq.table("sample", f"run_{table}")["schema"]["fields"]
        expected = bigquery_schema(DeadLetter if table == "dead_letters" else NewsRecord)
        assert [(f["name"], f["type"]) for f in schema] == [(f["name"], f["type"]) for f in expected], table
    # Nested and repeated fields are queryable as such.
    [mentions] = bq.query("SELECT COUNT(*) AS n FROM sample.run_records, UNNEST(entities) AS e WHERE e.count > 0")
    assert int(mentions["n"]) == sum(len(r["entities"]) for r in files["records"])
    kinds = bq.query("SELECT dedup.kind AS kind, COUNT(*) AS n FROM sample.run_duplicates GROUP BY kind")
    assert {k["kind"]: int(k["n"]) for k in kinds} == files["summary"]["duplicates_by_kind"]
    # The stories table, and story_id on every record.
    stories = bq.query("SELECT story_id, records FROM sample.run_stories")
    assert sorted((s["story_id"], int(s["records"])) for s in stories) == sorted(
        (s["story_id"], s["records"]) for s in files["stories"])
    [unassigned] = bq.query("SELECT COUNT(*) AS n FROM sample.run_records WHERE story_id IS NULL")
    assert int(unassigned["n"]) == 0


def test_a_row_bigquery_rejects_is_a_dead_letter_not_a_failed_job(bigquery_emulator):
    bq = bigquery_emulator
    bq.create_dataset("rejects")
    good = DeadLetter("fetch_page", "entry", "{}", "FetchError", "http_404", "404", "2026-11-24T12:00:00Z",
                      "http://site.example/a")
    bad = good._replace(time="not a time", url="http://site.example/b")  # BigQuery refuses it: TIMESTAMP column
    record = record_from_entry(entry(content="A body. " * 40), None, CANONICAL)
    with bq.beam_clients(), beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner",
                                                                   f"--project={bq.project}"])) as p:
        rejected = ({"records": p | "Records" >> beam.Create([record]), "duplicates": p | "Dups" >> beam.Create([]),
                     "dead_letters": p | "Dead" >> beam.Create([good, bad])}
                    | WriteBigQuery(BigQueryTarget.parse(f"{bq.project}:rejects.t"), "STREAMING_INSERTS"))
        assert_that(rejected | beam.Map(lambda d: (d.stage, d.unit, d.reason, d.url)),
                    equal_to([("write_bigquery", "row", "invalid", "http://site.example/b")]))
    assert [r["url"] for r in bq.query("SELECT url FROM rejects.t_dead_letters")] == ["http://site.example/a"]
    assert [r["id"] for r in bq.query("SELECT id FROM rejects.t_records")] == [record.id]



def test_a_stream_appends_its_rows_to_bigquery(bigquery_emulator, tmp_path):
    """The streaming graph's outputs (here a TestStream of records) reach BigQuery by streaming inserts."""
    from apache_beam.options.pipeline_options import StandardOptions
    from apache_beam.testing.test_pipeline import TestPipeline
    from apache_beam.testing.test_stream import TestStream as EventStream
    from apache_beam.transforms.window import TimestampedValue

    from pipeline.options import RunConfig
    from pipeline.streaming import write_streaming_outputs
    from schemas.records import DedupCorrection

    bq = bigquery_emulator
    bq.create_dataset("stream")
    config = RunConfig(feeds=[], output=str(tmp_path), bigquery=BigQueryTarget.parse(f"{bq.project}:stream.live"),
                       bigquery_method="STREAMING_INSERTS")
    records = [record_from_entry(entry(content=f"Story {i}. " * 40)._replace(entry_key=f"k{i}", id=f"id{i}"), None,
                                 CANONICAL) for i in range(5)]
    t0 = 1_795_000_000
    stream = EventStream().advance_watermark_to(t0)
    for i, record in enumerate(records):
        stream = stream.add_elements([TimestampedValue(record, t0 + i)]).advance_watermark_to(t0 + i + 1)
    options = PipelineOptions(["--runner=BundleBasedDirectRunner", f"--project={bq.project}"])
    options.view_as(StandardOptions).streaming = True
    with bq.beam_clients(), TestPipeline(options=options, blocking=True) as p:
        write_streaming_outputs(config, {
            "records": p | "Records" >> stream.advance_watermark_to_infinity(),
            "duplicates": p | "NoDuplicates" >> beam.Create([]).with_output_types(NewsRecord),
            "dead_letters": p | "NoDeadLetters" >> beam.Create([]).with_output_types(DeadLetter),
            "corrections": p | "NoCorrections" >> beam.Create([]).with_output_types(DedupCorrection)})
    assert sorted(r["id"] for r in bq.query("SELECT id FROM stream.live_records")) == [f"id{i}" for i in range(5)]
