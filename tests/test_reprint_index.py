"""The incremental index gives the batch path's verdicts, survives serialisation, and stays bounded."""

from __future__ import annotations

import base64
import json
import zlib
from array import array
from datetime import UTC, datetime, timedelta

import pytest

from bench.eval_dedup import run_newsbeam
from pipeline.dedup_harness import parse_document
from schemas.records import DocFeatures
from tests.conftest import PROJECT
from transforms.lib import reprint_index
from transforms.lib.embeddings import encode_documents, load_sentence_model
from transforms.lib.fingerprints import article_features, compared_shingles
from transforms.lib.reprint_index import MAX_SENTENCES_KEPT, ReprintIndex, bucket_ids
from transforms.lib.similarity import wording_measures
from transforms.lib.verdicts import order_key

LABELLED = PROJECT / "tests" / "data" / "dedup_eval.jsonl"


@pytest.fixture(scope="module")
def labelled_features():
    lines = [line for line in LABELLED.read_text().splitlines() if line.strip()]
    features = [article_features(parse_document(line)) for line in lines]
    return sorted(features, key=lambda f: order_key(f.node)), {json.loads(x)["id"]: json.loads(x) for x in lines}


@pytest.fixture(scope="module")
def embed():
    model = load_sentence_model()
    return lambda sentences: encode_documents(model, [sentences])[0]


def test_incremental_verdicts_match_the_batch_verdicts(labelled_features, embed):
    """One article at a time, in publication order, the index ends with the clusters the batch path gives
    (``newsbeam dedup`` through Beam) for the same documents."""
    features, truth = labelled_features
    index = ReprintIndex(horizon_days=7)
    for f in features:
        index.assign(f, embed)
    incremental = {f.node.id: (index.root_of(f.node.entry_key) or f.node).id for f in features}
    batch = run_newsbeam(list(truth.values()))
    ids = sorted(incremental)
    disagreements = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]
                     if (incremental[a] == incremental[b]) != (batch[a] == batch[b])]
    assert disagreements == []
    assert sum(1 for doc_id in ids if incremental[doc_id] != doc_id) >= 30  # not trivially equal: copies found


def test_index_round_trips_and_keeps_matching(labelled_features, embed):
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=7)
    for f in features[:-10]:
        index.assign(f, embed)
    restored = ReprintIndex.from_bytes(index.to_bytes())
    assert len(restored) == len(index)
    for f in features[:-10]:
        assert restored.bucket_members(bucket_ids(f)) == index.bucket_members(bucket_ids(f))
    for f in features[-10:]:
        assert index.assign(f, embed) == restored.assign(f, embed)


def test_an_index_saved_in_format_2_loads_with_its_bucket_ids_computed_again(labelled_features, embed):
    """Format 2 kept bucket ids of the old candidate keys (MinHash bands): they are recomputed on load."""
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=7)
    for f in features[:-10]:
        index.assign(f, embed)
    document = json.loads(zlib.decompress(index.to_bytes()))
    document["format"] = 2
    given = {f.node.entry_key: f for f in features}
    for row in document["articles"]:
        del row["bucket_ids32"]
        # Format 2 kept the full 32-bit shingle hashes, from which the passage keys are sampled.
        row["shingles"] = base64.b64encode(given[row["node"][0]].shingles).decode("ascii")
        row["narrative"] = base64.b64encode(given[row["node"][0]].narrative).decode("ascii")
        row["keys"] = base64.b64encode(array("Q", [1, 2, 3]).tobytes()).decode("ascii")  # stale ids
    restored = ReprintIndex.from_bytes(zlib.compress(json.dumps(document).encode("utf-8")))
    for f in features[:-10]:
        assert restored.bucket_members(bucket_ids(f)) == index.bucket_members(bucket_ids(f))
    assert restored.bucket_members([1, 2, 3]) == [[], [], []]
    for f in features[-10:]:
        assert index.assign(f, embed) == restored.assign(f, embed)


def test_an_index_saved_in_format_3_keeps_the_low_half_of_its_64_bit_bucket_ids(labelled_features):
    """Format 3 kept 64-bit bucket ids; format 4 keeps their low 32 bits, so old rows give the same buckets."""
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=7)
    for f in features:
        index.add(f)
    document = json.loads(zlib.decompress(index.to_bytes()))
    document["format"] = 3
    for row in document["articles"]:
        low = array("I", base64.b64decode(row.pop("bucket_ids32")))
        wide = array("Q", ((0xDEADBEEF << 32) | key for key in low))  # any high half: it was never read
        row["bucket_ids"] = base64.b64encode(wide.tobytes()).decode("ascii")
    restored = ReprintIndex.from_bytes(zlib.compress(json.dumps(document).encode("utf-8")))
    for f in features:
        assert restored.bucket_members(bucket_ids(f)) == index.bucket_members(bucket_ids(f))


def test_an_indexed_article_gives_back_the_features_it_was_given(labelled_features):
    """The packed form loses nothing a verdict reads: every field comes back equal (sentences up to the cap,
    shingles as the values verdicts compare)."""
    features, _truth = labelled_features
    features = [as_compared(f) for f in features]
    index = ReprintIndex(horizon_days=7)
    for f in features:
        index.add(f)
    for f in features:
        indexed = index.articles[f.node.entry_key]
        assert indexed.features == f._replace(anchors=tuple(f.anchors),
                                              sentences=tuple(f.sentences)[:MAX_SENTENCES_KEPT])
        assert indexed.root == f.node and indexed.root_key == f.node.entry_key
    undated = features[0]._replace(node=features[0].node._replace(entry_key="x", published=""),
                                   attributed_source="", anchors=(), sentences=())
    index.add(undated)
    assert index.articles["x"].features == undated
    # Times the number does not write back the same way, and a text hash that is not 32 hex digits (a row
    # from another version), are kept as given.
    for key, published, text_hash in (("offset", "2026-11-20T08:00:00+01:00", "ABC"),
                                      ("fraction", "2026-11-20T08:00:00.250Z", ""),
                                      ("naive", "2026-11-20T08:00:00", "f" * 31)):
        odd = features[1]._replace(node=features[1].node._replace(entry_key=key, published=published),
                                   text_hash=text_hash, sentences=())
        index.add(odd)
        assert index.articles[key].features == odd._replace(anchors=tuple(odd.anchors))


def as_compared(f: DocFeatures) -> DocFeatures:
    return f._replace(shingles=compared_shingles(f.shingles).tobytes(),
                      narrative=compared_shingles(f.narrative).tobytes())


def test_the_index_keeps_only_the_compared_shingle_bits_and_verdicts_read_them_alike(labelled_features):
    """Shingles are kept as the 24 bits verdicts compare: fewer bytes, and the same measures against a fresh
    article as the full hashes give."""
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=7)
    for f in features:
        index.add(f)
    kept = [index.articles[f.node.entry_key].scoring_features() for f in features]
    assert all(k.shingles == as_compared(f).shingles and k.narrative == as_compared(f).narrative
               for k, f in zip(kept, features))
    pairs = [(a, b) for a in range(len(features)) for b in range(a + 1, len(features))]
    assert all(wording_measures(features[a], features[b]) == wording_measures(features[a], kept[b]) for a, b in pairs)
    shared = [w.shared for a, b in pairs if (w := wording_measures(features[a], features[b]))]
    assert max(shared) >= 100  # the set holds real copies, not only strangers


def test_eviction_bounds_the_index(labelled_features):
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=1)
    for f in features:
        index.add(f)
    newest = max(f.node.published for f in features)
    evicted = index.evict_beyond_horizon(newest)
    cutoff = (datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert evicted == sum(f.node.published < cutoff for f in features) > 0
    assert all(a.features.node.published >= cutoff for a in index.articles.values())
    kept = [f for f in features if f.node.entry_key in index.articles]
    for f in kept:  # each kept article is still found in each of its buckets
        assert all(f.node.entry_key in members for members in index.bucket_members(bucket_ids(f)))
    index.buckets.compact()
    assert len(index.buckets) == sum(len(bucket_ids(f)) for f in kept)  # evicted pairs dropped


def test_slots_are_renumbered_once_removed_ones_outnumber_the_rest(labelled_features, monkeypatch):
    """A long stream removes as much as it adds: once holes outnumber articles, slots are numbered from 0
    again, in the same order, and every bucket still finds its articles."""
    monkeypatch.setattr(reprint_index, "RENUMBER_HOLES", 0)
    features, _truth = labelled_features
    index = ReprintIndex(horizon_days=10_000)
    for f in features:
        index.add(f)
    kept = features[::3]
    for f in features:
        if f not in kept:
            index.remove(f.node.entry_key)
    slots = sorted(a.slot for a in index.articles.values())
    assert len(set(slots)) == len(kept) and slots[-1] < len(index._by_slot) <= 2 * len(kept) + 1
    assert slots[-1] < len(features) * 2 // 3  # numbered again: the last added article's slot moved down
    assert all(index._by_slot[a.slot] is a for a in index.articles.values())
    for f in kept:
        assert all(f.node.entry_key in members for members in index.bucket_members(bucket_ids(f)))
    for f in kept:  # each kept article is still matched through its buckets, as a fresh index would
        fresh = ReprintIndex(horizon_days=10_000)
        for other in kept:
            fresh.add(other)
        again = f._replace(node=f.node._replace(entry_key="again"))
        assert index.match(again)[0] == fresh.match(again)[0]
        break


def test_corrupt_index_is_a_clear_error():
    with pytest.raises(ValueError, match="not a reprint index"):
        ReprintIndex.from_bytes(b"garbage")


def test_oldest_publication_is_tracked_through_adds_and_evictions():
    from tests.builders import features

    index = ReprintIndex(horizon_days=7)
    assert index.oldest_published() is None
    texts = {"a": "Alpha river flood warning issued for the valley towns tonight. " * 5,
             "b": "Bravo council approves the new library budget after a long debate. " * 5,
             "c": "Charlie club wins the regional final in extra time on Sunday. " * 5}
    for key, day in (("a", 18), ("b", 16), ("c", 20)):
        index.add(features(key, texts[key], f"2026-11-{day}T06:00:00Z"))
    assert index.oldest_published() == datetime(2026, 11, 16, 6, tzinfo=UTC).timestamp()
    index.evict_before("2026-11-17T00:00:00Z")
    assert index.oldest_published() == datetime(2026, 11, 18, 6, tzinfo=UTC).timestamp()
    index.evict_before("2026-12-01T00:00:00Z")
    assert index.oldest_published() is None


def test_a_big_story_meaning_checks_each_report_against_its_best_candidates_only(embed):
    """Thirteen independent reports of one story share its names: the last is meaning-checked against the
    ``MEANING_CHECKS_PER_ARTICLE`` reports with most names in common, not all twelve."""
    import random

    from bench.corpus import article_text, story
    from tests.builders import article
    from transforms.lib.similarity import MEANING_CHECKS_PER_ARTICLE, anchor_jaccard, needs_meaning_check

    rng = random.Random(7)
    event = story(rng)
    start = datetime(2026, 11, 16, tzinfo=UTC)
    reports = [article_features(article(f"r{n:02d}", "\n".join(article_text(rng, event)[1]),
                                        f"{start + timedelta(hours=n):%Y-%m-%dT%H:%M:%SZ}", f"http://s{n}.example/a"))
               for n in range(13)]
    index = ReprintIndex(horizon_days=7)
    for report in reports[:-1]:
        index.add(report)  # indexed without a check: only the last lookup is measured
    embedded = []
    matches, _vectors = index.match(reports[-1], lambda sentences: embedded.append(sentences) or embed(sentences))
    assert matches == []  # independent wording: no copies
    assert index.meaning_checked == MEANING_CHECKS_PER_ARTICLE < index.compared
    checked = {key for key, indexed in index.articles.items() if indexed.vectors is not None}
    gated = {other.features.node.entry_key: anchor_jaccard(reports[-1], other.features)
             for other in index.candidates(reports[-1]) if needs_meaning_check(reports[-1], other.features)}
    assert len(gated) > MEANING_CHECKS_PER_ARTICLE and checked <= set(gated)
    assert min(gated[key] for key in checked) >= max(gated[key] for key in set(gated) - checked)
    assert len(embedded) == MEANING_CHECKS_PER_ARTICLE + 1  # each checked report once, the new one once


WIRE_PARAGRAPHS = [
    "Rescue teams in the northern valley worked through the night on Tuesday to reach villages cut off by a "
    "landslide that buried dozens of homes, the regional governor told reporters at a briefing in the town hall.",
    "Officials said the slope gave way shortly after midnight following three days of heavy rain, sweeping "
    "mud and boulders across the only road into the valley and leaving about four hundred people stranded.",
    "Engineers from the national highways agency arrived on Wednesday morning with two excavators and began "
    "clearing a narrow track so that ambulances and trucks carrying water and blankets could get through.",
    "The meteorological office warned that more rain was expected over the weekend and urged families living "
    "below steep hillsides in the district to move to schools and churches set aside as temporary shelters.",
]


def test_an_article_whose_wording_joins_two_clusters_reports_the_moved_one(embed):
    """Two versions of one wire story share no paragraph; a third copy carries both. Its arrival joins
    the later-rooted cluster to the earlier one, and that move comes back as a correction, as a reprint
    arriving before its original does (a stream publishes it and logs the new root in state)."""
    from tests.builders import features

    first = features("v1", "\n\n".join(WIRE_PARAGRAPHS[:2]), "2026-11-17T06:00:00Z")
    second = features("v2", "\n\n".join(WIRE_PARAGRAPHS[2:]), "2026-11-17T08:00:00Z")
    both = features("v3", "\n\n".join(WIRE_PARAGRAPHS), "2026-11-17T09:00:00Z")
    index = ReprintIndex(horizon_days=7)
    assert index.arrive(first, embed)[0].duplicate_of is None
    assert index.arrive(second, embed)[0].duplicate_of is None  # nothing in common with the first version
    verdict, moved = index.arrive(both, embed)
    assert (verdict.duplicate_of, verdict.info.kind) == (first.node.id, "edited")
    assert [(r.node.id, r.previous_root.id, r.root.id, r.match) for r in moved] == [
        (second.node.id, second.node.id, first.node.id, None)]
    assert index.root_of(second.node.entry_key).id == first.node.id
    restored = ReprintIndex.from_bytes(index.to_bytes())
    assert restored.root_of(second.node.entry_key).id == first.node.id
