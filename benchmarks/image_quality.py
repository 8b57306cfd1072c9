"""Image quality (DESIGN §8): TPR over ten common edits, separately for a shared single-algorithm list (bare
pHashes, as a hash-sharing body sends them) and for the project's own enrollment (`hashes add`: phash +
dhash of the picture and of a few crops), with false matches between different pictures; plus whether
``imagehash.crop_resistant_hash`` earns its cost, and the sampled false-match rate per picture at scale.

Pictures come in three sets: the *tuning* set (scikit-image samples and generated pictures with seeds from
1000) is what the enrollment crops and the border trim were chosen on; the *held-out* set (photographs
from other packages and generated pictures with seeds from 5000) was not looked at while choosing those,
but was while choosing the verification bounds (signals/hashspec.py); the *fresh* set (scikit-image faces,
phantoms and blobs, matplotlib's other sample pictures, generated pictures with seeds from 9000) was looked
at by nothing that chose a number. The target is judged on all three together and reported per set.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance

from benchmarks import imageset, plots
from benchmarks.harness import SuiteResult, log

HELD_OUT_SKIMAGE = ("stereo_motorcycle", "cell")
STRESS = "25 px faces (stress)"  # reported per set, left out of the target (see tiny_faces)  # not "cat": it is chelsea, a tuning photo


def held_out_photos() -> list[tuple[str, Image.Image]]:
    """Photographs not used for tuning: scikit-image samples outside imageset.SKIMAGE_SAMPLES and
    matplotlib's sample photograph (both ship inside their packages: no download)."""
    out: list[tuple[str, Image.Image]] = []
    try:
        import skimage.data

        for name in HELD_OUT_SKIMAGE:
            try:
                array = getattr(skimage.data, name)()
            except Exception:
                continue
            if isinstance(array, tuple):  # stereo_motorcycle: (left, right, disparity): one view only
                array = array[0]
            out.append((name, _thumb(Image.fromarray(np.asarray(array)))))
    except ImportError:
        pass
    try:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            out.append(("grace_hopper", _thumb(Image.open(f))))
    except Exception:
        pass
    return out


def tiny_faces() -> list[tuple[str, Image.Image]]:
    """A stress set, reported apart from the target: 40 of scikit-image's LFW subset pictures (aligned face
    crops and non-face patches of 25 px, blown up to 100 px). Less detail than pHash's 32 px input and the
    same layout in every face: far below what a listed photograph or a screened thumbnail carries."""
    try:
        import skimage.data

        faces = np.asarray(skimage.data.lfw_subset())
    except Exception:
        return []
    out = []
    for k in range(0, min(len(faces), 200), 5):
        face = (np.clip(faces[k], 0, 1) * 255).astype(np.uint8)
        out.append((f"lfw-{k}", Image.fromarray(face).resize((100, 100), Image.Resampling.BICUBIC)))
    return out


def fresh_pictures() -> list[tuple[str, Image.Image]]:
    """Pictures no threshold was chosen on (see the module docstring): scikit-image's phantom and blobs,
    matplotlib's sample pack photo, logo and terrain maps."""
    out: list[tuple[str, Image.Image]] = []
    try:
        import skimage.data

        for name in ("shepp_logan_phantom", "binary_blobs"):
            array = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
            array = (255 * (array - array.min()) / max(float(np.ptp(array)), 1e-9)).astype(np.uint8)
            out.append((name, _thumb(Image.fromarray(array))))
    except Exception:
        pass
    try:
        import matplotlib.cbook

        for name in ("Minduka_Present_Blue_Pack.png", "logo2.png"):
            with matplotlib.cbook.get_sample_data(name) as f:
                out.append((name, _thumb(Image.open(f).convert("RGB"))))
        for name, key in (("topobathy.npz", "topo"), ("jacksboro_fault_dem.npz", "elevation")):
            with np.load(matplotlib.cbook.get_sample_data(name, asfileobj=False)) as dem:
                z = np.asarray(dem[key], dtype=np.float64)
            z = (255 * (z - z.min()) / max(float(np.ptp(z)), 1e-9)).astype(np.uint8)
            out.append((name, _thumb(Image.fromarray(z))))
    except Exception:
        pass
    return out


def _thumb(image: Image.Image) -> Image.Image:
    image = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    image.thumbnail((512, 512))
    return image


def _contrast(im: Image.Image) -> Image.Image:
    return ImageEnhance.Contrast(im).enhance(1.3)


def _watermark_box(im: Image.Image) -> Image.Image:
    """A corner logo: an opaque box over a quarter of the width and a tenth of the height, bottom right."""
    out = im.convert("RGB").copy()
    w, h = out.size
    box = (int(w * 0.72), int(h * 0.86), int(w * 0.97), int(h * 0.96))
    draw = ImageDraw.Draw(out)
    draw.rectangle(box, fill=(250, 250, 250))
    draw.text((box[0] + 4, box[1] + 2), "example.invalid", fill=(20, 20, 20))
    return out


def _pad(im: Image.Image) -> Image.Image:
    """Letterboxed on re-upload: a black band of 8 % above and below."""
    w, h = im.size
    band = round(h * 0.08)
    out = Image.new(im.mode, (w, h + 2 * band), 0)
    out.paste(im, (0, band))
    return out


def _crop_side(im: Image.Image) -> Image.Image:
    w, h = im.size
    return im.crop((0, 0, w - round(w * 0.1), h))


# The ten common edits of DESIGN §8 (the tenth is the existing suite's text watermark).
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resize 50%": imageset.EDITS["resize 50%"],
    "jpeg q50": imageset.EDITS["jpeg q50"],
    "crop 5%": imageset.EDITS["crop 5%"],
    "brightness +20%": imageset.EDITS["brightness +20%"],
    "contrast +30%": _contrast,
    "grayscale": imageset.EDITS["grayscale"],
    "flip": imageset.EDITS["flip"],
    "rotate 90": imageset.EDITS["rotate 90"],
    "watermark box": _watermark_box,
    "watermark text": imageset.EDITS["watermark text"],
}
# Reported beside them, not part of the target.
EXTRA_EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 10%": lambda im: imageset._crop(im, 0.10),
    "crop 10% one side": _crop_side,
    "letterbox 8%": _pad,
    "rotate 5": imageset.EDITS["rotate 5"],
}


def picture_sets(quick: bool) -> dict[str, list[tuple[str, Image.Image]]]:
    n_tune, n_held, n_fresh = (10, 20, 20) if quick else (130, 100, 100)
    tuning = imageset.sample_photos() + [(f"generated-{i}", imageset.generated_picture(1000 + i))
                                         for i in range(n_tune)]
    held = held_out_photos() + [(f"generated-{i}", imageset.generated_picture(5000 + i)) for i in range(n_held)]
    fresh = fresh_pictures() + [(f"generated-{i}", imageset.generated_picture(9000 + i)) for i in range(n_fresh)]
    return {"tuning": tuning, "held-out": held, "fresh": fresh, STRESS: tiny_faces()}


def _modes() -> dict[str, dict[str, Any]]:
    return {
        "shared pHash list": {"enroll": "bare", "algorithms": ["phash"], "crops": (), "agree": 1},
        # `hashes add` as shipped: phash + dhash with crops (dhash also transposed); near matches verified
        "own enrollment": {"enroll": "crops", "algorithms": ["phash", "dhash"], "crops": ("phash", "dhash"),
                           "agree": 1},
        # before verification (issue 11's run): pHash crops, whole dHash, any one algorithm within its threshold
        "own, unverified (before)": {"enroll": "crops", "algorithms": ["phash", "dhash"], "crops": ("phash",),
                                     "agree": 1, "unverified": True},
        # images.require_agreement = 2: `hashes add` then enrolls dHash crops too
        "own, phash+dhash agree": {"enroll": "crops", "algorithms": ["phash", "dhash"], "crops": ("phash", "dhash"),
                                   "agree": 2},
        # The pHash thresholds the 1e-5 false-match bound asks for at 10,000 listed pictures (threshold_for):
        # what the TPR becomes when a list that size is loaded without require_agreement.
        "shared, pHash 7 (10k bound)": {"enroll": "bare", "algorithms": ["phash"], "crops": (), "agree": 1,
                                        "phash": 7},
        "own, pHash 6 (10k bound)": {"enroll": "crops", "algorithms": ["phash", "dhash"], "crops": ("phash", "dhash"),
                                     "agree": 1, "phash": 6},
    }


def measure(result: SuiteResult, quick: bool, out_dir: Path) -> None:
    from filter_proxy.images_policy import DEFAULT_THRESHOLDS
    from filter_proxy.matchers.images import (
        MIN_ENROLL_QUALITY,
        ImageEntry,
        ImageIndex,
        compute_enrollment_hashes,
        compute_hashes,
        compute_query_hashes,
        picture_quality,
        picture_view,
    )

    sets = picture_sets(quick)
    pictures = [(group, name, pic) for group, items in sets.items() for name, pic in items]
    edits = {**EDITS, **EXTRA_EDITS}
    log(f"quality: images: {len(pictures)} pictures x {len(edits)} edits, {len(_modes())} enrollment modes")


    queries: list[list[dict[str, tuple[str, ...]]]] = []
    for _, _, picture in pictures:
        queries.append([compute_query_hashes(imageset.png_bytes(f(picture)), ["phash", "dhash"])
                        for f in edits.values()])
    rows: list[list[Any]] = []
    rows_per_picture: dict[str, dict[str, float]] = {}
    overall: dict[str, float] = {}
    false_total: dict[str, tuple[int, int]] = {}
    by_group: dict[str, dict[str, float]] = {}
    false_by_group: dict[str, dict[str, int]] = {}
    refused: dict[str, int] = {}
    for mode, spec in _modes().items():
        entries = []
        refused[mode] = 0
        for i, (_, _, picture) in enumerate(pictures):
            png = imageset.png_bytes(picture)
            if spec["enroll"] != "bare" and picture_quality(picture) < MIN_ENROLL_QUALITY:
                refused[mode] += 1  # `hashes add` refuses it (too flat to identify): its copies count as misses
                continue
            if spec["enroll"] == "bare":
                hashes = [(a, h, "") for a, h in compute_hashes(png, spec["algorithms"]).items()]
            else:
                hashes = compute_enrollment_hashes(png, spec["algorithms"], crop_algorithms=spec["crops"])
            if spec.get("unverified"):  # no picture ids: every row counts on its own, as before verification
                hashes = [(a, h, lab) for a, h, lab in hashes if "transposed" not in lab]
            entries += [ImageEntry(a, h, f"img{i}", f"bench/img{i}.csv:{k + 1}",
                                   "" if spec.get("unverified") else f"img{i}", picture_view(lab))
                        for k, (a, h, lab) in enumerate(hashes)]
        index = ImageIndex.build(entries)
        index.require_agreement = spec["agree"]
        limits = {**DEFAULT_THRESHOLDS, "phash": spec.get("phash", DEFAULT_THRESHOLDS["phash"])}

        def threshold(_category: str, algorithm: str, limits: dict[str, int] = limits) -> int:
            return limits[algorithm]

        if "phash" not in spec:  # the bound's own modes are not listed again in the scale table
            rows_per_picture[mode] = {a: sum(e.algorithm == a for e in entries) / len(pictures) for a in spec["algorithms"]}
        hits = {e: 0 for e in edits}
        group_hits = {g: 0 for g in sets}
        group_false = {g: 0 for g in sets}
        false = pairs = 0
        examples: list[str] = []
        for i, (group, name, _) in enumerate(pictures):
            for e, query in zip(edits, queries[i], strict=True):
                # the content regions too (framed copies: image_region_match), matched after the whole picture
                found = index.matches({a: query[a] for a in [*spec["algorithms"], "region"] if a in query},
                                      threshold)
                hit = any(m.category == f"img{i}" for m in found)
                wrong = [m for m in found if m.category != f"img{i}"]
                if e in EDITS:
                    group_hits[group] += hit
                    group_false[group] += len(wrong)
                if group == STRESS:
                    continue  # its queries are reported per set only (its listed pictures stay in the index)
                hits[e] += hit
                if e in EDITS:
                    false += len(wrong)
                    pairs += len(pictures) - 1
                    examples += [f"{group}/{name} ({e}) ~ {'/'.join(pictures[int(m.category[3:])][:2])} "
                                 f"({m.algorithm} {m.distance})"
                                 for m in wrong][: max(0, 4 - len(examples))]
        n = sum(g != STRESS for g, _, _ in pictures)
        rows.append([mode, *(100 * hits[e] / n for e in edits)])
        overall[mode] = 100 * sum(hits[e] for e in EDITS) / (n * len(EDITS))
        false_total[mode] = (false, pairs)
        by_group[mode] = {g: 100 * group_hits[g] / (len(sets[g]) * len(EDITS)) for g in sets}
        false_by_group[mode] = group_false
        if examples:
            result.note(f"image false matches ({mode}): " + "; ".join(examples))
        log(f"quality: images: {mode}: TPR {overall[mode]:.1f} %, false matches {false}")
    table = [[e, *(r[1 + k] for r in rows)] for k, e in enumerate(edits)]
    table.append(["ten common edits", *(overall[m] for m in overall)])
    result.table(f"Image TPR per edit ({len(pictures)} pictures; phash <= {DEFAULT_THRESHOLDS['phash']}, dhash <= "
                 f"{DEFAULT_THRESHOLDS['dhash']}; queries with dihedral variants and borders trimmed; rows below the "
                 f"first {len(EDITS)} are reported only)", ["edit", *(f"{m} TPR %" for m in overall)], table)
    result.plots.append(plots.image_tpr_bars(table[:-1], list(overall), "image_tpr_per_edit.png", out_dir=out_dir))
    result.table("Image TPR per picture set (ten edits; false matches of that set's queries against all pictures)",
                 ["mode", *(f"{g} ({len(sets[g])}) TPR % / FM" for g in sets)],
                 [[m, *(f"{by_group[m][g]:.1f} / {false_by_group[m][g]}" for g in sets)] for m in by_group])
    result.table("Image false matches between different pictures (each edited query vs every other picture; "
                 "pictures `hashes add` refuses as too flat to identify are not enrolled)",
                 ["mode", "pairs", "false matches", "pictures refused"],
                 [[m, p, f, refused[m]] for m, (f, p) in false_total.items()])
    shared, own = overall["shared pHash list"], overall["own enrollment"]
    f_shared, f_own = false_total["shared pHash list"][0], false_total["own enrollment"][0]
    result.target("image_tpr", shared, f"shared bare-pHash list, ten edits; {f_shared} false matches",
                  failed_condition=f"{f_shared} false matches" if f_shared else None)
    result.target("image_tpr_own", own, f"own enrollment (hashes add: phash + dhash with crops); {f_own} false matches",
                  failed_condition=f"{f_own} false matches" if f_own else None)
    result.note(f"image pictures: tuning {len(sets['tuning'])} (scikit-image samples + generated seeds 1000+), held-out "
                f"{len(sets['held-out'])} ({', '.join(n for n, _ in held_out_photos())} + generated seeds 5000+), fresh "
                f"{len(sets['fresh'])} (LFW faces, phantom, blobs, matplotlib samples + generated seeds 9000+; no "
                "threshold was chosen on them).")
    _crop_resistant(result, sets["tuning"][:12] if quick else sets["tuning"])
    _scale(result, quick)
    _rates_per_mode(result, rows_per_picture, {m: s["agree"] for m, s in _modes().items()})


def _rates_per_mode(result: SuiteResult, per_picture: dict[str, dict[str, float]], agree: dict[str, int]) -> None:
    """What each mode costs in false matches at list sizes a hotline's list reaches (analytic, default
    thresholds), and the pHash threshold the 1e-5 bound then asks for."""
    import itertools
    import math

    from filter_proxy.images_policy import DEFAULT_THRESHOLDS
    from filter_proxy.matchers.image_fmr import analytic_rate, threshold_for

    rows = []
    for mode, counts in per_picture.items():
        for pictures in (1_000, 10_000, 1_000_000):
            rates = [analytic_rate(round(pictures * n), DEFAULT_THRESHOLDS[a], a) for a, n in counts.items()]
            if agree[mode] > 1:
                rate = sum(math.prod(c) for c in itertools.combinations(rates, agree[mode]))
            else:
                rate = 1 - math.prod(1 - r for r in rates)
            need = threshold_for(1e-5, round(pictures * counts["phash"]), "phash")
            rows.append([mode, f"{pictures:,}", ", ".join(f"{a} {n:.1f}" for a, n in counts.items()), f"{rate:.1e}",
                         need if agree[mode] == 1 else "-"])
    result.table("Expected false matches per screened picture by mode and list size (default thresholds; 10 "
                 "query hashes per picture; analytic, as the loader's bound)",
                 ["mode", "listed pictures", "rows per picture", "rate per picture", "pHash threshold for 1e-5"], rows)


def _crop_resistant(result: SuiteResult, pictures: list[tuple[str, Image.Image]]) -> None:
    """Is imagehash.crop_resistant_hash worth adopting? Its TPR on crops and its cost against phash."""
    import imagehash

    crops = {"crop 5%": EDITS["crop 5%"], "crop 10%": EXTRA_EDITS["crop 10%"],
             "crop 10% one side": EXTRA_EDITS["crop 10% one side"], "watermark box": EDITS["watermark box"]}
    hits = dict.fromkeys(crops, 0)
    false = pairs = 0
    started = time.perf_counter()
    listed = [imagehash.crop_resistant_hash(p) for _, p in pictures]
    cost = (time.perf_counter() - started) / len(pictures)
    started = time.perf_counter()
    for _, p in pictures:
        imagehash.phash(p)
    phash_cost = (time.perf_counter() - started) / len(pictures)
    for i, (_, picture) in enumerate(pictures):
        for name, func in crops.items():
            query = imagehash.crop_resistant_hash(func(picture))
            hits[name] += bool(query.matches(listed[i], region_cutoff=1))
            for j, other in enumerate(listed):
                if j != i:
                    pairs += 1
                    false += bool(query.matches(other, region_cutoff=1))
    n = len(pictures)
    result.table(f"imagehash.crop_resistant_hash (default dhash segments, region_cutoff 1; {n} tuning pictures)",
                 ["edit", "TPR %"], [[k, 100 * v / n] for k, v in hits.items()]
                 + [["false matches (pairs)", f"{false} ({pairs})"],
                    ["ms per picture (phash: %.2f)" % (1000 * phash_cost), 1000 * cost]])


def _scale(result: SuiteResult, quick: bool) -> None:
    """Expected false matches per picture at list sizes a hash-sharing body reaches (sampled)."""
    from filter_proxy.matchers.image_fmr import estimate_false_match_rate, threshold_for
    from filter_proxy.matchers.images import ImageEntry, ImageIndex

    rng = np.random.default_rng(7)
    rows = []
    for n in ((10_000, 100_000) if quick else (10_000, 1_000_000, 10_000_000)):
        raw = rng.integers(0, 2**64, size=n, dtype=np.uint64)
        entries = [ImageEntry("phash", f"{int(v):016x}", "c", f"bench/c.csv:{k + 1}") for k, v in enumerate(raw)]
        index = ImageIndex.build(entries)
        for t in (6, 8, 10):
            rate = estimate_false_match_rate(index, "phash", t, samples=2_000, rng=rng)
            rows.append([n, t, f"{rate:.2e}"])
        rows.append([n, f"threshold_for(1e-5) = {threshold_for(1e-5, n, 'phash')}", ""])
    result.table("Expected false matches per screened picture (random pHash list and queries, 10 query "
                 "hashes per picture)", ["listed pHashes", "threshold", "rate per picture"], rows)
