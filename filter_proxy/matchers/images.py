"""The known-image-hash index: one ``HashTable`` per algorithm (multi-index hashing, ``image_table.py``),
matches per category, agreement between algorithms and the verification of near matches of pictures that
`hashes add` enrolled (``image_verify.py``). Hashing itself is in ``image_hashing.py``, re-exported here.

Dihedral variants (flips, 90° rotations) are matched by hashing the *query* image 8 ways
(`compute_query_hashes`), not by storing 8 variants per listed hash: 8x the index memory for 10M hashes
would break the 256 MB budget, while 8x hashing of a thumbnail costs a few milliseconds, once per thumbnail.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from pybloom_live import BloomFilter

from filter_proxy.matchers.image_hashing import (  # re-exported: hashing is part of this module's API
    CROP_ALGORITHMS,
    ENROLL_CENTRE_CROPS,
    ENROLL_SIDE_CROP,
    MIN_ENROLL_QUALITY,
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
    picture_quality,
    trim_borders,
    uncrop,
)
from filter_proxy.matchers.image_region_match import (
    REGION_KEY,
    at_edge,
    framed,
    plain_pattern,
    region_matches,
    whole_confirmed,
)
from filter_proxy.matchers.image_table import HashTable, build_table
from filter_proxy.matchers.image_verify import Verifier, picture_view
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS, HASH_HEX_LENGTH, PERCEPTUAL_BITS

__all__ = ["CROP_ALGORITHMS", "ENROLL_CENTRE_CROPS", "ENROLL_SIDE_CROP", "MIN_ENROLL_QUALITY", "ImageDecodeError",
           "ImageEntry", "picture_quality",
           "ImageIndex", "ImageMatch", "PixelBudget", "PixelBudgetExceeded", "agreeing_matches",
           "compute_enrollment_hashes", "compute_hashes", "compute_query_hashes", "decode_frames", "decode_image",
           "enrollment_crops", "exact_digests", "pdq_available", "picture_id", "picture_view", "trim_borders", "uncrop",
           "validate_image_hash"]

_ORDER = {a: i for i, a in enumerate(("sha256", "sha1", "md5", "pdq", "phash", "dhash"))}
_MAGIC = b"FPIMGIX1"


@dataclass(frozen=True, slots=True)
class ImageEntry:
    algorithm: str
    hex: str
    category: str
    rule_id: str
    picture: str = ""  # the listed picture this hash belongs to (``pic:<id>`` in the note), for agreement
    view: int = 0  # 1: a hash of the transposed picture (``transposed`` in the note; see image_verify.py)


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


_RULE_LINE = re.compile(r"^(.*):(\d+)$")


class ImageIndex:
    """Known image hashes of all categories, one table per algorithm."""

    def __init__(self, groups: list[tuple[str, str]], tables: dict[str, HashTable],
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
        per_algo: dict[str, tuple[list[str], list[int], list[int], list[int], list[int]]] = {}
        for e in entries:
            reason = validate_image_hash(e.algorithm, e.hex)
            if reason:
                raise ValueError(f"{e.rule_id}: {reason}")
            m = _RULE_LINE.match(e.rule_id)
            prefix, line = (m.group(1), int(m.group(2))) if m else (e.rule_id, 0)
            gid = group_ids.setdefault((e.category, prefix), len(group_ids))
            hexes, groups, lines, pics, views = per_algo.setdefault(e.algorithm, ([], [], [], [], []))
            hexes.append(e.hex.lower())
            groups.append(gid)
            lines.append(line)
            pics.append(picture_ids.setdefault(e.picture, len(picture_ids) + 1) if e.picture else 0)
            views.append(e.view)
        # the smallest group dtype: 1 byte per row for up to 255 rule files instead of 4 (10M rows: 30 MB)
        gtype = np.uint8 if len(group_ids) < 256 else np.uint16 if len(group_ids) < 65536 else np.uint32
        tables = {
            algo: build_table(algo, hexes, np.array(groups, dtype=gtype), np.array(lines, dtype=np.uint32),
                              np.array(pics, dtype=np.uint32) if picture_ids else None,
                              np.array(views, dtype=np.uint8) if picture_ids else None)
            for algo, (hexes, groups, lines, pics, views) in per_algo.items()
        }
        return cls(list(group_ids), tables, list(picture_ids))

    @property
    def algorithms(self) -> set[str]:
        return set(self.tables)

    def __len__(self) -> int:
        return sum(len(t) for t in self.tables.values())

    def _rule_id(self, table: HashTable, row: int) -> tuple[str, str]:
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
        their thresholds of rows naming the same listed picture (same category and ``pic:`` id). Otherwise a
        near match of a picture enrolled with several algorithms must be confirmed by them (``Verifier``)."""
        best: dict[str, tuple[tuple[int, int, int], ImageMatch]] = {}
        if self.require_agreement > 1:
            for found in agreeing_matches({a: self for a in self.tables}, hashes, threshold, self.require_agreement):
                best[found.category] = ((found.distance, _ORDER.get(found.algorithm, 99), 0), found)
            hashes = {a: v for a, v in hashes.items() if a in EXACT_ALGORITHMS or a == REGION_KEY}
        verifier = None
        if self.pictures:  # only lists naming their pictures (`hashes add`) can verify a near match
            query = {a: [h for h in ([v] if isinstance(v, str) else v) if validate_image_hash(a, h) is None]
                     for a, v in hashes.items() if a in self.tables and not self.tables[a].exact and v}
            verifier = Verifier(self.tables, query, threshold)
        framing = verifier is not None and framed(hashes.get(REGION_KEY))
        loose: set[str] = set()  # categories matched by a framed query's whole picture below the region rule
        judged: dict[tuple[str, str, int], str] = {}  # (algorithm, category, picture) -> _judge's word
        for algo, value in hashes.items():
            for key, found, picture in self._found(algo, value, threshold):
                if verifier is None or not picture:
                    word = "strict"
                elif not verifier.confirmed(algo, picture, found.category):
                    continue
                else:
                    slot = (algo, found.category, picture)
                    if slot not in judged:
                        judged[slot] = self._judge(hashes, verifier, algo, found.category, picture, framing,
                                                   threshold)
                    word = judged[slot]
                if word == "dropped":
                    continue
                if found.category not in best or key < best[found.category][0]:
                    best[found.category] = (key, found)
                    if word == "loose":
                        loose.add(found.category)
                    else:
                        loose.discard(found.category)
        if hashes.get(REGION_KEY) and (not best or loose):
            # The picture inside a frame: when the whole picture matched nothing, or matched only below the
            # region rule (a frame's flat bands make a whole picture look like other flat pictures: a listed
            # picture in a caption band came within dHash 4 of a colour wheel on white). When a region then
            # matches, it outranks those loose whole matches; when none does, they stand as before.
            regions = region_matches(self, hashes[REGION_KEY], threshold)
            if not regions:
                return [m for _, m in sorted(best.values(), key=lambda kv: kv[0])]
            kept = {c: v for c, v in best.items() if c not in loose}
            for match in regions:
                if match.category not in kept:
                    kept[match.category] = ((match.distance, _ORDER.get(match.algorithm, 99), 0), match)
            best = kept
        return [m for _, m in sorted(best.values(), key=lambda kv: kv[0])]

    def _judge(self, hashes: Mapping[str, str | Sequence[str]], verifier: Verifier, algo: str, category: str,
               picture: int, framing: bool, threshold: Callable[[str, str], int]) -> str:
        """How a verified whole-picture match of ``algo`` on ``picture`` (enrolled with several algorithms)
        counts: "strict" (the query is not framed, or every algorithm is within the region rule's strict
        bounds), "loose" (only the loose
        confirm bounds allow it, and the query is framed: a region match outranks it), or "dropped": only the
        loose bounds allow it and the frame may have made it. That is the case when the listed picture's
        dHash is the frame's own pattern (``plain_pattern``: a centred object on a plain ground, which any
        picture between bars or under a caption band resembles), or when a pHash match is at the edge of
        its threshold while dHash is outside its own on both views (``at_edge``: a caption band moves a whole
        picture's low frequencies by about a threshold's worth). The region stage, which runs when nothing
        else matched, still finds a framed copy whose content matches strictly."""
        if not framing or whole_confirmed(self, verifier.hashes, category, picture, threshold):
            return "strict"
        if plain_pattern(self, picture):
            return "dropped"
        if algo == "phash" and at_edge(self, verifier.hashes, category, picture, threshold):
            return "dropped"
        return "loose"

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
            tables[t["algorithm"]] = HashTable(t["algorithm"], arrays, [tuple(c) for c in t["chunks"]], bloom)
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
