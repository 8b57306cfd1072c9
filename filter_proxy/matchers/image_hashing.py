"""Hashing pictures: decoding under pixel limits (header size first, a page budget, animated frames
sampled evenly, big frames shrunk), perceptual hashes with their dihedral variants, border trimming and
uncropping on the query side, and the crops `hashes add` enrolls. The index lives in ``images.py``, which
re-exports everything here.

Memory: a picture's pixels are charged to the page's ``PixelBudget`` from its header before anything is
decompressed, and frames over 1024 px a side are shrunk at once, so a page costs at most its budget in
decoded bitmaps (eight 5000x5000 PNGs of 82 KB: +120 MiB peak with the default budget, +888 MiB without).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import threading
from collections.abc import Iterable, Sequence

import imagehash
import numpy as np
from PIL import Image

from filter_proxy.matchers.image_region_match import FLAT_REGION, REGION_KEY, encode_region
from filter_proxy.matchers.image_regions import inner_pictures
from filter_proxy.matchers.image_view import eight_bit, has_alpha, orientation, viewed
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_BITS

_VARIANT_SIDE = 256  # variants are hashed from a copy no larger than this (thumbnails usually are)
_DRAFT_SIDE = 512  # large JPEGs are decoded at a DCT scale that keeps at least this many pixels a side
_WORK_SIDE = 1024  # larger decoded frames are shrunk to this before any hashing step
ENROLL_CENTRE_CROPS = (0.05, 0.10)  # shares cut from every side by `hashes add` crops
ENROLL_SIDE_CROP = 0.08  # share cut from one side
# Algorithms whose crops are enrolled. dHash crops alone put different photographs within dHash 9 of each
# other (39 false matches of 27,560 pairs on an earlier quality run); they are safe now because a near match
# of a picture enrolled with pHash and dHash must be confirmed by the other algorithm (image_verify.py).
CROP_ALGORITHMS = ("phash", "dhash", "pdq")
# Algorithms also enrolled for the transposed picture (label "transposed"): dHash compares horizontal
# neighbours only, its transpose vertical ones, and a verified dHash match needs both (image_verify.py).
TRANSPOSED_ALGORITHMS = ("dhash",)


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
    """Decode ``data`` into at most ``max_frames`` frames (sampled evenly over an animation), each as a
    viewer sees it over a white backdrop (``image_view.viewed``). Size and frame count come from the header:
    nothing is decompressed for a picture over ``max_pixels`` or over the page's ``budget``. Large JPEGs are
    decoded at a reduced DCT scale (``draft``): hashes use 32 px anyway."""
    return _decode(data, max_pixels, max_frames, budget)[0]


def _decode(data: bytes, max_pixels: int, max_frames: int, budget: PixelBudget | None
            ) -> tuple[list[Image.Image], list[Image.Image]]:
    """(frames over white, the same see-through frames over black): see ``decode_frames``."""
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
        turn = orientation(image)  # EXIF: browsers show the stored pixels turned upright
        out: list[Image.Image] = []
        backs: list[Image.Image] = []
        for number in frames:
            if number:
                image.seek(number)
            image.load()
            frame = eight_bit(image if len(frames) == 1 else image.copy())
            if max(frame.size) > _WORK_SIDE:
                # Hashes look at 32 px or less: every later step (grey copies, border trim, uncrop, variants)
                # works on this copy, so the page's memory is the decoded bitmap once, not several times over.
                if frame.mode not in ("RGB", "L"):
                    frame = frame.convert("RGBA" if has_alpha(frame) else "RGB")
                frame = frame.resize(_fit(frame.size, _WORK_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
            shown = viewed(frame, turn)
            out.append(shown[0])
            backs += shown[1:]
    except ImageDecodeError:
        raise
    except Exception as exc:  # Pillow raises many types (OSError, SyntaxError, DecompressionBombError ...)
        raise ImageDecodeError(f"cannot decode image: {type(exc).__name__}") from exc
    return out, backs


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


# Below this `picture_quality`, `hashes add` refuses a picture: a flat or nearly flat picture (one colour, a
# faint gradient) hashes like every other flat picture, so listing it would block unrelated thumbnails.
MIN_ENROLL_QUALITY = 20


_ONE_LEVEL = 100 / 255 * 1.01  # one grey level on the 0-100 scale (and float error)


def picture_quality(image: Image.Image) -> int:
    """0-100, after PDQ's quality measure (summed absolute differences between neighbouring pixels of a 64x64
    grey copy, levels scaled to 0-100, divided by 90, capped at 100), taken over the picture's *detail*: the
    grey copy minus its 8x8 smoothing, steps of one grey level left out. A flat picture or a smooth gradient
    scores ~0 (both hash like every other flat picture or gradient in that direction), photographs and
    drawings score far higher."""
    grey = image.convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    smooth = grey.resize((8, 8), Image.Resampling.BILINEAR).resize((64, 64), Image.Resampling.BILINEAR)
    detail = (np.asarray(grey, dtype=np.float64) - np.asarray(smooth, dtype=np.float64)) * 100 / 255
    steps = [np.abs(np.diff(detail, axis=axis)) for axis in (0, 1)]
    # Steps of one grey level are rounding, not detail: a diagonal gradient's staircase scored ~20.
    total = sum(float(d[d > _ONE_LEVEL].sum()) for d in steps)
    return int(min(100.0, total / 90))


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
    frames, backs = _decode(data, max_pixels, max_frames, budget)
    pictures = list(frames) + backs  # see-through pictures over black as well as over white
    if trim:
        pictures += [t for t in (trim_borders(f) for f in frames) if t is not None]
    out.update(_perceptual(pictures, perceptual, min_pdq_quality, dihedral))
    if trim:  # the query side of crop robustness: the first frame uncropped, as it is (1 hash per share)
        grown = [uncrop(frames[0], share) for share in ENROLL_CENTRE_CROPS]
        for algo, hexes in _perceptual(grown, [a for a in perceptual if a != "pdq"], min_pdq_quality,
                                       dihedral=False).items():
            out[algo] = list(dict.fromkeys([*out.get(algo, []), *hexes]))
        found = region_hashes(frames[0], perceptual, min_pdq_quality)
        if found:
            out[REGION_KEY] = found
    return out


MAX_REGIONS = 5  # region copies hashed per picture (bounds the cost: one set of hashes each, no variants)


def region_hashes(image: Image.Image, algorithms: Sequence[str], min_pdq_quality: int = 50) -> list[str]:
    """The hashes of the content regions of ``image`` (``image_regions.inner_pictures``: a picture inside a
    caption band, a screenshot, bars or a blurred fill, or turned onto a canvas), one encoded string per
    region (``image_region_match.encode_region``): each algorithm of the region as it is, and dHash of its
    transpose too. They are matched apart from the whole picture's hashes and only when those found nothing,
    under the strict two-algorithm rule of ``image_region_match``. Regions too flat to identify are not hashed:
    ``FLAT_REGION`` stands for them (once), saying only that a frame was found."""
    if not any(a in ("phash", "dhash") for a in algorithms):
        return []
    out = []
    for region in inner_pictures(image)[:MAX_REGIONS]:
        if min(region.size) < 16:
            continue
        if picture_quality(region) < MIN_ENROLL_QUALITY:
            if FLAT_REGION not in out:
                out.append(FLAT_REGION)  # a frame round flat content: no hashes, but the query is framed
            continue
        hashes: dict[str, str] = {}
        if "phash" in algorithms:
            hashes["phash"] = str(imagehash.phash(region))
        if "dhash" in algorithms:
            hashes["dhash"] = str(imagehash.dhash(region))
            hashes["dhash_t"] = str(imagehash.dhash(region.transpose(Image.Transpose.TRANSPOSE)))
        if "pdq" in algorithms and _PDQ:
            pdq = _pdq(region, min_pdq_quality, dihedral=False)
            if pdq:
                hashes["pdq"] = pdq[0]
        encoded = encode_region(hashes)
        if encoded not in out:
            out.append(encoded)
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
    ``crop_algorithms`` (CROP_ALGORITHMS), the ``enrollment_crops`` and the picture without uniform borders;
    for dHash each of those transposed too (label "... transposed", see image_verify.py)."""
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
    pictures = [("", image)] + (extra if cropped else [])
    for label, picture in pictures:
        for algo, hexes in _perceptual([picture], cropped, min_pdq_quality, dihedral=False).items():
            if label and (algo, hexes[0]) not in seen:
                seen.add((algo, hexes[0]))
                rows.append((algo, hexes[0], label))
        flipped = picture.transpose(Image.Transpose.TRANSPOSE)
        turned = [a for a in perceptual if a in TRANSPOSED_ALGORITHMS and (label == "" or a in cropped)]
        for algo, hexes in _perceptual([flipped], turned, min_pdq_quality, dihedral=False).items():
            if (algo, hexes[0]) not in seen:
                seen.add((algo, hexes[0]))
                rows.append((algo, hexes[0], f"{label} transposed".strip()))
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
