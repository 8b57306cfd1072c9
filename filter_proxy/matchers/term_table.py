"""The arrays behind ``TermIndex``: a sorted key table whose rows name their rule by number, the rule
table (category, file, line of each numbered rule), and two-probe bitmaps.

Sizes (format ``FPTERMS4``): a row is 12 bytes (``uint64`` key + ``uint32`` rule number); a rule is one
``uint32`` line plus its run of equal (category, file), so every form of one entry (its phrase, joined and
look-alike forms, wildcard cuts) shares one rule. Format 2 stored category, file and line on every row
(18 bytes).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Table", "Rules", "bitmap_of", "bitmap_bits", "unique_keys", "unique_pairs"]


def unique_keys(keys: np.ndarray | Iterable[int]) -> np.ndarray:
    """The distinct ``uint64`` keys, sorted. By sorting: numpy 2's hash-based ``np.unique`` took 2.5 s for
    3M keys, a sort and a comparison 0.05 s."""
    arr = np.sort(keys.astype(np.uint64) if isinstance(keys, np.ndarray) else np.fromiter(keys, np.uint64))
    if arr.size > 1:
        keep = np.empty(arr.size, dtype=bool)
        keep[0] = True
        np.not_equal(arr[1:], arr[:-1], out=keep[1:])
        arr = arr[keep]
    return arr


def bitmap_of(keys: np.ndarray | set[int], error_rate: float, count: int | None = None) -> np.ndarray:
    """A packed two-probe bitmap over ``keys`` (probe positions: two 32-bit slices of each key), sized for
    ``count`` distinct keys (default: counted here). Repeated keys set the same bits, so a caller that knows
    the distinct count may pass keys with repeats."""
    arr = keys if isinstance(keys, np.ndarray) else np.fromiter(keys, np.uint64, len(keys))
    arr = arr.astype(np.uint64, copy=False)
    if count is None:
        count = int(unique_keys(arr).size)
    nbits = bitmap_bits(count, error_rate)
    mask = np.uint64(nbits - 1)
    # The probe bits go straight into the packed (little-endian) bitmap, a chunk of keys at a time: a bool
    # array of nbits bytes, or every position at once, was the largest transient of a 1M-term build.
    packed = np.zeros(nbits // 8, dtype=np.uint8)
    for start in range(0, arr.size, _BITMAP_CHUNK):
        part = arr[start:start + _BITMAP_CHUNK]
        for positions in (part & mask, (part >> np.uint64(32)) & mask):
            np.bitwise_or.at(packed, (positions >> np.uint64(3)).astype(np.intp),
                             np.left_shift(np.uint8(1), (positions & np.uint64(7)).astype(np.uint8)))
    return packed


_BITMAP_CHUNK = 1 << 18  # 8 bytes a key in each of ~4 transients: ~8 MB, not ~32


def bitmap_bits(count: int, error_rate: float) -> int:
    """Power-of-two bit count for a two-probe bitmap with ``count`` keys at ``error_rate``."""
    rate = min(max(error_rate, 1e-6), 0.5)
    want = -2.0 * max(count, 1) / np.log(1.0 - np.sqrt(rate))
    return 1 << max(10, int(np.ceil(np.log2(want))))


class Rules:
    """Numbered rules: ``line[r]`` and runs of equal (category, file) starting at ``starts`` (rule numbers
    of one file are consecutive, so a 1M-entry list holds one run per file, 4 bytes a rule)."""

    __slots__ = ("line", "starts", "cat", "file", "_starts")

    def __init__(self, line: np.ndarray, starts: np.ndarray, cat: np.ndarray, file: np.ndarray) -> None:
        self.line, self.starts, self.cat, self.file = line, starts, cat, file
        self._starts = starts.tolist()

    @classmethod
    def of(cls, triples: Sequence[tuple[int, int, int]] | Iterable[tuple[int, int, int]]) -> Rules:
        """Rules numbered in the order given, from (category, file, line) triples."""
        line, starts, cat, file = array("I"), array("I"), array("H"), array("I")
        last: tuple[int, int] | None = None
        for number, (c, f, n) in enumerate(triples):
            line.append(n)
            if (c, f) != last:
                starts.append(number)
                cat.append(c)
                file.append(f)
                last = (c, f)
        return cls(np.asarray(line, np.uint32), np.asarray(starts, np.uint32), np.asarray(cat, np.uint16),
                   np.asarray(file, np.uint32))

    @classmethod
    def of_columns(cls, cat: array, file: array, line: array) -> Rules:
        """``of`` for compact per-rule columns (a streaming build): runs found with numpy."""
        c = np.frombuffer(cat, dtype=np.uint16) if len(cat) else np.zeros(0, np.uint16)
        f = np.frombuffer(file, dtype=np.uint32) if len(file) else np.zeros(0, np.uint32)
        lines = np.frombuffer(line, dtype=np.uint32).copy() if len(line) else np.zeros(0, np.uint32)
        change = np.ones(c.size, dtype=bool)
        if c.size > 1:
            change[1:] = (c[1:] != c[:-1]) | (f[1:] != f[:-1])
        starts = np.flatnonzero(change)
        return cls(lines, starts.astype(np.uint32), c[starts].copy(), f[starts].copy())

    def __len__(self) -> int:
        return int(self.line.size)

    def triple(self, rule: int) -> tuple[int, int, int]:
        """(category, file, line) of rule number ``rule``."""
        run = bisect_right(self._starts, rule) - 1
        return int(self.cat[run]), int(self.file[run]), int(self.line[rule])

    def arrays(self) -> list[np.ndarray]:
        return [self.line, self.starts, self.cat, self.file]


class _Column:
    """``table.cat[row]`` / ``file[row]`` / ``line[row]`` of a table whose rows hold rule numbers."""

    __slots__ = ("_table", "_part")

    def __init__(self, table: Table, part: int) -> None:
        self._table, self._part = table, part

    def __getitem__(self, row: int) -> int:
        return self._table.triple(int(row))[self._part]


class Table:
    """Sorted ``uint64`` keys with a co-sorted ``uint32`` rule number per row (12 bytes a row)."""

    __slots__ = ("keys", "rule", "rules")

    def __init__(self, keys: np.ndarray, rule: np.ndarray, rules: Rules) -> None:
        self.keys, self.rule, self.rules = keys, rule, rules

    @classmethod
    def build(cls, rows: list[tuple[int, int, int, int]]) -> Table:
        """The table of (key, category, file, line) rows: one rule per distinct (category, file, line)."""
        triples = sorted({(c, f, n) for _, c, f, n in rows})
        number = {t: i for i, t in enumerate(triples)}
        keys = np.fromiter((r[0] for r in rows), np.uint64, len(rows))
        rule = np.fromiter((number[(c, f, n)] for _, c, f, n in rows), np.uint32, len(rows))
        return cls.from_columns(keys, rule, Rules.of(triples))

    @classmethod
    def from_columns(cls, keys: np.ndarray | array, rule: np.ndarray | array, rules: Rules, own: bool = False) -> Table:
        """Rows sorted by key, then rule number; repeated (key, rule) rows dropped. ``own``: the caller keeps
        no reference to ``keys`` / ``rule``, so they are sorted in place (no second copy of a 1M-row table)."""
        k = np.asarray(keys, dtype=np.uint64)
        r = np.asarray(rule, dtype=np.uint32)
        del keys, rule
        order = np.lexsort((r, k))
        if own and k.flags.writeable and r.flags.writeable:
            k[:] = k[order]
            r[:] = r[order]
        else:
            k, r = k[order], r[order]
        del order
        k, r = unique_pairs(k, r)
        return cls(k, r, rules)

    def triple(self, row: int) -> tuple[int, int, int]:
        """(category, file, line) of the rule of ``row``."""
        return self.rules.triple(int(self.rule[row]))

    # Read-only column views for code that reads ``table.cat[row]`` (format 2 stored them per row).
    @property
    def cat(self) -> _Column:
        return _Column(self, 0)

    @property
    def file(self) -> _Column:
        return _Column(self, 1)

    @property
    def line(self) -> _Column:
        return _Column(self, 2)

    def arrays(self) -> list[np.ndarray]:
        return [self.keys, self.rule]

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


def unique_pairs(k: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (key, rule) columns without repeated pairs (the columns as they are when none repeats)."""
    if k.size > 1:
        keep = np.empty(k.size, dtype=bool)
        keep[0] = True
        np.not_equal(k[1:], k[:-1], out=keep[1:])
        keep[1:] |= r[1:] != r[:-1]
        if not keep.all():
            return k[keep], r[keep]
    return k, r
