"""Fuzzy terms with edits anywhere and contains-wildcards, read on the query side (``fuzzy_query.py``).

Before: a fuzzy term was read only as what it finds one or two edits away *at its ends*
(``zqxblocke~``), so an edit in the middle (``zqxblXcked~1``, ``zqxblacked~``) passed the query unread, and
a wildcard on both sides was read only as "a listed word starts or ends with the core", so ``*qxblocke*``
(the backend finds every indexed word with the core inside) passed too. Their results were screened, but
the query was neither warned nor blocked. Now, through the request path of three backends:

- a fuzzy term one edit from a listed word, the edit anywhere (substitution, insertion, deletion,
  transposition), matches with ``~``, ``~1``, ``~2``, ``~0.8``; two edits match when they leave the first
  five or the last five letters alone (one edit in each is not read: see fuzzy_query.py);
- a contains-wildcard whose core (five letters or more) sits inside a listed word with at most two
  letters on one side matches;
- terms far from every listed word stay allowed, and ``~0`` stays exact.
"""

from __future__ import annotations

from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from filter_proxy import fuzzy_query
from filter_proxy.adapters.querysyntax import _ordinary
from filter_proxy.normalize import words as normal_words
from tests.test_query_wildcards import (
    LETTERS,
    LISTED,
    SETTINGS,
    SHAPES,
    benign_query,
    plain_word,
    verdict,
    with_rules,
)

EDITS = ("substitute", "insert", "delete", "transpose")


def edit(word: str, kind: str, at: int, letter: str) -> str:
    if kind == "substitute":
        return word[:at] + letter + word[at + 1:]
    if kind == "insert":
        return word[:at] + letter + word[at:]
    if kind == "delete":
        return word[:at] + word[at + 1:]
    return word[:at] + word[at + 1] + word[at] + word[at + 2:] if at + 1 < len(word) else word


def distance(a: str, b: str) -> int:
    """Optimal string alignment distance (Damerau-Levenshtein without repeated edits of one substring)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _in_query(data: st.DataObject, term: str) -> str:
    query, _ = data.draw(benign_query())
    words = query.split(" ")
    words.insert(data.draw(st.integers(0, len(words))), term)
    return " ".join(words)


@SETTINGS
@given(data=st.data(), term=LISTED, shape=st.sampled_from(SHAPES), kind=st.sampled_from(EDITS),
       letter=st.sampled_from(LETTERS), mark=st.sampled_from(["~", "~1", "~2", "~0.8", "~1.0"]))
def test_one_edit_anywhere_in_a_fuzzy_term_matches(data: st.DataObject, term: str, shape: str, kind: str,
                                                   letter: str, mark: str) -> None:
    at = data.draw(st.integers(0, len(term) - 1))
    fuzzy = edit(term, kind, at, letter)
    assume(fuzzy != term)
    query = _in_query(data, fuzzy + mark)
    with_rules([term], lambda rules: _expect(shape, query, rules, "block"))


@st.composite
def two_edits_on_one_side(draw: st.DrawFn, term: str) -> str:
    """Two edits that leave the first five letters (or the last five) of ``term`` alone."""
    word = term
    tail = draw(st.booleans())
    for _ in range(2):
        kind = draw(st.sampled_from(EDITS))
        last = len(word) - (7 if kind == "transpose" else 6)  # a transposition touches the next letter too
        assume(last >= 0)
        at = draw(st.integers(5, len(word) - 1)) if tail else draw(st.integers(0, last))
        word = edit(word, kind, at, draw(st.sampled_from(LETTERS)))
    return word


@SETTINGS
@given(data=st.data(), term=LISTED.filter(lambda t: len(t) >= 7), shape=st.sampled_from(SHAPES),
       mark=st.sampled_from(["~", "~2", "~0.5"]))
def test_two_edits_on_one_side_of_a_fuzzy_term_match(data: st.DataObject, term: str, shape: str, mark: str) -> None:
    fuzzy = data.draw(two_edits_on_one_side(term))
    (listed,), (probe,) = normal_words(term), normal_words(fuzzy)
    # Lucene's distance with transpositions edits no letter twice (optimal string alignment): "zaq" is
    # three edits from "qz" there (a deletion, then a transposition of letters that were not neighbours).
    assume(fuzzy != term and len(fuzzy) >= 6 and distance(listed, probe) <= 2)
    query = _in_query(data, fuzzy + mark)
    with_rules([term], lambda rules: _expect(shape, query, rules, "block"))


@SETTINGS
@given(data=st.data(), term=LISTED, shape=st.sampled_from(SHAPES))
def test_a_contains_wildcard_inside_a_listed_word_matches(data: st.DataObject, term: str, shape: str) -> None:
    n = len(term)
    before = data.draw(st.integers(1, n - 6))
    after = data.draw(st.integers(1, n - 5 - before))
    assume(min(before, after) <= fuzzy_query.INFIX_SIDE)
    core = term[before:n - after]
    # A pair of ``*`` around an ordinary word is emphasis (querysyntax._ordinary): ``*amber*`` is not a
    # contains-wildcard there, by design (its results are screened).
    assume(not _ordinary(core))
    query = _in_query(data, "*" + core + "*")
    with_rules([term], lambda rules: _expect(shape, query, rules, "block"))


@SETTINGS
@given(data=st.data(), term=LISTED, other=plain_word(6, 10), shape=st.sampled_from(SHAPES),
       mark=st.sampled_from(["~", "~1", "~2"]), star=st.booleans())
def test_terms_far_from_every_listed_word_stay_allowed(data: st.DataObject, term: str, other: str, shape: str,
                                                       mark: str, star: bool) -> None:
    """The probes are exact lookups: a term more than two edits from the listed word (or a core it does
    not hold) finds nothing, however it is marked."""
    (listed,), (probe,) = normal_words(term), normal_words(other)
    assume(distance(listed, probe) > 2 and probe not in listed and len(probe) >= 5)
    query = _in_query(data, "*" + other + "*" if star else other + mark)
    with_rules([term], lambda rules: _expect(shape, query, rules, "allow"))


@SETTINGS
@given(term=LISTED, kind=st.sampled_from(EDITS), letter=st.sampled_from(LETTERS), data=st.data())
def test_an_exact_mark_stays_exact(term: str, kind: str, letter: str, data: st.DataObject) -> None:
    fuzzy = edit(term, kind, data.draw(st.integers(0, len(term) - 1)), letter)
    (listed,), (probe,) = normal_words(term), normal_words(fuzzy)
    assume(probe != listed)
    with_rules([term], lambda rules: _expect("elasticsearch", fuzzy + "~0", rules, "allow"))


@SETTINGS
@given(term=LISTED, other=plain_word(5, 24), edits=st.sampled_from([1, 2]))
def test_the_probe_work_is_bounded(term: str, other: str, edits: int) -> None:
    """Counted, not timed: lookups and candidates of one fuzzy term stay far below the budget whether the
    term is next to a listed word or not."""
    def check(rules: Any) -> None:
        for word in (other, term, edit(term, "substitute", len(term) // 2, "y")):
            (normal,) = normal_words(word)
            lookups = fuzzy_query._Lookups(rules.terms, fuzzy_query.MAX_LOOKUPS)
            found = fuzzy_query.candidates(normal, edits, lookups)
            assert fuzzy_query.MAX_LOOKUPS - lookups.left <= 400 and len(found) <= 400, (word, edits)

    with_rules([term], check)


def _expect(shape: str, query: str, rules: Any, action: str) -> None:
    assert verdict(shape, query, rules) == action, query


@SETTINGS
@given(strings=st.lists(st.lists(plain_word(6, 9), min_size=1, max_size=20), min_size=1, max_size=40),
       star=st.booleans())
def test_the_probes_of_one_request_are_bounded(strings: list[list[str]], star: bool) -> None:
    """However many strings a request holds (a JSON body of many fields), at most 16 fuzzy terms and 4
    contains-wildcards are probed in all; before, the bound was per string only."""
    from filter_proxy.adapters.querysyntax import (
        MAX_FUZZY_TERMS,
        MAX_INFIX_TERMS,
        QueryFuzzy,
        QueryInfix,
        screened_texts,
    )

    texts = [" ".join(f"*{w}*" if star else f"{w}~1" for w in words) for words in strings]
    read = screened_texts(texts)
    assert sum(type(t) is QueryFuzzy for t in read) <= MAX_FUZZY_TERMS
    assert sum(type(t) is QueryInfix for t in read) <= MAX_INFIX_TERMS
