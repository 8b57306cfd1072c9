"""One algorithm's table of listed hashes with multi-index hashing (MIH, Norouzi et al.) for near matches.

A b-bit hash is cut into m chunks; by the pigeonhole principle two hashes within Hamming distance T agree
within floor(T/m) bits on at least one chunk. Each chunk has a bucket table (CSR offsets over all 2^w chunk
values) so a query probes every chunk value within that radius, gathers the candidates and verifies them
with an exact popcount. Recall is exact (no trade-off), for 64-bit phash/dhash and for 256-bit PDQ alike;
chunk width follows log2(n), the optimum. Exact digests are a sorted array behind a bloom filter.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from pybloom_live import BloomFilter

from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_BITS

_MAX_WIDTH = 22  # widest chunk: its bucket offsets take 2^22 x 4 bytes = 16 MB

if hasattr(np, "bitwise_count"):  # numpy >= 2.0
    def _popcount(words: np.ndarray) -> np.ndarray:
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)
else:  # pragma: no cover - numpy 1.x
    _BYTE_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def _popcount(words: np.ndarray) -> np.ndarray:
        as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(words.shape[0], -1)
        return _BYTE_POP[as_bytes].sum(axis=-1, dtype=np.int64)


@lru_cache(maxsize=1024)
def _mask_count(width: int, radius: int) -> int:
    """How many masks ``_masks(width, radius)`` holds: sum of C(width, k) for k <= radius, without building
    them (planning the probe radii asks this for radii whose mask arrays would take gigabytes)."""
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1)) if radius >= 0 else 0


@lru_cache(maxsize=64)  # built once per (width, radius): ~1.8k masks a probe at 10M, in Python
def _masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit value with at most ``radius`` bits set (XOR masks for probing one chunk)."""
    masks = [0]
    for r in range(1, min(radius, width) + 1):
        masks.extend(sum(1 << b for b in bits) for bits in itertools.combinations(range(width), r))
    return np.array(masks, dtype=np.int64)


def _plan(bits: int, n: int) -> list[tuple[int, int]]:
    """Chunks (start bit, width): width ~ log2(n) (the MIH optimum), 8..22 bits, as even as possible."""
    width = int(min(max(math.log2(max(n, 2)), 8), _MAX_WIDTH))
    m = max(1, round(bits / width))
    widths = [bits // m + (1 if i < bits % m else 0) for i in range(m)]
    rest = bits - _MAX_WIDTH * (m - 1)
    if width == _MAX_WIDTH and m > 1 and rest >= 16:
        # Big lists: full-width chunks and one narrower one (64 bits: 22+22+20, not 22+21+21). The probe
        # radii then drop on the narrow chunk, where few lookups cover many rows: 10M hashes at radius 10
        # gather ~15 % fewer candidates, for 4 MB more bucket offsets.
        widths = [_MAX_WIDTH] * (m - 1) + [rest]
    starts = [sum(widths[:i]) for i in range(m)]
    return list(zip(starts, widths, strict=True))


def _chunk(codes: np.ndarray, start: int, width: int) -> np.ndarray:
    """Chunk values of all rows of ``codes`` (n, words) uint64; bit 0 is the most significant of word 0."""
    word, off = divmod(start, 64)
    if off + width <= 64:
        return (codes[:, word] >> np.uint64(64 - off - width)) & np.uint64((1 << width) - 1)
    low_bits = off + width - 64
    high = codes[:, word] & np.uint64((1 << (64 - off)) - 1)
    return (high << np.uint64(low_bits)) | (codes[:, word + 1] >> np.uint64(64 - low_bits))


def _words(hexes: Sequence[str], bits: int) -> np.ndarray:
    raw = bytes.fromhex("".join(hexes))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(len(hexes), bits // 64)


class HashTable:
    """One algorithm's hashes and, per row, the (category, rule file) group and line of its entry, and
    optionally the listed picture (``pic``) and view (``view``: 1 = the transposed picture) of each row."""

    def __init__(self, algorithm: str, arrays: dict[str, np.ndarray], chunks: list[tuple[int, int]],
                 bloom: BloomFilter | None = None) -> None:
        self.algorithm = algorithm
        self.arrays = arrays
        self.codes, self.group, self.line = arrays["codes"], arrays["group"], arrays["line"]
        self.pic = arrays.get("pic")  # per row: 1 + index into ImageIndex.pictures, 0 = none (optional)
        self.view = arrays.get("view")  # per row: 0 = the picture, 1 = its transpose (optional: all 0)
        self.chunks = chunks
        self.bloom = bloom
        self.exact = algorithm in EXACT_ALGORITHMS

    def __len__(self) -> int:
        return len(self.codes)

    def rows_of(self, picture: int) -> np.ndarray:
        """The rows naming listed picture number ``picture`` (1-based; CSR ``picrows``/``picoff``)."""
        offsets = self.arrays.get("picoff")
        if offsets is None or not 0 < picture < len(offsets) - 1:
            return np.empty(0, dtype=np.int64)
        return self.arrays["picrows"][int(offsets[picture]):int(offsets[picture + 1])].astype(np.int64)

    def distances(self, rows: np.ndarray, hexes: Sequence[str]) -> np.ndarray:
        """Hamming distance of each of ``rows`` to the nearest of ``hexes`` (perceptual tables only)."""
        if not len(rows) or not hexes:
            return np.full(len(rows), PERCEPTUAL_BITS[self.algorithm] + 1, dtype=np.int64)
        query = _words([h.lower() for h in hexes], PERCEPTUAL_BITS[self.algorithm])
        return _popcount(self.codes[rows][:, None, :] ^ query[None, :, :]).min(axis=1)

    def find(self, hexes: Sequence[str], radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows within ``radius`` of any of ``hexes`` and their distances (0 for exact algorithms)."""
        found_rows, found_dist = [], []
        for hex_ in hexes:
            if self.exact:
                rows = self._find_exact(hex_)
                found_rows.append(rows)
                found_dist.append(np.zeros(len(rows), dtype=np.int64))
            else:
                rows, dist = self._find_near(hex_, radius)
                found_rows.append(rows)
                found_dist.append(dist)
        return np.concatenate(found_rows), np.concatenate(found_dist)

    def _find_exact(self, hex_: str) -> np.ndarray:
        key = hex_.lower()
        if self.bloom is not None and key not in self.bloom:
            return np.empty(0, dtype=np.int64)  # the common case: a cheap "no" without touching the array
        needle = np.frombuffer(bytes.fromhex(key), dtype=self.codes.dtype)
        lo, hi = np.searchsorted(self.codes, needle, "left")[0], np.searchsorted(self.codes, needle, "right")[0]
        return np.arange(lo, hi, dtype=np.int64)

    def _find_near(self, hex_: str, radius: int) -> tuple[np.ndarray, np.ndarray]:
        bits = PERCEPTUAL_BITS[self.algorithm]
        query = _words([hex_.lower()], bits)
        q = int(hex_, 16)
        radii = _radii(tuple(self.chunks), radius, len(self.codes))
        probes = sum(_mask_count(w, r) for (_, w), r in zip(self.chunks, radii, strict=True) if r >= 0)
        if probes >= len(self.codes):  # tiny list or huge radius: a scan is cheaper than probing
            rows = np.arange(len(self.codes), dtype=np.int64)
        else:
            parts = []
            for i, ((start, width), sub) in enumerate(zip(self.chunks, radii, strict=True)):
                if sub < 0:
                    continue  # the other chunks' radii already cover every hash within ``radius``
                value = (q >> (bits - start - width)) & ((1 << width) - 1)
                probe = _masks(width, sub) ^ value
                offsets = self.arrays[f"off{i}"]
                lo = offsets.take(probe).astype(np.int64)
                lens = offsets.take(probe + 1) - lo
                ends = np.cumsum(lens)
                total = int(ends[-1])
                if not total:
                    continue
                # positions lo[k] .. lo[k]+lens[k]-1 for every probe, in one vectorised step
                pos = np.repeat(lo - ends + lens, lens) + np.arange(total, dtype=np.int64)
                parts.append(self.arrays[f"perm{i}"].take(pos) if i else pos)
            rows = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
        # one gather + one popcount over the candidates only (64-bit codes: a flat take is ~2x faster)
        if self.codes.shape[1] == 1:
            dist = np.bitwise_count(self.codes[:, 0].take(rows) ^ query[0, 0]).astype(np.int64) \
                if hasattr(np, "bitwise_count") else _popcount(self.codes[rows] ^ query)
        else:
            dist = _popcount(self.codes[rows] ^ query)
        keep = dist <= radius
        # a row found through several chunks appears more than once; dedupe the few survivors only
        rows, first = np.unique(rows[keep], return_index=True)
        return rows, dist[keep][first]


@lru_cache(maxsize=256)
def _radii(chunks: tuple[tuple[int, int], ...], radius: int, n: int) -> tuple[int, ...]:
    """Probe radius per chunk. Generalised pigeonhole: if chunk i differs in more than r_i bits for every i,
    the hashes differ in at least sum(r_i + 1) bits, so any r_i with sum(r_i + 1) > radius loses nothing.
    Start from floor(radius/m) everywhere and lower the chunks whose probes bring the most candidates
    (radius 10 over 22+21+21 bits: 3,3,2 instead of 3,3,3 = a third fewer candidates). -1 = skip a chunk."""
    radii = [radius // len(chunks)] * len(chunks)

    def cost(i: int, r: int) -> float:  # expected bucket lookups + candidates when probing chunk i within r
        width = chunks[i][1]
        return 0.0 if r < 0 else _mask_count(width, r) * (1 + n / 2**width)

    while sum(radii) + len(radii) - 1 > radius:  # one more decrement keeps sum(r_i + 1) > radius
        i = max(range(len(radii)), key=lambda k: cost(k, radii[k]) - cost(k, radii[k] - 1))
        radii[i] -= 1
    return tuple(radii)


def _picture_rows(arrays: dict[str, np.ndarray], view: np.ndarray | None, order: np.ndarray) -> None:
    """Rows by listed picture (CSR), to verify a near match on the picture's other rows; and the view of
    each row when some row hashes a transposed picture. Only when entries name pictures."""
    pic = arrays.get("pic")
    if pic is None:
        return
    arrays["picrows"] = np.argsort(pic, kind="stable").astype(np.uint32)
    counts = np.bincount(pic.astype(np.int64), minlength=1)
    arrays["picoff"] = np.concatenate(([0], np.cumsum(counts))).astype(np.uint32)
    if view is not None and view.any():
        arrays["view"] = view[order].astype(np.uint8)


def build_table(algorithm: str, hexes: list[str], group: np.ndarray, line: np.ndarray,
                pic: np.ndarray | None = None, view: np.ndarray | None = None) -> HashTable:
    if algorithm in EXACT_ALGORITHMS:
        size = HASH_HEX_LENGTH[algorithm] // 2
        keys = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=f"S{size}")
        order = np.argsort(keys, kind="stable")
        bloom = BloomFilter(capacity=max(len(hexes), 1), error_rate=0.001)
        for h in hexes:
            bloom.add(h)
        arrays = {"codes": keys[order], "group": group[order], "line": line[order]}
        if pic is not None:
            arrays["pic"] = pic[order]
        _picture_rows(arrays, view, order)
        return HashTable(algorithm, arrays, [], bloom)
    bits = PERCEPTUAL_BITS[algorithm]
    codes = _words(hexes, bits)
    chunks = _plan(bits, len(hexes))
    first = _chunk(codes, *chunks[0])
    order = np.argsort(first, kind="stable")  # rows sorted by chunk 0, so chunk 0 needs no permutation
    codes = np.ascontiguousarray(codes[order])
    arrays = {"codes": codes, "group": group[order], "line": line[order]}
    if pic is not None:  # only when some entry names its picture: 4 bytes a row otherwise saved
        arrays["pic"] = pic[order]
    for i, (start, width) in enumerate(chunks):
        values = _chunk(codes, start, width).astype(np.int64)
        counts = np.bincount(values, minlength=1 << width)
        arrays[f"off{i}"] = np.concatenate(([0], np.cumsum(counts))).astype(np.uint32)
        if i:
            arrays[f"perm{i}"] = np.argsort(values, kind="stable").astype(np.uint32)
    _picture_rows(arrays, view, order)
    return HashTable(algorithm, arrays, chunks)

