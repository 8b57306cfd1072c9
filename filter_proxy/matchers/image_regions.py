"""Finding the content region of a query picture: a listed picture re-posted inside a frame (a caption band
with text, a screenshot of a viewer, pillar/letterbox bars filled flat or with a blurred copy of itself) or
turned by a small angle onto a plain canvas. Nothing here decides a match: the regions are hashed apart
from the whole picture and matched under the strict two-algorithm rule of ``image_region_match.py``.

Both finders are cheap (one grey/RGB copy of at most 256 px a side) and look only for clear frames:

* ``content_box``: lines (rows or columns) at the picture's edges that are *frame-like* are peeled off,
  outside in, recomputed within what is left until nothing changes. A line is frame-like when most of its
  pixels share one colour (a flat band, a caption band's background around its letters, a viewer's surround
  and its text column) or it holds far less fine detail than the rest (a blurred fill). Each cut edge is
  then snapped to the strongest straight step nearby (the pasted picture's edge).
* ``unrotate``: a plain canvas whose non-canvas pixels form one turned rectangle (its four extreme points
  consistent with a rectangle, the rectangle filled): turned back by the angle of its top edge and cut out.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from filter_proxy.matchers.image_bars import centred_boxes

_SIDE = 256  # frames are looked for on a copy no larger than this
_SAME = 12  # max channel difference from a line's median colour for a pixel to share its colour
_FLAT_SHARE = 0.6  # share of a line's pixels sharing one colour for the line to be a flat band
_DETAIL_SHARE = 0.3  # a line with less detail than this share of the picture's detailed lines is a fill
_MIN_KEEP = 0.3  # the region keeps at least this share of each side
_MIN_CUT = 0.02  # cuts thinner than this share of a side are ignored (the whole picture covers them)
_SNAP = 5  # lines (small copy) an edge may move to meet the strongest step


class Small:
    """The copy every finder works on (computed once per picture): RGB of at most ``_SIDE`` px a side, its
    grey, its fine detail, and the scale back to the picture."""

    __slots__ = ("detail", "grey", "rgb", "scale")

    def __init__(self, image: Image.Image) -> None:
        self.rgb, self.scale = _small(image)
        self.grey = self.rgb.mean(axis=2)
        self.detail = _detail(self.grey)


def _small(image: Image.Image) -> tuple[np.ndarray, float]:
    rgb = image.convert("RGB")
    scale = 1.0
    if max(rgb.size) > _SIDE:
        scale = max(rgb.size) / _SIDE
        rgb = rgb.resize((max(1, round(rgb.width / scale)), max(1, round(rgb.height / scale))),
                         Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.int16), scale


def _detail(grey: np.ndarray) -> np.ndarray:
    """Per pixel: its difference from a 4x4 box smoothing of the picture (fine structure; ~0 in a blur)."""
    h, w = grey.shape
    smooth = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).resize(
        (max(1, w // 4), max(1, h // 4)), Image.Resampling.BOX).resize((w, h), Image.Resampling.BILINEAR)
    return np.abs(grey - np.asarray(smooth, dtype=np.float64))


def _frame_like(grey: np.ndarray, detail: np.ndarray) -> np.ndarray:
    """Per row of ``grey``: whether the row looks like part of a frame (see the module docstring). A flat
    row shares the grey of the first or the last row (the frame's colour at that edge: a caption band's
    background, a viewer's surround), so a picture's own sky of another shade is not peeled. Every second
    pixel of a row is enough to tell its share."""
    sample = grey[:, ::2]
    flat = np.zeros(len(grey), dtype=bool)
    for edge in (sample[0], sample[-1]):
        flat |= (np.abs(sample - float(np.median(edge))) <= _SAME).mean(axis=1) >= _FLAT_SHARE
    rows = detail[:, ::2].mean(axis=1)
    reference = float(np.percentile(rows, 80))
    smooth = rows < _DETAIL_SHARE * reference if reference >= 1.0 else np.zeros(len(rows), dtype=bool)
    return flat | smooth


def _peel(flags: np.ndarray) -> tuple[int, int]:
    """How many lines at each end of ``flags`` are frame-like."""
    keep = np.flatnonzero(~flags)
    if not len(keep):
        return len(flags), 0
    return int(keep[0]), len(flags) - 1 - int(keep[-1])


def _snap(steps: np.ndarray, at: int) -> int:
    """The line boundary (between p - 1 and p) with the largest step within ``_SNAP`` of ``at``."""
    lo, hi = max(1, at - _SNAP), min(len(steps), at + _SNAP + 1)
    return lo + int(np.argmax(steps[lo:hi])) if hi > lo else at


def content_box(image: Image.Image, small: Small | None = None) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the region left when frame-like lines are peeled off ``image``'s
    edges, or None when there is no such frame (or it would leave less than ``_MIN_KEEP`` of a side)."""
    small = small or Small(image)
    scale, grey, detail = small.scale, small.grey, small.detail
    h, w = grey.shape
    if h < 24 or w < 24:
        return None
    box = [0, 0, w, h]  # left, top, right, bottom
    for _ in range(4):
        left, top, right, bottom = box
        sub, fine = grey[top:bottom, left:right], detail[top:bottom, left:right]
        cut_top, cut_bottom = _peel(_frame_like(sub, fine))
        cut_left, cut_right = _peel(_frame_like(sub.T, fine.T))
        new = [left + cut_left, top + cut_top, right - cut_right, bottom - cut_bottom]
        if new[2] - new[0] < _MIN_KEEP * w or new[3] - new[1] < _MIN_KEEP * h:
            return None
        if new == box:
            break
        box = new
    left, top, right, bottom = box
    cuts = (left, top, w - right, h - bottom)
    if max(c / s for c, s in zip(cuts, (w, h, w, h), strict=True)) < _MIN_CUT:
        return None
    # Peeling stops a line or two off the picture's edge (JPEG ringing, a caption's last letters): snap each
    # cut side to the strongest step measured along the box only.
    col_steps = np.zeros(w + 1)
    col_steps[1:w] = np.abs(np.diff(grey[top:bottom], axis=1)).mean(axis=0)
    row_steps = np.zeros(h + 1)
    row_steps[1:h] = np.abs(np.diff(grey[:, left:right], axis=0)).mean(axis=1)
    left = _snap(col_steps, left) if cuts[0] else 0
    right = _snap(col_steps, right) if cuts[2] else w
    top = _snap(row_steps, top) if cuts[1] else 0
    bottom = _snap(row_steps, bottom) if cuts[3] else h
    if right - left < _MIN_KEEP * w or bottom - top < _MIN_KEEP * h:
        return None
    full_w, full_h = image.size
    return (max(0, round(left * scale)), max(0, round(top * scale)), min(full_w, round(right * scale)),
            min(full_h, round(bottom * scale)))


# Step-line finder (kept from the reverted region search, whose boxes were good; its matching was not)
_MIN_STEP = 6.0  # mean grey step (0-255) along a line for it to count
_RATIO = 3.0  # a line's step against the median of its neighbourhood
_NEAR = 2  # columns/rows on either side that belong to the same (resampled) line
_AROUND = 10  # neighbourhood for the median
_MIN_SHARE = 0.25  # a box keeps at least this share of each side
_FLAT = 4.0  # grey-level step between neighbours below which a frame counts as plain there
_PLAIN = 0.75  # share of a frame's pixels that must be plain


def _grey(image: Image.Image, small: Small | None) -> tuple[np.ndarray, float]:
    small = small or Small(image)
    return small.grey, small.scale


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
    """The longest stretch where a line's step is strong, as [start, end), gaps of up to 6 % of the line
    bridged: where a picture's edge meets a frame of nearly its own colour the step fades for a while (a
    pale part of a photo against a white caption band), while a title bar's text above a pasted picture
    is further off."""
    strong = np.flatnonzero(column > max(_MIN_STEP, 0.25 * float(column.max(initial=0))))
    if not len(strong):
        return None
    breaks = np.flatnonzero(np.diff(strong) > max(4, 0.06 * len(column)))
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(strong) - 1]])
    k = int(np.argmax(strong[ends] - strong[starts]))
    return int(strong[starts[k]]), int(strong[ends[k]]) + 1


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


def framed_boxes(image: Image.Image, small: Small | None = None) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom) of ``image`` framed by long straight steps: a pasted picture's edges.
    Two readings: the strongest vertical lines with the rows they span, and the strongest horizontal lines
    with the columns they span (a caption band has only the latter)."""
    grey, scale = _grey(image, small)
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


def _flat_edges(detail: np.ndarray, floor: float) -> tuple[int, int]:
    """How many positions at each end of ``detail`` stay below ``floor``."""
    above = np.flatnonzero(detail >= floor)
    if not len(above):
        return 0, 0
    return int(above[0]), len(detail) - 1 - int(above[-1])


def detail_box(image: Image.Image, small: Small | None = None) -> tuple[int, int, int, int] | None:
    """The box of ``image`` without bands that hold next to no detail (fine structure): a blurred copy of
    the picture filling a 9:16 or square frame around it, soft gradients, noise-free fills. Each band must
    be at least 3 % of its side; the box keeps at least ``_MIN_SHARE`` of each side."""
    small = small or Small(image)
    grey, scale, detail = small.grey, small.scale, small.detail
    h, w = grey.shape
    if h < 24 or w < 24:
        return None
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
    x0, x1 = (_snap_old(col_steps, x0) if left else 0), (_snap_old(col_steps, x1) if right else w)
    y0, y1 = (_snap_old(row_steps, y0) if top else 0), (_snap_old(row_steps, y1) if bottom else h)
    return tuple(round(v * scale) for v in (x0, y0, x1, y1))  # type: ignore[return-value]


def _snap_old(steps: np.ndarray, at: int, reach: int = 8) -> int:
    """The line (between positions p - 1 and p) with the largest step within ``reach`` of ``at``."""
    lo, hi = max(0, at - 1 - reach), min(len(steps), at - 1 + reach + 1)
    return lo + int(np.argmax(steps[lo:hi])) + 1 if hi > lo else at


def unrotate(image: Image.Image, small: Small | None = None, tolerance: int = 24) -> Image.Image | None:
    """The picture inside ``image`` when ``image`` is a picture turned by 2-45 degrees onto a plain canvas,
    turned back and cut out; None when no clear turned rectangle is there."""
    small = small or Small(image)
    rgb, scale = small.rgb, small.scale
    h, w = rgb.shape[:2]
    if h < 24 or w < 24:
        return None
    corners = np.array([rgb[0, 0], rgb[0, -1], rgb[-1, 0], rgb[-1, -1]], dtype=np.float64)
    if float(np.ptp(corners, axis=0).max()) > tolerance:
        return None
    canvas = corners.mean(axis=0)
    ink = np.abs(rgb - canvas).max(axis=2) > tolerance
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if len(rows) < 12 or len(cols) < 12:
        return None

    def extreme(line: np.ndarray) -> float:
        hits = np.flatnonzero(line)
        return float(hits.mean())

    top_y, bottom_y, left_x, right_x = rows[0], rows[-1], cols[0], cols[-1]
    p_top = np.array([extreme(ink[top_y]), top_y])
    p_bottom = np.array([extreme(ink[bottom_y]), bottom_y])
    p_left = np.array([left_x, extreme(ink[:, left_x])])
    p_right = np.array([right_x, extreme(ink[:, right_x])])
    # A rectangle: the diagonals share their midpoint, and the sides meet at right angles.
    diagonal = float(np.hypot(*(p_bottom - p_top)))
    if diagonal < 12 or float(np.hypot(*((p_top + p_bottom) / 2 - (p_left + p_right) / 2))) > 0.03 * diagonal:
        return None
    edge_a, edge_b = p_top - p_left, p_right - p_top  # left -> top -> right
    len_a, len_b = float(np.hypot(*edge_a)), float(np.hypot(*edge_b))
    if min(len_a, len_b) < 12 or abs(float(np.dot(edge_a, edge_b))) > 0.05 * len_a * len_b:
        return None
    slope = math.degrees(math.atan2(-edge_a[1], edge_a[0]))  # of the left -> top edge, 0-90
    turn = slope if slope <= 45 else -(90 - slope)  # counter-clockwise (left -> top is the top edge) or not
    turn = _fitted_turn(ink, rows, turn)
    if abs(turn) < 2:
        return None  # trim_borders and the whole picture's hashes cover it
    # The picture's size from the bounding box of the turned rectangle (exact up to a pixel, where the
    # extreme points are not): box_w = w cos + h sin, box_h = w sin + h cos.
    box_w, box_h = float(cols[-1] + 1 - cols[0]), float(rows[-1] + 1 - rows[0])
    c, s_ = math.cos(math.radians(abs(turn))), math.sin(math.radians(abs(turn)))
    if abs(turn) <= 35:
        width, height = (box_w * c - box_h * s_) / (c * c - s_ * s_), (box_h * c - box_w * s_) / (c * c - s_ * s_)
    else:
        width, height = (len_a, len_b) if turn > 0 else (len_b, len_a)
    if min(width, height) < 12:
        return None
    filled = float(ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1].sum())
    if not 0.9 <= filled / (width * height) <= 1.08:
        return None  # not one filled rectangle (a drawing, a cut-out shape on a plain ground)
    centre = np.array([cols[0] + cols[-1] + 1, rows[0] + rows[-1] + 1]) / 2 * scale
    back = image.convert("RGB").rotate(-turn, Image.Resampling.BICUBIC, expand=False,
                                       center=(float(centre[0]), float(centre[1])))
    half_w, half_h = width * scale / 2 - max(1.0, scale), height * scale / 2 - max(1.0, scale)
    box = (round(centre[0] - half_w), round(centre[1] - half_h), round(centre[0] + half_w), round(centre[1] + half_h))
    if box[2] - box[0] < 16 or box[3] - box[1] < 16:
        return None
    return back.crop(box)


def _fitted_turn(ink: np.ndarray, rows: np.ndarray, rough: float) -> float:
    """The turn (degrees counter-clockwise) read from straight lines fitted to the four edges: the first and
    last ink of each row trace them (left: top corner -> left corner -> bottom corner; right likewise).
    Every edge of a turned rectangle lies at the turn modulo 90 degrees; the median of the four fits is
    taken, and ``rough`` (from the corners alone) when no edge has enough rows."""
    band = ink[rows[0]: rows[-1] + 1]
    has = band.any(axis=1)
    ys = np.flatnonzero(has).astype(np.float64)
    if len(ys) < 12:
        return rough
    first = np.argmax(band[has], axis=1).astype(np.float64)
    last = (band.shape[1] - 1 - np.argmax(band[has][:, ::-1], axis=1)).astype(np.float64)
    estimates = []
    for xs, turn_at in ((first, int(np.argmin(first))), (last, int(np.argmax(last)))):
        for lo, hi in ((0, turn_at), (turn_at, len(ys))):
            span = hi - lo
            if span < 10:
                continue
            inner = slice(lo + span // 6, hi - span // 6)  # the corners' rounding left out
            slope = np.polyfit(ys[inner], xs[inner], 1)[0]  # x = slope * y + c: direction (slope, 1)
            angle = (-math.degrees(math.atan2(1.0, slope))) % 90.0
            estimates.append(angle - 90.0 if angle > 45 else angle)
    if not estimates:
        return rough
    fitted = float(np.median(estimates))
    return fitted if abs(fitted - rough) <= 3 else rough


def _frame_edge(small: Small) -> bool:
    """Whether some edge of the picture starts with a band of frame-like lines (flat in the grey of the
    edge, or without fine detail: a blurred fill) at least ``_MIN_CUT`` of the side thick (and 3 lines; the
    outermost line is skipped, JPEG blurs it). Every frame class has one; most photographs do not."""
    grey, detail = small.grey, small.detail
    if min(grey.shape) < 24:
        return False
    reference = max(float(np.percentile(detail.mean(axis=1), 80)), float(np.percentile(detail.mean(axis=0), 80)))
    for lines, fine in ((grey, detail), (grey[::-1], detail[::-1]), (grey.T, detail.T), (grey.T[::-1], detail.T[::-1])):
        depth = max(3, round(_MIN_CUT * len(lines)))
        band, band_detail = lines[1: depth + 1], fine[1: depth + 1]
        flat = (np.abs(band - float(np.median(band[0]))) <= _SAME).mean(axis=1) >= _FLAT_SHARE
        smooth = band_detail.mean(axis=1) < _DETAIL_SHARE * reference if reference >= 1.0 else flat & False
        if bool((flat | smooth).all()):
            return True
    return False


def inner_pictures(image: Image.Image) -> list[Image.Image]:
    """The region copies of ``image`` the query side hashes besides the whole picture: the content box and
    the picture turned back from a canvas (each only where a clear frame or turned rectangle is found)."""
    small = Small(image)
    if not _frame_edge(small):
        return []  # every frame class leaves a flat or detail-free line at some edge: most pictures stop here
    boxes = [b for b in [content_box(image, small), *framed_boxes(image, small), detail_box(image, small),
                         *centred_boxes(small.grey, small.scale, image.size)] if b is not None]
    out = [image.crop(b) for b in dict.fromkeys(boxes)]
    turned = unrotate(image, small)
    if turned is not None:
        out.append(turned)
    return out
