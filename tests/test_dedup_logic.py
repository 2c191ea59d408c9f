"""The pure parts of dedup: fingerprints, pair scoring and verdict resolution."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from datasketch import MinHash

from schemas.records import DedupNode, Match
from tests.builders import entry, features
from transforms.dedup import bucket_pairs, guid_key
from transforms.lib.fingerprints import (
    MINHASH_SCHEME,
    MINHASH_SEED,
    NUM_PERM,
    PASSAGE_SAMPLE,
    attributed_source,
    comparable_paragraphs,
    minhash_signature,
    pack_shingles,
    passage_keys,
    prose_shingles,
    shingle_hashes,
    stable_hashes32,
    text_hash,
)
from transforms.lib.prose import quoted_flags
from transforms.lib.similarity import score_pair
from transforms.lib.text import words
from transforms.lib.verdicts import resolve

_VOCAB = [f"w{n}" for n in range(400)]
_RNG = random.Random(7)
# Twelve paragraphs with little shared wording, like real prose (a templated text would share most shingles).
WIRE = " ".join(
    f"Paragraph {i}: dockworkers at Halvergate walked out " + " ".join(_RNG.choices(_VOCAB, k=25)) + "."
    for i in range(12))


def test_text_hash_ignores_case_spacing_and_typography():
    assert text_hash("It\u2019s  a \u201cdeal\u201d") == text_hash("it's a \"deal\"")
    assert text_hash("a deal") != text_hash("a meal")


def test_shingles_are_stable_and_minhash_estimates_jaccard():
    assert shingle_hashes("one two three four five six") == shingle_hashes("One two  three four five six")
    edited = WIRE.replace("Paragraph 3", "Section three").replace("walked out", "went on strike")
    a, b = set(shingle_hashes(WIRE)), set(shingle_hashes(edited))
    true_jaccard = len(a & b) / len(a | b)
    sig_a, sig_b = minhash_signature(sorted(a)), minhash_signature(sorted(b))
    estimate = sum(x == y for x, y in zip(sig_a, sig_b)) / len(sig_a)
    assert abs(estimate - true_jaccard) < 0.15


def test_a_copied_passage_inside_a_long_page_shares_sampled_shingle_keys():
    """Candidates come from sampled shingles, so a short copied passage is found however much else surrounds
    it: about one shared shingle in PASSAGE_SAMPLE is a shared key."""
    passage = " ".join(WIRE.split()[:40])
    filler = " ".join(f"word{i} filler{i} text{i}." for i in range(400))
    page = f"{filler}\n\n{passage}\n\n{filler.upper()}"
    shared = set(shingle_hashes(passage)) & set(shingle_hashes(page))
    keys = set(passage_keys(pack_shingles(sorted(shingle_hashes(passage))))) & set(
        passage_keys(pack_shingles(sorted(shingle_hashes(page)))))
    assert len(shared) >= 20
    assert len(keys) == sum(1 for h in shared if h % PASSAGE_SAMPLE == 0) >= 2


@pytest.mark.parametrize("count", [0, 1, 7, 4096, 9000])
def test_minhash_signature_is_datasketchs(count):
    """Our vectorised MinHash gives datasketch's values, so a carried index stays valid across the two."""
    values = [random.Random(count).getrandbits(32) for _ in range(count)]
    reference = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int, scheme=MINHASH_SCHEME)
    reference.update_batch(values)
    assert minhash_signature(values) == reference.hashvalues.astype(np.uint64).tolist()


def test_scores_by_kind():
    original = features("a", WIRE)
    assert score_pair(features("b", WIRE), original).kind == "same_text"
    credited = score_pair(features("c", WIRE + "\n\n(Global Wire)"), original)
    assert credited.kind == "near_verbatim" and credited.score > 0.9
    paragraphs = WIRE.split("Paragraph ")
    trimmed = "New lead sentence written by the desk. " + "Paragraph ".join(paragraphs[:4] + paragraphs[8:])
    assert score_pair(features("d", trimmed), original).kind == "edited"


def test_independent_text_sharing_a_quote_is_not_a_duplicate():
    quote = ('"We will not accept a deal that cuts the pay of the lowest paid workers at this port," '
             'the union leader Mara Quist said.')
    one = "Reporter one describes queues of lorries on the ring road and interviews a haulier. " * 6 + quote
    two = "Reporter two explains the history of the dispute since the 2019 contract talks. " * 6 + quote
    assert score_pair(features("x", one), features("y", two)) is None


def test_attribution_lines():
    assert attributed_source("Body text.\n\n(BBC)") == "BBC"
    assert attributed_source("Body text.\n\n\u2014 Reuters") == "Reuters"
    assert attributed_source("Body.\n(BBC)\nALSO READ FROM NIGERIAN TRIBUNE\nBiden: Ukraine can now fire") == "BBC"
    assert attributed_source("Body text ends here (with a parenthesis in a long sentence that is prose).") is None


def node(key: str, published: str) -> DedupNode:
    return DedupNode(key, f"id-{key}", published)


def test_resolution_points_chains_at_the_first_publication_and_is_order_independent():
    a, b, c, d = (node("a", "2026-11-17T06:00:00Z"), node("b", "2026-11-17T07:00:00Z"),
                  node("c", "2026-11-17T08:00:00Z"), node("d", "2026-11-18T08:00:00Z"))
    matches = [Match(b, a, "same_text", 1.0, []), Match(c, b, "edited", 0.7, []),
               Match(a, d, "near_verbatim", 0.9, [])]  # given backwards: resolve orients it
    expected = None
    for order in itertools.permutations(matches):
        verdicts = {v.entry_key: (v.duplicate_of, v.info.kind, v.info.matched_id) for v in resolve(order)}
        expected = expected or verdicts
        assert verdicts == expected
    assert expected == {"a": (None, "canonical", None), "b": ("id-a", "same_text", "id-a"),
                        "c": ("id-a", "edited", "id-b"), "d": ("id-a", "near_verbatim", "id-a")}


def test_ties_in_time_are_broken_by_id():
    x, y = node("x", "2026-11-17T06:00:00Z"), node("y", "2026-11-17T06:00:00Z")
    verdicts = {v.entry_key: v.duplicate_of for v in resolve([Match(x, y, "same_text", 1.0, [])])}
    assert verdicts == {"x": None, "y": "id-x"}


def test_candidate_pairs_respect_the_horizon_and_cap_large_buckets():
    near, far = node("n", "2026-11-17T00:00:00Z"), node("f", "2026-12-30T00:00:00Z")
    assert list(bucket_pairs(("k", [near, far]), horizon_days=7)) == []
    assert list(bucket_pairs(("k", [far, near]), horizon_days=60)) == [(("n", "f"), (1, 2))]
    many = [node(f"{i:03d}", f"2026-11-17T00:{i % 60:02d}:00Z") for i in range(200)]
    random.shuffle(many)
    pairs = [pair for pair, _evidence in bucket_pairs(("k", many), horizon_days=7)]
    assert len(pairs) < 200 * 17 and len(set(pairs)) == len(pairs)


def test_a_pair_sharing_one_big_bucket_is_not_a_candidate():
    from transforms.lib.fingerprints import strong_candidate

    assert strong_candidate(2, 500)  # two shared buckets, however big
    assert strong_candidate(1, 2) and strong_candidate(1, 4)  # one small bucket: a rare band in common
    assert not strong_candidate(1, 5)


def test_guid_keys_are_global_only_when_guids_look_global():
    assert guid_key(entry()._replace(guid="tag:herald.example,2026:1")) == "guid:tag:herald.example,2026:1"
    local = guid_key(entry()._replace(guid="12345"))
    assert local == "guid:http://w.example/rss 12345"


def test_mentions_merge_by_name_and_surname():
    from transforms.lib.ner import merge_mentions

    entities = merge_mentions([("Joe  Biden", "PERSON", 5), ("Biden", "PERSON", 40), ("Kyiv", "GPE", 20),
                               ("20 November", "DATE", 30), ("the Kremlin", "ORG", 50), ("Kremlin", "ORG", 70)])
    assert [(e.text, e.label, e.count, e.first_offset) for e in entities] == [
        ("Joe Biden", "PERSON", 2, 5), ("Kyiv", "GPE", 1, 20), ("Kremlin", "ORG", 2, 50)]


def _reference_prose_shingles(paragraphs: list[str]) -> tuple[list[int], list[int]]:
    """The definition, written plainly: every word 5-gram of each paragraph, and those with no quoted word."""
    every, narrative = [], []
    for paragraph in paragraphs:
        tokens = [(token, quoted) for word, quoted in quoted_flags(paragraph) for token in words(word)]
        for i in range(len(tokens) - 4):
            gram = tokens[i:i + 5]
            text = " ".join(token for token, _ in gram)
            every.append(text)
            if not any(quoted for _, quoted in gram):
                narrative.append(text)
    return sorted(stable_hashes32(every)), sorted(stable_hashes32(narrative))


def test_prose_shingles_are_the_plain_definition_on_real_pages(shared_dir):
    """The fast shingling (each word normalised once, each 5-gram hashed once) gives the definition's hashes
    on real page excerpts: quotes, curly apostrophes, non-Latin scripts, boilerplate."""
    paths = sorted((shared_dir / "corpora" / "reprints-dev" / "docs").glob("*.txt"))
    assert len(paths) > 100
    quoted_seen = 0
    for path in paths:
        paragraphs = comparable_paragraphs(path.read_text(encoding="utf-8").split("\n\n", 1)[-1])
        every, narrative = prose_shingles(paragraphs)
        assert (every, narrative) == _reference_prose_shingles(paragraphs), path.name
        quoted_seen += len(narrative) < len(every)
    assert quoted_seen > 50  # the quoted/narrative split was exercised, not only plain text
