"""The benchmark's independent disguise generator: its classes do what their names say, and the classes the
matcher claims in full are matched for any term and seed (the benchmark reports the rest per class)."""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks import disguise_independent as ind
from filter_proxy.matchers.terms import TermEntry, TermIndex, TermMatch

SEEDS = st.integers(0, 2**32 - 1)


@pytest.fixture(scope="module")
def terms() -> list[str]:
    return ind.placeholder_terms(300, seed=3)


def test_placeholder_terms_are_unique_nonsense(terms: list[str]) -> None:
    assert len(set(terms)) == len(terms) == 300
    assert all(1 <= len(t.split()) <= 3 and t.replace(" ", "").isalpha() for t in terms)
    assert not any(t.startswith("zqx") for t in terms)  # not the shipped generator's terms


def test_lookalikes_come_from_many_scripts() -> None:
    scripts = {unicodedata.name(c).split()[0] for chars in ind.lookalikes().values() for c in chars}
    assert {"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "MATHEMATICAL", "LATIN"} <= scripts
    assert sum(map(len, ind.lookalikes().values())) > 1000


@settings(max_examples=40, deadline=None)
@given(SEEDS, st.sampled_from(ind.all_names()))
def test_every_class_changes_the_term(seed: int, name: str) -> None:
    rng = random.Random(seed)
    term = "qvbaxtid vyrosgun" if name in ind.MULTI_WORD_ONLY else "qvbaxtidrosgun"
    assert ind.disguise(term, name, rng) != term


FULL = ["look-alikes: Cyrillic", "look-alikes: every letter (Cyrillic/Greek word)", "leetspeak incl. first/last letter",
        "joined phrase (#hashtag, CamelCase, no spaces)", "letter-spaced, wide gaps", "zero-width / format characters",
        "accents (precomposed, combining)", "repeated letters", "full-width"]


@settings(max_examples=30, deadline=None)
@given(SEEDS, st.sampled_from(FULL))
def test_classes_matched_in_full(seed: int, name: str) -> None:
    rng = random.Random(seed)
    pool = ind.placeholder_terms(40, seed=seed % 1000)
    if name in ind.MULTI_WORD_ONLY:
        pool = [t for t in pool if " " in t] or ["qvbaxtid vyrosgun"]
    term = rng.choice(pool)
    index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
    query = ind.disguise(term, name, rng)
    assert index.match(f"where is {query} online") == [TermMatch("c", "c.txt:1")], query


def test_missing_corpus_is_reported_not_faked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ind, "FORTUNES", tmp_path / "none")
    monkeypatch.setattr(ind, "DICTIONARY", tmp_path / "none.txt")
    ind._fortune_lines.cache_clear()
    try:
        sources, notes = ind.benign_corpus(random.Random(1), 10)
    finally:
        ind._fortune_lines.cache_clear()
    assert sources == {}
    assert any("apt-get install fortunes-ru" in n for n in notes)
