"""Own enrollment (`hashes add`) at 0 false matches (issue 11, item 6): a near match of a picture enrolled
with pHash and dHash is verified by the other algorithm and by dHash of the transposed picture; pictures too
flat to identify are not enrolled. Property tests over generated pictures (random textures at random
scales, gradients and shapes): different pictures never match, and each common edit of an enrolled picture
matches it."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageEnhance, ImageOps

from filter_proxy.cli import main
from filter_proxy.images_policy import DEFAULT_THRESHOLDS
from filter_proxy.matchers.images import (
    MIN_ENROLL_QUALITY,
    ImageEntry,
    ImageIndex,
    compute_enrollment_hashes,
    compute_query_hashes,
    picture_quality,
    picture_view,
)

ALGOS = ["phash", "dhash"]


def encode(image: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def generated(seed: int, size: tuple[int, int] = (240, 180)) -> Image.Image:
    """A picture from ``seed``: a gradient in a random direction, a random texture at a random scale, and
    random shapes. Written apart from benchmarks/imageset.py (which the thresholds were chosen on)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w] / max(w, h)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None] * nrng.uniform(-120, 120, size=3)
    cells = rng.choice([4, 8, 16, 32])
    texture = Image.fromarray(nrng.integers(0, 256, size=(max(2, h // cells), max(2, w // cells), 3), dtype=np.uint8))
    texture = np.asarray(texture.resize((w, h), rng.choice([Image.Resampling.NEAREST, Image.Resampling.BICUBIC])))
    base = np.clip(texture * rng.uniform(0.3, 0.9) + ramp + rng.uniform(0, 80), 0, 255).astype(np.uint8)
    image = Image.fromarray(base)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 8)):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        box = (x0, y0, x0 + rng.randint(8, w // 2), y0 + rng.randint(8, h // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return image


def _jpeg(image: Image.Image) -> Image.Image:
    return Image.open(io.BytesIO(encode(image.convert("RGB"), "JPEG", quality=50)))


def _crop(image: Image.Image) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * 0.05), round(h * 0.05), w - round(w * 0.05), h - round(h * 0.05)))


def _box(image: Image.Image) -> Image.Image:
    out = image.convert("RGB").copy()
    w, h = out.size
    ImageDraw.Draw(out).rectangle((int(w * 0.72), int(h * 0.86), int(w * 0.97), int(h * 0.96)), fill=(250, 250, 250))
    return out


def _text(image: Image.Image) -> Image.Image:
    out = image.convert("RGB").copy()
    w, h = out.size
    for i in range(3):
        ImageDraw.Draw(out).text((w * 0.05, h * (0.2 + 0.3 * i)), "SAMPLE example.invalid", fill=(255, 255, 255))
    return out


EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "jpeg": _jpeg,
    "crop 5%": _crop,
    "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.2),
    "contrast": lambda im: ImageEnhance.Contrast(im).enhance(1.3),
    "grayscale": ImageOps.grayscale,
    "flip": ImageOps.mirror,
    "rotate 90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
    "watermark box": _box,
    "watermark text": _text,
}
POOL = range(100, 116)  # enrolled pictures; queries of "other" pictures use seeds from 10_000


def limit(_category: str, algorithm: str) -> int:
    return DEFAULT_THRESHOLDS[algorithm]


def enroll(seeds: range) -> ImageIndex:
    """The pictures enrolled as `hashes add` does: crops, transposed dHash, one picture id each."""
    entries = []
    for seed in seeds:
        rows = compute_enrollment_hashes(encode(generated(seed)), ALGOS)
        entries += [ImageEntry(a, h, f"c{seed}", f"r/c{seed}.csv:{k + 1}", f"p{seed}", picture_view(label))
                    for k, (a, h, label) in enumerate(rows)]
    return ImageIndex.build(entries)


@pytest.fixture(scope="module")
def pool() -> ImageIndex:
    return enroll(POOL)


@given(st.sampled_from(list(POOL)), st.sampled_from(list(EDITS)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_each_edit_of_an_enrolled_picture_matches_it_alone(pool: ImageIndex, seed: int, edit: str) -> None:
    query = compute_query_hashes(encode(EDITS[edit](generated(seed))), ALGOS)
    assert [m.category for m in pool.matches(query, limit)] == [f"c{seed}"]


@given(st.integers(10_000, 2**31), st.sampled_from(list(EDITS)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_different_picture_never_matches(pool: ImageIndex, seed: int, edit: str) -> None:
    query = compute_query_hashes(encode(EDITS[edit](generated(seed))), ALGOS)
    assert pool.matches(query, limit) == []


def test_generated_pictures_are_detailed_enough_to_enroll() -> None:
    assert min(picture_quality(generated(s)) for s in POOL) >= MIN_ENROLL_QUALITY


def _verdicts(entries: list[ImageEntry], query: dict[str, tuple[str, ...]]) -> list[str]:
    return [m.category for m in ImageIndex.build(entries).matches(query, limit)]


def test_a_single_algorithm_near_match_needs_the_other_algorithm_to_confirm_it() -> None:
    """Rows of one listed picture: its pHash within the threshold of the query but its dHash far away is a
    chance closeness, not a copy; without a picture id (a shared list) the pHash counts alone."""
    query = {"phash": ("0000000000000000",), "dhash": ("0000000000000000",)}
    near, far = "00000000000003ff", "ffffffffffffffff"  # 10 bits off, 64 bits off
    listed = [ImageEntry("phash", near, "c", "r/c.csv:1", "p1"), ImageEntry("dhash", far, "c", "r/c.csv:2", "p1")]
    assert _verdicts(listed, query) == []
    confirmed = [listed[0], ImageEntry("dhash", "0000000000003fff", "c", "r/c.csv:2", "p1")]  # dHash 14
    assert _verdicts(confirmed, query) == ["c"]
    shared = [ImageEntry("phash", near, "c", "r/c.csv:1")]
    assert _verdicts(shared, query) == ["c"]
    assert _verdicts(listed, {"phash": query["phash"]}) == ["c"]  # the query has no dHash to confirm with


def test_a_dhash_match_needs_both_views_of_the_picture() -> None:
    """The query's variants include its transpose (here the second dHash); the picture's transposed row must
    be as close to one of them as its own row is."""
    query = {"dhash": ("0000000000000000", "ffffffffffffffff"), "phash": ("0000000000000000",)}
    rows = [ImageEntry("phash", "0000000003ffffff", "c", "r/c.csv:1", "p1"),  # pHash 26: confirms
            ImageEntry("dhash", "000000000000007f", "c", "r/c.csv:2", "p1"),  # the picture: 7
            ImageEntry("dhash", "ffffffffffffff00", "c", "r/c.csv:3", "p1", 1)]  # its transpose: 8 from the nearest
    assert _verdicts(rows, query) == []
    rows[2] = ImageEntry("dhash", "fffffffffffffffe", "c", "r/c.csv:3", "p1", 1)  # 1 from the second variant
    assert _verdicts(rows, query) == ["c"]
    rows[0] = ImageEntry("phash", "0000000007ffffff", "c", "r/c.csv:1", "p1")  # pHash 27: no longer confirms
    assert _verdicts(rows, query) == []


def test_verification_survives_the_bundle_round_trip(pool: ImageIndex) -> None:
    again = ImageIndex.from_bytes(pool.to_bytes())
    for seed in (POOL[0], POOL[-1]):
        query = compute_query_hashes(encode(_box(generated(seed))), ALGOS)
        assert [m.category for m in again.matches(query, limit)] == [f"c{seed}"]
    other = compute_query_hashes(encode(generated(123_456)), ALGOS)
    assert again.matches(other, limit) == []


@given(st.tuples(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255)), st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_flat_pictures_and_gradients_score_below_the_enrollment_bar(colour: tuple[int, int, int], kind: int) -> None:
    w, h = 200, 150
    if kind == 0:
        image = Image.new("RGB", (w, h), colour)
    else:
        ramp = np.linspace(0, 1, w if kind != 2 else h)
        grid = np.tile(ramp, (h, 1)) if kind != 2 else np.tile(ramp[:, None], (1, w))
        if kind == 3:
            grid = (grid + np.tile(np.linspace(0, 1, h)[:, None], (1, w))) / 2
        image = Image.fromarray((grid[..., None] * np.array(colour)).astype(np.uint8))
    assert picture_quality(image) < MIN_ENROLL_QUALITY


def test_hashes_add_refuses_a_flat_picture_and_enrolls_the_rest(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                                ) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "policy.toml").write_text('[categories.listed]\naction = "block"\nwarning = "deterrence"\n')
    flat, good = tmp_path / "flat.png", tmp_path / "good.png"
    flat.write_bytes(encode(Image.new("RGB", (120, 90), (40, 40, 40))))
    good.write_bytes(encode(generated(7)))
    assert main(["hashes", "add", str(flat), str(good), "--category", "listed", "--rules", str(rules)]) == 1
    err = capsys.readouterr().err
    assert "flat.png" in err and "too flat to identify" in err and "good.png" not in err
    rows = [line.split(",") for line in (rules / "images" / "listed.csv").read_text().splitlines()
            if line and not line.startswith("#")]
    assert rows and {r[2].split()[0] for r in rows} == {rows[0][2].split()[0]}  # one picture: the good one
    assert any("transposed" in r[2] for r in rows if r[0] == "dhash")
