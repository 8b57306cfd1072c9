"""Finding a listed picture inside a larger one on the query side: a picture pasted into a frame whose
surround is not one flat colour (a caption band with text, a screenshot of a viewer, a blurred copy of
itself filling a 9:16 story, JPEG ringing around a letterbox), and a picture turned by a small angle onto
a plain canvas (``rotate(expand=True)``).

Both give the hashes a copy that sits as the picture sat when it was listed; nothing here decides a match.
The extra copies are hashed like any other query copy, so they can only add matches (false ones too: each
costs its dihedral hashes in the false-match budget, and the boxes are found only where long straight
steps frame a region, which ordinary photographs rarely have on all sides).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

_SIDE = 256  # lines are looked for on a copy no larger than this
_MIN_STEP = 6.0  # mean grey step (0-255) along a line for it to count
_RATIO = 3.0  # a line's step against the median of its neighbourhood
_NEAR = 2  # columns/rows on either side that belong to the same (resampled) line
_AROUND = 10  # neighbourhood for the median
_MIN_SHARE = 0.25  # a box keeps at least this share of each side
_FLAT = 4.0  # grey-level step between neighbours below which a frame counts as plain there
_PLAIN = 0.75  # share of a frame's pixels that must be plain


def _grey(image: Image.Image) -> tuple[np.ndarray, float]:
    grey = image.convert("L")
    scale = 1.0
    if max(grey.size) > _SIDE:
        scale = max(grey.size) / _SIDE
        grey = grey.resize((max(1, round(grey.width / scale)), max(1, round(grey.height / scale))),
                           Image.Resampling.BILINEAR)
    return np.asarray(grey, dtype=np.float64), scale


def _lines(steps: np.ndarray) -> list[tuple[float, int]]:
    """(strength, position) of the lines in ``steps`` (per position, the step summed along the line):
    local maxima that stand out of their neighbourhood, strongest first."""
    n = len(steps)
    out = []
    for x in range(n):
        value = steps[x]
        if value < _MIN_STEP or value < steps[max(0, x - _NEAR): x + _NEAR + 1].max():
            continue
        around = np.concatenate([steps[max(0, x - _AROUND): max(0, x - _NEAR)], steps[x + _NEAR + 1: x + _AROUND + 1]])
        if len(around) and value >= _RATIO * (float(np.median(around)) + 1.0):
            out.append((float(value), x + 1))  # the line lies between x and x + 1
    return sorted(out, reverse=True)


def _support(column: np.ndarray) -> tuple[int, int] | None:
    """Where a line's step is strong, first to last, as [start, end). Not the longest unbroken run: where
    a picture's edge meets a frame of nearly its own colour the step fades for a while (a pale part of a
    photo against a white caption band)."""
    strong = np.flatnonzero(column > max(_MIN_STEP, 0.25 * float(column.max(initial=0))))
    if not len(strong):
        return None
    return int(strong[0]), int(strong[-1]) + 1


def _plain_outside(grey: np.ndarray, box: tuple[int, int, int, int]) -> bool:
    """Whether what lies outside ``box`` looks like a frame, not more picture: most of it (``_PLAIN``) has
    no step over ``_FLAT`` grey levels to its neighbours (a caption band's white around its letters, a
    viewer's grey, a blurred fill, JPEG-ringed bars). A rectangle drawn inside a grainy or textured
    picture has picture round it and is not cut out (on the quality benchmark's generated pictures such
    boxes matched unrelated listed pictures)."""
    left, top, right, bottom = box
    steps = np.zeros(grey.shape, dtype=bool)
    steps[:, 1:] |= np.abs(np.diff(grey, axis=1)) > _FLAT
    steps[1:, :] |= np.abs(np.diff(grey, axis=0)) > _FLAT
    outside = np.ones(grey.shape, dtype=bool)
    outside[max(0, top - 2): bottom + 2, max(0, left - 2): right + 2] = False  # the edge itself is a step
    count = int(outside.sum())
    return count > 0 and float(steps[outside].mean()) <= 1 - _PLAIN


def _strong(lines: list[tuple[float, int]]) -> list[int]:
    """Positions of the lines at least a quarter as strong as the strongest of them."""
    top = max((v for v, _ in lines), default=0.0)
    return [p for v, p in lines if v >= 0.25 * top]


def _pair(lines: list[tuple[float, int]], size: int) -> tuple[int | None, int | None]:
    """The strongest line in the first and in the last part of a side (None: none there)."""
    low = next((p for _, p in lines if p < size * (1 - _MIN_SHARE) / 1.5), None)
    high = next((p for _, p in lines if p > size - size * (1 - _MIN_SHARE) / 1.5), None)
    return low, high


def framed_boxes(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) of ``image`` framed by long straight steps: a pasted picture's edges.
    Two readings: the strongest vertical lines with the rows they span, and the strongest horizontal lines
    with the columns they span (a caption band has only the latter)."""
    grey, scale = _grey(image)
    h, w = grey.shape
    if h < 24 or w < 24:
        return []
    gx = np.abs(np.diff(grey, axis=1))  # (h, w-1): steps between columns
    gy = np.abs(np.diff(grey, axis=0))  # (h-1, w): steps between rows
    vertical, horizontal = _lines(gx.mean(axis=0)), _lines(gy.mean(axis=1))
    boxes = []
    for first, lines, steps, size, other in ((0, vertical, gx, w, h), (1, horizontal, gy.T, h, w)):
        low, high = _pair(lines, size)
        if low is None and high is None:
            continue
        a, b = low or 0, high or size
        spans = [s for s in (_support(steps[:, p - 1]) for p in (low, high) if p is not None) if s is not None]
        c, d = (min(s[0] for s in spans), max(s[1] for s in spans)) if spans else (0, other)
        # The other sides: lines of the other direction measured between a and b only (the picture's own
        # top and bottom edges, not a title bar across the whole window). The innermost strong one at or
        # outside the span's end wins: where the picture's edge is faint (a pale sky against a pale
        # surround) the span starts late, and the frame's edge lies beyond it.
        inner = _lines((gy[:, a:b].mean(axis=1)) if first == 0 else gx[a:b].mean(axis=0))
        c = max(_strong([(v, p) for v, p in inner if p <= c + 3]), default=c)
        d = min(_strong([(v, p) for v, p in inner if p >= d - 3]), default=d)
        box = (a, c, b, d) if first == 0 else (c, a, d, b)
        left, top, right, bottom = box
        if right - left < max(12, _MIN_SHARE * w) or bottom - top < max(12, _MIN_SHARE * h):
            continue
        if (right - left) * (bottom - top) > 0.97 * w * h:
            continue
        if not _plain_outside(grey, box):
            continue
        scaled = tuple(round(v * scale) for v in box)
        if scaled not in boxes:
            boxes.append(scaled)
    return boxes  # type: ignore[return-value]


def unrotate(image: Image.Image, tolerance: int = 24) -> Image.Image | None:
    """The picture inside ``image`` when ``image`` is a picture turned by 1-30 degrees onto a plain canvas
    (its corners are four canvas-coloured triangles), turned back and cut out; None when it is not one.
    The angle is read from the top-left triangle: its legs along the top edge (a) and the left edge (b)."""
    grey, scale = _grey(image)
    h, w = grey.shape
    if h < 24 or w < 24:
        return None
    corners = [grey[0, 0], grey[0, -1], grey[-1, 0], grey[-1, -1]]
    if max(corners) - min(corners) > tolerance:
        return None
    ink = np.abs(grey - float(np.mean(corners))) > tolerance

    def run(line: np.ndarray) -> int:
        hit = np.flatnonzero(line)
        return int(hit[0]) if len(hit) else len(line)

    a, b = run(ink[0]), run(ink[:, 0])
    a2, b2 = run(ink[-1][::-1]), run(ink[:, -1][::-1])  # the opposite triangle: the same legs
    if min(a, b, a2, b2) < 2 or a >= w or b >= h:
        return None
    if abs(a - a2) > 0.1 * w + 3 or abs(b - b2) > 0.1 * h + 3:
        return None  # not a turned rectangle
    # a > b: the top edge, turned counter-clockwise by atan(b/a); b > a: the left edge, clockwise by atan(a/b)
    theta = math.atan2(b, a) if a > b else -math.atan2(a, b)
    if not math.radians(1) <= abs(theta) <= math.radians(30):
        return None
    big_w, big_h = image.size
    c, s = math.cos(abs(theta)), math.sin(abs(theta))
    denom = c * c - s * s
    inner_w, inner_h = (big_w * c - big_h * s) / denom, (big_h * c - big_w * s) / denom
    if inner_w < 0.5 * big_w or inner_h < 0.5 * big_h:
        return None
    back = image.convert("RGB").rotate(-math.degrees(theta), Image.Resampling.BICUBIC, expand=False)
    left, top = (big_w - inner_w) / 2, (big_h - inner_h) / 2
    # a pixel of margin: resampling smears the canvas colour into the picture's edge
    margin = max(1.0, scale)
    return back.crop((round(left + margin), round(top + margin), round(left + inner_w - margin),
                      round(top + inner_h - margin)))


def _flat_edges(detail: np.ndarray, floor: float) -> tuple[int, int]:
    """How many positions at each end of ``detail`` stay below ``floor``."""
    above = np.flatnonzero(detail >= floor)
    if not len(above):
        return 0, 0
    return int(above[0]), len(detail) - 1 - int(above[-1])


def detail_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The box of ``image`` without bands that hold next to no detail (fine structure): a blurred copy of
    the picture filling a 9:16 or square frame around it, soft gradients, noise-free fills. Each band must
    be at least 3 % of its side; the box keeps at least ``_MIN_SHARE`` of each side."""
    grey, scale = _grey(image)
    h, w = grey.shape
    if h < 24 or w < 24:
        return None
    smooth = np.asarray(Image.fromarray(grey.astype(np.uint8)).resize(
        (max(1, w // 4), max(1, h // 4)), Image.Resampling.BOX).resize((w, h), Image.Resampling.BILINEAR),
        dtype=np.float64)
    detail = np.abs(grey - smooth)
    cols, rows = detail.mean(axis=0), detail.mean(axis=1)
    floor_c = 0.3 * float(np.median(cols[w // 4: 3 * w // 4]))
    floor_r = 0.3 * float(np.median(rows[h // 4: 3 * h // 4]))
    if floor_c < 0.5 or floor_r < 0.5:
        return None  # the middle itself is smooth: nothing tells frame from picture
    (left, right), (top, bottom) = _flat_edges(cols, floor_c), _flat_edges(rows, floor_r)
    left, right = (left if left >= 0.03 * w else 0), (right if right >= 0.03 * w else 0)
    top, bottom = (top if top >= 0.03 * h else 0), (bottom if bottom >= 0.03 * h else 0)
    if not (left or right or top or bottom):
        return None
    x0, y0, x1, y1 = left, top, w - right, h - bottom
    if x1 - x0 < _MIN_SHARE * w or y1 - y0 < _MIN_SHARE * h:
        return None
    # The detail measure blurs the edge over a few pixels: snap each cut side to the strongest step nearby,
    # measured along the box only (the picture's edge against its frame).
    col_steps = np.abs(np.diff(grey[y0:y1], axis=1)).mean(axis=0)
    row_steps = np.abs(np.diff(grey[:, x0:x1], axis=0)).mean(axis=1)
    x0, x1 = (_snap(col_steps, x0) if left else 0), (_snap(col_steps, x1) if right else w)
    y0, y1 = (_snap(row_steps, y0) if top else 0), (_snap(row_steps, y1) if bottom else h)
    return tuple(round(v * scale) for v in (x0, y0, x1, y1))  # type: ignore[return-value]


def _snap(steps: np.ndarray, at: int, reach: int = 8) -> int:
    """The line (between positions p - 1 and p) with the largest step within ``reach`` of ``at``."""
    lo, hi = max(0, at - 1 - reach), min(len(steps), at - 1 + reach + 1)
    return lo + int(np.argmax(steps[lo:hi])) + 1 if hi > lo else at


def inner_pictures(image: Image.Image) -> list[Image.Image]:
    """The copies of ``image`` the query side hashes besides the whole: pictures framed by straight steps,
    without detail-free bands, and turned back from a small rotation onto a plain canvas."""
    boxes = framed_boxes(image)
    box = detail_box(image)
    if box is not None and box not in boxes:
        boxes.append(box)
    out = [image.crop(b) for b in boxes]
    turned = unrotate(image)
    if turned is not None:
        out.append(turned)
    return out
