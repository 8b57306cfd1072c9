"""Matching the content regions of a query picture (a listed picture re-posted inside a caption band, a
screenshot, bars or a blurred fill, or turned onto a canvas: ``image_regions.py``) under a strict rule.

An earlier attempt hashed such regions like any other query copy (dihedral variants, the usual thresholds
and a single algorithm for bare lists) and brought false matches back on the quality benchmark: every
region is one more chance for an unrelated picture to come near a listed hash. Here a region counts only

* when the whole picture matched nothing (``ImageIndex.matches`` calls ``region_matches`` last),
* against a picture that `hashes add` enrolled (``pic:<id>`` rows) with at least two of pHash, dHash and
  PDQ, and
* when *every* one of those algorithms that the region was hashed with is within its strict ``REGION_BOUNDS``
  of that same picture (dHash on the picture and on its transpose, as ``image_verify`` asks), so that an
  unrelated region must collide on two or three independent hashes at once, each far tighter than a whole
  picture's threshold.

Rows naming no picture (bare shared lists) never match a region: one algorithm alone cannot be confirmed.
A region is hashed as it is (no flips or turns), which keeps its chance of a collision at one try per hash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from filter_proxy.signals.hashspec import HASH_HEX_LENGTH

if TYPE_CHECKING:
    from filter_proxy.matchers.images import ImageIndex, ImageMatch

REGION_KEY = "region"  # the query hashes' key holding the encoded region hashes (not an algorithm)
TRANSPOSED_DHASH = "dhash_t"
# Strict bounds of a region match, every algorithm at once (and never above the category's threshold).
# Chosen on generated frames of the tuning pictures (scripts/measure_frames.py): a framed listed picture's
# region came within these on both algorithms in most cases; no unrelated region came within both.
REGION_BOUNDS = {"phash": 10, "dhash": 7, "pdq": 31}
_FIELDS = {"phash": "phash", "dhash": "dhash", TRANSPOSED_DHASH: "dhash", "pdq": "pdq"}


_ORDER_FIELDS = ("phash", "dhash", TRANSPOSED_DHASH, "pdq")  # bit k of the mask digit: field k is present


def encode_region(hashes: Mapping[str, str]) -> str:
    """One region's hashes as one hex string, a query hash value like any other (hash caches and the fleet's
    shared tier, which accepts hex only, carry it unchanged): a mask digit saying which of ``phash``,
    ``dhash``, ``dhash_t`` (dHash of the transpose) and ``pdq`` follow, then those hashes in that order."""
    present = [k for k in _ORDER_FIELDS if hashes.get(k)]
    mask = sum(1 << _ORDER_FIELDS.index(k) for k in present)
    return f"{mask:x}" + "".join(hashes[k].lower() for k in present)


def parse_region(text: str) -> dict[str, str]:
    """The hashes of one encoded region; {} when the string is not one (a backend could send any string
    under ``REGION_KEY``)."""
    text = str(text).lower()
    if not text or any(c not in "0123456789abcdef" for c in text):
        return {}
    mask, at, out = int(text[0], 16), 1, {}
    for k, key in enumerate(_ORDER_FIELDS):
        if mask >> k & 1:
            size = HASH_HEX_LENGTH[_FIELDS[key]]
            out[key] = text[at: at + size]
            at += size
    return out if at == len(text) and all(len(v) == HASH_HEX_LENGTH[_FIELDS[k]] for k, v in out.items()) else {}


def _views(hashes: Mapping[str, str]) -> dict[str, dict[int, list[str]]]:
    """algorithm -> view (0 the picture, 1 its transpose) -> the region's hash of that view."""
    out: dict[str, dict[int, list[str]]] = {}
    for key, value in hashes.items():
        out.setdefault(_FIELDS[key], {})[1 if key == TRANSPOSED_DHASH else 0] = [value]
    return out


# A region the finders cut out but too flat to hash (a gradient or a plain patch inside a caption band): no
# hashes (mask 0), only the fact that a frame was found, so that the whole picture's loose matches are judged
# as a framed query's (a gradient in a caption band came within dHash 3 of the colour wheel as a whole).
FLAT_REGION = "0"


def framed(regions: str | Sequence[str] | None) -> bool:
    """Whether the query carries a region with two or more algorithms, or ``FLAT_REGION`` (a frame was found
    round it)."""
    texts = [regions] if isinstance(regions, str) else list(regions or ())[:8]
    return any(str(t) == FLAT_REGION or len({_FIELDS[k] for k in parse_region(t)}) >= 2 for t in texts)


def whole_confirmed(index: ImageIndex, hashes: Mapping[str, Sequence[str]], category: str, picture: int,
                    threshold: Callable[[str, str], int]) -> bool:
    """For a query in which a frame was found: whether its whole-picture hashes (all variants) meet the
    region rule on ``picture`` too. A frame's flat bands and straight edges make a whole picture look like
    other pictures with flat parts (a listed picture in a caption band came within dHash 4 of a colour
    wheel on white, confirmed by pHash at 26): such a match must be as strict as a region's, or the region
    itself must match (``region_matches``, which runs when nothing else did)."""
    usable: dict[str, dict[int, list[str]]] = {}
    for algorithm in REGION_BOUNDS:
        values = list(hashes.get(algorithm, ()))
        if values and algorithm in index.tables:
            usable[algorithm] = {0: values, 1: values}  # the dihedral variants include the transpose
    return _confirmed(index, usable, category, picture, threshold) is not None


# A listed picture whose dHash says little more than one row (its rows nearly repeat: a centred object on a
# plain ground, such as a colour wheel on white) looks like *any* picture inside a frame: bars, caption bands
# and borders put the content in the middle of a plain surround, which is the same pattern. Measured on the
# frames benchmark (267 unlisted pictures x 6 classes x 3 frames): 7 of its 8 whole-picture false matches
# were such a picture (row-to-row change 2-3 bits of 56 on each view; ordinary pictures 10-40), at dHash 2-7
# on both views with pHash 18-24, inside the loose confirm bound.
PLAIN_PATTERN = 4  # at most this many bits change between consecutive rows of a view's least varied row


def row_change(code: int) -> int:
    """Bits that change between consecutive rows of a 64-bit dHash (8 rows of 8): 0 for a hash whose rows
    all repeat, ~28 for a random one."""
    rows = int(code).to_bytes(8, "big")
    return sum(bin(rows[k] ^ rows[k + 1]).count("1") for k in range(7))


def plain_pattern(index: ImageIndex, picture: int) -> bool:
    """Whether listed picture number ``picture`` has dHash rows (the whole picture or an enrolled crop) that
    nearly repeat (``PLAIN_PATTERN``) on *both* views, the picture and its transpose: a centred object on a
    plain ground, the pattern a frame gives any picture. (One view alone is common: stripes, a row of
    coins; a verified dHash match needs both views, so only both together make the hash generic.)"""
    table = index.tables.get("dhash")
    if table is None:
        return False
    rows = table.rows_of(picture)
    if not len(rows):
        return False
    views = table.view[rows] if table.view is not None else np.zeros(len(rows), dtype=np.uint8)
    least: dict[int, int] = {}
    for row, view in zip(rows.tolist(), views.tolist(), strict=True):
        least[view] = min(least.get(view, 64), row_change(int(table.codes[row][0])))
    return len(least) == 2 and max(least.values()) <= PLAIN_PATTERN


EDGE = 1  # a pHash distance within this of its threshold is at the edge (see ``at_edge``)


def at_edge(index: ImageIndex, hashes: Mapping[str, Sequence[str]], category: str, picture: int,
            threshold: Callable[[str, str], int]) -> bool:
    """For a framed query's pHash match of ``picture``: whether pHash is only at the edge of its threshold
    (within ``EDGE``) while dHash is outside its own threshold on both views, so that no algorithm holds
    the match with a margin. A frame alone moves a whole picture's pHash about that far: a different
    picture in a caption band came within pHash 10 (the threshold) and dHash 14 / 12 of a generated listed
    picture; framed copies of listed pictures met pHash with a margin, or dHash on a view, or matched by
    their region."""
    phash, dhash = index.tables.get("phash"), index.tables.get("dhash")
    if phash is None or dhash is None or not hashes.get("phash") or not hashes.get("dhash"):
        return False
    rows = phash.rows_of(picture)
    rows = rows[[index.groups[int(phash.group[r])][0] == category for r in rows.tolist()]] if len(rows) else rows
    if not len(rows) or int(phash.distances(rows, list(hashes["phash"])).min()) < threshold(category, "phash") - EDGE:
        return False
    rows = dhash.rows_of(picture)
    if not len(rows):
        return False
    views = dhash.view[rows] if dhash.view is not None else np.zeros(len(rows), dtype=np.uint8)
    dist = dhash.distances(rows, list(hashes["dhash"]))
    limit = threshold(category, "dhash")
    return all(int(dist[views == view].min()) > limit for view in np.unique(views).tolist())


def region_matches(index: ImageIndex, regions: str | Sequence[str], threshold: Callable[[str, str], int]
                   ) -> list[ImageMatch]:
    """The closest confirmed region match per category (see the module docstring), closest first."""
    from filter_proxy.matchers.images import _ORDER, ImageMatch  # the index's own types (no import cycle)

    if not index.pictures:
        return []
    best: dict[str, tuple[tuple[int, int, int], ImageMatch]] = {}
    for text in [regions] if isinstance(regions, str) else list(regions)[:8]:
        views = _views(parse_region(text))
        usable = {a: v for a, v in views.items() if a in index.tables and a in REGION_BOUNDS}
        if len(usable) < 2:
            continue
        candidates: set[tuple[str, int]] = set()
        for algorithm, hashes in usable.items():
            table = index.tables[algorithm]
            rows, _ = table.find(hashes[0], REGION_BOUNDS[algorithm])
            if table.pic is None:
                continue
            for row in rows.tolist():
                picture = int(table.pic[row])
                if picture:
                    candidates.add((index.groups[int(table.group[row])][0], picture))
        for category, picture in candidates:
            found = _confirmed(index, usable, category, picture, threshold)
            if found is None:
                continue
            algorithm, distance, row = found
            table = index.tables[algorithm]
            _, rule_id = index._rule_id(table, row)
            key = (distance, _ORDER.get(algorithm, 99), row)
            if category not in best or key < best[category][0]:
                best[category] = (key, ImageMatch(category, rule_id, algorithm, distance))
    return [m for _, m in sorted(best.values(), key=lambda kv: kv[0])]


def _confirmed(index: ImageIndex, usable: Mapping[str, Mapping[int, Sequence[str]]], category: str, picture: int,
               threshold: Callable[[str, str], int], bounds: Mapping[str, int] = REGION_BOUNDS
               ) -> tuple[str, int, int] | None:
    """(algorithm, distance, row) of the closest row when every algorithm that the picture was enrolled
    with and the region was hashed with is within its strict bound on every view; else None."""
    checked = 0
    closest: tuple[int, str, int] | None = None
    for algorithm, hashes in usable.items():
        table = index.tables[algorithm]
        rows = table.rows_of(picture)
        rows = rows[[index.groups[int(table.group[r])][0] == category for r in rows.tolist()]] if len(rows) else rows
        if not len(rows):
            continue
        limit = min(bounds[algorithm], threshold(category, algorithm))
        views = table.view[rows] if table.view is not None else np.zeros(len(rows), dtype=np.uint8)
        for view in np.unique(views).tolist():
            if view not in hashes:
                return None  # a view the region was not hashed with cannot be confirmed
            sub = rows[views == view]
            dist = table.distances(sub, list(hashes[view]))
            k = int(np.argmin(dist))
            if int(dist[k]) > limit:
                return None
            if view == 0 and (closest is None or int(dist[k]) < closest[0]):
                closest = (int(dist[k]), algorithm, int(sub[k]))
        checked += 1
    if checked < 2 or closest is None:
        return None
    return closest[1], closest[0], closest[2]
