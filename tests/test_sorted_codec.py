"""The shingle code the reprint index keeps gives back exactly the hashes it was given, in less space."""

from __future__ import annotations

import numpy as np
import pytest

from transforms.lib import sorted_codec


@pytest.mark.parametrize("value_bits, bytes_a_value", [(32, 3.3), (24, 2.3)])
@pytest.mark.parametrize("count", [0, 1, 17, 18, 36, 37, 200, 5000, 70_000])
def test_sorted_distinct_hashes_round_trip(count, value_bits, bytes_a_value):
    rng = np.random.default_rng(count)
    values = np.unique(rng.integers(0, 1 << value_bits, size=count * 2, dtype=np.uint64).astype(np.uint32))[:count]
    code, coded = sorted_codec.encode(values, value_bits)
    decoded = sorted_codec.decode(code, len(values), coded, value_bits)
    assert decoded.dtype == np.dtype("<u4") and np.array_equal(decoded, values)
    assert coded == (len(values) >= sorted_codec.raw_below(value_bits))
    assert len(code) <= 4 * len(values)
    if len(values) >= 200:
        assert len(code) < bytes_a_value * len(values)  # the low bytes and a bitmap of (count + 256) bits


def test_raw_below_is_where_the_code_gets_smaller():
    assert (sorted_codec.raw_below(32), sorted_codec.raw_below(24)) == (37, 18)


@pytest.mark.parametrize("value_bits", [32, 24])
def test_the_extremes_and_runs_of_one_high_byte_survive(value_bits):
    top = (1 << value_bits) - 1
    step = 1 << (value_bits - 8)
    values = np.array([0, 1, 2, step - 1, step, *range(0x7F * step, 0x7F * step + 0x40), top - 1, top],
                      dtype=np.uint32)
    code, coded = sorted_codec.encode(values, value_bits)
    assert coded and np.array_equal(sorted_codec.decode(code, len(values), coded, value_bits), values)
