"""Stage 7, BigQuery: records, duplicates and dead letters -> three BigQuery tables.

``WriteBigQuery(target, method)`` takes ``{"records": NewsRecord, "duplicates": NewsRecord,
"dead_letters": DeadLetter}`` and writes them with Beam's own ``WriteToBigQuery`` to
``PROJECT:DATASET.PREFIX_records``, ``..._duplicates`` and ``..._dead_letters``, whose schemas are derived
from ``schemas.records`` (``schemas.derive.bigquery_schema``; ``newsbeam schema`` prints them). Tables are
created when missing and appended to.

It returns ``PCollection[DeadLetter]``: the rows BigQuery rejected (stage ``write_bigquery``, unit ``row``:
a record that is already counted once in the accounting, now also reported as not stored in BigQuery).
Streaming inserts and the Storage Write API report rejected rows one by one. File loads (the batch
default) load whole files, where one bad row fails the job: rows are checked against BigQuery's limits
before they are written, and the few that cannot be loaded become dead letters instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.gcp.bigquery import BigQueryDisposition, WriteToBigQuery
from apache_beam.io.gcp.bigquery_tools import RetryStrategy

from schemas.derive import bigquery_schema, to_plain
from schemas.records import DeadLetter, NewsRecord, Story
from transforms.deadletters import count, dead_letter
from transforms.tagging import DEAD_LETTERS, Tagged, split, tag

TABLES: dict[str, type] = {"records": NewsRecord, "duplicates": NewsRecord, "dead_letters": DeadLetter,
                           "stories": Story}
METHODS = ("FILE_LOADS", "STREAMING_INSERTS", "STORAGE_WRITE_API")
STAGE = "write_bigquery"
# A JSON row in a load job may be up to 100 MB; a streaming insert request up to 10 MB. Records are far
# smaller; a row near the smaller limit is refused here rather than failing a whole load job.
MAX_ROW_BYTES = 9 * 1024 * 1024

_TARGET = re.compile(r"^(?:(?P<project>[a-z][a-z0-9.:-]{4,61}[a-z0-9]):)?"
                     r"(?P<dataset>\w{1,1024})\.(?P<prefix>\w{1,900})$")


def write_method(chosen: str | None, streaming: bool) -> str:
    """``--bigquery_method``, or the default: file loads in batch, the Storage Write API in streaming."""
    return chosen or ("STORAGE_WRITE_API" if streaming else "FILE_LOADS")


class BigQueryTarget(NamedTuple):
    """Where the three tables go: ``[PROJECT:]DATASET.PREFIX``."""

    project: str | None
    dataset: str
    prefix: str

    @classmethod
    def parse(cls, value: str) -> BigQueryTarget:
        match = _TARGET.match(value)
        if match is None:
            raise ValueError(f"--bigquery_table must look like PROJECT:DATASET.PREFIX, got {value!r}")
        return cls(match["project"], match["dataset"], match["prefix"])

    def table(self, name: str) -> str:
        dataset = f"{self.project}:{self.dataset}" if self.project else self.dataset
        return f"{dataset}.{self.prefix}_{name}"


def to_bigquery_row(record: Any) -> dict[str, Any]:
    """A record as BigQuery's JSON wants it; timestamps stay ISO 8601 strings, which every method accepts."""
    return to_plain(record)


class BigQueryRejected(Exception):
    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def rejected_dead_letter(failure: tuple[str, dict[str, Any], Any], table: str) -> DeadLetter:
    """One of ``WriteResult.failed_rows_with_errors``: (table, row, errors) -> a dead letter."""
    destination, row, errors = failure
    errors = errors if isinstance(errors, list) else [errors]
    reasons = sorted({str(error.get("reason") or "rejected") for error in errors if isinstance(error, dict)})
    count(f"out.bigquery_rejected.{table}")
    error = BigQueryRejected(f"{destination}: {json.dumps(errors, default=str)[:1500]}",
                             reasons[0] if reasons else "rejected")
    return dead_letter(STAGE, "row", row, error, url=row.get("url") if isinstance(row, dict) else None)


class RowTooLarge(Exception):
    reason = "row_too_large"


def _within_limits(row: dict[str, Any], table: str) -> Iterable[Tagged]:
    size = len(json.dumps(row, ensure_ascii=False).encode())
    if size <= MAX_ROW_BYTES:
        yield tag("rows", row)
        return
    count(f"out.bigquery_rejected.{table}")
    error = RowTooLarge(f"a {table} row of {size} bytes, over the {MAX_ROW_BYTES} bytes newsbeam sends to BigQuery")
    yield tag(DEAD_LETTERS, dead_letter(STAGE, "row", {k: row.get(k) for k in ("id", "url")}, error,
                                        url=row.get("url")))


class WriteBigQuery(beam.PTransform):
    def __init__(self, target: BigQueryTarget, method: str = "FILE_LOADS"):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"--bigquery_method must be one of {', '.join(METHODS)}, got {method!r}")
        self._target = target
        self._method = method

    def expand(self, tables: dict[str, beam.PCollection]) -> beam.PCollection:
        failed = []
        for name, record_type in TABLES.items():
            if name not in tables:  # (stories: not in a run with --no_stories, nor in the streaming graph)
                continue
            checked = split(tables[name]
                            | f"{name}_ToRows" >> beam.Map(to_bigquery_row)
                            | f"{name}_Limits" >> beam.FlatMap(_within_limits, name),
                            f"{name}_Checked", "rows", DEAD_LETTERS, types={DEAD_LETTERS: DeadLetter})
            failed.append(checked[DEAD_LETTERS])
            result = checked["rows"] | f"{name}_ToBigQuery" >> WriteToBigQuery(
                table=self._target.table(name),
                schema={"fields": bigquery_schema(record_type)},
                method=self._method,
                create_disposition=BigQueryDisposition.CREATE_IF_NEEDED,
                write_disposition=BigQueryDisposition.WRITE_APPEND,
                # Transient errors are retried; a row BigQuery refuses for what it holds comes back to us.
                insert_retry_strategy=RetryStrategy.RETRY_ON_TRANSIENT_ERROR,
            )
            if self._method != "FILE_LOADS":
                failed.append(result.failed_rows_with_errors
                              | f"{name}_Rejected" >> beam.Map(rejected_dead_letter, name))
        return failed | "BigQueryRejected" >> beam.Flatten().with_output_types(DeadLetter)
