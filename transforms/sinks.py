"""Stage 7: records, duplicates and dead letters -> files under ``--output``.

``WriteOutputs`` takes ``{"records": NewsRecord, "duplicates": NewsRecord,
"dead_letters": DeadLetter}`` and writes ``records-*``, ``duplicates-*`` and
``dead_letters-*`` as JSON Lines (default) or Parquet, with any Beam
filesystem (local, ``gs://``...). It counts what it writes: these counters
are the right-hand side of the accounting invariant.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.parquetio import WriteToParquet

from schemas.derive import TIMESTAMP_FIELDS, arrow_schema, to_plain
from schemas.records import DeadLetter, NewsRecord
from transforms.deadletters import count

FORMATS = ("jsonl", "parquet")
SHARD_TEMPLATE = "-SSSSS-of-NNNNN"


def to_json_line(record: Any) -> str:
    return json.dumps(to_plain(record), ensure_ascii=False)


def to_arrow_row(record: Any) -> dict[str, Any]:
    """A record as Parquet wants it: timestamps as datetimes, nested records as dicts."""
    return _with_datetimes(to_plain(record))


def _with_datetimes(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_parse_time(v) if k in TIMESTAMP_FIELDS and isinstance(v, str) else _with_datetimes(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_with_datetimes(v) for v in value]
    return value


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class _CountAs(beam.DoFn):
    def __init__(self, counter_of):
        self._counter_of = counter_of

    def process(self, element: Any):
        count(self._counter_of(element))
        yield element


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


class WriteOutputs(beam.PTransform):
    def __init__(self, output: str, fmt: str = "jsonl"):
        super().__init__()
        self._output = output
        self._fmt = fmt

    def expand(self, outputs: dict[str, beam.PCollection]) -> None:
        counted = {
            "records": outputs["records"] | "CountRecords" >> beam.ParDo(_CountAs(lambda r: "out.records")),
            "duplicates": outputs["duplicates"] | "CountDuplicates" >> beam.ParDo(
                _CountAs(lambda r: "out.duplicates")),
            "dead_letters": outputs["dead_letters"] | "CountDeadLetters" >> beam.ParDo(
                _CountAs(lambda d: f"out.dead_letters.{d.unit}")),
        }
        types = {"records": NewsRecord, "duplicates": NewsRecord, "dead_letters": DeadLetter}
        for name, pcoll in counted.items():
            pcoll | f"Write_{name}" >> WriteTable(self._output, name, types[name], self._fmt)
