"""Stage 7: records, duplicates and dead letters -> files under ``--output``.

``WriteOutputs`` takes ``{"records": NewsRecord, "duplicates": NewsRecord,
"dead_letters": DeadLetter}`` and writes ``records-*``, ``duplicates-*`` and
``dead_letters-*`` as JSON Lines (default) or Parquet, with any Beam
filesystem (local, ``gs://``...). It counts what it writes: these counters
are the right-hand side of the accounting invariant.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import Iterable
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet

from schemas.derive import TIMESTAMP_FIELDS, arrow_schema, to_plain
from schemas.records import DeadLetter, FeedEntry, FeedStatus, NewsRecord, RobotsOutcome, SourceRun, Story
from transforms.deadletters import count
from transforms.lib.times import parse_iso

FORMATS = ("jsonl", "parquet")
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"
STORY_INDEX_FILE = "story_index.bin"  # the story index after the run (transforms.stories), for --state


def to_json_line(record: Any) -> str:
    return json.dumps(to_plain(record), ensure_ascii=False)


def to_arrow_row(record: Any) -> dict[str, Any]:
    """A record as Parquet wants it: timestamps as datetimes, nested records as dicts."""
    return _with_datetimes(to_plain(record))


def _with_datetimes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (parse_iso(v) if k in TIMESTAMP_FIELDS and isinstance(v, str) else _with_datetimes(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_with_datetimes(v) for v in value]
    return value


def record_tally(record: NewsRecord) -> list[str]:
    entities = "entities.records_with_entities" if record.entities else "entities.records_without_entities"
    return ["out.records", entities, f"bodies.from_{record.body_source}"]


def duplicate_tally(record: NewsRecord) -> list[str]:
    names = ["out.duplicates", f"dedup.duplicate.{record.dedup.kind}"]
    return names + ([f"bodies.from_{record.body_source}"] if record.body_source else [])


def dead_letter_tallies(dead: DeadLetter) -> list[str]:
    """What a dead letter counts towards; a bad entry found while parsing a feed is also an input entry."""
    names = [f"out.dead_letters.{dead.unit}", f"dead_letter.{dead.unit}.{dead.stage}.{dead.reason}"]
    if dead.unit == "entry" and dead.stage == "parse_feed":
        names.append("entries.in")
    if dead.unit == "feed" and dead.stage == "parse_feed":  # fetched, then found not to be a feed
        names.append("feeds.fetched")
    return names


def story_tally(story: Story) -> list[str]:
    return ["out.stories"] + (["out.stories.several_reports"] if story.records > 1 else [])


def entry_tally(_entry: Any) -> list[str]:
    return ["entries.in"]


def seen_tally(_entry: Any) -> list[str]:
    return ["entries.seen_before"]


def feed_status_tally(status: FeedStatus) -> list[str]:
    """The feed counters a run without metrics can still report (a failed fetch is a feed dead letter)."""
    if status.status == 304:
        return ["feeds.fetched", "feeds.not_modified"]
    return ["feeds.fetched", "feeds.parsed"] if 200 <= status.status < 300 else []


class Tally(beam.DoFn):
    """Counts each element as a Beam counter (for monitoring) and passes it on."""

    def __init__(self, names_of):
        self._names_of = names_of

    def process(self, element: Any):
        for name in self._names_of(element):
            if name.startswith("out."):
                count(name)
        yield element


def _shard_of(row: Any, num_shards: int) -> tuple[int, Any]:
    key = row if isinstance(row, str) else json.dumps(row, sort_keys=True, default=str)
    return zlib.crc32(key.encode("utf-8")) % num_shards, row


class _WriteShardFn(beam.DoFn):
    """Writes one whole shard file (temp name, then rename): idempotent, nothing emitted in finish_bundle."""

    def __init__(self, prefix: str, suffix: str, num_shards: int, fmt: str, schema: Any):
        self._prefix, self._suffix, self._num_shards = prefix, suffix, num_shards
        self._fmt, self._schema = fmt, schema

    def process(self, item: tuple[int, dict[str, list[Any]]]) -> Iterable[str]:
        shard, grouped = item
        rows = sorted(grouped["rows"], key=lambda r: r if isinstance(r, str) else json.dumps(r, default=str))
        final = f"{self._prefix}-{shard:05d}-of-{self._num_shards:05d}{self._suffix}"
        temporary = f"{final}.tmp-{uuid.uuid4().hex}"
        with FileSystems.create(temporary) as handle:
            if self._fmt == "parquet":
                pq.write_table(pa.Table.from_pylist(rows, schema=self._schema), handle)
            else:
                handle.write("".join(f"{row}\n" for row in rows).encode("utf-8"))
        if FileSystems.exists(final):
            FileSystems.delete([final])
        FileSystems.rename([temporary], [final])
        yield final


class PortableWriteTable(beam.PTransform):
    """A fixed number of shard files, each written whole by one DoFn call after a GroupByKey.

    For runners where Beam's file sinks lose data (DaskRunner 2.77 drops finish_bundle output and
    recomputes side inputs). Empty shards are written too, so a table always has all its files.
    """

    def __init__(self, output: str, name: str, record_type: type, fmt: str = "jsonl", num_shards: int = 2):
        super().__init__()
        self._prefix = FileSystems.join(output, name)
        self._record_type = record_type
        self._fmt = fmt
        self._num_shards = num_shards

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        to_row = to_arrow_row if self._fmt == "parquet" else to_json_line
        schema = arrow_schema(self._record_type) if self._fmt == "parquet" else None
        rows = records | "ToRows" >> beam.Map(to_row) | "Shard" >> beam.Map(_shard_of, self._num_shards)
        shards = records.pipeline | "Shards" >> beam.Create([(i, None) for i in range(self._num_shards)])
        return ({"shard": shards, "rows": rows}
                | "GroupShards" >> beam.CoGroupByKey()
                | "WriteShards" >> beam.ParDo(_WriteShardFn(self._prefix, f".{self._fmt}", self._num_shards,
                                                            self._fmt, schema)))


class WriteTable(beam.PTransform):
    """One table (``name-SSSSS-of-NNNNN.jsonl`` or ``.parquet``) under ``output``."""

    def __init__(self, output: str, name: str, record_type: type, fmt: str = "jsonl"):
        super().__init__()
        if fmt not in FORMATS:
            raise ValueError(f"--format must be one of {FORMATS}, not {fmt!r}")
        self._prefix = FileSystems.join(output, name)
        self._record_type = record_type
        self._fmt = fmt

    def expand(self, records: beam.PCollection) -> beam.pvalue.PDone:
        if self._fmt == "parquet":
            return (records
                    | "ToArrowRows" >> beam.Map(to_arrow_row)
                    | "WriteParquet" >> WriteToParquet(self._prefix, arrow_schema(self._record_type),
                                                       file_name_suffix=".parquet",
                                                       shard_name_template=SHARD_TEMPLATE))
        return (records
                | "ToJson" >> beam.Map(to_json_line)
                | "WriteJsonl" >> beam.io.WriteToText(self._prefix, file_name_suffix=".jsonl",
                                                      shard_name_template=SHARD_TEMPLATE))


def _write_bytes(data: bytes, path: str) -> str:
    with FileSystems.create(path) as handle:
        handle.write(data)
    return path


def _write_tallies(lines: list[str], path: str) -> str:
    with FileSystems.create(path) as handle:
        handle.write("".join(f"{line}\n" for line in sorted(lines)).encode("utf-8"))
    return path


class WriteOutputs(beam.PTransform):
    """Writes the three tables and ``tallies.jsonl``; returns a PCollection that is complete when all are written.

    The tallies (``{"name": ..., "value": n}`` per line) are the run's
    outcome counts computed as data, independent of a runner's metrics
    support (DaskRunner has none); the run summary reads them when metrics
    are unavailable. ``entries`` (optional) is the PCollection of input
    entries, for the ``entries.in`` tally.
    """

    def __init__(self, output: str, fmt: str = "jsonl", num_shards: int = 0):
        """``num_shards`` 0 uses Beam's file sinks (the runner decides the number of files); a fixed
        number uses ``PortableWriteTable``, which runners such as DaskRunner need."""
        super().__init__()
        self._output = output
        self._fmt = fmt
        self._num_shards = num_shards

    def _table(self, name: str, record_type: type, fmt: str, portable_shards: int) -> beam.PTransform:
        if self._num_shards:
            return PortableWriteTable(self._output, name, record_type, fmt, portable_shards)
        return WriteTable(self._output, name, record_type, fmt)

    def expand(self, outputs: dict[str, beam.PCollection]) -> beam.PCollection:
        tally_of = {"records": record_tally, "duplicates": duplicate_tally, "dead_letters": dead_letter_tallies}
        types = {"records": NewsRecord, "duplicates": NewsRecord, "dead_letters": DeadLetter}
        written, tallies = [], []
        for name in ("records", "duplicates", "dead_letters"):
            counted = outputs[name] | f"Count_{name}" >> beam.ParDo(Tally(tally_of[name]))
            written.append(counted | f"Write_{name}" >> self._table(name, types[name], self._fmt, self._num_shards))
            tallies.append(counted | f"Tally_{name}" >> beam.FlatMap(tally_of[name]))
        if "entries" in outputs:
            tallies.append(outputs["entries"] | "TallyEntries" >> beam.FlatMap(entry_tally))
        if "seen" in outputs:
            tallies.append(outputs["seen"] | "TallySeen" >> beam.FlatMap(seen_tally))
        if "feed_status" in outputs:
            tallies.append(outputs["feed_status"] | "TallyFeeds" >> beam.FlatMap(feed_status_tally))
        if "stories" in outputs:
            counted = outputs["stories"] | "Count_stories" >> beam.ParDo(Tally(story_tally))
            written.append(counted | "Write_stories" >> self._table("stories", Story, self._fmt, 1))
            tallies.append(counted | "Tally_stories" >> beam.FlatMap(story_tally))
        if "story_index" in outputs:
            written.append(outputs["story_index"]
                           | "WriteStoryIndex" >> beam.Map(_write_bytes, FileSystems.join(self._output,
                                                                                          STORY_INDEX_FILE)))
        # Small tables for the next scheduled run's state (always JSON lines).
        for name, record_type in (("seen", FeedEntry), ("feed_status", FeedStatus), ("robots", RobotsOutcome),
                                  ("sources", SourceRun)):
            if name in outputs:
                table = "seen_before" if name == "seen" else name
                written.append(outputs[name] | f"Write_{table}" >> self._table(table, record_type, "jsonl", 1))
        tally_file = (
            tallies
            | "AllTallies" >> beam.Flatten()
            | "CountTallies" >> beam.combiners.Count.PerElement()
            | "TallyJson" >> beam.Map(lambda kv: json.dumps({"name": kv[0], "value": kv[1]}))
            # without_defaults throughout: a global combine's default value comes through a side input,
            # which DaskRunner recomputes from scratch (fetching every page again). No tallies: no file.
            | "AllTallyLines" >> beam.CombineGlobally(beam.combiners.ToListCombineFn()).without_defaults()
            | "WriteTallies" >> beam.Map(_write_tallies, FileSystems.join(self._output, "tallies.jsonl"))
        )
        # One terminal step downstream of every write: some runners (DaskRunner) only run what the
        # last step depends on.
        return ([*written, tally_file]
                | "AllWritten" >> beam.Flatten()
                | "WrittenFiles" >> beam.CombineGlobally(beam.combiners.CountCombineFn()).without_defaults())
