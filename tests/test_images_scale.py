"""False matches at scale and agreement between algorithms (issue 11 item 6f)."""

from __future__ import annotations

import io
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from skimage import data

from filter_proxy.cli import main
from filter_proxy.errors import RulesError
from filter_proxy.matchers.image_fmr import analytic_rate, ball, estimate_false_match_rate, threshold_for
from filter_proxy.matchers.images import (
    ImageEntry,
    ImageIndex,
    compute_hashes,
    compute_query_hashes,
    picture_id,
)
from filter_proxy.rules import load_rules

SHIPPED = Path(__file__).resolve().parents[1] / "rules"


def random_index(n: int, seed: int) -> ImageIndex:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    return ImageIndex.build(ImageEntry("phash", f"{int(c):016x}", "c", f"x.csv:{i + 1}") for i, c in enumerate(codes))


@given(st.integers(1, 10**8), st.sampled_from([1e-3, 1e-5, 1e-7]))
def test_threshold_for_is_the_largest_that_meets_the_bound(n: int, bound: float) -> None:
    t = threshold_for(bound, n)
    if t >= 0:
        assert analytic_rate(n, t) <= bound
    assert analytic_rate(n, t + 1) > bound
    assert threshold_for(bound, n * 10) <= t  # a bigger list never gets a looser threshold


def test_sampled_rate_agrees_with_the_expectation_on_a_random_list() -> None:
    index = random_index(200_000, seed=3)
    rate = estimate_false_match_rate(index, "phash", 12, samples=3_000, rng=np.random.default_rng(1))
    per_hash = 200_000 * ball(64, 12) / 2**64  # ~0.05: enough sampled hits to be measured, not bounded
    expected = 1 - (1 - per_hash) ** 10
    assert math.isclose(rate, expected, rel_tol=0.25)
    # too few hits to count: the analytic bound is reported, never zero
    small = estimate_false_match_rate(index, "phash", 4, samples=200, rng=np.random.default_rng(1))
    assert small == pytest.approx(analytic_rate(200_000, 4)) and small > 0


def policy_dir(tmp_path: Path, rows: list[str], images: str = "") -> Path:
    root = tmp_path / "rules"
    shutil.copytree(SHIPPED, root)
    (root / "images" / "zqx-abuse.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    policy = (root / "policy.toml").read_text(encoding="utf-8")
    (root / "policy.toml").write_text(policy.replace("[images]\n", "[images]\n" + images), encoding="utf-8")
    return root


def test_a_list_over_the_bound_is_refused_naming_the_threshold(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(5)
    rows = [f"phash,{int(c):016x}" for c in rng.integers(0, 2**64, size=300, dtype=np.uint64)]
    root = policy_dir(tmp_path, rows, "max_false_match_rate = 1e-7\n")
    with pytest.raises(RulesError) as caught:
        load_rules(root)
    want = threshold_for(1e-7, 300)
    assert "exceeds images.max_false_match_rate" in str(caught.value) and f"phash = {want}" in str(caught.value)
    assert main(["rules", "check", str(root)]) == 1
    assert f"phash = {want}" in capsys.readouterr().out
    ok = policy_dir(tmp_path / "ok", rows, "max_false_match_rate = 1e-7\n")
    policy = (ok / "policy.toml").read_text(encoding="utf-8")
    (ok / "policy.toml").write_text(policy.replace("phash = 10", f"phash = {want}"), encoding="utf-8")
    assert len(load_rules(ok).images) == 300


def test_rules_check_prints_each_categorys_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "images: category 'zqx-abuse': expected false matches" in out and "per picture" in out


def png(name: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(getattr(data, name)()).convert("RGB").resize((160, 120)).save(buf, "PNG")
    return buf.getvalue()


@given(st.text(alphabet="abcdef0123456789_.-", min_size=1, max_size=20), st.text(max_size=20))
@settings(max_examples=50)
def test_picture_ids_are_read_from_the_note(ident: str, rest: str) -> None:
    assert picture_id(f"pic:{ident} crop 5%; {rest}") == ident
    assert picture_id(rest.replace("pic:", "")) == ""


def test_require_agreement_needs_two_algorithms_on_the_same_picture(tmp_path: Path) -> None:
    astronaut, camera = compute_hashes(png("astronaut"), ["phash", "dhash", "sha256"]), \
        compute_hashes(png("camera"), ["phash", "dhash"])
    rows = [f"phash,{astronaut['phash']},pic:a", f"dhash,{astronaut['dhash']},pic:a",
            f"phash,{camera['phash']},pic:c",  # the camera's dHash is listed under another picture
            f"dhash,{camera['dhash']},pic:other", f"sha256,{astronaut['sha256']}"]
    agree = load_rules(policy_dir(tmp_path / "two", rows, "require_agreement = 2\n"))
    anyone = load_rules(policy_dir(tmp_path / "one", rows))
    for name, listed in (("astronaut", True), ("camera", False)):
        query = compute_query_hashes(png(name), ["phash", "dhash"])
        assert agree.check_image_hashes(query).matched is listed, name
        assert anyone.check_image_hashes(query).matched
    assert agree.check_image_hashes({"sha256": astronaut["sha256"]}).matched  # exact digests count alone


def test_agreement_without_picture_ids_is_refused(tmp_path: Path) -> None:
    hashes = compute_hashes(png("coffee"), ["phash", "dhash"])
    with pytest.raises(RulesError, match="no listed hash names its picture"):
        load_rules(policy_dir(tmp_path, [f"{a},{h}" for a, h in hashes.items()], "require_agreement = 2\n"))


def test_compile_refuses_what_loading_would_refuse(tmp_path: Path) -> None:
    from filter_proxy.rules import compile_rules

    rng = np.random.default_rng(9)
    rows = [f"phash,{int(c):016x}" for c in rng.integers(0, 2**64, size=300, dtype=np.uint64)]
    root = policy_dir(tmp_path, rows, "max_false_match_rate = 1e-7\n")
    with pytest.raises(RulesError, match="exceeds images.max_false_match_rate"):
        compile_rules(root, tmp_path / "rules.bundle")
    assert not (tmp_path / "rules.bundle").exists()
