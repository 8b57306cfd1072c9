"""The arrays behind ``TermIndex``: a sorted key table with co-sorted rule columns, and two-probe bitmaps."""

from __future__ import annotations

from array import array

import numpy as np

__all__ = ["Table", "bitmap_of", "bitmap_bits"]


def bitmap_of(keys: set[int], error_rate: float) -> np.ndarray:
    """A packed two-probe bitmap over ``keys`` (probe positions: two 32-bit slices of each key)."""
    arr = np.fromiter(keys, np.uint64, len(keys))
    nbits = bitmap_bits(arr.size, error_rate)
    mask = np.uint64(nbits - 1)
    # The probe bits go straight into the packed (little-endian) bitmap: a bool array of nbits bytes was the
    # largest transient of a 1M-term build (67-268 MB); this is 1/8 of it, faster, and the same bytes.
    packed = np.zeros(nbits // 8, dtype=np.uint8)
    for positions in (arr & mask, (arr >> np.uint64(32)) & mask):
        np.bitwise_or.at(packed, (positions >> np.uint64(3)).astype(np.int64),
                         np.left_shift(np.uint8(1), (positions & np.uint64(7)).astype(np.uint8)))
    return packed


def bitmap_bits(count: int, error_rate: float) -> int:
    """Power-of-two bit count for a two-probe bitmap with ``count`` keys at ``error_rate``."""
    rate = min(max(error_rate, 1e-6), 0.5)
    want = -2.0 * max(count, 1) / np.log(1.0 - np.sqrt(rate))
    return 1 << max(10, int(np.ceil(np.log2(want))))


class Table:
    """Sorted keys with co-sorted category / file / line columns (16 bytes per entry)."""

    __slots__ = ("keys", "cat", "file", "line")

    def __init__(self, keys: np.ndarray, cat: np.ndarray, file: np.ndarray, line: np.ndarray) -> None:
        self.keys, self.cat, self.file, self.line = keys, cat, file, line

    @classmethod
    def build(cls, rows: list[tuple[int, int, int, int]]) -> Table:
        rows.sort()
        arr = np.array(rows, dtype=np.uint64).reshape(-1, 4)
        return cls(arr[:, 0].copy(), arr[:, 1].astype(np.uint16), arr[:, 2].astype(np.uint32),
                   arr[:, 3].astype(np.uint32))

    @classmethod
    def from_columns(cls, keys: array, cat: array, file: array, line: array) -> Table:
        """The table of rows given as four compact columns, sorted as ``build`` sorts its tuples (key, then
        category, file, line), repeated rows dropped. 18 bytes a row while building instead of a tuple of
        Python ints (~140 bytes) plus a set to deduplicate them."""
        arr = np.empty((len(keys), 4), dtype=np.uint64)
        for i, column in enumerate((keys, cat, file, line)):
            arr[:, i] = np.asarray(column)
        arr = arr[np.lexsort((arr[:, 3], arr[:, 2], arr[:, 1], arr[:, 0]))]
        if len(arr) > 1:
            keep = np.ones(len(arr), dtype=bool)
            keep[1:] = (arr[1:] != arr[:-1]).any(axis=1)
            arr = arr[keep]
        return cls(arr[:, 0].copy(), arr[:, 1].astype(np.uint16), arr[:, 2].astype(np.uint32),
                   arr[:, 3].astype(np.uint32))

    def arrays(self) -> list[np.ndarray]:
        return [self.keys, self.cat, self.file, self.line]

    def lookup(self, keys: list[int]) -> list[tuple[int, int]]:
        """(query index, row) for every row whose key equals a query key."""
        if not keys or not self.keys.size:
            return []
        query = np.array(keys, dtype=np.uint64)
        left = self.keys.searchsorted(query, "left")
        # Most candidates are first-stage false positives: one search and one gather tell "none equal"
        # at half the cost of the second search, which only hits need.
        if not (self.keys.take(left, mode="clip") == query).any():
            return []
        right = self.keys.searchsorted(query, "right")
        return [(q, row) for q in np.flatnonzero(right > left).tolist()
                for row in range(int(left[q]), int(right[q]))]
