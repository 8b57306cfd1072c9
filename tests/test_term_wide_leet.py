"""The wider leetspeak table (``normalize.WIDE_LEET`` / ``WIDE_SINGLE``, read by ``reading.reading`` as an
alternate reading): a generator of its own (tables typed from the common leetspeak alphabets, not read from
``normalize``) over fresh placeholder words; code and prose keep their reading and match nothing new; the
page path (compiled kernel and pure Python) gives ``match``'s answers."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import has_wide, words
from tests.support.kernel_check import assert_match_many_as_match as _with_matcher


def assert_match_many_as_match(index: TermIndex, texts: list[str]) -> None:
    """``match_many`` == ``match`` per string: with the kernel (and its matcher, and without) and in Python."""
    _with_matcher(index, texts)
    tables, matcher = index._kernel, index._matcher
    index._kernel = index._matcher = None
    try:
        assert index.match_many(texts) == [index.match(t) for t in texts], texts
    finally:
        index._kernel, index._matcher = tables, matcher

# Multi-symbol letters of the common tables, and the single symbols that follow a letter.
MULTI = {"b": ["|3"], "x": ["><", "}{"], "o": ["[]", "<>"], "d": ["[)"], "m": ["/\\/\\", "|\\/|"], "h": ["]-[", "}-{"],
         "r": ["|2"], "j": ["_|"], "k": ["|{"], "a": ["/-\\", "/_\\"], "u": ["(_)"], "w": ["\\^/"]}
SINGLE = {"t": ["+"], "a": ["^"], "e": ["&"]}
BRACKET_C = ["(", "[", "{", "<"]
LETTERS = "abcdeghjkmnopqrstuwxyz"  # no "l"/"i"/"f"/"v" (one letter after normalisation; "(v)" is m)

WORD = st.builds(lambda head, tail: "zq" + head + tail, st.text(LETTERS, min_size=1, max_size=3),
                 st.text(LETTERS, min_size=3, max_size=8)).filter(lambda w: len(words(w)) == 1 and len(words(w)[0]) >= 5)


def disguise(word: str, rng: random.Random, share: float) -> str:
    """Letters (never two side by side) written as multi-symbol letters anywhere, single symbols after a
    letter; at least one when the word allows it."""
    out = list(word)
    spots = [i for i, c in enumerate(word) if c in MULTI or _single(word, i)]
    rng.shuffle(spots)
    taken: set[int] = set()
    for i in spots:
        if taken and rng.random() > share or i - 1 in taken or i + 1 in taken:
            continue
        table = MULTI.get(word[i], []) + (SINGLE.get(word[i], []) if _single(word, i) else [])
        out[i] = rng.choice(table)
        taken.add(i)
    return "".join(out)


def _single(word: str, i: int) -> bool:
    """A single symbol may stand for letter ``i``: after a letter, and an ``&`` (e) only inside the word."""
    return i > 0 and word[i] in SINGLE and (word[i] != "e" or i < len(word) - 1)


def build(listed: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])


@settings(max_examples=150, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=4, unique=True), st.integers(0, 2**32 - 1), st.floats(0.2, 1.0),
       st.sampled_from(["{}", "watch {} now", "{} - free download", "q: {}?", "tags: {}, other"]))
def test_a_listed_word_in_the_wider_table_is_matched(listed: list[str], seed: int, share: float,
                                                      context: str) -> None:
    rng = random.Random(seed)
    index = build(listed)
    term = rng.choice(listed)
    text = context.format(disguise(term, rng, share))
    assert index.match(text), (term, text)
    assert_match_many_as_match(index, [text, "an ordinary title", context.format(term)])


@settings(max_examples=100, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=4, unique=True), st.integers(0, 2**32 - 1),
       st.sampled_from(BRACKET_C))
def test_a_bracket_c_after_a_letter_is_matched(listed: list[str], seed: int, bracket: str) -> None:
    """``( [ { <`` for c inside or at the end of a word, with no closing bracket after it."""
    rng = random.Random(seed)
    term = rng.choice(listed)
    cs = [i for i, ch in enumerate(term) if ch == "c" and i > 0]
    spelled = "".join(bracket if i in cs else ch for i, ch in enumerate(term))
    index = build(listed)
    text = f"about {spelled} here"
    if cs:
        assert index.match(text), (term, text)
    assert_match_many_as_match(index, [text, f"f({term}) call", f"{term}[0] = x"])


CODE = st.sampled_from(["C++", "a + b", "x[]", "<b>{}</b>", "f(x)", "|x|", "#include <stdio.h>", "1 + 1",
                        "open(file, 'r')", "x[0]", "q=a+b&c=d", "list[int]", "dict[str, float]", "(see {})",
                        "{}()", "a<b>c", "i++", "x^2", "R&D", "AT&T"])


@settings(max_examples=150, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=3, unique=True), st.lists(CODE, min_size=1, max_size=3),
       st.sampled_from(["garden", "the result", "zq"]))
def test_code_and_prose_beside_a_listed_word_keep_their_reading(listed: list[str], code: list[str],
                                                               filler: str) -> None:
    """Code and prose symbols never cut a listed word written plainly beside them, nor make one of
    ordinary words; the batch path agrees with ``match``."""
    index = build(listed)
    texts = [" ".join(c.format(filler) for c in code), *(f"{c.format(filler)} {listed[0]}" for c in code)]
    assert not index.match(texts[0]) or any(w in texts[0] for w in listed)
    for text in texts[1:]:
        assert index.match(text), text
    assert_match_many_as_match(index, texts)


def test_code_keeps_its_words() -> None:
    """The main reading of code and prose is unchanged; the wide reading exists only where a symbol touches
    a letter the way a leet letter does."""
    assert [words(t) for t in ("C++", "x[]", "f(x)", "R&D", "q=a+b")] == [["c"], ["x"], ["fx"], ["rd"],
                                                                         ["qab"]]
    for text in ["a + b", "1 + 1", "f(x)", "x[0]", "(see here)", "<b>bold</b>", "q=a&b=c", "open(file, 'r')"]:
        assert not has_wide(text), text
    for text in ["zq><b", "zq|2b", "zq/\\/\\b", "vq+a", "zq(x", "zq&b"]:
        assert has_wide(text), text


# Recall of the class over a fixed grid (the whole table, letters side by side too: where two symbol runs
# meet, a reader may see another letter, so this class is not at 100 %).
def test_recall_over_a_fixed_grid() -> None:
    rng = random.Random(20261129)
    listed = ["zq" + "".join(rng.choice(LETTERS) for _ in range(rng.randint(5, 9))) for _ in range(300)]
    index = build(listed)
    hits = total = 0
    for term in listed:
        out = []
        for i, ch in enumerate(term):
            table = MULTI.get(ch, []) + (SINGLE.get(ch, []) if _single(term, i) else [])
            out.append(rng.choice(table) if table and rng.random() < 0.6 else ch)
        text = "watch " + "".join(out) + " now"
        total += 1
        hits += bool(index.match(text))
    assert hits / total >= 0.9, hits / total
