"""The reprint index's bucket store: members by bucket, newest first, bounded, removals, across segments."""

from __future__ import annotations

import random

import pytest

from transforms.lib import bucket_store
from transforms.lib.bucket_store import BucketStore


def reference_members(pairs: dict[int, list[int]], dead: set[int], bucket: int, limit: int) -> list[int]:
    return sorted((s for s in pairs.get(bucket, []) if s not in dead), reverse=True)[:limit]


@pytest.mark.parametrize("pending_pairs", [4, 64, 1 << 16])
def test_members_match_a_dict_of_lists_through_flushes_merges_and_removals(monkeypatch, pending_pairs):
    monkeypatch.setattr(bucket_store, "PENDING_PAIRS", pending_pairs)
    rng = random.Random(pending_pairs)
    store, pairs, dead = BucketStore(max_members=5), {}, set()
    for slot in range(3000):
        buckets = {rng.randrange(400) for _ in range(6)} | {1_000_000 + slot, (1 << 64) - 1 - rng.randrange(3)}
        store.add(slot, buckets)
        for bucket in buckets:
            pairs.setdefault(bucket, []).append(slot)
        if slot % 7 == 3:
            victim = rng.randrange(slot + 1)
            if victim not in dead:
                store.remove(victim)
                dead.add(victim)
        if slot % 250 == 0:
            asked = [rng.randrange(400) for _ in range(20)] + [1_000_000 + slot, 5_000_000, (1 << 64) - 2]
            assert store.members(asked) == [reference_members(pairs, dead, b, 5) for b in asked]
    if pending_pairs < 1 << 16:
        assert store.nbytes() > 0  # pairs moved into sorted segments
    store.compact()
    asked = list(range(400)) + [(1 << 64) - 1]
    assert store.members(asked) == [reference_members(pairs, dead, b, 5) for b in asked]
    assert len(store) == sum(len([s for s in v if s not in dead]) for v in pairs.values())


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
