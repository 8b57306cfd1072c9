"""Red-team classes of re-posted pictures (held-out photographs and pictures generated apart from the
benchmark's): a listed picture inside a larger one (caption band, screenshot of a viewer, 9:16 or square
fill with bars or a blurred copy, JPEG-ringed letterbox), turned onto a plain canvas, turned and cut,
cropped at a corner; and different pictures never matching. Each class fails before the change that
handles it (matchers/image_regions.py, the turned and corner enrollment crops, the confirm tiers)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps
from skimage import data

from filter_proxy.images_policy import DEFAULT_THRESHOLDS
from filter_proxy.matchers.images import (
    ImageEntry,
    ImageIndex,
    compute_enrollment_hashes,
    compute_hashes,
    compute_query_hashes,
    picture_view,
)
from tests.support import pictures as pics

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
PHOTOS = ("stereo_motorcycle", "cell", "cat")


def photo(name: str) -> Image.Image:
    array = getattr(data, name)()
    array = array[0] if isinstance(array, tuple) else array
    image = Image.fromarray(np.asarray(array)).convert("RGB")
    image.thumbnail((320, 320))
    return image


LISTED = [photo(n) for n in PHOTOS] + [pics.picture(seed) for seed in range(50_001, 50_008)]
pick = st.integers(0, len(LISTED) - 1)


def threshold(_category: str, algorithm: str) -> int:
    return DEFAULT_THRESHOLDS[algorithm]


def shared_index() -> ImageIndex:
    """A bare pHash list, as a hash-sharing body sends it."""
    return ImageIndex.build([ImageEntry("phash", compute_hashes(pics.encode(p), ["phash"])["phash"], f"p{i}",
                                        f"shared.csv:{i + 1}") for i, p in enumerate(LISTED)])


def own_index() -> ImageIndex:
    entries = []
    for i, picture in enumerate(LISTED):
        rows = compute_enrollment_hashes(pics.encode(picture), ["phash", "dhash"])
        entries += [ImageEntry(a, h, f"p{i}", f"own{i}.csv:{k + 1}", f"pic{i}", picture_view(label))
                    for k, (a, h, label) in enumerate(rows)]
    return ImageIndex.build(entries)


@pytest.fixture(scope="module")
def shared() -> ImageIndex:
    return shared_index()


@pytest.fixture(scope="module")
def own() -> ImageIndex:
    return own_index()


def found(index: ImageIndex, image: Image.Image, fmt: str = "PNG", algorithms: tuple[str, ...] = ("phash",)
          ) -> set[str]:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, fmt, quality=30)
    query = compute_query_hashes(buf.getvalue(), list(algorithms))
    return {m.category for m in index.matches(query, threshold)}


words = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=8, max_size=40)
FRAMES: dict[str, Callable[[st.DataObject, Image.Image], Image.Image]] = {
    "caption": lambda d, im: pics.caption(im, d.draw(st.floats(0.1, 0.25)), d.draw(st.booleans()), d.draw(words)),
    "screenshot": lambda d, im: pics.screenshot(im, d.draw(st.floats(0.45, 0.7)), d.draw(st.integers(-20, 20))),
    "bars": lambda d, im: pics.fill_to(im, d.draw(st.sampled_from([9 / 16, 16 / 9, 1.0])),
                                       d.draw(st.tuples(*[st.integers(0, 255)] * 3))),
}


FRAME_GRID: list[Callable[[Image.Image], Image.Image]] = [
    *(lambda im, s=s, t=t: pics.caption(im, s, t, "00000000 caption") for s in (0.1, 0.25) for t in (True, False)),
    *(lambda im, s=s, d=d: pics.screenshot(im, s, d) for s in (0.45, 0.7) for d in (-20, 20)),
    *(lambda im, r=r: pics.fill_to(im, r, (0, 0, 0)) for r in (9 / 16, 16 / 9, 1.0)),
]


def test_a_listed_picture_inside_a_frame_matches_a_bare_phash_list(shared: ImageIndex) -> None:
    """A bare pHash list has no crops enrolled and no second algorithm: over a fixed grid of frames (caption
    bands above and below, viewer screenshots, bars to 9:16, 16:9 and square) and both formats, nearly every
    framed copy is found (measured 215 of 220; the misses are a top caption over the motorcycle and a
    screenshot of the cell). Before the region search, none of the screenshots and few captions were."""
    hits = sum(f"p{i}" in found(shared, frame(picture), fmt)
               for i, picture in enumerate(LISTED) for frame in FRAME_GRID for fmt in ("PNG", "JPEG"))
    assert hits >= 0.95 * len(LISTED) * len(FRAME_GRID) * 2


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from([9 / 16, 1.0]))
def test_most_pictures_in_a_blurred_fill_match_a_bare_phash_list(shared: ImageIndex, ratio: float) -> None:
    """A blurred copy of the picture around it has no straight edge everywhere: judged over the set."""
    hits = sum(f"p{i}" in found(shared, pics.fill_to(p, ratio, None)) for i, p in enumerate(LISTED))
    assert hits >= 0.8 * len(LISTED)


def test_pictures_turned_onto_a_plain_canvas_are_turned_back(shared: ImageIndex) -> None:
    """Judged over a fixed grid (2-10 degrees both ways, white and black canvas, the ten listed pictures):
    measured 163 of 200, at least 6 of 10 at every angle; a dark picture on a black canvas shows no corner
    to measure the angle from (a mid-grey canvas is weaker still: 1 in 10 at 7 degrees). Before, 0-5 of 10
    beyond 2 degrees."""
    total = 0
    for angle in (2, -2, 4, -4, 6, -6, 8, -8, 10, -10):
        for canvas in ((255, 255, 255), (0, 0, 0)):
            hits = sum(f"p{i}" in found(shared, pics.turned_onto_canvas(p, angle, canvas))
                       for i, p in enumerate(LISTED))
            assert hits >= 0.6 * len(LISTED), (angle, canvas)
            total += hits
    assert total >= 0.75 * 20 * len(LISTED)


EDGES = st.floats(0.0, 0.1)


@SETTINGS
@given(pick, st.floats(2, 10), st.booleans(), st.booleans())
def test_turned_and_cut_copies_match_own_enrollment(own: ImageIndex, i: int, degrees: float, clockwise: bool,
                                                    mirrored: bool) -> None:
    image = pics.turned_and_cut(LISTED[i], -degrees if clockwise else degrees)
    image = ImageOps.mirror(image) if mirrored else image
    assert found(own, image, algorithms=("phash", "dhash")) == {f"p{i}"}


def test_corner_crops_match_own_enrollment(own: ImageIndex) -> None:
    """Two adjacent sides cut (what keeps a corner), 6-12 %, optionally mirrored first, over a fixed grid of
    the ten listed pictures: never another picture, and at most 1 % missed (measured 239 of 240: a mirrored
    12 % bottom-right cut of one generated picture)."""
    missed = 0
    for i, picture in enumerate(LISTED):
        for corner in ("top left", "top right", "bottom left", "bottom right"):
            for share in (0.06, 0.09, 0.12):
                for mirrored in (False, True):
                    image = ImageOps.mirror(picture) if mirrored else picture
                    top, left = ("bottom" in corner) * share, ("right" in corner) * share
                    bottom, right = ("top" in corner) * share, ("left" in corner) * share
                    got = found(own, pics.cut(image, left, top, right, bottom), algorithms=("phash", "dhash"))
                    assert got <= {f"p{i}"}
                    missed += not got
    assert missed <= 0.01 * len(LISTED) * 24


OTHERS = st.one_of(st.integers(60_000, 10**6).map(pics.picture))
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "as is": lambda im: im,
    "bars 1:1": lambda im: pics.fill_to(im, 1.0, (0, 0, 0)),
    "screenshot": lambda im: pics.screenshot(im, 0.6, 0),
    "turned 5": lambda im: pics.turned_onto_canvas(im, 5, (0, 0, 0)),
    "turned and cut 6": lambda im: pics.turned_and_cut(im, 6),
    "caption": lambda im: pics.caption(im, 0.15, False, "an unrelated caption"),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(OTHERS, st.sampled_from(sorted(EDITS)))
def test_different_pictures_never_match(own: ImageIndex, shared: ImageIndex, other: Image.Image, edit: str) -> None:
    image = EDITS[edit](other)
    assert not found(own, image, algorithms=("phash", "dhash"))
    assert not found(shared, image)


def flip(value: int, bits: list[int]) -> str:
    for b in bits:
        value ^= 1 << b
    return f"{value:016x}"


hashes64 = st.integers(0, 2**64 - 1)
positions = st.lists(st.integers(0, 63), unique=True, min_size=32, max_size=32)


def enrolled(p: int, d0: int, d1: int) -> ImageIndex:
    return ImageIndex.build([ImageEntry("phash", f"{p:016x}", "c", "c.csv:1", "x"),
                             ImageEntry("dhash", f"{d0:016x}", "c", "c.csv:2", "x"),
                             ImageEntry("dhash", f"{d1:016x}", "c", "c.csv:3", "x", view=1)])


@settings(max_examples=60, deadline=None)
@given(hashes64, hashes64, hashes64, positions, st.integers(0, 7), st.integers(0, 26), st.integers(0, 14))
def test_confirm_bounds_depend_on_how_close_the_first_match_is(p: int, d0: int, d1: int, bits: list[int],
                                                              dhash_off: int, phash_off: int,
                                                              phash_first_dhash_off: int) -> None:
    """A dHash match within 4 on both views is confirmed by pHash up to 26; one at 5-7 only up to 16 (a
    colour wheel on white came within dHash 5-7 and pHash 18-20 of pictures in black bars). A pHash match
    (<= 10) is confirmed by dHash up to 13 on both views (14 matched a different picture at pHash 10), up
    to 14 when the pHash match is within 6."""
    # The two enrolled dHash views 32 bits apart (as a picture's and its transpose's are, far): up to 14
    # flipped bits of one view never bring it within 14 of the other view.
    d1 = d0 ^ 0xAAAAAAAAAAAAAAAA
    index = enrolled(p, d0, d1)
    query = {"phash": [flip(p, bits[:phash_off])], "dhash": [flip(d0, bits[:dhash_off]), flip(d1, bits[:dhash_off])]}
    assert bool(index.matches(query, threshold)) == (
        (phash_off <= 26 and dhash_off <= 4) or (phash_off <= 16 and dhash_off <= 7)
        or (phash_off <= 10 and dhash_off <= 13))
    query = {"phash": [flip(p, bits[:min(phash_off, 10)])],
             "dhash": [flip(d0, bits[:phash_first_dhash_off]), flip(d1, bits[:phash_first_dhash_off])]}
    assert bool(index.matches(query, threshold)) == (phash_first_dhash_off <= 13 or (
        phash_first_dhash_off <= 14 and min(phash_off, 10) <= 6))
