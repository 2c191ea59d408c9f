"""Streaming dedup with state and timers, driven by TestStream: arrival order, expiry and late data."""

from __future__ import annotations

import json
from datetime import datetime

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.test_stream import TestStream as EventStream
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from pipeline.dedup_harness import parse_document
from schemas.records import Article, FeedEntry
from tests.builders import entry as make_entry
from tests.conftest import PROJECT
from transforms.lib.fingerprints import article_features
from transforms.lib.reprint_index import ReprintIndex
from transforms.stream_dedup import StreamExactDedup, StreamReprintDedup

LABELLED = PROJECT / "tests" / "data" / "dedup_eval.jsonl"


def streaming_pipeline() -> BeamTestPipeline:
    options = PipelineOptions(["--runner=BundleBasedDirectRunner"])
    options.view_as(StandardOptions).streaming = True
    return BeamTestPipeline(options=options, blocking=True)


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def docs() -> dict[str, Article]:
    lines = [line for line in LABELLED.read_text().splitlines() if line.strip()]
    return {json.loads(line)["id"]: parse_document(line) for line in lines}


def at(article: Article) -> TimestampedValue:
    return TimestampedValue(article, epoch(article.published))


def test_a_reprint_before_its_original_is_corrected_and_old_articles_expire(docs):
    original, reprint, edited, late = (docs[k] for k in (
        "c01-original", "c01-verbatim-2", "c01-edited-1", "c01-verbatim-1"))
    ten_days_later = epoch(original.published) + 10 * 86400
    stream = (
        EventStream()
        .advance_watermark_to(epoch(original.published) - 60)
        .add_elements([at(reprint)])  # published 4 h after the original, but here first
        .add_elements([at(original)])
        .add_elements([at(edited)])
        .advance_watermark_to(ten_days_later)  # past the 7-day horizon: the index empties
        .add_elements([TimestampedValue(late, ten_days_later)])  # a copy of an article the index forgot
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        out = p | stream | StreamReprintDedup(horizon_days=7, meaning_checks=False)
        canonical = out["canonical"] | "CanonicalIds" >> beam.Map(lambda r: r.id)
        duplicates = out["duplicates"] | "DuplicatePairs" >> beam.Map(lambda r: (r.id, r.duplicate_of))
        corrections = out["corrections"] | "CorrectionPairs" >> beam.Map(
            lambda c: (c.id, c.previous_duplicate_of, c.duplicate_of, c.dedup.kind))
        assert_that(canonical, equal_to(["c01-verbatim-2", "c01-original", "c01-verbatim-1"]), label="canonical")
        assert_that(duplicates, equal_to([("c01-edited-1", "c01-original")]), label="duplicates")
        assert_that(corrections, equal_to([("c01-verbatim-2", None, "c01-original", "near_verbatim")]),
                    label="corrections")
        assert_that(out["dead_letters"], equal_to([]), label="no dead letters")


def test_a_late_original_moves_the_whole_cluster(docs):
    """Two copies arrive first (one a duplicate of the other); the original's arrival moves both."""
    original, first_copy, second_copy = (docs[k] for k in ("c01-original", "c01-verbatim-2", "c01-edited-1"))
    index = ReprintIndex(horizon_days=7)
    index.arrive(article_features(first_copy))
    verdict, moved = index.arrive(article_features(second_copy))
    assert verdict.duplicate_of == "c01-verbatim-2"
    verdict, moved = index.arrive(article_features(original))
    assert verdict.duplicate_of is None
    assert sorted((r.node.id, r.previous_root.id, r.root.id, r.match is not None) for r in moved) == [
        ("c01-edited-1", "c01-verbatim-2", "c01-original", False),
        ("c01-verbatim-2", "c01-verbatim-2", "c01-original", True),
    ]
    assert {index.root_of(k).id for k in ("c01-original", "c01-verbatim-2", "c01-edited-1")} == {"c01-original"}


def test_index_state_replays_to_the_same_index(docs):
    """The stream's state is a log of rows: replaying it gives the same roots."""
    index = ReprintIndex(horizon_days=7)
    log = []
    for key in ("c01-verbatim-2", "c01-edited-1", "c01-original", "c02-original"):
        features = article_features(docs[key])
        _verdict, moved = index.arrive(features)
        log.append(index.row(features.node.entry_key))
        log += [ReprintIndex.root_row(r) for r in moved]
    replayed = ReprintIndex(horizon_days=7)
    for row in json.loads(json.dumps(log)):
        replayed.apply(row)
    assert {k: a.root for k, a in replayed.articles.items()} == {k: a.root for k, a in index.articles.items()}


def entry(key: str, url: str, guid: str | None = None, feed: str = "http://w.example/rss") -> FeedEntry:
    return make_entry()._replace(entry_key=key, id=f"id-{url[-1]}", url=url, canonical_url=url, guid=guid,
                                 feed_url=feed)


def test_exact_dedup_keeps_state_per_url_and_guid_until_the_horizon():
    t0 = epoch("2026-11-17T06:00:00Z")
    a = entry("a", "http://w.example/a", guid="tag:w.example,2026:1")
    a_again = a  # the same feed polled again: seen, not a duplicate
    b = entry("b", "http://w.example/a", feed="http://other.example/rss")  # same URL, another feed
    c = entry("c", "http://w.example/c", guid="tag:w.example,2026:1")  # same global GUID, another URL
    a_after = entry("a2", "http://w.example/a", feed="http://third.example/rss")
    stream = (
        EventStream()
        .advance_watermark_to(t0)
        .add_elements([TimestampedValue(a, t0)])
        .add_elements([TimestampedValue(a_again, t0 + 600), TimestampedValue(b, t0 + 600)])
        .add_elements([TimestampedValue(c, t0 + 700)])
        .advance_watermark_to(t0 + 600 + 2 * 86400 + 1)  # horizon 2 days after the key was last met
        .add_elements([TimestampedValue(a_after, t0 + 3 * 86400)])
        .advance_watermark_to_infinity()
    )
    with streaming_pipeline() as p:
        out = p | stream | StreamExactDedup(horizon_days=2)
        assert_that(out["unique"] | "U" >> beam.Map(lambda e: e.entry_key), equal_to(["a", "a2"]), label="unique")
        assert_that(out["seen"] | "S" >> beam.Map(lambda e: e.entry_key), equal_to(["a"]), label="seen")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda r: (r.feed_url, r.dedup.kind, r.duplicate_of)),
                    equal_to([("http://other.example/rss", "same_url", "id-a"),
                              ("http://w.example/rss", "same_guid", "id-a")]), label="duplicates")


def test_a_tie_in_publication_time_keeps_the_first_arrival_canonical(docs):
    """Pushed articles without a date get their arrival second: a tie must not flip an emitted verdict."""
    same_time = "2026-10-06T18:20:00Z"
    first, second = (docs[k]._replace(published=same_time) for k in ("c01-verbatim-2", "c01-original"))
    for a, b in ((first, second), (second, first)):  # whichever id sorts first
        index = ReprintIndex(horizon_days=7)
        assert index.arrive(article_features(a))[0].duplicate_of is None
        verdict, moved = index.arrive(article_features(b))
        assert verdict.duplicate_of == a.id and moved == []
