"""Finding a picture centred between bars (pillarbox or letterbox), the fill flat or a blurred, stretched copy
of the picture itself: the frame a phone app or a video re-post puts round a picture of another aspect.

``image_regions.detail_box`` cuts bands that hold next to no fine detail; that fails where the picture's
own edge is smooth too (a soft sky, a gradient, a dark corner), which is common in generated pictures and
photographs alike: measured on the frames benchmark, a blurred fill was found round 80 % of listed pictures.
Bars have a property no measure of detail needs: the picture sits *centred* across one axis, so its two
edges are one pair of straight steps at ``x`` and ``side - x``. ``centred_boxes`` looks for the strongest
such symmetric pair of column (or row) steps, each standing out of its neighbourhood, with the bars outside
smoother than the picture next to them (a flat fill's steps are 0, a blur's a fraction of the picture's
own grain). Nothing here decides a match: the box is
one more region for the strict rule of ``image_region_match``.
"""

from __future__ import annotations

import numpy as np

_MIN_BAR = 0.03  # a bar is at least this share of its side
_MAX_BAR = 0.36  # ... and at most this share (the picture keeps >= 28 % of the side)
_SLACK = 2  # the second edge may sit this many lines off the mirror position (rounding of the small copy)
_REACH = 6  # lines on each side of an edge whose steps tell bar from picture
_CONTRAST = 3.0  # the picture's steps next to each edge against the bar's (a blur or a flat fill is smoother)
_TEXTURE = 0.6  # the picture's own mean step next to each edge (grey levels): below it nothing tells them apart
_SAME_BAR = 2.0  # a bar found at one edge only: the mirror bar's steps are at most this many times its own
_FLOOR = 0.1  # added to the bar's step level: a flat bar's 0 must not divide


def _levels(steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per boundary p (between lines p - 1 and p): the median step of the ``_REACH`` lines before it and of
    those after it, the boundary's own step and its neighbours (resampling spreads it) left out; NaN where
    a side runs off the picture."""
    n = len(steps)
    before, after = np.full(n, np.nan), np.full(n, np.nan)
    if n < 2 * _REACH + 6:
        return before, after
    medians = np.median(np.lib.stride_tricks.sliding_window_view(steps[1:], _REACH), axis=1)
    # medians[i] = median(steps[1 + i: 1 + i + _REACH])
    p = np.arange(n)
    ok = (p - _REACH - 1 >= 1) & (p + _REACH + 2 <= n)
    before[ok] = medians[p[ok] - _REACH - 2]
    after[ok] = medians[p[ok] + 1]
    return before, after


def _pair(steps: np.ndarray) -> tuple[int, int] | None:
    """(x0, x1) of the best symmetric pair of edges in ``steps`` (index p = the mean grey step between lines
    p - 1 and p): the bar's side at least ``_CONTRAST`` times smoother than the picture's at both edges (the
    pair whose weaker edge is the strongest wins), else at one edge while the mirror position's bar side is
    as smooth as that bar (the picture's own edge there is smooth too: a sky meeting a blurred copy of
    itself; symmetry places it). None when nothing qualifies."""
    n = len(steps) - 1
    before, after = _levels(steps)
    with np.errstate(invalid="ignore"):
        # As a left/top edge (bar before it) and as a right/bottom edge (bar after it): how much rougher the
        # picture's side is than the bar's; 0 where the picture's side is too smooth to tell.
        opening = np.where(after >= _TEXTURE, after / (before + _FLOOR), 0.0)
        closing = np.where(before >= _TEXTURE, before / (after + _FLOOR), 0.0)
    opening, closing = np.nan_to_num(opening), np.nan_to_num(closing)
    lo, hi = max(3, round(_MIN_BAR * n)), round(_MAX_BAR * n)
    both: tuple[float, int, int] | None = None
    one: tuple[float, int, int] | None = None
    for x in range(lo, hi + 1):
        for at, score, bar, mirror_bar, theirs in ((x, opening, before, after, closing),
                                                    (n - x, closing, after, before, opening)):
            if score[at] < _CONTRAST:
                continue
            for mirror in range(n - at - _SLACK, n - at + _SLACK + 1):
                if 8 < abs(mirror - at) < n - 4 and 0 < mirror < n:
                    pair = min(float(score[at]), float(theirs[mirror]))
                    if pair >= _CONTRAST and (both is None or pair > both[0]):
                        both = (pair, min(at, mirror), max(at, mirror))
            mirror = n - at
            if 0 < mirror < n and mirror_bar[mirror] <= _SAME_BAR * bar[at] + _FLOOR and (
                    one is None or float(score[at]) > one[0]):
                one = (float(score[at]), min(at, mirror), max(at, mirror))
    if both is not None:
        return _snap(steps, both[1], +1, before, after), _snap(steps, both[2], -1, after, before)
    if one is not None:
        # the edge that was seen is placed; its mirror follows it
        if opening[one[1]] >= closing[one[2]]:
            first = _snap(steps, one[1], +1, before, after)
        else:
            first = n - _snap(steps, one[2], -1, after, before)
        return first, n - first
    return None


def _snap(steps: np.ndarray, at: int, inward: int, bar: np.ndarray, picture: np.ndarray) -> int:
    """The edge near ``at``: the first boundary met coming from the bar (``inward`` +1: the bar lies before
    ``at``) whose step is rougher than the geometric mean of the bar's and the picture's step levels. The
    windows that chose ``at`` leave the edge out, so positions a line or three off it score as well."""
    level = float(np.sqrt((bar[at] + _FLOOR) * picture[at]))
    lo, hi = max(1, at - _REACH), min(len(steps) - 1, at + _REACH)
    for p in range(lo, hi + 1) if inward > 0 else range(hi, lo - 1, -1):
        if steps[p] >= level:
            return p
    return at


def centred_boxes(grey: np.ndarray, scale: float, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Boxes (left, top, right, bottom, in ``size``'s pixels) of a picture centred between pillarbox bars
    (left and right) or letterbox bars (top and bottom) of the small grey copy ``grey`` (``scale``: small
    copy -> picture)."""
    h, w = grey.shape
    if h < 24 or w < 24:
        return []
    out = []
    col_steps = np.zeros(w + 1)
    col_steps[1:w] = np.abs(np.diff(grey, axis=1)).mean(axis=0)
    found = _pair(col_steps)
    if found is not None:
        out.append((found[0], 0, found[1], h))
    row_steps = np.zeros(h + 1)
    row_steps[1:h] = np.abs(np.diff(grey, axis=0)).mean(axis=1)
    found = _pair(row_steps)
    if found is not None:
        out.append((0, found[0], w, found[1]))
    full_w, full_h = size
    return [(max(0, round(a * scale)), max(0, round(b * scale)), min(full_w, round(c * scale)),
             min(full_h, round(d * scale))) for a, b, c, d in out]
