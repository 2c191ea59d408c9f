"""Sorted distinct 32-bit hashes in about 3.1 bytes each instead of 4: how the reprint index holds shingles.

An Elias-Fano code with the split fixed at 24 bits: each value's low 24 bits
are kept as 3 bytes, and its high 8 bits as one set bit in a bitmap of
``count + 256`` bits (value ``i``'s bit at ``high_i + i``). For an article's
~200 shingles that is 3 * 200 + 57 = 657 bytes for 800. Exact: the shingle
counts that verdicts read are unchanged. Decoding is a few numpy operations,
done for the candidates an arrival is compared with.

Below ``RAW_BELOW`` values the bitmap costs more than it saves, and values
are kept as they are (``encode`` says which it did).
"""

from __future__ import annotations

import numpy as np

LOW_BITS = 24
HIGH_VALUES = 1 << (32 - LOW_BITS)
RAW_BELOW = 37  # 4n > 3n + (n + 256) / 8 from n = 37


def encode(values: np.ndarray) -> tuple[bytes, bool]:
    """``values``: sorted distinct uint32. Returns (the code, whether it is Elias-Fano rather than raw)."""
    count = len(values)
    if count < RAW_BELOW:
        return values.astype("<u4").tobytes(), False
    values = values.astype(np.uint32)
    bits = np.zeros(count + HIGH_VALUES, dtype=np.uint8)
    bits[(values >> LOW_BITS).astype(np.int64) + np.arange(count)] = 1
    lows = values.astype("<u4").view(np.uint8).reshape(count, 4)[:, :3]
    return np.packbits(bits, bitorder="little").tobytes() + lows.tobytes(), True


def decode(code: bytes, count: int, coded: bool) -> np.ndarray:
    """The uint32 values ``encode`` was given (``count`` of them)."""
    if not coded:
        return np.frombuffer(code, dtype="<u4")
    bitmap_bytes = (count + HIGH_VALUES + 7) // 8
    bits = np.unpackbits(np.frombuffer(code, dtype=np.uint8, count=bitmap_bytes), bitorder="little")
    highs = (np.flatnonzero(bits) - np.arange(count)).astype(np.uint32)
    values = np.zeros((count, 4), dtype=np.uint8)
    values[:, :3] = np.frombuffer(code, dtype=np.uint8, offset=bitmap_bytes).reshape(count, 3)
    return (values.view("<u4").reshape(count) | (highs << LOW_BITS)).astype("<u4")
