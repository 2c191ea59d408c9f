"""The reprint index's bucket store: members by bucket, newest first, bounded, removals, across segments."""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
import pytest

from transforms.lib import bucket_store
from transforms.lib.bucket_store import BucketStore

CAP = 5


def wide_buckets(rng: random.Random, slot: int) -> set[int]:
    """A few shared buckets, one of the slot's own, and one near the top of the 64-bit range."""
    return {rng.randrange(40) for _ in range(3)} | {1_000_000 + slot, (1 << 64) - 1 - rng.randrange(3)}


def fill(store: BucketStore, rng: random.Random, slots: int, remove_every: int = 0,
         draw: Callable[[random.Random, int], set[int]] = wide_buckets) -> tuple[dict[int, list[int]], set[int]]:
    """Add ``slots`` articles to the buckets ``draw`` gives each; returns what each bucket was given, and the
    removed slots."""
    given: dict[int, list[int]] = {}
    removed: set[int] = set()
    for slot in range(slots):
        buckets = draw(rng, slot)
        store.add(slot, buckets)
        for bucket in buckets:
            given.setdefault(bucket, []).append(slot)
        if remove_every and slot % remove_every == 3:
            victim = rng.randrange(slot + 1)
            if victim not in removed:
                store.remove(victim)
                removed.add(victim)
    return given, removed


@pytest.mark.parametrize("pending_pairs", [4, 64, 1 << 16])
def test_without_removals_a_bucket_gives_its_newest_members(monkeypatch, pending_pairs):
    monkeypatch.setattr(bucket_store, "PENDING_PAIRS", pending_pairs)
    store = BucketStore(max_members=CAP)
    given, _ = fill(store, random.Random(pending_pairs), 3000)
    asked = [*range(40), 1_000_000, 1_002_999, 5_000_000, (1 << 64) - 2]
    assert store.members(asked) == [sorted(given.get(b, []), reverse=True)[:CAP] for b in asked]
    store.compact()
    assert store.members(asked) == [sorted(given.get(b, []), reverse=True)[:CAP] for b in asked]


@pytest.mark.parametrize("pending_pairs", [4, 64, 1 << 16])
def test_removed_slots_are_never_returned_and_recent_live_ones_always_are(monkeypatch, pending_pairs):
    monkeypatch.setattr(bucket_store, "PENDING_PAIRS", pending_pairs)
    store = BucketStore(max_members=CAP)
    given, removed = fill(store, random.Random(pending_pairs), 3000, remove_every=2)
    asked = [*range(40), 1_000_500, (1 << 64) - 1]
    for _ in range(2):
        for bucket, members in zip(asked, store.members(asked)):
            assert members == sorted(members, reverse=True) and len(members) <= CAP
            assert not set(members) & removed and set(members) <= set(given.get(bucket, []))
            newest = sorted(given.get(bucket, []), reverse=True)[:CAP]  # never trimmed: fewer than CAP newer
            assert [s for s in newest if s not in removed] == [s for s in members if s >= min(newest)]
        store.compact()
    assert store.members([1_000_003]) == [[] if 3 in removed else [3]]


def test_a_bucket_every_article_falls_into_stays_small():
    store = BucketStore(max_members=128)
    for slot in range(200_000):
        store.add(slot, [7, 1_000_000 + slot])  # bucket 7: boilerplate shared by every article
    store.compact()
    assert len(store) == 200_000 + 128  # each article's own bucket, and the newest 128 of the shared one
    assert store.members([7]) == [list(range(199_999, 199_999 - 128, -1))]


def test_many_removals_compact_the_store():
    store = BucketStore()
    for slot in range(5000):
        store.add(slot, [slot, 7])
    for slot in range(4000):
        store.remove(slot)
    assert len(store) < 2 * 5000 * 0.6  # the dead pairs were dropped, not only hidden
    assert store.members([7]) == [list(range(4999, 4999 - 128, -1))]
    assert store.members([10, 4500]) == [[], [4500]]


def test_slots_must_fit_32_bits():
    with pytest.raises(OverflowError):
        BucketStore().add(1 << 32, [1])


def fill32(store: BucketStore, rng: random.Random, slots: int, remove_every: int = 0
           ) -> tuple[dict[int, list[int]], set[int]]:
    """As ``fill``, with 32-bit ids spread over the whole range (a few shared, one of them at the top)."""
    shared = [rng.randrange(1 << 32) for _ in range(40)] + [(1 << 32) - 1, 0]

    def draw(rng: random.Random, _slot: int) -> set[int]:
        return {rng.choice(shared) for _ in range(3)} | {rng.randrange(1 << 32) for _ in range(4)}

    return fill(store, rng, slots, remove_every, draw)


@pytest.mark.parametrize("widest_gather", [bucket_store._WIDEST_GATHER, 0])
def test_packed_segments_give_the_members_plain_ones_do(monkeypatch, widest_gather):
    """Segments of 16-bit ids and a start table (from PACK_PAIRS pairs) answer as plain segments, through
    merges, removals and compaction; a run too wide to gather is searched id by id."""
    monkeypatch.setattr(bucket_store, "PENDING_PAIRS", 256)
    monkeypatch.setattr(bucket_store, "PACK_PAIRS", 1024)
    monkeypatch.setattr(bucket_store, "_WIDEST_GATHER", widest_gather)
    store = BucketStore(max_members=CAP, key_dtype=np.uint32)
    given, removed = fill32(store, random.Random(5), 4000, remove_every=3)
    assert any(isinstance(s, bucket_store.PackedSegment) for s in store._segments)
    asked = [*given][:300] + [12345, (1 << 32) - 2]
    live = {b: [s for s in sorted(given.get(b, []), reverse=True) if s not in removed] for b in asked}
    for _ in range(2):
        for bucket, members in zip(asked, store.members(asked)):
            assert not set(members) & removed and len(members) <= CAP
            newest = sorted(given.get(bucket, []), reverse=True)[:CAP]
            assert [s for s in newest if s not in removed] == [s for s in members if s >= min(newest, default=0)]
            assert members == live[bucket][:len(members)]
        store.compact()
    assert isinstance(store._segments[0], bucket_store.PackedSegment)
    keys_of = store.keys_by_slot()
    for slot in (3999, 3998, 2500):
        if slot not in removed:
            assert sorted(keys_of[slot].tolist()) == sorted(b for b, m in given.items() if slot in m[-CAP:])
            assert store.keys_of(slot).tolist() == sorted(keys_of[slot].tolist())


def test_a_packed_segment_holds_pairs_in_about_six_bytes():
    rng = np.random.default_rng(3)
    keys = np.sort(rng.integers(0, 1 << 32, size=1 << 21, dtype=np.uint64).astype(np.uint32))
    segment = bucket_store.PackedSegment(keys, np.arange(len(keys), dtype=np.uint32))
    assert np.array_equal(segment.all_keys(), keys)
    assert segment.nbytes < 6.3 * len(keys)
    wanted = np.concatenate([keys[::5000], rng.integers(0, 1 << 32, size=200, dtype=np.uint64).astype(np.uint32)])
    low, high = segment.ranges(wanted)
    assert np.array_equal(low, np.searchsorted(keys, wanted, "left"))
    assert np.array_equal(high, np.searchsorted(keys, wanted, "right"))
