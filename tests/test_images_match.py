"""Image hashing and the known-hash index, on ordinary scikit-image sample photographs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageEnhance
from skimage import data

from filter_proxy.matchers.image_table import _mask_count, _masks, _plan, _radii
from filter_proxy.matchers.images import (
    ImageDecodeError,
    ImageEntry,
    ImageIndex,
    compute_hashes,
    compute_query_hashes,
    pdq_available,
    validate_image_hash,
)
from filter_proxy.rules.policy import DEFAULT_THRESHOLDS

PDQ = pdq_available()  # the optional extra [pdq]; make test installs it when g++ is there
needs_pdq = pytest.mark.skipif(not PDQ, reason="optional extra [pdq] (pdqhash) not installed")
ALGOS = ["phash", "dhash", *(["pdq"] if PDQ else []), "md5", "sha1", "sha256"]
PHOTOS = ["astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]


def encode(image: Image.Image, fmt: str = "PNG", **kw: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kw)
    return buf.getvalue()


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def threshold(category: str, algorithm: str) -> int:
    return DEFAULT_THRESHOLDS.get(algorithm, 0)


@pytest.fixture(scope="module")
def listed() -> ImageIndex:
    """An index of two listed photos (perceptual + exact), as the rule loader would build it."""
    entries = []
    for i, name in enumerate(["astronaut", "coffee"]):
        hashes = compute_hashes(encode(photo(name)), ALGOS)
        entries += [ImageEntry(a, h, "listed", f"rules/images/listed.csv:{10 * i + n}")
                    for n, (a, h) in enumerate(hashes.items(), start=1)]
    return ImageIndex.build(entries)


def edits(image: Image.Image) -> dict[str, bytes]:
    w, h = image.size
    marked = image.copy()
    ImageDraw.Draw(marked).text((w // 10, h - h // 8), "sample watermark example.invalid", fill=(255, 255, 255))
    return {
        "resized": encode(image.resize((w // 3, h // 3), Image.Resampling.BILINEAR)),
        "jpeg": encode(image, "JPEG", quality=35),
        "grayscale": encode(image.convert("L")),
        "brightened": encode(ImageEnhance.Brightness(image).enhance(1.3)),
        "watermarked": encode(marked, "JPEG", quality=80),
        "cropped": encode(image.crop((w // 50, h // 50, w - w // 50, h - h // 50))),
        "flipped": encode(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
        "rotated90": encode(image.transpose(Image.Transpose.ROTATE_90).resize((h // 2, w // 2))),
    }


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_edited_copies_of_a_listed_photo_match(listed: ImageIndex, name: str) -> None:
    for edit, raw in edits(photo(name)).items():
        match = listed.match(compute_query_hashes(raw, ["phash", "dhash", "pdq", "sha256"]), threshold)
        assert match is not None, edit
        assert match.category == "listed" and match.rule_id.startswith("rules/images/listed.csv:")
        assert match.distance <= DEFAULT_THRESHOLDS.get(match.algorithm, 0)


def test_the_listed_file_itself_matches_exactly(listed: ImageIndex) -> None:
    raw = encode(photo("astronaut"))
    match = listed.match(compute_query_hashes(raw, ALGOS), threshold)
    assert match is not None and match.distance == 0 and match.algorithm == "sha256"
    line = list(compute_hashes(raw, ALGOS)).index("sha256") + 1  # the fixture numbers lines in dict order
    assert match.rule_id == f"rules/images/listed.csv:{line}"


@pytest.mark.parametrize("name", ["camera", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"])
def test_different_photographs_do_not_match(listed: ImageIndex, name: str) -> None:
    assert listed.match(compute_query_hashes(encode(photo(name)), ALGOS), threshold) is None


def test_generated_pictures_do_not_match(listed: ImageIndex) -> None:
    rng = np.random.default_rng(7)
    for _ in range(3):
        noise = Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
        assert listed.match(compute_query_hashes(encode(noise), ALGOS), threshold) is None


def test_different_photographs_are_far_apart() -> None:
    hashes = {n: compute_hashes(encode(photo(n)), ["phash"])["phash"] for n in PHOTOS}
    for a in PHOTOS:
        for b in PHOTOS:
            if a < b:
                assert bin(int(hashes[a], 16) ^ int(hashes[b], 16)).count("1") > DEFAULT_THRESHOLDS["phash"]


def test_hash_formats() -> None:
    hashes = compute_hashes(encode(photo("chelsea")), ALGOS)
    for algo, hex_ in hashes.items():
        assert validate_image_hash(algo, hex_) is None
        assert hex_ == hex_.lower()
    assert len(hashes["phash"]) == 16
    assert len(hashes["pdq"]) == 64 if PDQ else "pdq" not in compute_hashes(encode(photo("chelsea")), ["pdq"])


@needs_pdq
def test_low_quality_pdq_is_skipped() -> None:
    flat = encode(Image.new("RGB", (64, 64), (120, 120, 120)))
    hashes = compute_hashes(flat, ["phash", "pdq"])
    assert "pdq" not in hashes and "phash" in hashes


def test_decompression_bomb_is_refused_before_decoding() -> None:
    raw = encode(Image.new("L", (4000, 3000)))
    with pytest.raises(ImageDecodeError, match="over the limit"):
        compute_hashes(raw, ["phash"], max_pixels=1_000_000)
    assert "phash" in compute_hashes(raw, ["phash"], max_pixels=12_000_000)


@pytest.mark.parametrize("raw", [b"", b"not an image at all", encode(photo("camera"))[:200]])
def test_undecodable_bytes_raise(raw: bytes) -> None:
    with pytest.raises(ImageDecodeError):
        compute_hashes(raw, ["phash"])


@pytest.mark.parametrize(("algo", "hex_", "ok"), [
    ("phash", "c2924c5532bddfc8", True), ("phash", "C2924C5532BDDFC8", True), ("phash", "c2924c", False),
    ("phash", "z2924c5532bddfc8", False), ("pdq", "ab" * 32, True), ("md5", "0" * 32, True),
    ("sha1", "0" * 39, False), ("sha256", "f" * 64, True), ("ahash", "0" * 16, False),
])
def test_validate_image_hash(algo: str, hex_: str, ok: bool) -> None:
    assert (validate_image_hash(algo, hex_) is None) is ok


def test_per_category_threshold_and_best_match() -> None:
    base = 0x0F0F_0F0F_0F0F_0F0F
    entries = [
        ImageEntry("phash", f"{base ^ 0b111111:016x}", "strict", "rules/images/strict.csv:1"),  # 6 bits away
        ImageEntry("phash", f"{base ^ 0b111:016x}", "loose", "rules/images/loose.csv:4"),  # 3 bits away
    ]
    index = ImageIndex.build(entries)
    limits = {"strict": 2, "loose": 10}
    found = index.matches({"phash": f"{base:016x}"}, lambda c, a: limits[c])
    assert [(m.category, m.rule_id, m.distance) for m in found] == [("loose", "rules/images/loose.csv:4", 3)]
    limits["strict"] = 8
    assert index.match({"phash": f"{base:016x}"}, lambda c, a: limits[c]).distance == 3  # smallest wins
    assert [m.category for m in index.matches({"phash": f"{base:016x}"}, lambda c, a: limits[c])] == [
        "loose", "strict"]


def test_round_trip_bytes(listed: ImageIndex) -> None:
    blob = listed.to_bytes()
    copy = ImageIndex.from_bytes(memoryview(blob))
    assert len(copy) == len(listed) and copy.algorithms == listed.algorithms == set(ALGOS)
    query = compute_query_hashes(edits(photo("coffee"))["jpeg"], ALGOS)
    assert copy.matches(query, threshold) == listed.matches(query, threshold)
    assert copy.to_bytes() == blob
    with pytest.raises(ValueError):
        ImageIndex.from_bytes(b"garbage" * 4)


def test_build_refuses_invalid_hashes() -> None:
    with pytest.raises(ValueError, match="rules/images/x.csv:3"):
        ImageIndex.build([ImageEntry("phash", "123", "x", "rules/images/x.csv:3")])


def brute(codes: list[int], categories: list[str], query: int, limits: dict[str, int]) -> dict[str, int]:
    best: dict[str, int] = {}
    for code, cat in zip(codes, categories, strict=True):
        d = bin(code ^ query).count("1")
        if d <= limits[cat] and d < best.get(cat, 1 << 30):
            best[cat] = d
    return best


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.sampled_from([5, 300, 3000]), bits=st.sampled_from([64, 256]),
       t_a=st.integers(0, 14), t_b=st.integers(0, 40))
def test_mih_equals_brute_force(seed: int, n: int, bits: int, t_a: int, t_b: int) -> None:
    rng = np.random.default_rng(seed)
    algo = "phash" if bits == 64 else "pdq"
    codes = [int.from_bytes(rng.bytes(bits // 8), "big") for _ in range(n)]
    cats = ["a" if i % 3 else "b" for i in range(n)]
    index = ImageIndex.build([ImageEntry(algo, f"{c:0{bits // 4}x}", cats[i], f"f{cats[i]}.csv:{i + 1}")
                              for i, c in enumerate(codes)])
    limits = {"a": t_a, "b": t_b}
    for _ in range(5):  # queries near a listed hash (flip a few bits) and random ones
        near = codes[int(rng.integers(n))]
        for b in rng.choice(bits, size=int(rng.integers(0, 16)), replace=False):
            near ^= 1 << int(b)
        for query in (near, int.from_bytes(rng.bytes(bits // 8), "big")):
            found = index.matches({algo: f"{query:0{bits // 4}x}"}, lambda c, a: limits[c])
            assert {m.category: m.distance for m in found} == brute(codes, cats, query, limits)
        # several query hashes at once (dihedral variants): the best over all of them, per category
        other = int.from_bytes(rng.bytes(bits // 8), "big")
        found = index.matches({algo: (f"{other:0{bits // 4}x}", f"{near:0{bits // 4}x}")}, lambda c, a: limits[c])
        want = brute(codes, cats, other, limits)
        for cat, d in brute(codes, cats, near, limits).items():
            want[cat] = min(d, want.get(cat, d))
        assert {m.category: m.distance for m in found} == want


@pytest.mark.parametrize("bits", [64, 256])
def test_mih_finds_hashes_whose_differences_are_spread_over_every_chunk(bits: int) -> None:
    # Worst case for the per-chunk probe radii: the flipped bits are dealt round-robin over the chunks, so
    # each chunk differs by about radius/m bits. Every radius must still find the listed hash.
    rng = np.random.default_rng(11)
    algo = "phash" if bits == 64 else "pdq"
    codes = [int.from_bytes(rng.bytes(bits // 8), "big") for _ in range(5000)]
    index = ImageIndex.build([ImageEntry(algo, f"{c:0{bits // 4}x}", "a", f"fa.csv:{i + 1}")
                              for i, c in enumerate(codes)])
    chunks = index.tables[algo].chunks
    assert len(chunks) > 1  # MIH is in use, not the small-list scan
    for radius in range(0, 3 * len(chunks) + 2):
        for target in rng.choice(len(codes), size=4, replace=False):
            query = codes[int(target)]
            for k in range(radius):
                start, width = chunks[k % len(chunks)]
                query ^= 1 << (bits - 1 - start - (k // len(chunks)) % width)
            found = index.matches({algo: f"{query:0{bits // 4}x}"}, lambda c, a, r=radius: r)
            assert found and found[0].distance <= radius


@pytest.mark.parametrize("n", [1, 1000, 100_000, 1_000_000, 10_000_000, 100_000_000])
@pytest.mark.parametrize("bits", [64, 256])
def test_mih_plan_and_probe_radii_cover_the_threshold(n: int, bits: int) -> None:
    chunks = _plan(bits, n)
    assert [s for s, _ in chunks] == [sum(w for _, w in chunks[:i]) for i in range(len(chunks))]
    assert sum(w for _, w in chunks) == bits and all(8 <= w <= 22 for _, w in chunks)
    for radius in range(0, 41):
        radii = _radii(tuple(chunks), radius, n)
        # generalised pigeonhole: a hash differing by more than r_i bits in every chunk is > radius away
        assert sum(r + 1 for r in radii) > radius and min(radii) >= -1


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 14), st.integers(-1, 16))
def test_mask_count_is_the_binomial_sum_of_the_masks(width: int, radius: int) -> None:
    # The planner counts masks with the binomial sum instead of building them (which at 22 bits and
    # radius 13 would take gigabytes); it must agree with what probing actually builds.
    built = _masks(width, radius) if radius >= 0 else []
    assert _mask_count(width, radius) == len(built)
