"""`rules check` warns about a one-word entry the filter reads as an ordinary English word (look-alike letters
merged, repeats collapsed: ``liline`` reads as ``line``), because listing it blocks that word everywhere."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.term_forms import ordinary_words
from filter_proxy.normalize import words
from filter_proxy.rules.loader import check_rules
from tests.test_term_build import write_dir

ORDINARY = sorted(w for w in ordinary_words() if w.isascii() and w.isalpha() and len(w) >= 4)
READS_AS = "reads as an ordinary English word"


def _warnings(lines: list[str]) -> list[int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = write_dir(Path(tmp), [lines, ["zqxother"]])
        return [p.line for p in check_rules(root) if READS_AS in p.reason and p.severity == "warning"]


def _doubled(word: str, positions: list[int]) -> str:
    """``word`` with some letters written twice (repeats collapse when read)."""
    return "".join(c * (2 if i in positions else 1) for i, c in enumerate(word))


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(ORDINARY), st.lists(st.integers(0, 12), max_size=3))
def test_an_entry_read_as_an_ordinary_word_is_warned_about(word: str, positions: list[int]) -> None:
    entry = _doubled(word, positions)
    assert words(entry) == [word]  # the premise: the filter reads the entry as the ordinary word
    assert _warnings(["zqxblocked", entry]) == [2]


@settings(max_examples=25, deadline=None)
@given(st.text("bcdfghjkmnpqrstvwxz", min_size=4, max_size=9))
def test_coined_entries_and_phrases_are_not_warned_about(tail: str) -> None:
    coined = "zqx" + tail
    phrase = f"{ORDINARY[len(tail)]} {ORDINARY[-len(tail)]}"  # phrases of ordinary words are narrow enough
    assert _warnings([coined, phrase]) == []
