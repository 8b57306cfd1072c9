"""The known-image-hash index (hashing itself is in ``image_hashing.py``, re-exported here).

Near matching uses multi-index hashing (MIH, Norouzi et al.): a b-bit hash is cut into m chunks; by the
pigeonhole principle two hashes within Hamming distance T agree within floor(T/m) bits on at least one chunk.
Each chunk has a bucket table (CSR offsets over all 2^w chunk values) so a query probes every chunk value
within that radius, gathers the candidates and verifies them with an exact popcount. Recall is exact (no
trade-off), for 64-bit phash/dhash and for 256-bit PDQ alike; chunk width follows log2(n), the optimum.

Dihedral variants (flips, 90° rotations) are matched by hashing the *query* image 8 ways
(`compute_query_hashes`), not by storing 8 variants per listed hash: 8x the index memory for 10M hashes
would break the 256 MB budget, while 8x hashing of a thumbnail costs a few milliseconds, once per thumbnail.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from pybloom_live import BloomFilter

from filter_proxy.matchers.image_hashing import (  # re-exported: hashing is part of this module's API
    CROP_ALGORITHMS,
    ENROLL_CENTRE_CROPS,
    ENROLL_SIDE_CROP,
    ImageDecodeError,
    PixelBudget,
    PixelBudgetExceeded,
    compute_enrollment_hashes,
    compute_hashes,
    compute_query_hashes,
    decode_frames,
    decode_image,
    enrollment_crops,
    exact_digests,
    pdq_available,
    trim_borders,
    uncrop,
)
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_BITS

__all__ = ["CROP_ALGORITHMS", "ENROLL_CENTRE_CROPS", "ENROLL_SIDE_CROP", "ImageDecodeError", "ImageEntry",
           "ImageIndex", "ImageMatch", "PixelBudget", "PixelBudgetExceeded", "agreeing_matches",
           "compute_enrollment_hashes", "compute_hashes", "compute_query_hashes", "decode_frames", "decode_image",
           "enrollment_crops", "exact_digests", "pdq_available", "picture_id", "trim_borders", "uncrop",
           "validate_image_hash"]

_ORDER = {a: i for i, a in enumerate(("sha256", "sha1", "md5", "pdq", "phash", "dhash"))}
_MAGIC = b"FPIMGIX1"
_MAX_WIDTH = 22  # widest chunk: its bucket offsets take 2^22 x 4 bytes = 16 MB


@dataclass(frozen=True, slots=True)
class ImageEntry:
    algorithm: str
    hex: str
    category: str
    rule_id: str
    picture: str = ""  # the listed picture this hash belongs to (``pic:<id>`` in the note), for agreement


@dataclass(frozen=True, slots=True)
class ImageMatch:
    category: str
    rule_id: str
    algorithm: str
    distance: int


_PICTURE = re.compile(r"(?:^|[\s;|])pic:([A-Za-z0-9_.-]+)")


def picture_id(note: str) -> str:
    """The listed picture a hash-list row belongs to: the ``pic:<id>`` token of its note column ("" when
    none). `hashes add` writes one per picture, so rows of one picture (whole, crops, each algorithm)
    share it; ``images.require_agreement`` counts algorithms that agree on one such picture."""
    found = _PICTURE.search(note)
    return found.group(1) if found else ""


def validate_image_hash(algorithm: str, hex: str) -> str | None:
    """The reason a hash-list entry is invalid, or None when it is valid (case-insensitive hex)."""
    if algorithm not in HASH_HEX_LENGTH:
        return f"unknown image hash algorithm {algorithm!r} (known: {', '.join(HASH_HEX_LENGTH)})"
    want = HASH_HEX_LENGTH[algorithm]
    if len(hex) != want:
        return f"{algorithm} hash must be {want} hex digits, got {len(hex)}"
    if re.fullmatch(r"[0-9a-fA-F]+", hex) is None:
        return f"{algorithm} hash is not hexadecimal"
    return None


# --- the index -------------------------------------------------------------------------------------------
if hasattr(np, "bitwise_count"):  # numpy >= 2.0
    def _popcount(words: np.ndarray) -> np.ndarray:
        return np.bitwise_count(words).sum(axis=-1, dtype=np.int64)
else:  # pragma: no cover - numpy 1.x
    _BYTE_POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)

    def _popcount(words: np.ndarray) -> np.ndarray:
        as_bytes = np.ascontiguousarray(words).view(np.uint8).reshape(words.shape[0], -1)
        return _BYTE_POP[as_bytes].sum(axis=-1, dtype=np.int64)


@lru_cache(maxsize=64)
@lru_cache(maxsize=1024)
def _mask_count(width: int, radius: int) -> int:
    """How many masks ``_masks(width, radius)`` holds: sum of C(width, k) for k <= radius, without building
    them (planning the probe radii asks this for radii whose mask arrays would take gigabytes)."""
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1)) if radius >= 0 else 0


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


class _Table:
    """One algorithm's hashes and, per row, the (category, rule file) group and line of its entry."""

    def __init__(self, algorithm: str, arrays: dict[str, np.ndarray], chunks: list[tuple[int, int]],
                 bloom: BloomFilter | None = None) -> None:
        self.algorithm = algorithm
        self.arrays = arrays
        self.codes, self.group, self.line = arrays["codes"], arrays["group"], arrays["line"]
        self.pic = arrays.get("pic")  # per row: 1 + index into ImageIndex.pictures, 0 = none (optional)
        self.chunks = chunks
        self.bloom = bloom
        self.exact = algorithm in EXACT_ALGORITHMS

    def __len__(self) -> int:
        return len(self.codes)

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


def _build_table(algorithm: str, hexes: list[str], group: np.ndarray, line: np.ndarray,
                 pic: np.ndarray | None = None) -> _Table:
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
        return _Table(algorithm, arrays, [], bloom)
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
    return _Table(algorithm, arrays, chunks)


_RULE_LINE = re.compile(r"^(.*):(\d+)$")


class ImageIndex:
    """Known image hashes of all categories, one table per algorithm."""

    def __init__(self, groups: list[tuple[str, str]], tables: dict[str, _Table],
                 pictures: Sequence[str] = ()) -> None:
        self.groups = groups  # (category, rule file); a row's rule_id is "<file>:<line>"
        self.tables = tables
        self.pictures = list(pictures)  # picture ids named by entries (``pic:<id>``), for agreement
        # How many perceptual algorithms must agree on one listed picture (images.require_agreement); the
        # loader sets it from the policy. Exact digests always count alone.
        self.require_agreement = 1

    @classmethod
    def build(cls, entries: Iterable[ImageEntry]) -> ImageIndex:
        group_ids: dict[tuple[str, str], int] = {}
        picture_ids: dict[str, int] = {}
        per_algo: dict[str, tuple[list[str], list[int], list[int], list[int]]] = {}
        for e in entries:
            reason = validate_image_hash(e.algorithm, e.hex)
            if reason:
                raise ValueError(f"{e.rule_id}: {reason}")
            m = _RULE_LINE.match(e.rule_id)
            prefix, line = (m.group(1), int(m.group(2))) if m else (e.rule_id, 0)
            gid = group_ids.setdefault((e.category, prefix), len(group_ids))
            hexes, groups, lines, pics = per_algo.setdefault(e.algorithm, ([], [], [], []))
            hexes.append(e.hex.lower())
            groups.append(gid)
            lines.append(line)
            pics.append(picture_ids.setdefault(e.picture, len(picture_ids) + 1) if e.picture else 0)
        # the smallest group dtype: 1 byte per row for up to 255 rule files instead of 4 (10M rows: 30 MB)
        gtype = np.uint8 if len(group_ids) < 256 else np.uint16 if len(group_ids) < 65536 else np.uint32
        tables = {
            algo: _build_table(algo, hexes, np.array(groups, dtype=gtype), np.array(lines, dtype=np.uint32),
                               np.array(pics, dtype=np.uint32) if picture_ids else None)
            for algo, (hexes, groups, lines, pics) in per_algo.items()
        }
        return cls(list(group_ids), tables, list(picture_ids))

    @property
    def algorithms(self) -> set[str]:
        return set(self.tables)

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def _rule_id(self, table: _Table, row: int) -> tuple[str, str]:
        category, prefix = self.groups[int(table.group[row])]
        line = int(table.line[row])
        return category, f"{prefix}:{line}" if line else prefix

    def _found(self, algo: str, value: str | Sequence[str], threshold: Callable[[str, str], int]
               ) -> Iterable[tuple[tuple[int, int, int], ImageMatch, int]]:
        """(sort key, match, picture number) of every row of ``algo`` within its category's threshold."""
        table = self.tables.get(algo)
        if table is None or not value:
            return
        hexes = [value] if isinstance(value, str) else list(value)
        hexes = [h for h in hexes if validate_image_hash(algo, h) is None]
        categories = {c for c, _ in self.groups}
        limits = {c: (0 if table.exact else threshold(c, algo)) for c in categories}
        radius = max(limits.values(), default=0)
        if not hexes or radius < 0:
            return
        rows, dists = table.find(hexes, radius)
        for row, dist in zip(rows.tolist(), dists.tolist(), strict=True):
            category, rule_id = self._rule_id(table, row)
            if dist <= limits[category]:
                picture = int(table.pic[row]) if table.pic is not None else 0
                yield (dist, _ORDER.get(algo, 99), row), ImageMatch(category, rule_id, algo, dist), picture

    def votes(self, algo: str, value: str | Sequence[str], threshold: Callable[[str, str], int]
              ) -> dict[tuple[str, str], tuple[tuple[int, int, int], ImageMatch]]:
        """The closest row per (category, listed picture id) of one algorithm; rows naming no picture are
        left out (they can agree with nothing)."""
        out: dict[tuple[str, str], tuple[tuple[int, int, int], ImageMatch]] = {}
        for key, found, picture in self._found(algo, value, threshold):
            if picture:
                slot = (found.category, self.pictures[picture - 1])
                if slot not in out or key < out[slot][0]:
                    out[slot] = (key, found)
        return out

    def matches(self, hashes: Mapping[str, str | Sequence[str]],
                threshold: Callable[[str, str], int]) -> list[ImageMatch]:
        """The closest match per category (closest first). ``hashes`` maps algorithm -> hex, or -> several
        hexes (dihedral variants from compute_query_hashes). Unknown algorithms are ignored. With
        ``require_agreement`` > 1, a perceptual match counts only when that many algorithms are within
        their thresholds of rows naming the same listed picture (same category and ``pic:`` id)."""
        best: dict[str, tuple[tuple[int, int, int], ImageMatch]] = {}
        if self.require_agreement > 1:
            for found in agreeing_matches({a: self for a in self.tables}, hashes, threshold, self.require_agreement):
                best[found.category] = ((found.distance, _ORDER.get(found.algorithm, 99), 0), found)
            hashes = {a: v for a, v in hashes.items() if a in EXACT_ALGORITHMS}
        for algo, value in hashes.items():
            for key, found, _ in self._found(algo, value, threshold):
                if found.category not in best or key < best[found.category][0]:
                    best[found.category] = (key, found)
        return [m for _, m in sorted(best.values(), key=lambda kv: kv[0])]

    def match(self, hashes: Mapping[str, str | Sequence[str]],
              threshold: Callable[[str, str], int]) -> ImageMatch | None:
        """The best match (smallest distance; exact digests win ties), or None."""
        found = self.matches(hashes, threshold)
        return found[0] if found else None

    # --- serialisation: a JSON header and 8-byte aligned raw arrays, read back with np.frombuffer ---------
    def to_bytes(self) -> bytes:
        blobs: list[bytes] = []
        offset = 0
        meta = []

        def put(raw: bytes) -> list[int]:
            nonlocal offset
            pad = (-len(raw)) % 8
            blobs.append(raw + b"\0" * pad)
            at, offset = offset, offset + len(raw) + pad
            return [at, len(raw)]

        for algo, table in self.tables.items():
            arrays = {k: [*put(a.tobytes()), a.dtype.str, list(a.shape)] for k, a in table.arrays.items()}
            bloom = None
            if table.bloom is not None:
                buf = io.BytesIO()
                table.bloom.tofile(buf)
                bloom = put(buf.getvalue())
            meta.append({"algorithm": algo, "chunks": table.chunks, "arrays": arrays, "bloom": bloom})
        header = json.dumps({"groups": self.groups, "tables": meta, "pictures": self.pictures}).encode()
        header += b" " * ((-len(header) - len(_MAGIC) - 4) % 8)
        return b"".join([_MAGIC, struct.pack("<I", len(header)), header, *blobs])

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> ImageIndex:
        """Arrays are views into ``data`` (no copy): pass a memoryview of an mmap to load lazily."""
        view = memoryview(data)
        if bytes(view[: len(_MAGIC)]) != _MAGIC:
            raise ValueError("not an image index (bad magic)")
        (size,) = struct.unpack_from("<I", view, len(_MAGIC))
        base = len(_MAGIC) + 4 + size
        header = json.loads(bytes(view[len(_MAGIC) + 4 : base]))
        tables = {}
        for t in header["tables"]:
            arrays = {}
            for key, (at, length, dtype, shape) in t["arrays"].items():
                dt = np.dtype(dtype)
                arr = np.frombuffer(view, dtype=dt, count=length // dt.itemsize, offset=base + at)
                arrays[key] = arr.reshape(shape)
            bloom = None
            if t["bloom"]:
                at, length = t["bloom"]
                bloom = BloomFilter.fromfile(io.BytesIO(bytes(view[base + at : base + at + length])))
            tables[t["algorithm"]] = _Table(t["algorithm"], arrays, [tuple(c) for c in t["chunks"]], bloom)
        return cls([tuple(g) for g in header["groups"]], tables, header.get("pictures", []))


def agreeing_matches(indexes: Mapping[str, ImageIndex], hashes: Mapping[str, str | Sequence[str]],
                     threshold: Callable[[str, str], int], required: int) -> list[ImageMatch]:
    """Perceptual matches on which at least ``required`` algorithms agree: each within its threshold of a
    row of the same category naming the same listed picture. One match per category (the agreement with
    the smallest worst distance), reported by its farthest algorithm."""
    tally: dict[tuple[str, str], list[tuple[tuple[int, int, int], ImageMatch]]] = {}
    for algo, value in hashes.items():
        index = indexes.get(algo)
        if algo not in PERCEPTUAL_BITS or index is None:
            continue
        for slot, vote in index.votes(algo, value, threshold).items():
            tally.setdefault(slot, []).append(vote)
    best: dict[str, tuple[tuple[int, int, int], ImageMatch]] = {}
    for (category, _), found in tally.items():
        if len(found) >= required:
            key, match = max(found, key=lambda kv: kv[0])  # as far as its worst algorithm
            if category not in best or key < best[category][0]:
                best[category] = (key, match)
    return [m for _, m in sorted(best.values(), key=lambda kv: kv[0])]
