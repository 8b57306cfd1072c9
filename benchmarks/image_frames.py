"""Framed copies of listed pictures (DESIGN §8 image rows, issue: framed re-posts): recall per frame class
and false matches, measured on generated frames (tests/support/frames.py) of many pictures.

``python -m benchmarks.image_frames [--quick]`` prints, per class: recall on the project's own enrollment
(`hashes add`: pHash + dHash with crops), with and without the region stage, and how often the whole
picture alone matched; false matches of framed *unlisted* pictures against the listed set, and of pictures
framed the same way as a listed framed picture ("pairs"); the distances of the closest unrelated region
pairs (the margin under the strict region bounds); CPU per thumbnail with and without region hashing.
"""

from __future__ import annotations

import argparse
import io
import random
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from benchmarks import image_quality, imageset
from filter_proxy.images_policy import DEFAULT_THRESHOLDS
from filter_proxy.matchers import image_hashing
from filter_proxy.matchers.image_region_match import REGION_KEY, parse_region, region_matches
from filter_proxy.matchers.images import (
    ImageEntry,
    ImageIndex,
    compute_enrollment_hashes,
    compute_query_hashes,
    picture_view,
)
from tests.support import frames
from tests.support import pictures as pics

WORDS = ("when the weekend finally arrives", "me explaining the plot", "nobody:", "caption example.invalid",
         "top text", "bottom text here", "so true", "look at this")


def _colour(rng: random.Random) -> tuple[int, int, int]:
    kind = rng.randrange(4)
    if kind == 0:
        return (255, 255, 255)
    if kind == 1:
        return (0, 0, 0)
    return tuple(rng.randrange(256) for _ in range(3))  # type: ignore[return-value]


CLASSES: dict[str, Callable[[Image.Image, random.Random], Image.Image]] = {
    "caption band": lambda im, r: frames.caption(im, r.uniform(0.08, 0.35), r.choice(["top", "bottom", "both"]),
                                                  _colour(r), _colour(r), r.choice(WORDS)),
    "screenshot": lambda im, r: frames.screenshot(im, r.uniform(0.4, 0.85), r.random(),
                                                  r.choice([(236, 236, 236), (255, 255, 255), (30, 30, 30),
                                                            _colour(r)]), r.choice(WORDS)),
    "bars flat": lambda im, r: frames.bars(im, r.choice([9 / 16, 1.0, 16 / 9, 4 / 5, 2.0]), "flat", _colour(r)),
    "bars blurred": lambda im, r: frames.bars(im, r.choice([9 / 16, 1.0, 16 / 9, 4 / 5, 2.0]), "blur", (0, 0, 0)),
    "turned onto canvas": lambda im, r: frames.turned(im, r.choice([-1, 1]) * r.uniform(5, 30), _colour(r)),
    "corner sticker": lambda im, r: frames.sticker(im, r.uniform(0.1, 0.3), r.randrange(4), _colour(r),
                                                   r.choice(WORDS)[:10]),
}


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def listed_pictures(quick: bool) -> list[Image.Image]:
    n = 10 if quick else 40
    out = [p for _, p in imageset.sample_photos()]
    out += [imageset.generated_picture(1000 + i) for i in range(n)]
    out += [pics.picture(100 + i) for i in range(n)]
    return out


def unlisted_pictures(quick: bool) -> list[Image.Image]:
    n = 10 if quick else 40
    out = [p for _, p in image_quality.held_out_photos() + image_quality.fresh_pictures()]
    out += [imageset.generated_picture(7000 + i) for i in range(n)]
    out += [pics.picture(300 + i) for i in range(n)]
    return out


def own_index(listed: list[Image.Image]) -> ImageIndex:
    entries = []
    for i, picture in enumerate(listed):
        rows = compute_enrollment_hashes(imageset.png_bytes(picture), ["phash", "dhash"])
        entries += [ImageEntry(a, h, f"c{i}", f"own.csv:{i}{k:03d}", f"p{i}", picture_view(lab))
                    for k, (a, h, lab) in enumerate(rows)]
    return ImageIndex.build(entries)


def threshold(_category: str, algorithm: str) -> int:
    return DEFAULT_THRESHOLDS[algorithm]


def _query(image: Image.Image, rng: random.Random) -> dict[str, tuple[str, ...]]:
    data = _jpeg(image, rng.choice([70, 85, 95])) if rng.random() < 0.5 else imageset.png_bytes(image)
    return compute_query_hashes(data, ["phash", "dhash"])


def _margins(index: ImageIndex, query: dict[str, tuple[str, ...]], own: int | None) -> list[tuple[int, int, int]]:
    """(pHash, dHash, dHash transposed) distance of each region to each listed picture other than ``own``."""
    out = []
    for text in query.get(REGION_KEY, ()):
        region = parse_region(text)
        if not {"phash", "dhash", "dhash_t"} <= set(region):
            continue
        for picture in range(1, len(index.pictures) + 1):
            if own is not None and picture == own + 1:
                continue
            d = []
            for algorithm, view, key in (("phash", 0, "phash"), ("dhash", 0, "dhash"), ("dhash", 1, "dhash_t")):
                table = index.tables[algorithm]
                rows = table.rows_of(picture)
                if table.view is not None:
                    rows = rows[table.view[rows] == view]
                d.append(int(table.distances(rows, [region[key]]).min()))
            out.append((d[0], d[1], d[2]))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--draws", type=int, default=3, help="frames drawn per picture and class")
    parser.add_argument("--classes", nargs="*", default=list(CLASSES), help="frame classes to measure")
    args = parser.parse_args(argv)
    rng = random.Random(20261129)
    listed, unlisted = listed_pictures(args.quick), unlisted_pictures(args.quick)
    index = own_index(listed)
    print(f"listed {len(listed)}, unlisted {len(unlisted)}, {len(index)} rows")
    closest: list[tuple[int, int, int]] = []
    for name, frame in CLASSES.items():
        if name not in args.classes:
            continue
        hit = whole = 0
        n = 0
        for i, picture in enumerate(listed):
            for _ in range(args.draws):
                query = _query(frame(picture, rng), rng)
                found = index.matches(query, threshold)
                n += 1
                hit += any(m.category == f"c{i}" for m in found)
                whole += any(m.category == f"c{i}" for m in index.matches(
                    {a: v for a, v in query.items() if a != REGION_KEY}, threshold))
                wrong = [m for m in found if m.category != f"c{i}"]
                if wrong:
                    whole_only = index.matches({a: v for a, v in query.items() if a != REGION_KEY}, threshold)
                    inner = region_matches(index, query.get(REGION_KEY, ()), threshold)
                    print(f"  FALSE (listed framed) {name} c{i} ~ {wrong} (whole picture alone: {whole_only}; "
                          f"regions alone: {inner})")
                closest += _margins(index, query, i)
        false = 0
        for j, picture in enumerate(unlisted):
            for _ in range(args.draws):
                query = _query(frame(picture, rng), rng)
                found = index.matches(query, threshold)
                if found:
                    false += 1
                    alone = index.matches({a: v for a, v in query.items() if a != REGION_KEY}, threshold)
                    inner = region_matches(index, query.get(REGION_KEY, ()), threshold)
                    print(f"  FALSE (unlisted) {name} u{j} ~ {found} (whole picture alone: {alone}; "
                          f"regions alone: {inner})")
                closest += _margins(index, query, None)
        print(f"{name:20s} recall {100 * hit / n:5.1f} % ({hit}/{n}), whole picture alone {100 * whole / n:5.1f} %,"
              f" false matches of framed unlisted: {false}/{len(unlisted) * args.draws}")
    _pairs(rng, listed, unlisted, args.quick)
    grid = np.array(closest)
    print(f"closest unrelated region/picture pairs (of {len(grid)}):")
    for p, d in ((8, 6), (10, 8), (12, 10), (14, 12)):
        both = ((grid[:, 0] <= p) & (np.maximum(grid[:, 1], grid[:, 2]) <= d)).sum()
        print(f"  pHash <= {p} and dHash <= {d} on both views: {both}; pHash <= {p} alone: "
              f"{(grid[:, 0] <= p).sum()}; dHash <= {d} both views alone: "
              f"{(np.maximum(grid[:, 1], grid[:, 2]) <= d).sum()}")
    _cost(listed[:20] + unlisted[:20], rng)


def _pairs(rng: random.Random, listed: list[Image.Image], unlisted: list[Image.Image], quick: bool) -> None:
    """Different pictures framed the same way: the framed listed picture enrolled, the other one framed with
    the same parameters queried. Counts matches found by the region stage only (the whole-picture stage is
    reported apart: a shared frame is part of both whole pictures)."""
    n = 10 if quick else 40
    for name, frame in CLASSES.items():
        region_false = whole_false = 0
        for k in range(n):
            a, b = listed[k % len(listed)], unlisted[k % len(unlisted)]
            seed = rng.random()
            framed_a = frame(a, random.Random(seed))
            framed_b = frame(b.resize(a.size), random.Random(seed))
            index = own_index([framed_a])
            query = _query(framed_b, rng)
            whole = index.matches({x: v for x, v in query.items() if x != REGION_KEY}, threshold)
            whole_false += bool(whole)
            region_false += bool(not whole and index.matches(query, threshold))
        print(f"pairs framed alike {name:20s}: region-stage false matches {region_false}/{n}, "
              f"whole-picture stage {whole_false}/{n}")


def _cost(sample: list[Image.Image], rng: random.Random) -> None:
    data = [_jpeg(frames.caption(p, 0.2, "top", (255, 255, 255), (0, 0, 0), "x") if k % 2 else p, 85)
            for k, p in enumerate(sample)]
    spent = {}
    for label, on in (("with regions", True), ("without", False), ("with regions ", True), ("without ", False)):
        saved = image_hashing.region_hashes
        if not on:
            image_hashing.region_hashes = lambda *a, **k: []  # type: ignore[assignment]
        started = time.process_time()
        for d in data:
            compute_query_hashes(d, ["phash", "dhash"])
        spent[label.strip()] = spent.get(label.strip(), []) + [(time.process_time() - started) / len(data)]
        image_hashing.region_hashes = saved  # type: ignore[assignment]
    for label, values in spent.items():
        print(f"CPU per thumbnail {label}: {1000 * min(values):.1f} ms (min of {len(values)} rounds)")


if __name__ == "__main__":
    main()
