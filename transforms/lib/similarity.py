"""Is one article a copy of another? Pairwise scoring of two articles' features.

This is the only place that decides what a duplicate is; candidate
generation and verdict resolution do not change when scoring does. Features
come from the articles' prose only (``transforms.lib.prose``: menus,
captions, teasers and credit lines left out), and the thresholds were
chosen on real republished pages (``bench/eval_dedup.py``, event folds of
``../shared/corpora/reprints-dev``), not on text written for the project.

Two steps, cheapest first:

``score_pair`` (word shingles, no model):
    ``same_text``      identical normalised body;
    ``near_verbatim``  word 5-shingle Jaccard >= ``near_verbatim_jaccard``;
    ``edited``         a copied passage: at least ``edited_narrative_shingles``
                       shared shingles of the reporter's own narrative (words
                       outside quotation marks), however much furniture or
                       new material surrounds them; or most of the shorter
                       text's shingles in the longer one.

``score_paraphrase`` (sentence embeddings), only for pairs that
``needs_meaning_check`` lets through:
    ``paraphrase``     the sentences of both texts align one to one, in order,
                       with cosine >= ``sentence_match``: many of them and most
                       of the shorter text, or fewer when the two also share
                       narrative wording or one credits the other's outlet.

Independent reports of one event share names, numbers and quoted statements
(every outlet quotes the same minister), but each writer adds their own
material in their own order and words: quoted shingles do not count as
copied narrative, and few sentences align in sequence. ``KIND_RANK`` orders
kinds from strongest; ``same_url`` and ``same_guid`` come from the feeds
(``transforms.dedup``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

import numpy as np

from schemas.records import DocFeatures
from transforms.lib.embeddings import cosine_matrix
from transforms.lib.fingerprints import compared_shingles

T = TypeVar("T")

KIND_RANK = {"same_url": 0, "same_guid": 1, "same_text": 2, "near_verbatim": 3, "edited": 4, "paraphrase": 5}


class Thresholds(NamedTuple):
    """What counts as a copy. ``DEFAULT`` is what the pipeline uses; ``bench/eval_dedup.py`` chooses them on
    half of reprints-dev's events and reports the other half."""

    near_verbatim_jaccard: float = 0.80
    edited_narrative_shingles: int = 20  # about 25 words of narrative copied word for word ...
    edited_narrative_share: float = 0.15  # ... making up this share of the shorter text's narrative ...
    copied_passage_shingles: int = 40  # ... or this much copied narrative, whatever its share
    edited_containment: float = 0.50  # share of the shorter text's shingles found in the longer one ...
    containment_min_narrative: int = 10  # ... when at least this many narrative shingles are shared (not a quote)
    quoted_copy_containment: float = 0.75  # a copy quoted whole ("CNN reports: '...'"): this share of the
    quoted_copy_shingles: int = 30  # shorter text, and this many shingles, found word for word, quoted or not
    sentence_match: float = 0.70  # cosine at which two sentences state the same thing (all-MiniLM-L6-v2)
    paraphrase_sentences: int = 6  # aligned sentences, in order ...
    paraphrase_coverage: float = 0.80  # ... covering this share of the shorter text's sentences
    supported_sentences: int = 4  # fewer aligned sentences suffice ...
    supported_coverage: float = 0.60
    supported_narrative_shingles: int = 12  # ... when the texts also share this much narrative wording
    credited_coverage: float = 0.45  # or when the later text credits the earlier one's outlet ("(BBC)")
    meaning_check_anchor_jaccard: float = 0.15  # worth embedding: names and numbers in common ...
    meaning_check_shared_shingles: int = 3  # ... or some wording in common, or a credit


DEFAULT = Thresholds()
ALIGN_GAP = 0.55  # a pair adds (cosine - gap) to the alignment: only similar sentences are worth aligning
MIN_ALIGNED_SENTENCES = 3


class PairScore(NamedTuple):
    kind: str
    score: float
    evidence: list[str]


class Wording(NamedTuple):
    """How much wording two texts share (``wording_measures``)."""

    shared: int  # word 5-shingles in common
    jaccard: float
    containment: float  # shared / the shorter text's shingles
    narrative: int  # shared shingles outside quotation marks in both texts
    narrative_share: float  # narrative / the shorter text's narrative shingles


def wording_measures(a: DocFeatures, b: DocFeatures) -> Wording | None:
    """None when a text has no shingles."""
    set_a, set_b = compared_shingles(a.shingles), compared_shingles(b.shingles)
    if not len(set_a) or not len(set_b):
        return None
    shared = len(np.intersect1d(set_a, set_b, assume_unique=True))
    narrative_a, narrative_b = compared_shingles(a.narrative), compared_shingles(b.narrative)
    narrative = len(np.intersect1d(narrative_a, narrative_b, assume_unique=True))
    return Wording(shared, shared / (len(set_a) + len(set_b) - shared), shared / min(len(set_a), len(set_b)),
                   narrative, narrative / max(1, min(len(narrative_a), len(narrative_b))))


def decide_wording(later: DocFeatures, earlier: DocFeatures, wording: Wording | None,
                   thresholds: Thresholds = DEFAULT) -> PairScore | None:
    if later.text_hash == earlier.text_hash and later.shingles:
        return PairScore("same_text", 1.0, ["text_hash=equal"])
    if wording is None:
        return None
    w, t = wording, thresholds
    evidence = [f"shingle_jaccard={w.jaccard:.3f}", f"shingle_containment={w.containment:.3f}",
                f"shared_shingles={w.shared}", f"shared_narrative_shingles={w.narrative}",
                f"narrative_share={w.narrative_share:.3f}"]
    if w.jaccard >= t.near_verbatim_jaccard:
        return PairScore("near_verbatim", round(w.jaccard, 4), evidence)
    # A passage shared by two pages of one site is as likely its furniture (an "About us" paragraph, a
    # disclaimer) as a copy: within a site only most of the text in common makes a copy.
    across_outlets = not later.source_domain or later.source_domain != earlier.source_domain
    passage = across_outlets and (
        w.narrative >= t.copied_passage_shingles
        or (w.narrative >= t.edited_narrative_shingles and w.narrative_share >= t.edited_narrative_share))
    contained = ((w.containment >= t.edited_containment and w.narrative >= t.containment_min_narrative)
                 or (w.containment >= t.quoted_copy_containment and w.shared >= t.quoted_copy_shingles))
    if passage or contained:
        return PairScore("edited", round(max(w.containment, w.narrative_share), 4), evidence)
    return None


def score_pair(later: DocFeatures, earlier: DocFeatures, thresholds: Thresholds = DEFAULT) -> PairScore | None:
    """Copy by wording: same_text, near_verbatim or edited; None when the wording differs."""
    return decide_wording(later, earlier, wording_measures(later, earlier), thresholds)


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


def needs_meaning_check(later: DocFeatures, earlier: DocFeatures, thresholds: Thresholds = DEFAULT,
                        wording: Wording | None = None) -> bool:
    """Whether a pair that is not a wording copy could still be a paraphrase (worth embedding). ``wording``:
    the pair's ``wording_measures`` when the caller has them (they are computed otherwise)."""
    if min(later.sentence_count, earlier.sentence_count) < MIN_ALIGNED_SENTENCES:
        return False
    if anchor_jaccard(later, earlier) >= thresholds.meaning_check_anchor_jaccard or credits(later, earlier):
        return True
    wording = wording or wording_measures(later, earlier)
    return wording is not None and wording.shared >= thresholds.meaning_check_shared_shingles


# A big story draws dozens of same-event reports within the horizon, each sharing names with the rest:
# meaning-checking every pair would grow with the square of the story's coverage. Each article is checked
# against its best few only (candidates that pass the gate: at most 4 an article in reprints-dev, 6 in the
# project's own set, so no real copy there is lost at 8).
MEANING_CHECKS_PER_ARTICLE = 8


def meaning_priority(later: DocFeatures, earlier: DocFeatures, wording: Wording | None) -> tuple[float, int]:
    """Which meaning checks an article gets first: most names and numbers in common, then most wording."""
    return round(anchor_jaccard(later, earlier), 6), wording.shared if wording is not None else 0


def best_meaning_candidates(candidates: Iterable[tuple[tuple[float, int], Any, T]]) -> list[T]:
    """Of one article's (priority, tie-break, candidate) triples, the candidates it is meaning-checked
    against: the ``MEANING_CHECKS_PER_ARTICLE`` of highest priority, ties by the smallest tie-break."""
    ranked = sorted(candidates, key=lambda c: (-c[0][0], -c[0][1], c[1]))
    return [candidate for _priority, _tie, candidate in ranked[:MEANING_CHECKS_PER_ARTICLE]]


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


class Meaning(NamedTuple):
    """How two texts' sentences align (``meaning_measures``)."""

    aligned_cosines: list[float]  # of the monotone alignment's pairs, in order
    sentences_later: int
    sentences_earlier: int
    narrative: int  # shared narrative shingles (``Wording.narrative``)
    credited: bool  # the later text credits the earlier one's outlet (``credits``)
    anchor_jaccard: float


def meaning_measures(later: DocFeatures, earlier: DocFeatures, later_vectors: bytes, earlier_vectors: bytes
                     ) -> Meaning | None:
    similarity = cosine_matrix(later_vectors, earlier_vectors)
    if similarity.size == 0:
        return None
    cosines = [float(similarity[i, j]) for i, j in monotone_alignment(similarity)]
    wording = wording_measures(later, earlier)
    return Meaning(cosines, similarity.shape[0], similarity.shape[1], wording.narrative if wording else 0,
                   credits(later, earlier), anchor_jaccard(later, earlier))


def decide_meaning(later: DocFeatures, meaning: Meaning | None, thresholds: Thresholds = DEFAULT
                   ) -> PairScore | None:
    if meaning is None:
        return None
    m, t = meaning, thresholds
    aligned = [c for c in m.aligned_cosines if c >= t.sentence_match]
    n = len(aligned)
    short, long_ = min(m.sentences_later, m.sentences_earlier), max(m.sentences_later, m.sentences_earlier)
    coverage_short, coverage_long = n / short, n / long_
    copied = (
        (n >= t.paraphrase_sentences and coverage_short >= t.paraphrase_coverage)
        or (n >= t.supported_sentences and coverage_short >= t.supported_coverage
            and m.narrative >= t.supported_narrative_shingles)
        or (m.credited and n >= MIN_ALIGNED_SENTENCES and coverage_short >= t.credited_coverage)
    )
    if not copied:
        return None
    evidence = [f"aligned_sentences={n}/{m.sentences_later}:{m.sentences_earlier}",
                f"coverage_short={coverage_short:.3f}", f"coverage_long={coverage_long:.3f}",
                f"shared_narrative_shingles={m.narrative}", f"anchor_jaccard={m.anchor_jaccard:.3f}",
                f"mean_aligned_cosine={float(np.mean(aligned)):.3f}"]
    if m.credited:
        evidence.append(f"credits={later.attributed_source}")
    return PairScore("paraphrase", round(2 * coverage_short * coverage_long / (coverage_short + coverage_long), 4),
                     evidence)


def score_paraphrase(later: DocFeatures, earlier: DocFeatures, later_vectors: bytes, earlier_vectors: bytes,
                     thresholds: Thresholds = DEFAULT) -> PairScore | None:
    """Copy by meaning: the two texts' sentences align in order. None when they do not."""
    return decide_meaning(later, meaning_measures(later, earlier, later_vectors, earlier_vectors), thresholds)
