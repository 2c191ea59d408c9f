from __future__ import annotations

import apache_beam as beam
import pytest

from schemas.derive import arrow_schema, bigquery_schema, field_types, json_schema
from schemas.records import ALL_RECORD_TYPES, NewsRecord


def test_news_record_carries_the_required_fields():
    required = {"id", "url", "canonical_url", "feed_url", "source_domain", "title", "author", "published",
                "language", "body", "body_source", "summary", "entities", "duplicate_of", "dedup", "fetched_at",
                "pipeline_version"}
    assert required <= set(NewsRecord._fields)


def test_derived_schemas_agree_with_the_record_type():
    bq = {f["name"]: f for f in bigquery_schema(NewsRecord)}
    assert bq["published"] == {"name": "published", "type": "TIMESTAMP", "mode": "REQUIRED"}
    assert bq["duplicate_of"]["mode"] == "NULLABLE"
    assert bq["entities"]["type"] == "RECORD" and bq["entities"]["mode"] == "REPEATED"
    assert [f["name"] for f in bq["dedup"]["fields"]][:2] == ["kind", "score"]
    arrow = arrow_schema(NewsRecord)
    assert arrow.names == list(NewsRecord._fields)
    assert str(arrow.field("entities").type).startswith("list<item: struct<text: string")
    js = json_schema(NewsRecord)
    assert js["properties"]["categories"] == {"type": "array", "items": {"type": "string"}}
    assert js["required"] == list(NewsRecord._fields)


@pytest.mark.parametrize("record_type", ALL_RECORD_TYPES, ids=lambda t: t.__name__)
def test_every_record_type_is_a_beam_schema(record_type):
    assert isinstance(beam.coders.registry.get_coder(record_type), beam.coders.RowCoder)
    assert field_types(record_type)


def test_a_record_survives_the_row_coder():
    from tests.builders import article
    from tests.test_dedup_logic import WIRE
    from transforms.lib.records import CANONICAL, record_from_article

    record = record_from_article(article("k", WIRE, "2026-11-17T06:00:00Z", "http://a.example/k"), None, CANONICAL)
    coder = beam.coders.registry.get_coder(NewsRecord)
    assert coder.decode(coder.encode(record)) == record
