"""Frames must not make false whole-picture matches, and blurred bars must be seen through.

* A frame (bars, a caption band, a border) puts an unrelated picture in the middle of a plain surround:
  its dHash then looks like that of a listed *centred object on a plain ground* (the colour wheel on white),
  whose rows nearly repeat. Such whole-picture matches, allowed by the loose confirm bounds only, are dropped
  for framed queries (``ImageIndex._judge``: ``plain_pattern``), and so is a framed query's pHash match that
  no content region resembles (``region_supports``). The region stage still finds framed listed copies.
* Bars filled with a blurred copy of the picture: the picture sits centred, so its two edges are one
  symmetric pair (``image_bars.centred_boxes``), found where the detail measure failed.

Unlisted pictures come from tests/support/scenes.py (gradients, blobs on a plain ground, noise, text-like
bands), written for these tests; frames from tests/support/frames.py with hypothesis-drawn parameters."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from filter_proxy.images_policy import DEFAULT_THRESHOLDS
from filter_proxy.matchers.image_bars import centred_boxes
from filter_proxy.matchers.image_region_match import (
    FLAT_REGION,
    PLAIN_PATTERN,
    REGION_KEY,
    framed,
    parse_region,
    region_matches,
    row_change,
)
from filter_proxy.matchers.image_regions import Small
from filter_proxy.matchers.images import (
    ImageEntry,
    ImageIndex,
    compute_enrollment_hashes,
    compute_query_hashes,
    picture_view,
)
from tests.support import frames, scenes
from tests.support import pictures as pics
from tests.support.pictures import photo

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])
ALGOS = ["phash", "dhash"]


def wheel(seed: int) -> Image.Image:
    """A centred object on a plain ground: a disc of coloured sectors on white or a pale tint, with grain."""
    rng = np.random.default_rng(seed)
    w, h = 320, 240
    ground = (255, 255, 255) if seed % 2 else tuple(int(v) for v in rng.integers(200, 256, 3))
    image = Image.new("RGB", (w, h), ground)
    draw = ImageDraw.Draw(image)
    r = int(rng.integers(60, 110))
    cx, cy = w // 2 + int(rng.integers(-20, 20)), h // 2 + int(rng.integers(-15, 15))
    for k in range(12):
        draw.pieslice((cx - r, cy - r, cx + r, cy + r), 30 * k, 30 * k + 30,
                      fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    pixels = np.asarray(image, dtype=np.float64) + rng.normal(0, 3, (h, w, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


LISTED = [photo("colorwheel"), photo("coins"), photo("coffee"), photo("chelsea"), photo("page")] + \
    [wheel(seed) for seed in range(6)] + [pics.picture(seed) for seed in (123, 64_001, 64_002)]


def threshold(_category: str, algorithm: str) -> int:
    return DEFAULT_THRESHOLDS[algorithm]


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def own() -> ImageIndex:
    entries = []
    for i, picture in enumerate(LISTED):
        rows = compute_enrollment_hashes(pics.encode(picture), ALGOS)
        entries += [ImageEntry(a, h, f"c{i}", f"own.csv:{i * 1000 + k + 1}", f"p{i}", picture_view(label))
                    for k, (a, h, label) in enumerate(rows)]
    return ImageIndex.build(entries)


colours = st.tuples(*[st.integers(0, 255)] * 3)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz .:!", min_size=3, max_size=30)
frame = st.one_of(
    st.builds(lambda s, w, c, i, t: lambda im: frames.caption(im, s, w, c, i, t), st.floats(0.08, 0.35),
              st.sampled_from(["top", "bottom", "both"]), colours, colours, words),
    st.builds(lambda a, f, c: lambda im: frames.bars(im, a, f, c), st.sampled_from([9 / 16, 1.0, 16 / 9, 4 / 5, 2.0]),
              st.sampled_from(["flat", "blur"]), colours),
    st.builds(lambda s, k, c, t: lambda im: frames.sticker(im, s, k, c, t), st.floats(0.1, 0.3),
              st.integers(0, 3), colours, words),
    st.builds(lambda s, x, c, t: lambda im: frames.screenshot(im, s, x, c, t), st.floats(0.4, 0.85),
              st.floats(0, 1), colours, words),
)


@SETTINGS
@given(picture=scenes.scenes, framing=frame, quality=st.sampled_from([70, 85, 95]))
def test_a_framed_unlisted_scene_never_matches(own: ImageIndex, picture: Image.Image, framing: object,
                                               quality: int) -> None:
    query = compute_query_hashes(jpeg(framing(picture), quality), ALGOS)  # type: ignore[operator]
    assert own.matches(query, threshold) == []


# Frames of unrelated pictures that matched a listed picture as a whole before the guard (the frames
# benchmark's unlisted pictures, found there): a caption band, bars and a corner sticker round one generated
# picture came within dHash 2-7 of the colour wheel (pHash 18-24), a caption band round another within
# pHash 10 / dHash 14 of a generated listed picture. Swept over a grid of the frames' parameters.
REGRESSION = [
    (lambda: __import__("benchmarks.imageset", fromlist=["x"]).generated_picture(7019)),
    (lambda: __import__("benchmarks.imageset", fromlist=["x"]).generated_picture(7036)),
    (lambda: pics.picture(306)),
    (lambda: pics.picture(327)),
]
GRID = [lambda im, s=s, w=w, c=c: frames.caption(im, s, w, c, (0, 0, 0), "so true")
        for s, w, c in itertools.product((0.1, 0.2, 0.3), ("top", "bottom", "both"), ((255, 255, 255), (0, 0, 0)))]
GRID += [lambda im, a=a, f=f, c=c: frames.bars(im, a, f, c)
         for a, f, c in itertools.product((9 / 16, 1.0, 16 / 9, 4 / 5, 2.0), ("flat", "blur"), ((0, 0, 0),
                                                                                            (255, 255, 255)))]
GRID += [lambda im, s=s, k=k: frames.sticker(im, s, k, (255, 255, 255), "look") for s, k in
         itertools.product((0.12, 0.25), range(4))]


def test_frames_round_pictures_that_matched_before_match_nothing(own: ImageIndex) -> None:
    wrong = []
    for make in REGRESSION:
        picture = make()
        for framing in GRID:
            for quality in (70, 95):
                found = own.matches(compute_query_hashes(jpeg(framing(picture), quality), ALGOS), threshold)
                wrong += [found] if found else []
    assert wrong == []


# --- listed copies are still found ------------------------------------------------------------------------
BARS = [lambda im, a=a: frames.bars(im, a, "blur", (0, 0, 0)) for a in (9 / 16, 1.0, 16 / 9, 4 / 5, 2.0)]
BARS_LISTED = [pics.picture(seed) for seed in range(65_001, 65_021)]


def test_blurred_bars_round_listed_pictures_are_found() -> None:
    """Recall over a fixed grid (the class is below 100 %, so a rate): 20 generated pictures (landscapes and
    1/f noise, whose own edges are often smooth) in blurred bars of five aspects. Measured: 85/100 before
    the centred-bars finder, 97/100 with it; never another listed picture."""
    entries = []
    for i, picture in enumerate(BARS_LISTED):
        rows = compute_enrollment_hashes(pics.encode(picture), ALGOS)
        entries += [ImageEntry(a, h, f"c{i}", f"own.csv:{i * 1000 + k + 1}", f"p{i}", picture_view(label))
                    for k, (a, h, label) in enumerate(rows)]
    index = ImageIndex.build(entries)
    hits = total = 0
    for (i, picture), framing in itertools.product(enumerate(BARS_LISTED), BARS):
        found = index.matches(compute_query_hashes(jpeg(framing(picture)), ALGOS), threshold)
        assert all(m.category == f"c{i}" for m in found), (i, found)
        hits += any(m.category == f"c{i}" for m in found)
        total += 1
    assert hits / total >= 0.93, f"{hits}/{total}"


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), size=scenes.SIZES, aspect=st.sampled_from([9 / 16, 1.0, 16 / 9, 4 / 5, 2.0]),
       fill=st.sampled_from(["flat", "blur"]), colour=colours, blur=st.floats(0, 1.5))
def test_centred_bars_are_found_round_a_detailed_picture(seed: int, size: tuple[int, int], aspect: float, fill: str,
                                                        colour: tuple[int, int, int], blur: float) -> None:
    """A picture with detail up to its edges, centred between bars of any fill: the box is its own, within
    a few pixels (the finder works on a copy of at most 256 px)."""
    picture = scenes.noise(size, seed, blur, colour)
    w, h = size
    framed = frames.bars(picture, aspect, fill, colour)
    if framed.size == picture.size or min((framed.width - w), (framed.height - h)) < 0:
        return
    big_w, big_h = framed.size
    truth = ((big_w - w) // 2, (big_h - h) // 2, (big_w - w) // 2 + w, (big_h - h) // 2 + h)
    if max(big_w - w, big_h - h) < 0.06 * max(big_w, big_h):
        return  # bars under 3 % a side are left to the whole picture
    small = Small(framed)
    boxes = centred_boxes(small.grey, small.scale, framed.size)
    slack = 2 * small.scale + 2
    assert any(all(abs(a - b) <= slack for a, b in zip(box, truth, strict=True)) for box in boxes), (boxes, truth)


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), size=scenes.SIZES)
def test_a_picture_without_bars_gets_no_centred_box_from_a_blur(seed: int, size: tuple[int, int]) -> None:
    """A blurred picture has no smoother outside to tell from: nothing is found."""
    picture = scenes.noise(size, seed, 0.5, (200, 200, 200)).filter(ImageFilter.GaussianBlur(6))
    small = Small(picture)
    assert centred_boxes(small.grey, small.scale, picture.size) == []


@given(row=st.integers(0, 255))
def test_row_change_of_a_repeating_hash_is_zero(row: int) -> None:
    assert row_change(int.from_bytes(bytes([row] * 8), "big")) == 0


@given(code=st.integers(0, 2**64 - 1))
def test_row_change_counts_bits_between_rows(code: int) -> None:
    rows = code.to_bytes(8, "big")
    assert row_change(code) == sum(bin(a ^ b).count("1") for a, b in itertools.pairwise(rows))
    assert row_change(code ^ (2**64 - 1)) == row_change(code)  # inverting every bit changes no transition
    assert 0 <= PLAIN_PATTERN < 28


@SETTINGS
@given(size=scenes.SIZES, a=colours, b=colours, angle=st.floats(0, 6.3), share=st.floats(0.15, 0.35),
       where=st.sampled_from(["top", "bottom", "both"]))
def test_a_frame_round_flat_content_still_marks_the_query_framed(size: tuple[int, int], a: tuple[int, int, int],
                                                                 b: tuple[int, int, int], angle: float, share: float,
                                                                 where: str) -> None:
    """A gradient (too flat to hash as a region) in a caption band: the query says a frame was found
    (``FLAT_REGION``), so its whole picture's loose matches are judged as a framed query's."""
    picture = frames.caption(scenes.gradient(size, a, b, angle, 0.0, 0), share, where, (255, 255, 255), (0, 0, 0),
                             "top text")
    regions = compute_query_hashes(jpeg(picture, 95), ALGOS).get(REGION_KEY, ())
    assert all(parse_region(r) or r == FLAT_REGION for r in regions)
    assert framed(regions)


def test_flat_region_marker_is_hex_and_matches_nothing(own: ImageIndex) -> None:
    assert all(c in "0123456789abcdef" for c in FLAT_REGION) and parse_region(FLAT_REGION) == {}
    assert framed([FLAT_REGION]) and not framed([]) and not framed(["junk"])
    assert region_matches(own, [FLAT_REGION], threshold) == []
    assert own.matches({REGION_KEY: (FLAT_REGION,)}, threshold) == []


def _flip(hex_: str, bits: list[int]) -> str:
    value = int(hex_, 16)
    for bit in bits:
        value ^= 1 << bit
    return f"{value:016x}"


@given(st.data())
@settings(max_examples=20, deadline=None)
def test_a_framed_phash_match_at_its_edge_needs_a_margin_somewhere(data: st.DataObject) -> None:
    """A framed query whose pHash is exactly at its threshold while dHash is outside its own on both views
    (only the loose confirm bound allows it) matches nothing; the same hashes unframed still match, and so
    does the framed query once dHash is within its threshold on a view."""
    picture = pics.picture(64_001)
    rows = compute_enrollment_hashes(pics.encode(picture), ALGOS)
    whole = {(a, picture_view(label)): h for a, h, label in rows if label in ("", "transposed")}
    index = ImageIndex.build([ImageEntry(a, h, "c0", f"own.csv:{k + 1}", "p0", picture_view(label))
                              for k, (a, h, label) in enumerate(rows) if label in ("", "transposed")])
    far = data.draw(st.integers(8, 14))
    phash = _flip(whole[("phash", 0)], data.draw(st.lists(st.integers(0, 63), min_size=10, max_size=10, unique=True)))
    dhash = [_flip(whole[("dhash", v)], data.draw(st.lists(st.integers(0, 63), min_size=far, max_size=far,
                                                           unique=True))) for v in (0, 1)]
    query = {"phash": (phash,), "dhash": tuple(dhash)}
    assert [m.category for m in index.matches(query, threshold)] == ["c0"]
    assert index.matches({**query, REGION_KEY: (FLAT_REGION,)}, threshold) == []
    near = {**query, "dhash": (whole[("dhash", 0)], dhash[1]), REGION_KEY: (FLAT_REGION,)}
    assert [m.category for m in index.matches(near, threshold)] == ["c0"]
