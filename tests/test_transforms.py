"""Each stage's composite PTransform on a real Beam runner (TestPipeline + assert_that)."""

from __future__ import annotations

import glob
import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to, is_empty

from schemas.records import DedupInfo, FetchedPage
from tests.builders import article, entry
from tests.conftest import beam_test_pipeline
from tests.faultserver import fixed
from tests.test_dedup_logic import WIRE
from tests.test_extraction import PAGE
from transforms.deadletters import StageDoFn, with_dead_letters
from transforms.dedup import Deduplicate, ExactEntryDedup
from transforms.entities import EnrichEntities, SpacyNerModelHandler
from transforms.extract import ExtractArticles
from transforms.feeds import ReadFeeds
from transforms.lib.extraction import ExtractSettings
from transforms.lib.http import FetchSettings
from transforms.lib.records import CANONICAL, record_from_article
from transforms.pages import FetchPages
from transforms.sinks import WriteOutputs

FETCH = FetchSettings(allow_private_networks=True, backoff_seconds=0.01, max_retries=1)
RSS = (b"<rss version='2.0'><channel><title>T</title>"
       b"<item><title>A</title><link>http://a.example/1</link><guid>tag:a,1</guid></item>"
       b"<item><title>B</title><link>http://a.example/2?utm_source=x</link></item>"
       b"<item><title>no link</title></item></channel></rss>")


def test_read_feeds(fault_server):
    good = fault_server.route("/rss", fixed(200, RSS, "application/rss+xml"))
    missing = fault_server.url("/missing")
    with beam_test_pipeline() as p:
        out = p | beam.Create([good, missing]) | ReadFeeds(FETCH, concurrency=4)
        assert_that(out["entries"] | "Urls" >> beam.Map(lambda e: (e.canonical_url, e.title)),
                    equal_to([("http://a.example/1", "A"), ("http://a.example/2", "B")]), label="entries")
        assert_that(out["dead_letters"] | "Why" >> beam.Map(lambda d: (d.stage, d.unit, d.reason)),
                    equal_to([("fetch_feed", "feed", "http_404"), ("parse_feed", "entry", "no_link")]),
                    label="dead")


def test_fetch_pages_keeps_failures_for_the_feed_fallback(fault_server):
    ok = entry()._replace(url=fault_server.route("/page", fixed(200, PAGE.encode())), entry_key="ok")
    gone = entry()._replace(url=fault_server.url("/gone"), entry_key="gone")
    with beam_test_pipeline() as p:
        out = p | beam.Create([ok, gone]) | FetchPages(FETCH, concurrency=4)
        assert_that(out["pages"] | beam.Map(lambda pg: (pg.entry.entry_key, pg.html is not None,
                                                        (pg.error or "").split(":")[0])),
                    equal_to([("ok", True, ""), ("gone", False, "http_404")]), label="pages")
        assert_that(out["dead_letters"], is_empty(), label="dead")


def test_exact_entry_dedup():
    first = entry()._replace(entry_key="k1", published="2026-11-17T06:00:00Z", guid="tag:x,1")
    same_url = entry()._replace(entry_key="k2", published="2026-11-17T07:00:00Z", feed_url="http://other/rss")
    same_guid = entry()._replace(entry_key="k3", url="http://w.example/b", canonical_url="http://w.example/b",
                                 id="id3", guid="tag:x,1", published="2026-11-17T08:00:00Z")
    other = entry()._replace(entry_key="k4", url="http://w.example/c", canonical_url="http://w.example/c", id="id4")
    with beam_test_pipeline() as p:
        out = p | beam.Create([same_guid, other, first, same_url]) | ExactEntryDedup()
        assert_that(out["unique"] | "U" >> beam.Map(lambda e: e.entry_key), equal_to(["k1", "k4"]), label="unique")
        assert_that(out["duplicates"] | "D" >> beam.Map(lambda e: e.entry_key), equal_to(["k2", "k3"]), label="dups")
        assert_that(out["matches"] | "M" >> beam.Map(lambda m: (m.later.entry_key, m.earlier.entry_key, m.kind)),
                    equal_to([("k2", "k1", "same_url"), ("k3", "k1", "same_guid")]), label="matches")


def test_extract_articles_dead_letters_entries_without_any_text():
    good = FetchedPage(entry(), PAGE, "http://w.example/a", 200, None, "2026-11-24T00:00:00Z")
    empty = FetchedPage(entry()._replace(entry_key="none"), None, None, 404, "http_404: gone", "2026-11-24T00:00:00Z")
    with beam_test_pipeline() as p:
        out = p | beam.Create([good, empty]) | ExtractArticles(ExtractSettings())
        assert_that(out["articles"] | "S" >> beam.Map(lambda a: (a.entry_key, a.body_source)),
                    equal_to([("k1", "page")]), label="articles")
        assert_that(out["dead_letters"] | "R" >> beam.Map(lambda d: (d.stage, d.reason)),
                    equal_to([("extract", "page_http_404")]), label="dead")


def test_deduplicate_marks_copies_and_keeps_originals(tmp_path):
    original = article("wire", WIRE, "2026-11-17T06:00:00Z", "http://wire.example/a")
    copy = article("copy", WIRE + "\n\n(Global Wire)", "2026-11-17T07:00:00Z", "http://paper.example/b")
    unrelated = article("other", "A completely different story about a football match in Carrow. " * 10,
                        "2026-11-17T05:00:00Z", "http://paper.example/c")
    with beam_test_pipeline() as p:
        articles = p | "Articles" >> beam.Create([copy, unrelated, original])
        nothing = p | "NoEntries" >> beam.Create([])
        out = {"articles": articles, "entry_duplicates": nothing, "entry_matches": p | "NoMatches" >> beam.Create([])
               } | Deduplicate(horizon_days=7)
        assert_that(out["canonical"] | "C" >> beam.Map(lambda r: r.id), equal_to(["id-wire", "id-other"]),
                    label="canonical")
        assert_that(out["duplicates"] | "D" >> beam.Map(
            lambda r: (r.id, r.duplicate_of, r.dedup.kind, r.dedup.attributed_source)),
            equal_to([("id-copy", "id-wire", "near_verbatim", "Global Wire")]), label="duplicates")
        assert_that(out["dead_letters"], is_empty(), label="dead")


def test_enrich_entities_with_the_real_model():
    text = ("Prime Minister Ana Lopez met Olaf Berg in Lisbon on Tuesday. "
            "Later, Prime Minister Ana Lopez flew to Madrid.")
    record = record_from_article(article("e", text, "2026-11-17T06:00:00Z", "http://x.example/e"), None, CANONICAL)
    with beam_test_pipeline() as p:
        out = p | beam.Create([record]) | EnrichEntities()

        def check(records):
            entities = {(e.text, e.label): (e.count, e.first_offset) for e in records[0].entities}
            assert entities[("Ana Lopez", "PERSON")] == (2, text.index("Ana Lopez")), entities
            assert ("Lisbon", "GPE") in entities
            assert not any(label in ("DATE", "CARDINAL") for _t, label in entities)

        assert_that(out["records"], check, label="entities")
        assert_that(out["dead_letters"], is_empty(), label="dead")


def test_entity_chars_reads_only_the_first_characters_of_a_body():
    text = ("Prime Minister Ana Lopez met reporters in Lisbon. " + "The talks went on. " * 10
            + "Olaf Berg left for Madrid.")
    record = record_from_article(article("e", text, "2026-11-17T06:00:00Z", "http://x.example/e"), None, CANONICAL)
    cut = text.index("The talks")
    with beam_test_pipeline() as p:
        out = p | beam.Create([record]) | EnrichEntities(SpacyNerModelHandler(max_chars=cut))

        def check(records):
            names = {e.text for e in records[0].entities}
            assert "Ana Lopez" in names and "Lisbon" in names, names
            assert not names & {"Olaf Berg", "Madrid"}, names

        assert_that(out["records"], check, label="entities")


def test_entity_chars_below_one_is_refused_not_clamped():
    with pytest.raises(ValueError, match="max_chars=0"):
        SpacyNerModelHandler(max_chars=0)


class _AlwaysFails(StageDoFn):
    stage = "buggy"

    def handle(self, element):
        yield element
        raise RuntimeError("bug in stage")


def test_a_failing_stage_dead_letters_each_element_without_failing_the_job():
    with beam_test_pipeline() as p:
        main, dead = with_dead_letters(p | beam.Create([1, 2, 3]), _AlwaysFails(), "Buggy")
        assert_that(main, is_empty(), label="nothing half-emitted")
        assert_that(dead | beam.Map(lambda d: (d.stage, d.reason, d.error_class, d.message)),
                    equal_to([("buggy", "exception", "RuntimeError", "bug in stage")] * 3), label="dead")


def test_write_outputs_jsonl(tmp_path):
    record = record_from_article(article("w", WIRE, "2026-11-17T06:00:00Z", "http://w.example/w"), None, CANONICAL)
    duplicate = record._replace(id="id-d", duplicate_of="id-w", dedup=DedupInfo("same_text", 1.0, "id-w", [], None))
    with beam_test_pipeline() as p:
        {"records": p | "R" >> beam.Create([record]), "duplicates": p | "D" >> beam.Create([duplicate]),
         "dead_letters": p | "X" >> beam.Create([])} | WriteOutputs(str(tmp_path))
    written = {name: [json.loads(line) for f in glob.glob(str(tmp_path / f"{name}-*.jsonl")) for line in open(f)]
               for name in ("records", "duplicates", "dead_letters")}
    assert [r["id"] for r in written["records"]] == ["id-w"]
    assert written["duplicates"][0]["dedup"]["kind"] == "same_text"
    assert written["dead_letters"] == [] and glob.glob(str(tmp_path / "dead_letters-*.jsonl"))




def test_deduplicate_meaning_checks_a_big_storys_reports_against_their_best_candidates_only():
    """Thirteen independent reports of one story and a copy of the first: every report stays a record,
    the copy is found, and no report is meaning-checked against more than MEANING_CHECKS_PER_ARTICLE."""
    import random

    from apache_beam.options.pipeline_options import PipelineOptions

    from bench.corpus import article_text, story
    from pipeline.summary import read_counters
    from transforms.lib.similarity import MEANING_CHECKS_PER_ARTICLE

    rng = random.Random(7)
    event = story(rng)
    bodies = ["\n".join(article_text(rng, event)[1]) for _ in range(13)]
    reports = [article(f"r{n:02d}", body, f"2026-11-17T{n:02d}:00:00Z", f"http://s{n}.example/a")
               for n, body in enumerate(bodies)]
    copy = article("copy", bodies[0], "2026-11-17T20:00:00Z", "http://copy.example/a")
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"]))
    out = {"articles": pipeline | "Articles" >> beam.Create([*reports, copy]),
           "entry_duplicates": pipeline | "NoEntries" >> beam.Create([]),
           "entry_matches": pipeline | "NoMatches" >> beam.Create([])} | Deduplicate(horizon_days=7)
    assert_that(out["canonical"] | "C" >> beam.Map(lambda r: r.id), equal_to([r.id for r in reports]),
                label="canonical")
    assert_that(out["duplicates"] | "D" >> beam.Map(lambda r: (r.id, r.duplicate_of)),
                equal_to([("id-copy", "id-r00")]), label="duplicates")
    counters = read_counters(pipeline.run())
    later_reports = 12  # each report after the first is the later side of its pairs
    assert counters["dedup.pairs_meaning_capped"] > 0
    assert counters["dedup.pairs_meaning_checked"] <= MEANING_CHECKS_PER_ARTICLE * later_reports
