"""Sorted distinct hashes in about 2.1 bytes each (24-bit values) or 3.1 (32-bit) instead of 4: how the
reprint index holds shingles.

An Elias-Fano code with the high part fixed at 8 bits: each value's low
``value_bits - 8`` bits are kept as whole bytes, and its high 8 bits as one
set bit in a bitmap of ``count + 256`` bits (value ``i``'s bit at
``high_i + i``). For an article's ~200 shingles compared on 24 bits that is
2 * 200 + 57 = 457 bytes for 800. Exact: the shingle counts that verdicts
read are unchanged. Decoding is a few numpy operations, done for the
candidates an arrival is compared with.

Below ``raw_below(value_bits)`` values the bitmap costs more than it saves,
and values are kept as 4-byte integers (``encode`` says which it did).
"""

from __future__ import annotations

import numpy as np

HIGH_BITS = 8
HIGH_VALUES = 1 << HIGH_BITS


def raw_below(value_bits: int) -> int:
    """The count from which the code is smaller than 4 bytes a value: 4n > low_bytes * n + (n + 256) / 8."""
    low_bytes = (value_bits - HIGH_BITS) // 8
    return HIGH_VALUES // (8 * (4 - low_bytes) - 1) + 1


def encode(values: np.ndarray, value_bits: int = 32) -> tuple[bytes, bool]:
    """``values``: sorted distinct unsigned integers below ``2 ** value_bits`` (24 or 32).
    Returns (the code, whether it is Elias-Fano rather than raw)."""
    count = len(values)
    if count < raw_below(value_bits):
        return values.astype("<u4").tobytes(), False
    low_bits = value_bits - HIGH_BITS
    values = values.astype(np.uint32)
    bits = np.zeros(count + HIGH_VALUES, dtype=np.uint8)
    bits[(values >> low_bits).astype(np.int64) + np.arange(count)] = 1
    lows = values.astype("<u4").view(np.uint8).reshape(count, 4)[:, :low_bits // 8]
    return np.packbits(bits, bitorder="little").tobytes() + lows.tobytes(), True


def decode(code: bytes, count: int, coded: bool, value_bits: int = 32) -> np.ndarray:
    """The uint32 values ``encode`` was given (``count`` of them)."""
    if not coded:
        return np.frombuffer(code, dtype="<u4")
    low_bits = value_bits - HIGH_BITS
    low_bytes = low_bits // 8
    bitmap_bytes = (count + HIGH_VALUES + 7) // 8
    bits = np.unpackbits(np.frombuffer(code, dtype=np.uint8, count=bitmap_bytes), bitorder="little")
    highs = (np.flatnonzero(bits) - np.arange(count)).astype(np.uint32)
    values = np.zeros((count, 4), dtype=np.uint8)
    values[:, :low_bytes] = np.frombuffer(code, dtype=np.uint8, offset=bitmap_bytes).reshape(count, low_bytes)
    return (values.view("<u4").reshape(count) | (highs << low_bits)).astype("<u4")
