"""Image hashes (imagehash phash/dhash, optional PDQ, exact digests) and the known-hash index.

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

import hashlib
import importlib.util
import io
import itertools
import json
import math
import re
import struct
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import imagehash
import numpy as np
from PIL import Image
from pybloom_live import BloomFilter

from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_BITS

_ORDER = {a: i for i, a in enumerate(("sha256", "sha1", "md5", "pdq", "phash", "dhash"))}
_VARIANT_SIDE = 256  # variants are hashed from a copy no larger than this (thumbnails usually are)
_DRAFT_SIDE = 512  # large JPEGs are decoded at a DCT scale that keeps at least this many pixels a side
_WORK_SIDE = 1024  # larger decoded frames are shrunk to this before any hashing step
ENROLL_CENTRE_CROPS = (0.05, 0.10)  # shares cut from every side by `hashes add` crops
ENROLL_SIDE_CROP = 0.08  # share cut from one side
# Algorithms whose crops are enrolled. Not dhash: its crops put different photographs within dhash 9 of each
# other on the quality benchmark (39 false matches of 27,560 pairs, 0 without them); dhash of the whole picture
# still catches what pHash misses (a corner watermark).
CROP_ALGORITHMS = ("phash", "pdq")
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


class ImageDecodeError(ValueError):
    """The bytes are not a decodable image, or the image is over the pixel limit (decompression bomb)."""


class PixelBudgetExceeded(ImageDecodeError):
    """Decoding this picture would overrun the page's pixel budget (it was not decoded)."""


class PixelBudget:
    """Pixels that may still be decoded for one page, shared by the page's hashing threads.

    Each picture is charged its header size (every sampled frame counted) before any pixel is decompressed,
    so a page of small files that unpack to huge bitmaps stops at the budget instead of at the memory limit.
    """

    def __init__(self, pixels: int) -> None:
        self.left = pixels
        self._lock = threading.Lock()

    def charge(self, pixels: int) -> None:
        with self._lock:
            if pixels > self.left:
                raise PixelBudgetExceeded(f"{pixels} pixels over the page's remaining budget of {self.left}")
            self.left -= pixels


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


# --- hashing ---------------------------------------------------------------------------------------------
def exact_digests(data: bytes, algorithms: Iterable[str] = EXACT_ALGORITHMS) -> dict[str, str]:
    """algorithm -> hex digest of the file bytes: needs no decoding, so it works for any fetched file."""
    return {a: hashlib.new(a, data).hexdigest() for a in dict.fromkeys(algorithms) if a in EXACT_ALGORITHMS}


def _frame_indices(count: int, limit: int) -> list[int]:
    """Up to ``limit`` frame numbers spread evenly over ``count`` frames (first and last included)."""
    if count <= limit:
        return list(range(count))
    if limit <= 1:
        return [0]
    return sorted({round(i * (count - 1) / (limit - 1)) for i in range(limit)})


def decode_frames(data: bytes, max_pixels: int = 25_000_000, max_frames: int = 1,
                  budget: PixelBudget | None = None) -> list[Image.Image]:
    """Decode ``data`` into at most ``max_frames`` frames (sampled evenly over an animation). Size and
    frame count come from the header: nothing is decompressed for a picture over ``max_pixels`` or over the
    page's ``budget``. Large JPEGs are decoded at a reduced DCT scale (``draft``): hashes use 32 px anyway."""
    try:
        image = Image.open(io.BytesIO(data))  # lazy: reads the header only
        width, height = image.size
        if width * height > max_pixels:
            raise ImageDecodeError(f"image is {width}x{height}, over the limit of {max_pixels} pixels")
        if image.format == "JPEG" and max(width, height) > 2 * _DRAFT_SIDE:
            image.draft("RGB", (_DRAFT_SIDE, _DRAFT_SIDE))  # scale 1/2..1/8, still >= _DRAFT_SIDE per side
            width, height = image.size
        frames = _frame_indices(max(1, int(getattr(image, "n_frames", 1) or 1)), max(1, max_frames))
        if budget is not None:
            budget.charge(width * height * len(frames))
        out = []
        for number in frames:
            if number:
                image.seek(number)
            image.load()
            frame = image if len(frames) == 1 else image.copy()
            if max(frame.size) > _WORK_SIDE:
                # Hashes look at 32 px or less: every later step (grey copies, border trim, uncrop, variants)
                # works on this copy, so the page's memory is the decoded bitmap once, not several times over.
                frame = frame.convert("RGB") if frame.mode not in ("RGB", "L") else frame
                frame = frame.resize(_fit(frame.size, _WORK_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
            out.append(frame if frame.mode in ("RGB", "L") else frame.convert("RGB"))
    except ImageDecodeError:
        raise
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError ...)
        raise ImageDecodeError(f"cannot decode image: {type(exc).__name__}") from exc
    return out


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    w, h = size
    scale = side / max(w, h)
    return max(1, round(w * scale)), max(1, round(h * scale))


def decode_image(data: bytes, max_pixels: int = 25_000_000) -> Image.Image:
    """Decode the first frame of ``data``; the pixel count is checked from the header first."""
    return decode_frames(data, max_pixels, 1)[0]


def pdq_available() -> bool:
    """Whether the optional extra [pdq] is installed. Without it, PDQ is not computed: listed PDQ hashes
    then match only hashes a backend supplies (the rule loader warns about that)."""
    return importlib.util.find_spec("pdqhash") is not None


def _pdq(image: Image.Image, min_quality: int, dihedral: bool) -> list[str]:
    import pdqhash  # optional extra [pdq]

    pixels = np.asarray(image.convert("RGB"))
    if dihedral:
        hashes, quality = pdqhash.compute_dihedral(pixels)
    else:
        first, quality = pdqhash.compute(pixels)
        hashes = [first]
    if quality < min_quality:
        return []  # flat or tiny images give unreliable PDQ hashes
    # Hex = pdqhash's 256-bit vector packed MSB first. Other PDQ tools may order bits differently: check
    # one known sample before importing a foreign PDQ list.
    return [np.packbits(np.asarray(h, dtype=np.uint8)).tobytes().hex() for h in hashes]


_PDQ = pdq_available()


def _variants(image: Image.Image) -> list[Image.Image]:
    """The 7 non-identity dihedral transforms of a (shrunk) grey copy of ``image``."""
    grey = image.convert("L")
    if max(grey.size) > _VARIANT_SIDE:
        grey.thumbnail((_VARIANT_SIDE, _VARIANT_SIDE), Image.Resampling.LANCZOS)
    t = Image.Transpose
    ops = (t.FLIP_LEFT_RIGHT, t.FLIP_TOP_BOTTOM, t.ROTATE_90, t.ROTATE_180, t.ROTATE_270, t.TRANSPOSE, t.TRANSVERSE)
    return [grey.transpose(op) for op in ops]


def trim_borders(image: Image.Image, tolerance: int = 12) -> Image.Image | None:
    """``image`` without uniform borders (letterboxing, padding, a frame added on re-upload), or None when
    there is none worth trimming. A border is rows/columns at the edge whose pixels all stay within
    ``tolerance`` of the corner colour; the rest must keep at least half of each side."""
    grey = np.asarray(image.convert("L"), dtype=np.int16)
    h, w = grey.shape
    if h < 16 or w < 16:
        return None
    corners = [grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]]
    box = [0, 0, w, h]
    for colour in dict.fromkeys(int(c) for c in corners):
        differs = np.abs(grey - colour) > tolerance
        rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
        if not len(rows) or not len(cols):
            return None  # a flat picture: nothing inside the border
        box = [max(box[0], int(cols[0])), max(box[1], int(rows[0])),
               min(box[2], int(cols[-1]) + 1), min(box[3], int(rows[-1]) + 1)]
    left, top, right, bottom = box
    trimmed_w, trimmed_h = right - left, bottom - top
    if trimmed_w < w / 2 or trimmed_h < h / 2 or trimmed_w < 8 or trimmed_h < 8:
        return None  # more border than picture: a drawing on a plain background, not a padded photo
    if trimmed_w * trimmed_h > 0.97 * w * h:
        return None  # less than a 1.5 % border: hashing it again would change nothing
    return image.crop((left, top, right, bottom))


def uncrop(image: Image.Image, share: float) -> Image.Image:
    """``image`` grown back to the size it had before losing ``share`` of each side, the new margin filled by
    repeating the edge pixels. Content then sits where it sat in the uncropped picture, which is what a
    perceptual hash compares: on the tuning pictures a 5 % crop is within pHash 10 of the original in 37 %
    of cases, its uncropped copy in 77 %. For lists with no crops enrolled (bare shared hashes)."""
    pixels = np.asarray(image)
    h, w = pixels.shape[:2]
    dy, dx = round(h * share / (1 - 2 * share)), round(w * share / (1 - 2 * share))
    pad = ((dy, dy), (dx, dx)) + (((0, 0),) if pixels.ndim == 3 else ())
    return Image.fromarray(np.pad(pixels, pad, mode="edge"))


def enrollment_crops(image: Image.Image) -> list[tuple[str, Image.Image]]:
    """The crops `hashes add` enrolls beside the whole picture, so that copies cropped by 5-10 % still match
    a perceptual hash: (label, picture). Labels go into the hash list's note column. Chosen on the quality
    benchmark's tuning pictures (see benchmarks/image_quality.py): centred crops of 5 % and 10 % per side,
    and 8 % off each single side."""
    w, h = image.size
    out = []
    for share in ENROLL_CENTRE_CROPS:
        dx, dy = round(w * share), round(h * share)
        out.append((f"crop {round(share * 100)}%", image.crop((dx, dy, w - dx, h - dy))))
    dx, dy = round(w * ENROLL_SIDE_CROP), round(h * ENROLL_SIDE_CROP)
    pct = round(ENROLL_SIDE_CROP * 100)
    out += [(f"crop {pct}% left", image.crop((dx, 0, w, h))), (f"crop {pct}% right", image.crop((0, 0, w - dx, h))),
            (f"crop {pct}% top", image.crop((0, dy, w, h))), (f"crop {pct}% bottom", image.crop((0, 0, w, h - dy)))]
    return out


def _perceptual(images: Sequence[Image.Image], algos: Sequence[str], min_pdq_quality: int,
                dihedral: bool) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    funcs = {"phash": imagehash.phash, "dhash": imagehash.dhash}
    for image in images:
        variants = _variants(image) if dihedral and any(a != "pdq" for a in algos) else []
        for algo in algos:
            if algo == "pdq":
                if _PDQ:
                    found = _pdq(image, min_pdq_quality, dihedral)
                    if found:
                        out.setdefault(algo, []).extend(found)
                continue
            func = funcs[algo]
            out.setdefault(algo, []).extend([str(func(image))] + [str(func(v)) for v in variants])
    return {a: list(dict.fromkeys(h)) for a, h in out.items()}


def _hash_all(data: bytes, algorithms: Iterable[str], max_pixels: int, min_pdq_quality: int,
              dihedral: bool, max_frames: int = 1, budget: PixelBudget | None = None,
              trim: bool = False) -> dict[str, list[str]]:
    algos = list(dict.fromkeys(algorithms))
    for algo in algos:
        if algo not in HASH_HEX_LENGTH:
            raise ValueError(f"unknown image hash algorithm {algo!r}")
    out: dict[str, list[str]] = {a: [h] for a, h in exact_digests(data, algos).items()}
    perceptual = [a for a in algos if a in PERCEPTUAL_BITS]
    if not perceptual:
        return out
    frames = decode_frames(data, max_pixels, max_frames, budget)
    pictures = list(frames)
    if trim:
        pictures += [t for t in (trim_borders(f) for f in frames) if t is not None]
    out.update(_perceptual(pictures, perceptual, min_pdq_quality, dihedral))
    if trim:  # the query side of crop robustness: the first frame uncropped, as it is (1 hash per share)
        grown = [uncrop(frames[0], share) for share in ENROLL_CENTRE_CROPS]
        for algo, hexes in _perceptual(grown, [a for a in perceptual if a != "pdq"], min_pdq_quality,
                                       dihedral=False).items():
            out[algo] = list(dict.fromkeys([*out.get(algo, []), *hexes]))
    return out


def compute_hashes(data: bytes, algorithms: Iterable[str], max_pixels: int = 25_000_000,
                   min_pdq_quality: int = 50) -> dict[str, str]:
    """algorithm -> lowercase hex of the image as it is (first frame). PDQ is left out below
    ``min_pdq_quality``. Raises ImageDecodeError (undecodable, over ``max_pixels``), ValueError (unknown
    algorithm)."""
    found = _hash_all(data, algorithms, max_pixels, min_pdq_quality, dihedral=False)
    return {a: hashes[0] for a, hashes in found.items()}


def compute_enrollment_hashes(data: bytes, algorithms: Iterable[str], max_pixels: int = 25_000_000,
                              min_pdq_quality: int = 50, crop_algorithms: Iterable[str] = CROP_ALGORITHMS
                              ) -> list[tuple[str, str, str]]:
    """(algorithm, hex, label) rows for a listed picture: the whole picture (label "") and, for the
    ``crop_algorithms`` (CROP_ALGORITHMS; every perceptual one when algorithms must agree, since agreement
    then keeps the false matches away), the ``enrollment_crops`` and the picture without uniform borders."""
    whole = compute_hashes(data, algorithms, max_pixels, min_pdq_quality)
    rows = [(a, h, "") for a, h in whole.items()]
    perceptual = [a for a in dict.fromkeys(algorithms) if a in PERCEPTUAL_BITS]
    if not perceptual:
        return rows
    image = decode_image(data, max_pixels)
    extra = enrollment_crops(image)
    trimmed = trim_borders(image)
    if trimmed is not None:
        extra.insert(0, ("borders trimmed", trimmed))
    seen = {(a, h) for a, h, _ in rows}
    cropped = [a for a in perceptual if a in set(crop_algorithms)]
    for label, picture in extra if cropped else []:
        for algo, hexes in _perceptual([picture], cropped, min_pdq_quality, dihedral=False).items():
            if (algo, hexes[0]) not in seen:
                seen.add((algo, hexes[0]))
                rows.append((algo, hexes[0], label))
    return rows


def compute_query_hashes(data: bytes, algorithms: Iterable[str], max_pixels: int = 25_000_000,
                         min_pdq_quality: int = 50, *, max_frames: int = 16, budget: PixelBudget | None = None,
                         trim: bool = True) -> dict[str, tuple[str, ...]]:
    """Like compute_hashes, but each perceptual algorithm also hashes the 8 dihedral variants (flips and
    rotations) of up to ``max_frames`` frames (an animation sampled evenly) and of each frame with its
    uniform borders trimmed, plus the first frame ``uncrop``-ped by 5 % and 10 % (``trim``: these extras);
    the identity hash of the first frame comes first. Feed it to ImageIndex.match.
    Raises PixelBudgetExceeded when ``budget`` has no room for the picture."""
    found = _hash_all(data, algorithms, max_pixels, min_pdq_quality, dihedral=True, max_frames=max_frames,
                      budget=budget, trim=trim)
    return {a: tuple(hashes) for a, hashes in found.items()}


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
        probes = sum(len(_masks(w, r)) for (_, w), r in zip(self.chunks, radii, strict=True) if r >= 0)
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
        return 0.0 if r < 0 else len(_masks(width, r)) * (1 + n / 2**width)

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
