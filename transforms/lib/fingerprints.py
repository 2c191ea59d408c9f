"""Per-article features for reprint detection: text hash, shingles, anchors, and the candidate bucket keys
(anchor LSH bands, sampled shingles).

All hashes are stable across processes and runs (no Python ``hash()``), so
verdicts do not depend on which worker computed them.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Sequence

import numpy as np
from datasketch import MinHash

from schemas.records import Article, DedupNode, DocFeatures
from transforms.lib.prose import prose_paragraphs, quoted_flags
from transforms.lib.sentences import split_sentences
from transforms.lib.text import normalise_for_comparison, words

SHINGLE_WORDS = 5
NUM_PERM = 128  # of the anchors' MinHash
MINHASH_SEED = 20261118
# Anchors (names and numbers) survive rewording; 42 bands of 3 rows make pairs
# above anchor Jaccard ~0.3 candidates (0.84 at 0.35, 0.996 at 0.5, 0.04 at 0.1).
ANCHOR_BANDS = 42
ANCHOR_ROWS = 3

_NUMBER_RE = re.compile(r"\d[\d,.]*\d|\d")
_NAME_RE = re.compile(r"\b[A-Z][\w'\u2019-]*[a-z][\w'\u2019-]*\b|\b[A-Z]{2,}\b")
# Capitalised words that name nothing in particular.
_NOT_ANCHORS = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may
june july august september october november december mr mrs ms dr prof the a an i it he she they we you this that
there these those in on at of for but and or if when while after before as by with from his her their our
its""".split())

# A closing credit line: "(BBC)", "— Reuters", "Source: AFP", "Credit: Global Wire".
_ATTRIBUTION_RES = (
    re.compile(r"^\(\s*([A-Z][\w.&' -]{0,48}?)\s*\)\.?$"),
    re.compile(r"^[\u2014\u2013-]{1,2}\s*([A-Z][\w.&' -]{0,48}?)\.?$"),
    re.compile(r"^(?:source|credit|via|additional reporting by)\s*:?\s*([A-Z][\w.&' -]{0,48}?)\.?$", re.IGNORECASE),
)
_ATTRIBUTION_TAIL_LINES = 4


def stable_hashes32(texts: Iterable[str]) -> set[int]:
    """The distinct 32-bit BLAKE2b hashes of ``texts`` (one set comprehension: this runs once per word of
    every article)."""
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return {from_bytes(blake2b(text.encode("utf-8"), digest_size=4).digest(), "big") for text in texts}


def text_hash(body: str) -> str:
    """Equal for bodies that differ only in case, whitespace, quotes and dashes."""
    return hashlib.sha256(normalise_for_comparison(body).encode("utf-8")).hexdigest()[:32]


def shingle_hashes(body: str, size: int = SHINGLE_WORDS) -> list[int]:
    """Sorted distinct hashes of the word ``size``-grams (one shingle for a shorter text)."""
    tokens = words(body)
    if not tokens:
        return []
    if len(tokens) < size:
        return sorted(stable_hashes32([" ".join(tokens)]))
    return sorted(stable_hashes32(" ".join(tokens[i:i + size]) for i in range(len(tokens) - size + 1)))


@functools.lru_cache(maxsize=1 << 13)
def _word_tokens(word: str) -> tuple[str, ...]:
    """``words`` of one word as the paragraph wrote it: news repeats its words, and normalising each
    occurrence again was a third of the shingling time."""
    return tuple(words(word))


def prose_shingles(paragraphs: Sequence[str], size: int = SHINGLE_WORDS) -> tuple[list[int], list[int]]:
    """Sorted distinct hashes of the word ``size``-grams of each paragraph: (all of them, those with no quoted
    word). Shingles do not cross paragraphs: a copy may cut or reorder them."""
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    every: set[int] = set()
    narrative: set[int] = set()
    for paragraph in paragraphs:
        tokens: list[str] = []
        quoted: list[bool] = []
        for word, is_quoted in quoted_flags(paragraph):
            for token in _word_tokens(word):
                tokens.append(token)
                quoted.append(is_quoted)
        for i in range(len(tokens) - size + 1):
            # The same hash as stable_hashes32, computed once for both sets.
            shingle = from_bytes(blake2b(" ".join(tokens[i:i + size]).encode("utf-8"), digest_size=4).digest(), "big")
            every.add(shingle)
            if not any(quoted[i:i + size]):
                narrative.add(shingle)
    return sorted(every), sorted(narrative)


def comparable_paragraphs(body: str) -> list[str]:
    """The paragraphs reprint detection compares: the body's prose (``transforms.lib.prose``), or the whole
    body when no line reads as prose (a short feed summary, a list)."""
    return prose_paragraphs(body) or [line.strip() for line in body.splitlines() if line.strip()]


def pack_shingles(shingles: list[int]) -> bytes:
    return np.asarray(shingles, dtype="<u4").tobytes()


def unpack_shingles(packed: bytes) -> np.ndarray:
    return np.frombuffer(packed, dtype="<u4")


# Verdicts compare shingles on their high 24 bits. The reprint index then keeps 2 bytes and a bit of each
# instead of 3 (about 200 bytes an article), and chance costs nothing: two unrelated 400-shingle texts share
# a value by chance once in 100 pairs, and every threshold counts 3 shared shingles or more. Bucket keys
# still sample the full 32-bit hashes: at 24 bits a sampled value would be shared by chance across a
# million-article index often enough to crowd the buckets.
COMPARED_BITS = 24
_COMPARED_MASK = np.uint32(((1 << COMPARED_BITS) - 1) << (32 - COMPARED_BITS))


def compared_shingles(packed: bytes) -> np.ndarray:
    """The sorted distinct values verdicts compare: each hash with its low 8 bits cleared (so applying it to
    its own result changes nothing, and indexed articles, which keep only these, compare like fresh ones)."""
    values = unpack_shingles(packed) & _COMPARED_MASK
    if len(values) > 1:
        distinct = np.empty(len(values), dtype=bool)
        distinct[0] = True
        np.not_equal(values[1:], values[:-1], out=distinct[1:])
        values = values[distinct]
    return values


def narrative_mask(shingles: bytes, narrative: bytes) -> bytes:
    """Which of ``shingles`` are in ``narrative`` (a subset of them), one bit each."""
    return np.packbits(np.isin(unpack_shingles(shingles), unpack_shingles(narrative), assume_unique=True)).tobytes()


def narrative_from_mask(shingles: bytes, mask: bytes) -> bytes:
    """The inverse of ``narrative_mask``."""
    all_shingles = unpack_shingles(shingles)
    keep = np.unpackbits(np.frombuffer(mask, dtype=np.uint8), count=len(all_shingles)).astype(bool)
    return all_shingles[keep].tobytes()


# datasketch's "affine32" MinHash (its default since 2.0), computed here with its permutations drawn once:
# MinHash() draws them again on every construction, which cost more than hashing an article.
# tests/test_dedup_logic.py checks the values are datasketch's.
MINHASH_SCHEME = "affine32"
_PERMUTATION_A, _PERMUTATION_B = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int,
                                         scheme=MINHASH_SCHEME).permutations
_MAX_HASH = np.uint32((1 << 32) - 1)
_MINHASH_CHUNK = 4096  # values per step: bounds the (values x permutations) matrix at 2 MB


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser (as datasketch applies it): mixes structured 32-bit inputs before permuting."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def minhash_signature(shingles: Sequence[int]) -> list[int]:
    signature = np.full(NUM_PERM, _MAX_HASH, dtype=np.uint32)
    values = _fmix32(np.asarray(shingles, dtype=np.uint32))
    for start in range(0, len(values), _MINHASH_CHUNK):
        permuted = values[start:start + _MINHASH_CHUNK, np.newaxis] * _PERMUTATION_A + _PERMUTATION_B
        np.minimum(signature, permuted.min(axis=0), out=signature)
    return signature.tolist()


def band_keys(signature: list[int], bands: int, rows: int, prefix: str) -> list[str]:
    """One key per band of ``rows`` signature values; documents sharing any key are candidate pairs."""
    if not signature:
        return []
    keys = []
    for band in range(bands):
        values = signature[band * rows:(band + 1) * rows]
        digest = hashlib.blake2b(repr(values).encode("ascii"), digest_size=8).hexdigest()
        keys.append(f"{prefix}{band}:{digest}")
    return keys


def attributed_source(body: str) -> str | None:
    """The outlet named in a closing credit line such as "(BBC)", or None."""
    lines = [line.strip() for line in body.strip().splitlines() if line.strip()]
    for line in reversed(lines[-_ATTRIBUTION_TAIL_LINES:]):
        if len(line) > 60:
            continue
        for pattern in _ATTRIBUTION_RES:
            match = pattern.match(line)
            if match:
                return match.group(1).strip()
    return None


def anchor_terms(sentences: list[str]) -> list[str]:
    """Names and numbers: capitalised words not opening a sentence, acronyms, and numbers."""
    anchors: set[str] = set()
    for sentence in sentences:
        anchors.update(n.replace(",", "") for n in _NUMBER_RE.findall(sentence))
        for match in _NAME_RE.finditer(sentence):
            word = match.group().lower().strip("'\u2019")
            if match.start() > 0 and word not in _NOT_ANCHORS:
                anchors.add(word)
    return sorted(anchors)


def anchor_band_keys(anchors: list[str]) -> list[str]:
    if not anchors:
        return []
    return band_keys(minhash_signature(sorted(stable_hashes32(anchors))), ANCHOR_BANDS, ANCHOR_ROWS, "a")


# One shingle in PASSAGE_SAMPLE (by hash, so every article samples the same ones) is a bucket key of its own:
# two texts sharing a copied passage of 20 shingles share five of them on average (none: 0.3%), however little
# of either page the passage is. (MinHash bands of the whole shingle set, used before, find only pairs of high
# overall Jaccard: a copy inside a page of furniture, or a short page quoted whole inside a long one, slipped
# through them, and 1 in 8 shingles missed a 24-shingle passage 4% of the time. Quoted shingles are sampled
# too: a copy may be quoted whole.)
PASSAGE_SAMPLE = 4


def passage_keys(shingles: bytes) -> list[str]:
    hashes = unpack_shingles(shingles)
    return [f"p:{h:08x}" for h in hashes[hashes % PASSAGE_SAMPLE == 0].tolist()]


def candidate_keys(features: DocFeatures) -> list[str]:
    """Bucket keys: articles sharing any key are compared (text hash, anchor bands, sampled shingles)."""
    return [f"text:{features.text_hash}", *anchor_band_keys(list(features.anchors)),
            *passage_keys(features.shingles)]


# A pair of articles sharing one bucket of its ~100 is compared only when that bucket is small: a single
# shared band of a big bucket (common names, a site's boilerplate) is chance far more often than copying.
# Measured on the labelled set and the bench corpus: no true pair shares fewer than 2 buckets unless one
# of them is this small, and the bench corpus's pairs to compare fall from 53,873 to 9,694.
STRONG_SHARED_BUCKETS = 2
SMALL_BUCKET = 4


def strong_candidate(shared_buckets: int, smallest_bucket: int) -> bool:
    """Is a pair sharing ``shared_buckets`` buckets, the smallest with ``smallest_bucket`` members, worth scoring?"""
    return shared_buckets >= STRONG_SHARED_BUCKETS or smallest_bucket <= SMALL_BUCKET


def article_features(article: Article) -> DocFeatures:
    paragraphs = comparable_paragraphs(article.body)
    shingles, narrative = prose_shingles(paragraphs)
    sentences = split_sentences("\n".join(paragraphs))
    return DocFeatures(
        node=DedupNode(article.entry_key, article.id, article.published),
        source_domain=article.source_domain,
        site_name=article.site_name,
        text_hash=text_hash(article.body),
        shingles=pack_shingles(shingles),
        narrative=pack_shingles(narrative),
        anchors=anchor_terms(sentences),
        sentence_count=len(sentences),
        sentences=sentences,
        attributed_source=attributed_source(article.body),
    )
