"""The streaming term build (a rules directory read straight into index rows, duplicates found with numpy
after each file, format FPTERMS4) answers exactly as the in-memory build from a list of entries."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.term_table import Rules, Table
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize, words
from filter_proxy.rules.bundle import compile_rules
from filter_proxy.rules.loader import check_rules, load_rules
from filter_proxy.signals.base import SignalError
from filter_proxy.signals.terms import TermSignal

REPO_RULES = Path(__file__).resolve().parent.parent / "rules"
POLICY = """\
[categories.zqx-abuse]
action = "block"
warning = "deterrence"
report = true

[categories.zqx-support]
action = "warn"
warning = "support"
"""
FILES = ("terms/zqx-abuse.txt", "terms/zqx-support.txt")
LOOK_ALIKE = str.maketrans({"a": "а", "o": "о", "e": "е"})  # Cyrillic letters that look Latin

word = st.text("abdegkmnoprstuz", min_size=3, max_size=9).map(lambda w: "zq" + w)
plain = st.lists(word, min_size=1, max_size=3).map(" ".join)


@st.composite
def lines(draw: st.DrawFn) -> str:
    phrase = draw(plain)
    kind = draw(st.sampled_from(["plain", "plain", "upper", "cyrillic", "substring", "hashed"]))
    if kind == "upper":
        return phrase.upper().replace("O", "0")
    if kind == "cyrillic":
        return phrase.translate(LOOK_ALIKE)
    if kind == "substring" and " " not in phrase and len(normalize(phrase)) >= 5:
        return "~" + phrase
    if kind == "hashed":
        return "sha256:" + hashlib.sha256(normalize(phrase).encode()).hexdigest()
    return phrase


def write_dir(base: Path, files: list[list[str]]) -> Path:
    root = base / "rules"
    (root / "terms").mkdir(parents=True)
    (root / "policy.toml").write_text(POLICY, encoding="utf-8")
    shutil.copytree(REPO_RULES / "warnings", root / "warnings")
    for name, content in zip(FILES, files, strict=True):
        (root / name).write_text("\n".join(content) + "\n", encoding="utf-8")
    return root


def reference_index(files: list[list[str]]) -> TermIndex:
    """The in-memory path: each line parsed on its own (``TermSignal.parse_line``), the first of each
    duplicate key kept, then ``TermIndex.build`` over the entries."""
    entries = []
    for name, content in zip(FILES, files, strict=True):
        seen: set[object] = set()
        for number, line in enumerate(content, start=1):
            try:
                value, key = TermSignal.parse_line(line)
            except SignalError:
                continue
            if key not in seen:
                seen.add(key)
                entries.append(TermEntry(value.removeprefix("~"), Path(name).stem, f"rules/{name}:{number}",
                                         value.startswith("~")))
    return TermIndex.build(entries)


def matches(index: TermIndex, text: str) -> set[tuple[str, str]]:
    return {(m.category, m.rule_id) for m in index.match(text)}


@settings(max_examples=25, deadline=None)
@given(files=st.lists(st.lists(lines(), min_size=1, max_size=12), min_size=2, max_size=2),
       noise=st.lists(st.sampled_from(["the", "fresh", "bread", "a", "zqxnothing", "2024", "#"]), max_size=3),
       picks=st.lists(st.integers(0, 100), min_size=1, max_size=6))
def test_directory_and_bundle_answer_as_the_in_memory_build(files: list[list[str]], noise: list[str],
                                                           picks: list[int]) -> None:
    listed = [line for content in files for line in content if not line.startswith("sha256:")]
    texts = [" ".join(noise)]
    for pick in picks:
        line = listed[pick % len(listed)].lstrip("~") if listed else "zqnothing"
        found = words(line)
        texts += [" ".join([*noise, line, *noise]), "".join(found), "#" + "".join(found) + "life",
                  " ".join(found[:-1] + [found[-1][:-1]])]
    reference = reference_index(files)
    with tempfile.TemporaryDirectory() as tmp:
        root = write_dir(Path(tmp), files)
        assert not [p for p in check_rules(root) if p.severity == "error"]
        streamed = load_rules(root).terms
        compile_rules(root, Path(tmp) / "rules.bundle")
        bundled = load_rules(Path(tmp) / "rules.bundle").terms
        assert len(streamed) == len(reference) == len(bundled)
        for text in texts:
            want = matches(reference, text)
            assert matches(streamed, text) == want, text
            assert matches(bundled, text) == want, text
        for text in texts:
            cut = words(text)
            assert set(streamed.match_prefix(cut)) == set(reference.match_prefix(cut)) == set(bundled.match_prefix(cut))


def test_duplicates_are_reported_in_line_order_and_not_indexed(tmp_path: Path) -> None:
    twin = "sha256:" + hashlib.sha256(normalize("zqxhidden").encode()).hexdigest()
    root = write_dir(tmp_path, [["zqxblocked", "!!!", twin, "ZQXBLOCKED", "zqxhidden", "~zqxblocked", "zqxblocked"],
                                ["zqxblocked"]])
    problems = [(p.line, p.reason) for p in check_rules(root)]
    assert problems == [(2, "entry is empty after normalisation (only punctuation or symbols?)"),
                        (4, "duplicate of line 1; ignored"), (5, "duplicate of line 3; ignored"),
                        (7, "duplicate of line 1; ignored")]


def test_rules_table_names_each_row_by_its_rule() -> None:
    rows = [(5, 0, 0, 9), (3, 1, 2, 4), (5, 1, 2, 4), (7, 0, 0, 1)]
    table = Table.build(rows)
    assert sorted(table.triple(row) + (int(table.keys[row]),) for row in range(table.keys.size)) == sorted(
        (c, f, n, k) for k, c, f, n in rows)
    rules = Rules.of([(0, 0, 1), (0, 0, 7), (1, 0, 2), (1, 3, 2)])
    assert rules.starts.tolist() == [0, 2, 3] and [rules.triple(r) for r in range(4)] == [
        (0, 0, 1), (0, 0, 7), (1, 0, 2), (1, 3, 2)]
    assert table.rule.dtype == np.uint32
