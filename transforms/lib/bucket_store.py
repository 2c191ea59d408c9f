"""A compact multimap from 64-bit bucket ids to article slots: the reprint index's candidate buckets.

Each article sits in ~100 buckets and most buckets hold one article, so a
dict of lists costs ~13 KiB an article in Python objects. Here a (bucket,
slot) pair costs 12 bytes (8 with 32-bit ids, about 6 in large segments): recent pairs wait in a
small dict, then move into sorted numpy segments (bucket ids, uint64 or uint32, and slots uint32) that
merge like a binary counter, so each pair is re-sorted O(log n) times and a lookup is one vectorised
binary search per segment.

A large segment of 32-bit ids (``PackedSegment``, from ``PACK_PAIRS`` pairs) keeps only the low 16
bits of each id, beside a table of where each value of the top bits starts: 2 bytes a pair less, at the
cost of one gather of a few dozen values per looked-up id.

A bucket keeps its newest ``max_members`` pairs only (in the dict and in
each segment), so a bucket every article falls into (boilerplate, a stub
body, one common name) costs no more to store or to look up than a small
one. Removal marks a slot dead; dead pairs are dropped when segments merge,
and all segments are compacted when dead slots outnumber live ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

PENDING_PAIRS = 1 << 16  # pairs kept in the dict before they become a sorted segment
MAX_SLOT = (1 << 32) - 1
PACK_PAIRS = 1 << 21  # a segment of 32-bit ids this large keeps 16-bit ids and a start table
_PAIRS_PER_RANGE = 32  # the start table's size: ~this many pairs share one value of the top bits
_WIDEST_GATHER = 1024  # a range wider than this (many full buckets in one) is searched id by id


class PlainSegment:
    """Sorted bucket ids and their slots (ascending within a bucket)."""

    __slots__ = ("keys", "slots")

    def __init__(self, keys: np.ndarray, slots: np.ndarray) -> None:
        self.keys, self.slots = keys, slots

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.slots.nbytes

    def all_keys(self) -> np.ndarray:
        return self.keys

    def ranges(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each wanted id, the [low, high) run of pairs holding it."""
        return np.searchsorted(self.keys, wanted, "left"), np.searchsorted(self.keys, wanted, "right")


class PackedSegment:
    """A ``PlainSegment`` of uint32 ids held as their low 16 bits and, for each value of their top
    ``bits`` bits, where its run starts. Within one run the top bits are equal, so the low 16 bits sort
    as the ids do, and a lookup compares them over the run: one gather of ``width`` values per id."""

    __slots__ = ("lows", "shift", "slots", "starts", "width")

    def __init__(self, keys: np.ndarray, slots: np.ndarray) -> None:
        bits = min(24, max(16, int(len(keys) // _PAIRS_PER_RANGE).bit_length()))
        self.shift = 32 - bits
        tops = np.arange(1 << bits, dtype=np.uint32) << np.uint32(self.shift)
        self.starts = np.append(np.searchsorted(keys, tops), len(keys)).astype(np.uint32)
        self.width = int(np.diff(self.starts).max())
        # Padded by one run's width, so a gather from any run's start stays inside the array.
        self.lows = np.concatenate([(keys & 0xFFFF).astype(np.uint16), np.zeros(self.width, np.uint16)])
        self.slots = slots

    def __len__(self) -> int:
        return len(self.slots)

    @property
    def nbytes(self) -> int:
        return self.lows.nbytes + self.starts.nbytes + self.slots.nbytes

    def all_keys(self) -> np.ndarray:
        tops = np.repeat(np.arange(len(self.starts) - 1, dtype=np.uint32), np.diff(self.starts))
        return (tops << np.uint32(self.shift)) | self.lows[:len(self.slots)].astype(np.uint32)

    def ranges(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        wanted = wanted.astype(np.uint32)
        tops = (wanted >> np.uint32(self.shift)).astype(np.int64)
        start = self.starts[tops].astype(np.int64)
        length = self.starts[tops + 1].astype(np.int64) - start
        targets = (wanted & 0xFFFF).astype(np.uint16)
        if self.width <= _WIDEST_GATHER:
            offsets = np.arange(self.width)
            values = self.lows[start[:, None] + offsets]
            inside = offsets < length[:, None]
            low = start + ((values < targets[:, None]) & inside).sum(axis=1)
            high = start + ((values <= targets[:, None]) & inside).sum(axis=1)
            return low, high
        low, high = np.empty_like(start), np.empty_like(start)
        for i, (first, count, target) in enumerate(zip(start.tolist(), length.tolist(), targets)):
            run = self.lows[first:first + count]
            low[i] = first + np.searchsorted(run, target, "left")
            high[i] = first + np.searchsorted(run, target, "right")
        return low, high


class BucketStore:
    """Bucket id -> the newest ``max_members`` live slots put there (slots grow with time)."""

    def __init__(self, max_members: int = 128, key_dtype: type[np.unsignedinteger] = np.uint64) -> None:
        self.max_members = max_members
        self.key_dtype = key_dtype
        self._pending: dict[int, list[int]] = {}
        self._pending_pairs = 0
        self._segments: list[PlainSegment | PackedSegment] = []  # oldest first
        self._dead: set[int] = set()
        self._live_slots = 0

    def __len__(self) -> int:
        """Pairs held, dead ones not yet dropped included."""
        return self._pending_pairs + sum(len(segment) for segment in self._segments)

    def nbytes(self) -> int:
        return sum(segment.nbytes for segment in self._segments)

    def add(self, slot: int, bucket_ids: Iterable[int]) -> None:
        if not 0 <= slot <= MAX_SLOT:
            raise OverflowError(f"slot {slot} does not fit 32 bits")
        for bucket in bucket_ids:
            members = self._pending.get(bucket)
            if members is None:
                self._pending[bucket] = [slot]
            else:
                members.append(slot)
                if len(members) > self.max_members:
                    del members[0]
                    continue
            self._pending_pairs += 1
        self._live_slots += 1
        if self._pending_pairs >= PENDING_PAIRS:
            self._flush()

    def remove(self, slot: int) -> None:
        self._dead.add(slot)
        self._live_slots -= 1
        if len(self._dead) > max(self._live_slots, 1024):
            self.compact()

    def members(self, bucket_ids: Sequence[int]) -> list[list[int]]:
        """For each bucket id, its live slots, newest first, at most ``max_members``."""
        pending = self._pending
        found: list[list[int]] = [list(pending[bucket]) if bucket in pending else [] for bucket in bucket_ids]
        if self._segments:
            wanted = np.fromiter(bucket_ids, dtype=self.key_dtype, count=len(bucket_ids))
            for segment in reversed(self._segments):  # newest first: a full bucket stops early
                low, high = segment.ranges(wanted)
                for i in np.flatnonzero(high > low):
                    self._newest_live(found[i], segment.slots, int(low[i]), int(high[i]))
        dead = self._dead
        for i, slots in enumerate(found):
            if slots:  # most buckets hold no other article
                if dead:
                    slots = [s for s in slots if s not in dead]
                slots.sort(reverse=True)
                found[i] = slots[:self.max_members]
        return found

    def keys_by_slot(self) -> dict[int, np.ndarray]:
        """Each live slot's bucket ids, as held (a bucket keeps its newest ``max_members``): what the store
        needs to be rebuilt, so articles need not keep their own copy."""
        keys, slots = self._all_live_pairs()
        order = np.lexsort((keys, slots))
        keys, slots = keys[order], slots[order]
        starts = np.flatnonzero(np.diff(slots)) + 1
        return {int(run[0]): run_keys for run, run_keys in zip(np.split(slots, starts), np.split(keys, starts))
                if len(run)}

    def keys_of(self, slot: int) -> np.ndarray:
        """One slot's bucket ids (a scan of the store: for one article now and then, not for all)."""
        keys, slots = self._all_live_pairs()
        return np.sort(keys[slots == slot])

    def _pending_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        keys = np.fromiter((k for k, members in self._pending.items() for _ in members), dtype=self.key_dtype,
                           count=self._pending_pairs)
        slots = np.fromiter((s for members in self._pending.values() for s in members), dtype=np.uint32,
                            count=self._pending_pairs)
        return keys, slots

    def _all_live_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        pending_keys, pending_slots = self._pending_arrays()
        keys = np.concatenate([pending_keys, *(segment.all_keys() for segment in self._segments)])
        slots = np.concatenate([pending_slots, *(segment.slots for segment in self._segments)])
        if self._dead:
            keep = self._alive(slots)
            keys, slots = keys[keep], slots[keep]
        return keys, slots

    def _newest_live(self, found: list[int], slots: np.ndarray, low: int, high: int) -> None:
        """Add the newest live slots of ``slots[low:high]`` (ascending) to ``found``, up to ``max_members``."""
        dead = self._dead
        while high > low and sum(1 for s in found if s not in dead) < self.max_members:
            start = max(low, high - self.max_members)
            found.extend(slots[start:high].tolist())
            high = start

    def renumber(self, live_slots: np.ndarray) -> None:
        """Give each live slot its rank in ``live_slots`` (every live slot, ascending): the same order, so
        each bucket keeps the same members, numbered 0, 1, ..."""
        self.compact()
        for segment in self._segments:
            segment.slots = np.searchsorted(live_slots, segment.slots).astype(np.uint32)

    def compact(self) -> None:
        """Merge everything into one segment without dead pairs."""
        self._flush(merge_all=True)
        self._dead.clear()

    def _flush(self, merge_all: bool = False) -> None:
        if self._pending:
            keys, slots = self._pending_arrays()
            self._pending, self._pending_pairs = {}, 0
            self._segments.append(self._sorted(keys, slots))
        # Binary-counter merging: a segment merges into the one before it once it is half its size or more.
        # Within a bucket, an older segment's slots are all lower: concatenating keeps them ascending.
        while len(self._segments) > 1 and (
                merge_all or len(self._segments[-1]) * 2 >= len(self._segments[-2])):
            older, newer = self._segments[-2], self._segments[-1]
            self._segments[-2:] = [self._sorted(np.concatenate([older.all_keys(), newer.all_keys()]),
                                                np.concatenate([older.slots, newer.slots]))]
        if merge_all and len(self._segments) == 1 and self._dead:
            segment = self._segments[0]
            keep = self._alive(segment.slots)
            self._segments[0] = self._segment(segment.all_keys()[keep], segment.slots[keep])  # still sorted

    def _alive(self, slots: np.ndarray) -> np.ndarray:
        return ~np.isin(slots, np.fromiter(self._dead, dtype=np.uint32, count=len(self._dead)))

    def _segment(self, keys: np.ndarray, slots: np.ndarray) -> PlainSegment | PackedSegment:
        if self.key_dtype == np.uint32 and len(keys) >= PACK_PAIRS:
            return PackedSegment(keys, slots)
        return PlainSegment(keys, slots)

    def _sorted(self, keys: np.ndarray, slots: np.ndarray) -> PlainSegment | PackedSegment:
        """Sorted by bucket (stable: slots stay ascending within one), without dead slots, newest
        ``max_members`` of each bucket."""
        if self._dead:
            keep = self._alive(slots)
            keys, slots = keys[keep], slots[keep]
        order = np.argsort(keys, kind="stable")
        keys, slots = keys[order], slots[order]
        if len(keys) > self.max_members:
            # Each pair's distance from the end of its bucket's run: keep those under max_members.
            run_ends = np.append(np.flatnonzero(keys[1:] != keys[:-1]), len(keys) - 1)
            end_of = np.repeat(run_ends, np.diff(np.concatenate(([-1], run_ends))))
            keep = end_of - np.arange(len(keys)) < self.max_members
            if not keep.all():
                keys, slots = keys[keep], slots[keep]
        return self._segment(keys, slots)
