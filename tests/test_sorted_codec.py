"""The shingle code the reprint index keeps gives back exactly the hashes it was given, in less space."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.lib import sorted_codec


@pytest.mark.parametrize("count", [0, 1, 36, 37, 200, 5000, 70_000])
def test_sorted_distinct_hashes_round_trip(count):
    rng = np.random.default_rng(count)
    values = np.unique(rng.integers(0, 1 << 32, size=count * 2, dtype=np.uint64).astype(np.uint32))[:count]
    code, coded = sorted_codec.encode(values)
    decoded = sorted_codec.decode(code, len(values), coded)
    assert decoded.dtype == np.dtype("<u4") and np.array_equal(decoded, values)
    assert coded == (len(values) >= sorted_codec.RAW_BELOW)
    assert len(code) <= 4 * len(values)
    if len(values) >= 200:
        assert len(code) < 3.3 * len(values)  # 3 bytes a value and a bitmap of (count + 256) bits


def test_the_extremes_and_runs_of_one_high_byte_survive():
    values = np.array([0, 1, 2, 0xFFFFFF, 0x1000000, *range(0x7F000000, 0x7F000040), 0xFFFFFFFE, 0xFFFFFFFF],
                      dtype=np.uint32)
    code, coded = sorted_codec.encode(values)
    assert coded and np.array_equal(sorted_codec.decode(code, len(values), coded), values)
