"""The reprint index's bucket store: members by bucket, newest first, bounded, removals, across segments."""

from __future__ import annotations

import random

import pytest

from transforms.lib import bucket_store
from transforms.lib.bucket_store import BucketStore

CAP = 5


def fill(store: BucketStore, rng: random.Random, slots: int, remove_every: int = 0
         ) -> tuple[dict[int, list[int]], set[int]]:
    """Add ``slots`` articles to a few shared buckets and their own; returns what each bucket was given, and
    the removed slots."""
    given: dict[int, list[int]] = {}
    removed: set[int] = set()
    for slot in range(slots):
        buckets = {rng.randrange(40) for _ in range(3)} | {1_000_000 + slot, (1 << 64) - 1 - rng.randrange(3)}
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
