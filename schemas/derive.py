"""JSON Schema, BigQuery and Arrow schemas derived from the record types.

The record types in :mod:`schemas.records` are the single definition; this
module walks their type hints. Supported field types: ``str``, ``int``,
``float``, ``bool``, ``bytes``, ``Optional[X]``, ``Sequence[X]`` and nested
record types. Fields named in ``TIMESTAMP_FIELDS`` hold ISO 8601 UTC strings
and are typed as timestamps where the target has such a type.
"""

from __future__ import annotations

import types
import typing
from typing import Any, NamedTuple

import pyarrow as pa

TIMESTAMP_FIELDS = frozenset({"published", "fetched_at", "time", "corrected_at", "first_published", "last_published"})

_SCALARS: dict[type, tuple[str, str, Any]] = {
    # python type: (JSON Schema type, BigQuery type, Arrow type)
    str: ("string", "STRING", pa.string()),
    int: ("integer", "INT64", pa.int64()),
    float: ("number", "FLOAT64", pa.float64()),
    bool: ("boolean", "BOOL", pa.bool_()),
    bytes: ("string", "BYTES", pa.binary()),
}


class FieldType(NamedTuple):
    """A field's type, unwrapped: base type, nullable, repeated."""

    base: type
    nullable: bool
    repeated: bool


def field_types(record_type: type) -> dict[str, FieldType]:
    """The fields of a record type, in order, with their unwrapped types."""
    hints = typing.get_type_hints(record_type)
    return {name: _unwrap(hints[name]) for name in record_type._fields}


def _unwrap(hint: Any) -> FieldType:
    nullable = repeated = False
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported union {hint!r}")
        nullable, hint = True, args[0]
        origin = typing.get_origin(hint)
    if origin is not None and origin not in (tuple,) and _is_sequence(origin):
        repeated, hint = True, typing.get_args(hint)[0]
    if hint not in _SCALARS and not _is_record(hint):
        raise TypeError(f"unsupported field type {hint!r}")
    return FieldType(hint, nullable, repeated)


def _is_sequence(origin: Any) -> bool:
    import collections.abc

    return isinstance(origin, type) and issubclass(origin, collections.abc.Sequence) and origin is not str


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, tuple) and hasattr(hint, "_fields")


def json_schema(record_type: type) -> dict[str, Any]:
    """A JSON Schema (draft 2020-12) for the record as written to JSON Lines."""
    schema = _json_object(record_type)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = record_type.__name__
    return schema


def _json_object(record_type: type) -> dict[str, Any]:
    properties = {}
    for name, ftype in field_types(record_type).items():
        if _is_record(ftype.base):
            item: dict[str, Any] = _json_object(ftype.base)
        else:
            item = {"type": _SCALARS[ftype.base][0]}
            if name in TIMESTAMP_FIELDS:
                item["format"] = "date-time"
        if ftype.repeated:
            item = {"type": "array", "items": item}
        if ftype.nullable:
            item = {"anyOf": [item, {"type": "null"}]}
        properties[name] = item
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def bigquery_schema(record_type: type) -> list[dict[str, Any]]:
    """A BigQuery table schema (the JSON form ``bq mk --schema`` accepts)."""
    fields = []
    for name, ftype in field_types(record_type).items():
        field: dict[str, Any] = {"name": name}
        if _is_record(ftype.base):
            field["type"] = "RECORD"
            field["fields"] = bigquery_schema(ftype.base)
        else:
            field["type"] = "TIMESTAMP" if name in TIMESTAMP_FIELDS else _SCALARS[ftype.base][1]
        field["mode"] = "REPEATED" if ftype.repeated else ("NULLABLE" if ftype.nullable else "REQUIRED")
        fields.append(field)
    return fields


def arrow_schema(record_type: type) -> pa.Schema:
    """An Arrow schema, used to write Parquet."""
    return pa.schema(_arrow_fields(record_type))


def _arrow_fields(record_type: type) -> list[pa.Field]:
    fields = []
    for name, ftype in field_types(record_type).items():
        if _is_record(ftype.base):
            arrow_type = pa.struct(_arrow_fields(ftype.base))
        elif name in TIMESTAMP_FIELDS:
            arrow_type = pa.timestamp("us", tz="UTC")
        else:
            arrow_type = _SCALARS[ftype.base][2]
        if ftype.repeated:
            arrow_type = pa.list_(arrow_type)
        fields.append(pa.field(name, arrow_type, nullable=ftype.nullable or ftype.repeated))
    return fields


def to_plain(record: Any) -> Any:
    """A record as plain JSON-ready values (nested records become dicts)."""
    if _is_record(type(record)):
        return {name: to_plain(value) for name, value in zip(record._fields, record)}
    if isinstance(record, (list, tuple)):
        return [to_plain(v) for v in record]
    return record
