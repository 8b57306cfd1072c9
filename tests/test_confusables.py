"""Look-alikes from Unicode's UTS #39 data: every listed look-alike of a Latin letter is undone inside a
listed placeholder, and genuine text of another script is left alone (issue 11, item 2)."""

from __future__ import annotations

import json
import unicodedata
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy import confusables
from filter_proxy.matchers.terms import TermEntry, TermIndex, TermMatch
from filter_proxy.normalize import normalize, skeleton_words, words


def _table_pairs() -> list[tuple[str, str]]:
    """(ASCII letter, one code point UTS #39 pairs with it), read straight from the package's data file,
    not from the tables the code builds."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    pairs = set()
    for key, others in data.items():
        for other in others:
            a, b = key.replace("\u200e", ""), other["c"].replace("\u200e", "")
            for letter, char in ((a, b), (b, a)):
                if len(letter) == 1 and letter.isascii() and letter.isalpha() and len(char) == 1 and not char.isascii():
                    pairs.add((letter, char))
    return sorted(pairs)


PAIRS = _table_pairs()
# NFKC runs before look-alikes are folded (full-width and mathematical letters rely on it); it turns "Ϲ" into a
# capital sigma, whose small form UTS #39 pairs with "o".
NFKC_FIRST = {"Ϲ"}
CONSONANTS = "bcdfghjkmnpqrstvwxz"


def test_the_table_is_the_whole_uts39_data() -> None:
    assert len(PAIRS) > 1200  # 1,260 single code points pair with an ASCII letter in the 13.0.0 data
    scripts = {confusables.script_of(c) for _, c in PAIRS}
    assert {"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "LATIN"} <= scripts
    assert confusables.CONFUSABLES_UNICODE_VERSION == "13.0.0"


@settings(max_examples=25, deadline=None)
@given(st.text(CONSONANTS, min_size=2, max_size=5), st.text(CONSONANTS, min_size=1, max_size=5),
       st.sampled_from(["{}", "find {} now", "{}!", "#{}"]))
def test_every_table_lookalike_inside_a_listed_placeholder_is_caught(head: str, tail: str, context: str) -> None:
    missed = []
    for letter, char in PAIRS:
        if char in NFKC_FIRST:
            continue
        term = "zqx" + head + letter.lower() + tail
        index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
        text = context.format("zqx" + head + char + tail)
        if index.match(text) != [TermMatch("c", "c.txt:1")]:
            missed.append(f"{letter} U+{ord(char):04X} {unicodedata.name(char, '?')}")
    assert not missed, missed


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(PAIRS), st.text(CONSONANTS, min_size=3, max_size=8), st.integers(0, 8))
def test_one_lookalike_anywhere_normalises_like_the_letter(pair: tuple[str, str], base: str, at: int) -> None:
    letter, char = pair
    if char in NFKC_FIRST:
        return
    at = min(at, len(base))
    assert normalize(base[:at] + char + base[at:]) == normalize(base[:at] + letter + base[at:])


RUSSIAN = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
# Russian letters that the data pairs with no Latin letter (lower case: "к", "т", "м" are not; "К" is).
# Accents are stripped first, so "ё" reads as "е" (a look-alike) and "й" as "и" (not one).
GENUINE = "".join(c for c in RUSSIAN if unicodedata.normalize("NFD", c)[0] not in {char for _, char in PAIRS})


@pytest.mark.parametrize("text", ["Собака ест мясо", "как", "кто", "пока", "Я не знаю, кто это и пока нет"])
def test_genuine_cyrillic_stays_cyrillic(text: str) -> None:
    out = normalize(text)
    assert out == " ".join(text.lower().replace(",", "").split())
    assert not any(c.isascii() and c.isalpha() for c in out)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(RUSSIAN, min_size=1, max_size=9), min_size=1, max_size=8), st.sampled_from(GENUINE))
def test_russian_prose_with_a_genuine_letter_is_never_latinised(prose: list[str], genuine: str) -> None:
    text = " ".join([*prose, genuine + "а"])
    assert not any(c.isascii() and c.isalpha() for c in normalize(text))


def test_all_lookalike_text_is_an_evasion_and_folds() -> None:
    # Every letter could be Latin: Cyrillic and Greek look-alikes spelling a Latin placeholder.
    assert normalize("zqхbӏосkеd") == "zqxbiocked"
    assert normalize("ΖQΧΒLΟCΚΕD") == normalize("zqxblocked")


def test_a_latin_entry_never_matches_russian_prose() -> None:
    index = TermIndex.build([TermEntry("kak", "c", "c.txt:1"), TermEntry("kto", "c", "c.txt:2")])
    assert index.match("Собака ест мясо, как и кто-то ещё") == []
    assert index.match("кaк") == [TermMatch("c", "c.txt:1")]  # a mixed-script token is a disguise


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(RUSSIAN, min_size=3, max_size=8), min_size=1, max_size=3), st.data())
def test_a_cyrillic_entry_matches_its_script_and_its_mixed_disguises(term: list[str], data: st.DataObject) -> None:
    phrase = " ".join(term)
    index = TermIndex.build([TermEntry(phrase, "c", "c.txt:1")])
    hit = [TermMatch("c", "c.txt:1")]
    assert index.match(f"жаль, {phrase} здесь") == hit  # genuine prose around it
    # Latin look-alikes swapped in for some Cyrillic letters of one word: a mixed-script disguise.
    latin = {"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x"}
    pick = data.draw(st.integers(0, len(term) - 1))
    disguised = list(term)
    disguised[pick] = "".join(latin.get(c, c) if i % 2 == 0 else c for i, c in enumerate(term[pick]))
    assert index.match("жаль, " + " ".join(disguised) + " здесь") == hit


def test_skeleton_words_fold_every_lookalike() -> None:
    assert skeleton_words("как") == ["kak"]
    assert words("как") == ["как"]
    assert skeleton_words("zqxblocked") == words("zqxblocked")


@pytest.mark.parametrize(("text", "expected"), [
    ("zqx⊤dxp", "zqxtdxp"),  # a symbol touching letters is a letter
    ("3×4 and A × B", "3 4 and a b"),  # between digits or spaces it is punctuation
    ("søster łódź", "soster iodz"),  # Latin letters with a stroke lose it like an accent
])
def test_symbols_and_strokes(text: str, expected: str) -> None:
    assert normalize(text) == expected
