"""An incremental reprint index: the same verdict logic as the batch GroupByKey path, one article at a time.

Used where articles arrive over time: streaming (in keyed state) and
scheduled batch runs (carried from one run to the next). It is a plain
value: ``to_bytes()`` / ``from_bytes()`` round-trip it, with no code or
pickles inside, so a run can start from the previous run's index.

Bounded: ``evict_before(time)`` drops articles published before ``time``
(the caller passes "newest publication seen minus the horizon"); buckets are
pruned with them. Memory per article (``IndexedArticle``): one packed
bytes value holding its shingles (the 24 bits verdicts compare, Elias-Fano coded, ``sorted_codec``), one
bit per shingle for the narrative, its sentences deflated (kept for meaning
checks) and its text hash; about 6 bytes per bucket entry in the
``BucketStore`` (8 in its small, unpacked segments); and int8 sentence
vectors (384 bytes a sentence, at most ``MAX_SENTENCES_KEPT``) once a
meaning check needed them. ``bench/dedup_scale.py`` (``make bench-large``
at 1M) reports the measured figure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
import sys
import time
import zlib
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import NamedTuple

import numpy as np

from schemas.records import DedupInfo, DedupNode, DedupVerdict, DocFeatures, Match
from transforms.lib import sorted_codec
from transforms.lib.bucket_store import MAX_SLOT, BucketStore
from transforms.lib.embeddings import DIMENSIONS
from transforms.lib.fingerprints import (
    COMPARED_BITS,
    candidate_keys,
    compared_shingles,
    narrative_from_mask,
    narrative_mask,
    strong_candidate,
)
from transforms.lib.similarity import (
    best_meaning_candidates,
    decide_wording,
    meaning_priority,
    needs_meaning_check,
    score_paraphrase,
    wording_measures,
)
from transforms.lib.times import ISO_FORMAT, parse_iso
from transforms.lib.verdicts import MERGING_KINDS, best_match, order_key

Embed = Callable[[list[str]], bytes]

FORMAT_VERSION = 4
# Format 1 (before narrative shingles) still loads: its articles' narrative is taken as all their shingles,
# until they leave the index with the horizon. Formats 1 and 2 (bucket ids under "keys", from MinHash bands
# and 1 in 8 narrative shingles) load with their bucket ids computed again from their features.
# Format 3 kept 64-bit bucket ids ("bucket_ids"); format 4 keeps their low half ("bucket_ids32").
READABLE_FORMATS = (1, 2, 3, 4)
MAX_SENTENCES_KEPT = 40
MAX_CANDIDATES = 64  # per lookup, nearest in time first: a bucket full of boilerplate cannot explode the work
# A bucket keeps its newest members only: a key shared by thousands of articles (boilerplate, a common
# phrase) says little, and scanning it on every lookup would make the work grow with the index.
MAX_BUCKET = 128
RENUMBER_HOLES = 4096  # removed slots kept as holes before the slots are renumbered (and at least as many as live)


class Reroot(NamedTuple):
    """An indexed article whose canonical copy changed because an earlier copy arrived."""

    node: DedupNode
    previous_root: DedupNode  # the article itself when it was canonical
    root: DedupNode
    match: Match | None  # the match that moved it, for the article matched directly; None for its cluster


# IndexedArticle's packed features: its slot in the bucket store, sentence count, shingle count, flags,
# publication time (seconds since the epoch), then the byte length of each part, in this order.
_PARTS = ("id", "published", "text_hash", "attributed_source", "anchors", "shingles", "narrative_mask",
          "sentences")
_HEADER = struct.Struct(f"<IIIBd{len(_PARTS)}I")
_SLOT = struct.Struct("<I")
_ANCHOR_SEPARATOR = "\x00"
_DROPPED_BITS = 32 - COMPARED_BITS
# Flags: what the packed parts leave out because it is implied.
_ATTRIBUTED = 1  # a credit line is present (it may be empty)
_SHINGLES_CODED = 2  # shingles in sorted_codec's Elias-Fano code, not raw
_HASH_BINARY = 4  # text_hash is 32 hex digits, kept as its 16 bytes
_PUBLISHED_IMPLIED = 8  # the ISO string is the publication time written as ISO_FORMAT: not kept


def _is_hex32(text: str) -> bool:
    return len(text) == 32 and all(ch in "0123456789abcdef" for ch in text)


class IndexedArticle:
    """An indexed article, held compactly: one bytes value for its features (the shingles Elias-Fano coded,
    the narrative as one bit per shingle instead of a second copy of them, the sentences zlib-compressed,
    the text hash as bytes, the ISO publication time left out when the number gives it back), its entry
    key the index's own dict key, its outlet's name shared with the outlet's other articles, its root left
    out while it is its own canonical copy, and no bucket ids (the bucket store holds those). Features are
    unpacked when the article is compared, which is for a few candidates an arrival."""

    __slots__ = ("_packed", "_root", "domain", "entry_key", "site", "vectors")

    def __init__(self, features: DocFeatures, root: DedupNode, published: float, slot: int,
                 vectors: bytes | None = None):
        node = features.node
        self.entry_key = node.entry_key
        self.domain = sys.intern(features.source_domain) if features.source_domain else features.source_domain
        self.site = sys.intern(features.site_name) if features.site_name else features.site_name
        # Only the values verdicts compare (``compared_shingles``): their high 24 bits, coded as 24-bit numbers.
        shingles = compared_shingles(features.shingles)
        narrative = compared_shingles(features.narrative)
        shingle_code, coded = sorted_codec.encode(shingles >> _DROPPED_BITS, COMPARED_BITS)
        flags = (_ATTRIBUTED if features.attributed_source is not None else 0) | (_SHINGLES_CODED if coded else 0)
        text_hash = features.text_hash.encode("utf-8")
        if _is_hex32(features.text_hash):
            text_hash, flags = bytes.fromhex(features.text_hash), flags | _HASH_BINARY
        published_text = node.published.encode("utf-8")
        if published == int(published) and time.strftime(ISO_FORMAT, time.gmtime(published)) == node.published:
            published_text, flags = b"", flags | _PUBLISHED_IMPLIED
        # Raw deflate: zlib's header and checksum are 6 bytes an article, and this never leaves the process.
        sentences = zlib.compress(json.dumps(list(features.sentences)).encode("utf-8"), wbits=-15) \
            if features.sentences else b""
        parts = [node.id.encode("utf-8"), published_text, text_hash,
                 (features.attributed_source or "").encode("utf-8"),
                 _ANCHOR_SEPARATOR.join(features.anchors).encode("utf-8"),
                 shingle_code, narrative_mask(shingles.tobytes(), narrative.tobytes()), sentences]
        self._packed = _HEADER.pack(slot, features.sentence_count, len(shingles), flags, published,
                                    *map(len, parts)) + b"".join(parts)
        self.root = root
        self.vectors = vectors  # sentence vectors, computed when first needed

    def _parts(self, count: int = len(_PARTS)) -> tuple[tuple[int, int, int, float], list[bytes]]:
        """The header's sentence count, shingle count, flags and publication time, and the first ``count``
        parts (slicing copies: a caller reading the node does not copy the shingles and sentences)."""
        _slot, sentence_count, shingle_count, flags, published, *lengths = _HEADER.unpack_from(self._packed)
        parts, offset = [], _HEADER.size
        for length in lengths[:count]:
            parts.append(self._packed[offset:offset + length])
            offset += length
        return (sentence_count, shingle_count, flags, published), parts

    @property
    def slot(self) -> int:
        """Its number in the bucket store (in the header: an int object would cost 28 bytes)."""
        return _SLOT.unpack_from(self._packed)[0]

    @slot.setter
    def slot(self, slot: int) -> None:
        self._packed = _SLOT.pack(slot) + self._packed[_SLOT.size:]

    @property
    def published(self) -> float:
        """Seconds since the epoch (0.0: no date), for horizon checks without parsing."""
        return _PUBLISHED.unpack_from(self._packed, _PUBLISHED_OFFSET)[0]

    @property
    def node(self) -> DedupNode:
        (_, _, flags, published), (ident, published_text) = self._parts(2)
        return DedupNode(self.entry_key, ident.decode("utf-8"), _iso(published, published_text, flags))

    @property
    def root(self) -> DedupNode:
        """The canonical copy this article belongs to (itself when canonical)."""
        return self._root if self._root is not None else self.node

    @root.setter
    def root(self, root: DedupNode) -> None:
        self._root = None if root.entry_key == self.entry_key else root  # None: canonical, its own root

    @property
    def root_key(self) -> str:
        return self._root.entry_key if self._root is not None else self.entry_key

    def sentences(self) -> list[str]:
        packed = self._parts()[1][7]
        return json.loads(zlib.decompress(packed, wbits=-15)) if packed else []

    def scoring_features(self) -> DocFeatures:
        """What wording scores and the meaning gate read: the narrative restored, the sentences left out."""
        (sentence_count, shingle_count, flags, published), parts = self._parts()
        ident, published_text, text_hash, source, anchors, shingle_code, mask, _ = parts
        shingles = (sorted_codec.decode(shingle_code, shingle_count, bool(flags & _SHINGLES_CODED), COMPARED_BITS)
                    << _DROPPED_BITS).astype("<u4").tobytes()
        return DocFeatures(
            node=DedupNode(self.entry_key, ident.decode("utf-8"), _iso(published, published_text, flags)),
            source_domain=self.domain, site_name=self.site,
            text_hash=text_hash.hex() if flags & _HASH_BINARY else text_hash.decode("utf-8"),
            shingles=shingles, narrative=narrative_from_mask(shingles, mask),
            anchors=tuple(anchors.decode("utf-8").split(_ANCHOR_SEPARATOR)) if anchors else (),
            sentence_count=sentence_count, sentences=(),
            attributed_source=source.decode("utf-8") if flags & _ATTRIBUTED else None)

    @property
    def features(self) -> DocFeatures:
        """All its features, as they were indexed."""
        return self.scoring_features()._replace(sentences=tuple(self.sentences()))


def bucket_ids(features: DocFeatures) -> array:
    """The article's bucket keys as 32-bit ids (the low half of each key's 64-bit BLAKE2b, as format 3 kept).

    32 bits suffice: two keys sharing an id only make an unrelated article a candidate, and its wording is
    then scored like any other's. At 1M indexed articles (~100M distinct keys) a lookup's ~100 keys meet
    about two such strangers, where 64-bit ids cost 4 bytes more for each of an article's ~100 buckets.
    """
    blake2b, from_bytes = hashlib.blake2b, int.from_bytes
    return array("I", (from_bytes(blake2b(key.encode("ascii"), digest_size=8).digest()[4:], "big")
                       for key in candidate_keys(features)))


_PUBLISHED = struct.Struct("<d")
_PUBLISHED_OFFSET = struct.calcsize("<IIIB")


def _iso(published: float, published_text: bytes, flags: int) -> str:
    return time.strftime(ISO_FORMAT, time.gmtime(published)) if flags & _PUBLISHED_IMPLIED \
        else published_text.decode("utf-8")


def _epoch(value: str) -> float:
    try:
        return parse_iso(value).timestamp()
    except ValueError:
        return 0.0


class ReprintIndex:
    """Recent articles by bucket key; ``match`` compares a new article with them."""

    def __init__(self, horizon_days: float = 7.0):
        self.horizon_days = horizon_days
        self.articles: dict[str, IndexedArticle] = {}
        self.buckets = BucketStore(MAX_BUCKET, key_dtype=np.uint32)
        # Slot -> article, None once removed: a list costs 8 bytes a slot where a dict cost ~40 and an int.
        # Slots are renumbered when holes outnumber articles (``_renumber``).
        self._by_slot: list[IndexedArticle | None] = []
        self._holes = 0
        self.compared = 0  # candidate pairs scored, over the index's life (the work LSH did not avoid)
        self.meaning_checked = 0  # of them, pairs that went on to a meaning check (sentence vectors)
        self._oldest: float | None = None  # the oldest publication time indexed; None: not known (recomputed)

    def __len__(self) -> int:
        return len(self.articles)

    def candidates(self, features: DocFeatures, keys: array | None = None) -> list[IndexedArticle]:
        """Indexed articles sharing two buckets or a small one with ``features`` (``strong_candidate``, as
        batch), within the horizon. ``keys``: the article's ``bucket_ids``, when already computed.

        Most shared buckets first (the LSH estimate of similarity), then nearest in time.
        """
        shared: Counter[str] = Counter()
        smallest: dict[str, int] = {}
        for members in self.buckets.members(bucket_ids(features) if keys is None else keys):
            size = len(members) + 1  # the bucket's size with the new article in it, as batch counts it
            for slot in members:
                member = self._by_slot[slot].entry_key
                shared[member] += 1
                smallest[member] = min(smallest.get(member, 1 << 30), size)
        shared.pop(features.node.entry_key, None)
        shared = Counter({k: n for k, n in shared.items() if strong_candidate(n, smallest[k])})
        published = _epoch(features.node.published)
        horizon = self.horizon_days * 86400
        near = [self.articles[k] for k in shared if abs(self.articles[k].published - published) <= horizon
                or not published or not self.articles[k].published]  # 0: no date (UNKNOWN_TIME), no horizon
        near.sort(key=lambda a: (-shared[a.entry_key], abs(a.published - published), order_key(a.node)))
        return near[:MAX_CANDIDATES]

    def match(self, features: DocFeatures, embed: Embed | None = None, keys: array | None = None
              ) -> tuple[list[Match], bytes | None]:
        """Matches between ``features`` and indexed articles (each oriented earlier/later), and the
        new article's sentence vectors if a meaning check needed them.

        ``embed`` (sentences -> vectors) runs only for pairs that need a
        meaning check: at most once for the new article, once per indexed one
        (then cached). Without it, articles are compared by wording only.
        """
        matches, vectors = [], None
        to_check = []  # (priority, order, (other, later, earlier)): pairs for a meaning check
        for other in self.candidates(features, keys):
            self.compared += 1
            later, earlier = (features, other.scoring_features())
            # Published at the same time: the article indexed first counts as earlier (first come, first
            # served), so a stream never corrects a verdict it emitted over a tie.
            if features.node.published < earlier.node.published:
                later, earlier = earlier, later
            wording = wording_measures(later, earlier)  # once: scoring and the meaning gate both read it
            scored = decide_wording(later, earlier, wording)
            if scored is not None:
                matches.append(Match(later.node, earlier.node, scored.kind, scored.score, scored.evidence))
            elif embed is not None and needs_meaning_check(later, earlier, wording=wording):
                to_check.append((meaning_priority(later, earlier, wording), len(to_check), (other, later, earlier)))
        chosen = best_meaning_candidates(to_check)
        for other, later, earlier in chosen:
            assert embed is not None
            if vectors is None:
                vectors = embed(list(features.sentences))
            if other.vectors is None:
                other.vectors = embed(other.sentences())
            later_vectors, earlier_vectors = ((vectors, other.vectors) if later is features
                                              else (other.vectors, vectors))
            scored = score_paraphrase(later, earlier, later_vectors, earlier_vectors)
            if scored is not None:
                matches.append(Match(later.node, earlier.node, scored.kind, scored.score, scored.evidence))
        self.meaning_checked += len(chosen)
        return matches, vectors

    def add(self, features: DocFeatures, root: DedupNode | None = None, vectors: bytes | None = None,
            keys: array | None = None) -> None:
        """Index an article (after its verdict): ``root`` is its canonical copy, itself by default."""
        entry_key = features.node.entry_key
        if entry_key in self.articles:
            self.remove(entry_key)
        keys = bucket_ids(features) if keys is None else keys
        compact = features._replace(sentences=tuple(features.sentences)[:MAX_SENTENCES_KEPT])
        if vectors is not None:
            vectors = vectors[: MAX_SENTENCES_KEPT * DIMENSIONS]
        self.insert(compact, keys, root or features.node, vectors)

    def assign(self, features: DocFeatures, embed: Callable[[list[str]], bytes] | None = None) -> DedupVerdict:
        """Verdict for an article arriving after every article it could copy, then index it.

        The same rule as ``transforms.lib.verdicts.resolve``: a duplicate of
        the canonical root of its best match against earlier articles.
        """
        verdict, _moved = self.arrive(features, embed)
        return verdict

    def arrive(self, features: DocFeatures, embed: Embed | None = None) -> tuple[DedupVerdict, list[Reroot]]:
        """Verdict for an article arriving in any order, then index it; and the verdicts it changes.

        When indexed articles turn out to be copies of the new one (a reprint
        arrived before its original), their clusters move under the new
        article's root: each moved article is returned as a ``Reroot``, so a
        stream can publish a correction for a verdict it already emitted.
        """
        keys = bucket_ids(features)
        matches, vectors = self.match(features, embed, keys)
        key = features.node.entry_key
        earlier = [m for m in matches if m.later.entry_key == key]
        joined: dict[str, DedupNode] = {}
        if earlier:
            best = best_match(earlier)
            # As in batch (transforms.lib.verdicts.resolve): wording matches join every cluster they reach,
            # a meaning match only attaches the article to its best match's cluster.
            linked = [m for m in earlier if m.kind in MERGING_KINDS] or [best]
            for link in linked:
                cluster_root = self.root_of(link.earlier.entry_key) or link.earlier
                joined[cluster_root.entry_key] = cluster_root
            root = min(joined.values(), key=order_key)
            evidence = [*best.evidence, f"matched_entry={best.earlier.entry_key}", f"candidates={len(earlier)}"]
            verdict = DedupVerdict(key, root.id, DedupInfo(best.kind, best.score, best.earlier.id, evidence, None))
        else:
            root = features.node
            verdict = DedupVerdict(key, None, DedupInfo("canonical", 0.0, None, [], None))
        self.add(features, root, vectors, keys)
        moved: list[Reroot] = []
        for old_root in joined.values():  # clusters this article's wording joined move under the earliest root
            if old_root.entry_key != root.entry_key:
                moved += self._move_cluster(old_root, root, None)
        copies = sorted((m for m in matches if m.earlier.entry_key == key), key=lambda m: order_key(m.later))
        for match in copies:
            old_root = self.root_of(match.later.entry_key)
            if old_root is None or old_root.published <= root.published:
                continue  # already in a cluster rooted no later than ours
            moved += self._move_cluster(old_root, root, match)
        return verdict, moved

    def _move_cluster(self, old_root: DedupNode, root: DedupNode, match: Match | None) -> list[Reroot]:
        moved = []
        for article in self.articles.values():  # a scan, but corrections are rare
            if article.root_key == old_root.entry_key:
                article.root = root
                direct = match if match and article.entry_key == match.later.entry_key else None
                moved.append(Reroot(article.node, old_root, root, direct))
        return moved

    def set_root(self, entry_key: str, root: DedupNode) -> None:
        article = self.articles.get(entry_key)
        if article is not None:
            article.root = root

    def insert(self, features: DocFeatures, keys: array, root: DedupNode, vectors: bytes | None) -> None:
        entry_key = features.node.entry_key
        if len(self._by_slot) > MAX_SLOT:
            self._renumber()
        slot = len(self._by_slot)
        self.buckets.add(slot, keys)
        article = IndexedArticle(features, root, _epoch(features.node.published), slot, vectors)
        self.articles[entry_key] = article
        self._by_slot.append(article)
        if self._oldest is not None:
            self._oldest = min(self._oldest, article.published)

    def bucket_members(self, keys: array) -> list[list[str]]:
        """The entry keys in each of the buckets ``keys``, newest first."""
        return [[self._by_slot[slot].entry_key for slot in members] for members in self.buckets.members(keys)]

    def oldest_published(self) -> float | None:
        """Seconds since the epoch of the oldest article indexed (None when empty): when eviction is next due."""
        if self._oldest is None and self.articles:
            self._oldest = min(a.published for a in self.articles.values())
        return self._oldest

    def root_of(self, entry_key: str) -> DedupNode | None:
        article = self.articles.get(entry_key)
        return article.root if article else None

    def remove(self, entry_key: str) -> None:
        article = self.articles.pop(entry_key)
        if article.published == self._oldest:
            self._oldest = None
        slot = article.slot
        self._by_slot[slot] = None
        self._holes += 1
        self.buckets.remove(slot)
        if self._holes > max(len(self.articles), RENUMBER_HOLES):
            self._renumber()

    def _renumber(self) -> None:
        """Number the indexed articles' slots 0, 1, ... again, in the same order: the slot list stays
        about as long as the index, however long a stream runs and whatever it removes."""
        live = [article for article in self._by_slot if article is not None]
        self.buckets.renumber(np.fromiter((a.slot for a in live), dtype=np.uint32, count=len(live)))
        for slot, article in enumerate(live):
            article.slot = slot
        self._by_slot, self._holes = live, 0

    def evict_before(self, published: str) -> int:
        """Drop articles published before ``published``; returns how many."""
        cutoff = _epoch(published)  # as the ISO strings compare: an undated article (0.0) is the oldest
        old = [k for k, a in self.articles.items() if a.published < cutoff]
        for entry_key in old:
            self.remove(entry_key)
        return len(old)

    def evict_beyond_horizon(self, newest_published: str) -> int:
        cutoff = (parse_iso(newest_published) - timedelta(days=self.horizon_days)).strftime(ISO_FORMAT)
        return self.evict_before(cutoff)

    # Serialisation: plain JSON rows, one per article; integer lists and
    # vectors are packed as base64 arrays to keep the state small. A stream
    # keeps these rows as an append-only log (``apply`` replays one).
    def row(self, entry_key: str, keys: Sequence[int] | None = None) -> dict:
        """One article's row. ``keys``: its ``bucket_ids`` when the caller has them (else read from the
        bucket store, a scan)."""
        article = self.articles[entry_key]
        if keys is None:
            keys = self.buckets.keys_of(article.slot)
        f = article.features
        return {
            "op": "add", "node": list(f.node), "root": list(article.root), "source_domain": f.source_domain,
            "site_name": f.site_name, "text_hash": f.text_hash,
            "shingles": base64.b64encode(f.shingles).decode("ascii"),
            "narrative": base64.b64encode(f.narrative).decode("ascii"),
            "bucket_ids32": _pack_keys(keys), "anchors": list(f.anchors), "sentences": list(f.sentences),
            "attributed_source": f.attributed_source,
            "vectors": base64.b64encode(article.vectors).decode("ascii") if article.vectors else None,
        }

    def rows(self) -> list[dict]:
        keys_of = self.buckets.keys_by_slot()
        empty = array("Q")
        return [self.row(entry_key, keys_of.get(article.slot, empty)) for entry_key, article in self.articles.items()]

    def apply(self, row: dict) -> None:
        """Replay one log row: ``add`` (an article, as ``row`` gives it) or ``root`` (a Reroot)."""
        if row["op"] == "root":
            self.set_root(row["entry_key"], DedupNode(*row["root"]))
            return
        features = DocFeatures(
            node=DedupNode(*row["node"]), source_domain=row["source_domain"], site_name=row["site_name"],
            text_hash=row["text_hash"], shingles=base64.b64decode(row["shingles"]),
            narrative=base64.b64decode(row.get("narrative", row["shingles"])),
            anchors=row["anchors"], sentence_count=len(row["sentences"]), sentences=row["sentences"],
            attributed_source=row["attributed_source"])
        if features.node.entry_key in self.articles:
            self.remove(features.node.entry_key)
        vectors = base64.b64decode(row["vectors"]) if row["vectors"] else None
        if "bucket_ids32" in row:
            keys = _unpack("I", row["bucket_ids32"])
        elif "bucket_ids" in row:  # format 3: 64-bit ids, of which the low half is today's id
            keys = array("I", (key & 0xFFFFFFFF for key in _unpack("Q", row["bucket_ids"])))
        else:
            keys = bucket_ids(features)
        self.insert(features, keys, DedupNode(*row["root"]), vectors)

    @staticmethod
    def root_row(reroot: Reroot) -> dict:
        return {"op": "root", "entry_key": reroot.node.entry_key, "root": list(reroot.root)}

    def to_bytes(self) -> bytes:
        document = {"format": FORMAT_VERSION, "horizon_days": self.horizon_days, "articles": self.rows()}
        return zlib.compress(json.dumps(document, separators=(",", ":")).encode("utf-8"), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> ReprintIndex:
        try:
            document = json.loads(zlib.decompress(data))
        except (zlib.error, ValueError) as error:
            raise ValueError(f"not a reprint index: {error}") from None
        if document.get("format") not in READABLE_FORMATS:
            raise ValueError(f"reprint index format {document.get('format')!r}, expected one of {READABLE_FORMATS}")
        index = cls(document["horizon_days"])
        for row in document["articles"]:
            index.apply({"op": "add", **row})
        return index


def _pack_keys(keys: Sequence[int]) -> str:
    return base64.b64encode(np.asarray(keys, dtype="<u4").tobytes()).decode("ascii")


def _unpack(typecode: str, text: str) -> array:
    values = array(typecode)
    values.frombytes(base64.b64decode(text))
    return values
