"""Is one article a copy of another? Pairwise scoring of two ``DocFeatures``.

This is the only place that decides what a duplicate is; candidate
generation and verdict resolution do not change when scoring does.

Kinds, strongest first (``KIND_RANK``): ``same_url`` and ``same_guid`` come
from the feed (see ``transforms.dedup``); here ``same_text`` (identical
normalised body), ``near_verbatim`` (word-shingle Jaccard at least
``NEAR_VERBATIM_JACCARD``) and ``edited`` (most of the shorter text's
shingles appear in the longer one).
"""

from __future__ import annotations

from typing import NamedTuple

from schemas.records import DocFeatures

KIND_RANK = {"same_url": 0, "same_guid": 1, "same_text": 2, "near_verbatim": 3, "edited": 4, "paraphrase": 5}

NEAR_VERBATIM_JACCARD = 0.80
EDITED_CONTAINMENT = 0.60
# Below this many shingles a text is too short for containment to mean much
# (a shared quotation alone could make up most of it).
MIN_SHINGLES_FOR_CONTAINMENT = 30


class PairScore(NamedTuple):
    kind: str
    score: float
    evidence: list[str]


def score_pair(a: DocFeatures, b: DocFeatures) -> PairScore | None:
    """How ``a`` and ``b`` are copies of one article, or None when they are not."""
    if a.text_hash == b.text_hash and a.shingles:
        return PairScore("same_text", 1.0, ["text_hash=equal"])
    set_a, set_b = set(a.shingles), set(b.shingles)
    if not set_a or not set_b:
        return None
    shared = len(set_a & set_b)
    jaccard = shared / len(set_a | set_b)
    smaller = min(len(set_a), len(set_b))
    containment = shared / smaller
    evidence = [f"shingle_jaccard={jaccard:.3f}", f"shingle_containment={containment:.3f}", f"shared_shingles={shared}"]
    if jaccard >= NEAR_VERBATIM_JACCARD:
        return PairScore("near_verbatim", round(jaccard, 4), evidence)
    if smaller >= MIN_SHINGLES_FOR_CONTAINMENT and containment >= EDITED_CONTAINMENT:
        return PairScore("edited", round(containment, 4), evidence)
    return None
