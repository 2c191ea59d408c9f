"""Is one article a copy of another? Pairwise scoring of two articles' features.

This is the only place that decides what a duplicate is; candidate
generation and verdict resolution do not change when scoring does.

Two steps, cheapest first:

``score_pair`` (word shingles, no model):
    ``same_text``      identical normalised body;
    ``near_verbatim``  word 5-shingle Jaccard >= NEAR_VERBATIM_JACCARD;
    ``edited``         most of the shorter text's shingles are in the longer one.

``score_paraphrase`` (sentence embeddings), only for pairs that
``needs_meaning_check`` lets through (they share enough names and numbers):
    ``paraphrase``     the sentences of both texts align one to one, in order,
                       with cosine >= SENTENCE_MATCH, covering most of the
                       shorter text and a good part of the longer one.

Independent reports of one event share names, numbers and even a quoted
statement, but each writer adds their own material in their own order: few
of their sentences align in sequence. That is what the coverage thresholds
test; a credit line naming the other outlet ("(Daily Herald)") relaxes them.
``KIND_RANK`` orders kinds from strongest; ``same_url`` and ``same_guid``
come from the feeds (``transforms.dedup``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np

from schemas.records import DocFeatures
from transforms.lib.embeddings import cosine_matrix
from transforms.lib.fingerprints import unpack_shingles

KIND_RANK = {"same_url": 0, "same_guid": 1, "same_text": 2, "near_verbatim": 3, "edited": 4, "paraphrase": 5}

NEAR_VERBATIM_JACCARD = 0.80
EDITED_CONTAINMENT = 0.60
# Below this many shingles a text is too short for containment to mean much
# (a shared quotation alone could make up most of it).
MIN_SHINGLES_FOR_CONTAINMENT = 30

SENTENCE_MATCH = 0.60  # cosine at which two sentences state the same thing (all-MiniLM-L6-v2)
ALIGN_GAP = 0.55  # a pair adds (cosine - gap) to the alignment: only similar sentences are worth aligning
PARAPHRASE_ANCHOR_JACCARD = 0.35  # share of names and numbers in common
PARAPHRASE_COVERAGE_SHORT = 0.60  # aligned share of the shorter text's sentences
PARAPHRASE_COVERAGE_LONG = 0.40  # aligned share of the longer text's sentences (copies may be trimmed)
CREDITED_COVERAGE_SHORT = 0.45  # the same, when the later text credits the earlier one's outlet
CREDITED_COVERAGE_LONG = 0.30
MIN_ALIGNED_SENTENCES = 3


class PairScore(NamedTuple):
    kind: str
    score: float
    evidence: list[str]


def score_pair(later: DocFeatures, earlier: DocFeatures) -> PairScore | None:
    """Copy by wording: same_text, near_verbatim or edited; None when the wording differs."""
    if later.text_hash == earlier.text_hash and later.shingles:
        return PairScore("same_text", 1.0, ["text_hash=equal"])
    set_a, set_b = unpack_shingles(later.shingles), unpack_shingles(earlier.shingles)
    if not len(set_a) or not len(set_b):
        return None
    shared = len(np.intersect1d(set_a, set_b, assume_unique=True))
    jaccard = shared / (len(set_a) + len(set_b) - shared)
    smaller = min(len(set_a), len(set_b))
    containment = shared / smaller
    evidence = [f"shingle_jaccard={jaccard:.3f}", f"shingle_containment={containment:.3f}", f"shared_shingles={shared}"]
    if jaccard >= NEAR_VERBATIM_JACCARD:
        return PairScore("near_verbatim", round(jaccard, 4), evidence)
    if smaller >= MIN_SHINGLES_FOR_CONTAINMENT and containment >= EDITED_CONTAINMENT:
        return PairScore("edited", round(containment, 4), evidence)
    return None


def anchor_jaccard(a: DocFeatures, b: DocFeatures) -> float:
    set_a, set_b = set(a.anchors), set(b.anchors)
    return len(set_a & set_b) / len(set_a | set_b) if set_a and set_b else 0.0


def credits(later: DocFeatures, earlier: DocFeatures) -> bool:
    """Does the later text credit the earlier one's outlet, or do both credit the same outlet (sibling rewrites)?"""
    credit = _squash(later.attributed_source or "")
    if not credit:
        return False
    if credit == _squash(earlier.attributed_source or ""):
        return True
    names = [_squash(earlier.site_name or ""), _squash(earlier.source_domain.split(".")[0])]
    return any(name and (credit in name or name in credit) for name in names)


def _squash(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower().removeprefix("the "))


def needs_meaning_check(later: DocFeatures, earlier: DocFeatures) -> bool:
    """Whether a pair that is not a wording copy could still be a paraphrase (worth embedding)."""
    if min(later.sentence_count, earlier.sentence_count) < MIN_ALIGNED_SENTENCES:
        return False
    return anchor_jaccard(later, earlier) >= PARAPHRASE_ANCHOR_JACCARD or credits(later, earlier)


def monotone_alignment(similarity: np.ndarray, gap: float = ALIGN_GAP) -> list[tuple[int, int]]:
    """Sentence pairs (i, j), increasing in both, maximising the sum of (similarity - gap)."""
    rows, cols = similarity.shape
    best = np.zeros((rows + 1, cols + 1))
    for i in range(1, rows + 1):
        gains = similarity[i - 1] - gap
        previous, current = best[i - 1], best[i]
        for j in range(1, cols + 1):
            current[j] = max(previous[j], current[j - 1], previous[j - 1] + gains[j - 1])
    pairs = []
    i, j = rows, cols
    while i > 0 and j > 0:
        if best[i, j] == best[i - 1, j]:
            i -= 1
        elif best[i, j] == best[i, j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
    return pairs[::-1]


def score_paraphrase(later: DocFeatures, earlier: DocFeatures, later_vectors: bytes, earlier_vectors: bytes
                     ) -> PairScore | None:
    """Copy by meaning: the two texts' sentences align in order. None when they do not."""
    similarity = cosine_matrix(later_vectors, earlier_vectors)
    if similarity.size == 0:
        return None
    aligned = [(i, j) for i, j in monotone_alignment(similarity) if similarity[i, j] >= SENTENCE_MATCH]
    n_later, n_earlier = similarity.shape
    short, long_ = min(n_later, n_earlier), max(n_later, n_earlier)
    coverage_short, coverage_long = len(aligned) / short, len(aligned) / long_
    jaccard = anchor_jaccard(later, earlier)
    credited = credits(later, earlier)
    need_short = CREDITED_COVERAGE_SHORT if credited else PARAPHRASE_COVERAGE_SHORT
    need_long = CREDITED_COVERAGE_LONG if credited else PARAPHRASE_COVERAGE_LONG
    evidence = [f"aligned_sentences={len(aligned)}/{n_later}:{n_earlier}", f"coverage_short={coverage_short:.3f}",
                f"coverage_long={coverage_long:.3f}", f"anchor_jaccard={jaccard:.3f}"]
    if credited:
        evidence.append(f"credits={later.attributed_source}")
    if (len(aligned) >= MIN_ALIGNED_SENTENCES and coverage_short >= need_short and coverage_long >= need_long
            and (jaccard >= PARAPHRASE_ANCHOR_JACCARD or credited)):
        mean_cosine = float(np.mean([similarity[i, j] for i, j in aligned]))
        score = 2 * coverage_short * coverage_long / (coverage_short + coverage_long)
        evidence.append(f"mean_aligned_cosine={mean_cosine:.3f}")
        return PairScore("paraphrase", round(score, 4), evidence)
    return None
