"""Rule sets that must not silently lose entries: an emptied rule file is refused, a loaded bundle survives
its file being rewritten in place, and category sizes are reported for the reload guard."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.rules import check_rules, compile_rules, load_rules
from filter_proxy.rules.errors import RulesError
from tests.test_rules_loader import POLICY, REPO_RULES, make_rules

FILES = {"terms": "terms/zqx-abuse.txt", "urls": "urls/zqx-abuse.txt", "images": "images/zqx-abuse.csv"}
GOOD = {"terms": "zqxblocked\n", "urls": "blocked.example.invalid\n", "images": "phash,0123456789abcdef\n"}

blank_lines = st.lists(st.sampled_from(["", "   ", "\t", "# a comment", "   # indented comment", "#"]), max_size=6)


@st.composite
def empty_content(draw: st.DrawFn, kind: str) -> bytes:
    """File contents with no entries: nothing, blanks and comments, a BOM, CRLF, a CSV header."""
    lines = draw(blank_lines)
    if kind == "images" and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), "algorithm,hash,note")
    text = draw(st.sampled_from(["\n", "\r\n"])).join(lines) + draw(st.sampled_from(["", "\n"]))
    return (b"\xef\xbb\xbf" if draw(st.booleans()) else b"") + text.encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data(), st.sampled_from(sorted(FILES)))
def test_a_rule_file_without_entries_is_refused(tmp_path_factory: pytest.TempPathFactory, data: st.DataObject,
                                                kind: str) -> None:
    content = data.draw(empty_content(kind))
    root = make_rules(tmp_path_factory.mktemp("r"), {FILES[kind]: content, "terms/zqx-spam.txt": "zqxspam\n"})
    problems = [p for p in check_rules(root) if p.severity == "error"]
    assert [(p.path, p.line) for p in problems] == [(f"rules/{FILES[kind]}", 1)], problems
    assert "file is empty" in problems[0].reason and "allow_empty" in problems[0].reason
    with pytest.raises(RulesError, match=rf"rules/{FILES[kind]}:1: file is empty"):
        load_rules(root)


def test_a_category_marked_allow_empty_may_have_empty_files(tmp_path: Path) -> None:
    policy = POLICY.replace('report = true\n', 'report = true\nallow_empty = true\n', 1)
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "# nothing listed yet\n", "urls/zqx-abuse.txt": b"",
                                 "terms/zqx-spam.txt": ""}, policy=policy)
    problems = [p for p in check_rules(root) if p.severity == "error"]
    # zqx-abuse may be empty; zqx-spam did not say so.
    assert [(p.path, p.line) for p in problems] == [("rules/terms/zqx-spam.txt", 1)]


def test_allow_empty_must_be_a_boolean(tmp_path: Path) -> None:
    policy = POLICY.replace('report = true\n', 'report = true\nallow_empty = "yes"\n', 1)
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n"}, policy=policy)
    assert any("allow_empty must be true or false" in p.reason for p in check_rules(root))


def test_a_file_with_one_entry_is_not_empty(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {name: "# header comment\n\n" + GOOD[kind] for kind, name in FILES.items()})
    assert [p for p in check_rules(root) if p.severity == "error"] == []


def test_category_sizes_count_entries_per_signal(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": "zqxblocked\nforbidden phrase alpha\n~zqxcoined\n",
        "urls/zqx-abuse.txt": "blocked.example.invalid\nhttps://shop.example.invalid/page.html\n",
        "images/zqx-abuse.csv": "phash,0123456789abcdef\ndhash,0123456789abcdef\nmd5," + "0" * 32 + "\n",
        "terms/zqx-spam.txt": "zqxspam\n",
    })
    expected = {"zqx-abuse": {"terms": 3, "urls": 2, "phash": 1, "dhash": 1, "md5": 1},
                "zqx-spam": {"terms": 1}, "zqx-support": {}}
    assert load_rules(root).category_sizes() == expected
    compile_rules(root, tmp_path / "b.bundle")
    assert load_rules(tmp_path / "b.bundle").category_sizes() == expected


# The scenario runs in its own interpreter: with a memory-mapped bundle it dies of SIGBUS, which must fail
# this test rather than kill the test run.
REWRITE = textwrap.dedent("""
    import json, sys
    from filter_proxy.rules import load_rules
    bundle, other, texts, urls = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
    rules = load_rules(bundle)
    rules.set_cache_size(0)  # every check reads the index, never a cached verdict
    def verdicts():
        return ([[v.action, v.rule_id] for v in map(rules.check_text, texts)]
                + [[v.action, v.rule_id] for v in map(rules.check_url, urls)])
    rules.terms.clear_cache()
    before = verdicts()
    with open(bundle, "r+b") as f:  # rewritten in place: same inode, truncated, other bytes
        f.truncate(0)
        f.write(open(other, "rb").read())
        f.flush()
    rules.terms.clear_cache()
    after = verdicts()
    print(json.dumps({"before": before, "after": after}))
""")


def test_a_loaded_bundle_survives_its_file_being_rewritten_in_place(tmp_path: Path) -> None:
    listed = [f"zqxlisted{i} phrase" for i in range(3000)]
    root = make_rules(tmp_path / "a", {"terms/zqx-abuse.txt": "\n".join(listed) + "\n",
                                        "urls/zqx-abuse.txt": "blocked.example.invalid\n"})
    small = make_rules(tmp_path / "b", {"terms/zqx-abuse.txt": "zqxother\n"})
    bundle, other = tmp_path / "rules.bundle", tmp_path / "other.bundle"
    compile_rules(root, bundle)
    compile_rules(small, other)
    texts = [*listed[::7], *(f"benign text number {i}" for i in range(500)), "zqxother"]
    urls = ["https://blocked.example.invalid/x", "https://fine.example.invalid/"]
    out = subprocess.run([sys.executable, "-c", REWRITE, str(bundle), str(other), json.dumps(texts), json.dumps(urls)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"exit {out.returncode}: {out.stderr[-2000:]}"
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["after"] == result["before"]
    assert sum(action == "block" for action, _ in result["before"]) == len(listed[::7]) + 1


def test_shipped_rules_report_their_sizes() -> None:
    sizes = load_rules(REPO_RULES).category_sizes()
    assert set(sizes) == {"zqx-abuse", "zqx-support", "zqx-spam"}
    assert sizes["zqx-abuse"]["terms"] > 0


def _phash_rows(count: int, seed: int, note: str = "") -> str:
    import random

    rng = random.Random(seed)
    return "".join(f"phash,{rng.getrandbits(64):016x}{note}\n" for _ in range(count))


def test_a_perceptual_list_over_the_false_match_bound_is_refused_with_a_threshold_that_meets_it(tmp_path: Path) -> None:
    # ~8e-8 expected false matches per listed pHash at distance 10 (x10 query hashes): 2,000 rows are far
    # over the default bound of 1e-5 per picture, a few are far under it.
    big = make_rules(tmp_path / "big", {"images/zqx-abuse.csv": _phash_rows(2000, 1)})
    with pytest.raises(RulesError, match=r"zqx-abuse.*exceeds images.max_false_match_rate.*phash = \d+") as caught:
        load_rules(big)
    assert caught.value.path == "rules/images"
    with pytest.raises(RulesError, match="exceeds images.max_false_match_rate"):
        compile_rules(big, tmp_path / "big.bundle")
    assert not (tmp_path / "big.bundle").exists()
    small = make_rules(tmp_path / "small", {"images/zqx-abuse.csv": _phash_rows(5, 2)})
    rules = load_rules(small)
    assert [f.category for f in rules.image_findings] == ["zqx-abuse"] and rules.image_findings[0].ok
    compile_rules(small, tmp_path / "small.bundle")
    assert load_rules(tmp_path / "small.bundle").image_findings == rules.image_findings


def test_require_agreement_needs_two_algorithms_on_one_listed_picture(tmp_path: Path) -> None:
    policy = POLICY + "\n[images]\nrequire_agreement = 2\n"
    rows = "phash,0123456789abcdef,pic:one\ndhash,fedcba9876543210,pic:one\nphash,1111111111111111,pic:two\n"
    root = make_rules(tmp_path, {"images/zqx-abuse.csv": rows}, policy=policy)
    compile_rules(root, tmp_path / "b.bundle")
    for rules in (load_rules(root), load_rules(tmp_path / "b.bundle")):
        assert rules.images.require_agreement == 2
        assert rules.check_image_hashes({"phash": "0123456789abcdef"}).action == "allow"  # one algorithm alone
        both = rules.check_image_hashes({"phash": "0123456789abcdef", "dhash": "fedcba9876543210"})
        assert both.action == "block" and both.category == "zqx-abuse"
        assert rules.check_image_hashes({"phash": "1111111111111111", "dhash": "fedcba9876543210"}).action == "allow"
