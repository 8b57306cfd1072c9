"""Red-team pass on text disguises (benchmarks/disguise_evader.py, a generator written as an evader would,
independent of the other two): for freshly generated placeholder terms, every disguise class the filter
claims is caught through the query path (``screening.query_verdict`` over a raw query string and an
Elasticsearch JSON body) and the page path (``RuleSet.check_many``, with and without the compiled kernel,
equal to ``check_text``); benign text stays unmatched."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from benchmarks import disguise_evader as ev
from benchmarks.subjects import write_rules_dir
from filter_proxy.rules.loader import load_rules
from tests.support.kernel_check import assert_match_many_as_match

SEEDS = st.integers(0, 2**32 - 1)
# Classes (and combinations) caught in full. Left out, and why (report of the red-team pass): "leet" (the
# extended table: "><" x, "|3" b, "7" l, "^" a are read one way only or not at all), "suffix" (plurals are
# not folded), "reversed order" (another phrase: decided not to match), "split inside" when a piece is one
# letter or several words of a phrase are cut.
CAUGHT = ["cyrillic", "greek", "armenian", "cherokee", "fullwidth", *(f"math {s}" for s in ev.MATH_STYLES),
          *ev.ENCLOSED, "small capitals", "superscript", "subscript", "combining", "zalgo", "invisible",
          "spaces", "repetition", "leet plain", "case", "joined", "case+invisible", "repetition+leet plain",
          "joined+leet plain", "small capitals+spaces", "math bold+zalgo", "superscript+invisible",
          "regional indicator+spaces", "repetition+spaces"]


@pytest.fixture(scope="module")
def listed(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Any]:
    words = ["forbidden", "phrase", "garden", "yellow", "mirror", "cold", "little", "ocean"]
    # One fixed list (as the examples are fixed: tests/conftest.py): a fresh random list each run made the
    # classes measured at 99-100 % fail a build now and then; HYPOTHESIS_PROFILE=explore varies both.
    seed = random.Random().randrange(1 << 30) if os.environ.get("HYPOTHESIS_PROFILE") == "explore" else 1129
    terms = ev.placeholder_terms(400, seed=seed, ordinary=words)
    return terms, load_rules(write_rules_dir(Path(tmp_path_factory.mktemp("rules")), terms=terms))


def _term(terms: list[str], name: str, rng: random.Random) -> str:
    pool = [t for t in terms if " " in t] if ev.MULTI_WORD & set(name.split("+")) else terms
    return rng.choice(pool)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SEEDS, st.sampled_from(CAUGHT))
def test_disguised_terms_are_caught_on_both_paths(listed: tuple[list[str], Any], seed: int, name: str) -> None:
    terms, rules = listed
    rng = random.Random(seed)
    term = _term(terms, name, rng)
    text = ev.disguise(term, name, rng)
    paths = ev.Paths(rules)
    query = rng.choice(ev.QUERY_CONTEXTS).format(text)
    assert paths.query(query, rng), (term, query)
    page = [rng.choice(ev.PAGE_CONTEXTS).format(text), "an ordinary result title", query]
    assert paths.page(page) == [True, False, True], (term, page)
    assert [v.action for v in rules.check_many(page)] == [rules.check_text(t).action for t in page]


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.sampled_from(["negative circled", "negative squared", "regional indicator", "parenthesized",
                               "small capitals"]))
def test_letter_shaped_symbols_read_as_their_letters(seed: int, name: str) -> None:
    """The letter forms NFKC and UTS #39 leave alone (🅐 🅰 🇦 ⒜ ᴀ) fold like full-width letters do."""
    from filter_proxy.normalize import normalize

    rng = random.Random(seed)
    term = ev.nonsense_word(rng, rng.randint(3, 12))
    assert normalize(ev.disguise(term, name, rng)) == normalize(term)


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_hangul_fillers_do_not_cut_a_word(seed: int) -> None:
    from filter_proxy.normalize import normalize

    rng = random.Random(seed)
    term = ev.nonsense_word(rng, rng.randint(3, 12))
    cut = rng.randrange(1, len(term))
    filler = rng.choice(["\u115f", "\u1160", "\u3164", "\uffa0"])
    assert normalize(term[:cut] + filler * rng.randint(1, 3) + term[cut:]) == normalize(term)


@settings(max_examples=200, deadline=None)
@given(SEEDS, st.sampled_from(["|", "!", "||"]), st.sampled_from(["", ".", " now", "!"]))
def test_a_trailing_leet_symbol_after_a_look_alike_or_symbol_is_a_letter(seed: int, symbol: str, after: str) -> None:
    """``zvТ|`` (Cyrillic Т) and ``xqdk@|``: the edge symbol follows a letter of another script or a leet
    symbol, and is still read as the letter it stands for."""
    from filter_proxy.matchers.terms import TermEntry, TermIndex

    rng = random.Random(seed)
    term = ev.nonsense_word(rng, rng.randint(3, 8)) + rng.choice("as") + "i"
    before = ev.CLASSES["cyrillic"](term[:-1], rng) if rng.random() < 0.5 else term[:-2] + {"a": "@", "s": "$"}[term[-2]]
    index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
    text = f"see {before}{symbol}{after}"

    assert index.match(text), text
    assert index.match_many([text]) == [index.match(text)]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.randoms(use_true_random=False))
def test_benign_text_with_the_new_forms_stays_clean(listed: tuple[list[str], Any], rng: random.Random) -> None:
    """Flags, IPA small capitals and fillers in ordinary text match nothing listed."""
    _, rules = listed
    benign = ["I love 🇺🇸 and 🇫🇷", "the vowel ɪ in bɪt", "ㅤ empty ㅤ profile", "⒜ first ⒝ second", "🅿 parking"]
    text = " ".join(rng.sample(benign, rng.randint(1, len(benign))))
    assert rules.check_text(text).action == "allow", text


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_character_references_read_as_their_characters(seed: int) -> None:
    """A page string shown as HTML: letters written as numeric (decimal, hex, zero-padded) references, and
    named ones (``&shy;`` inside, ``&ouml;`` for an o), read as the characters (page path)."""
    from filter_proxy.matchers.terms import TermEntry, TermIndex

    rng = random.Random(seed)
    term = ev.nonsense_word(rng, rng.randint(4, 12))
    text = ev.html_refs(term, rng)
    cut = rng.randrange(1, len(term))
    named = term[:cut] + rng.choice(["&shy;", "&zwnj;", "&ZeroWidthSpace;"]) + term[cut:]
    index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
    page = [f"watch {text} now", named, "Tom &amp; Jerry &#38; AT&T;", "R&D"]
    assert index.match_many(page) == [index.match(t) for t in page]
    assert [bool(m) for m in index.match_many(page)] == [True, True, False, False], page


_FRAGMENTS = st.sampled_from(["&", "#", ";", "&#", "&#x", "x", "7a", "98", "amp", "shy", "zq", "xb", "lo", " ",
                              "&amp;", "&shy;", "&#98;", "&#x62;", "AT&T", "a" * 33 + ";", "&B", "1", "@", "q"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_FRAGMENTS, max_size=10).map("".join), min_size=1, max_size=6))
def test_the_kernel_routes_references_as_python_does(page: list[str]) -> None:
    """Strings with ``&`` in every arrangement: the compiled kernel and the pure-Python path give the same
    matches as ``match`` one string at a time."""
    from filter_proxy.matchers.terms import TermEntry, TermIndex

    index = TermIndex.build([TermEntry(t, "c", f"c.txt:{i}") for i, t in enumerate(["zqxblo", "xbamp", "shyzq"])])
    assert_match_many_as_match(index, page)


_PUNCT_ASCII = [c for c in "\"#%&'()*+,-./:;<=>?[\\]^_`{}~"]


@settings(max_examples=300, deadline=None)
@given(SEEDS, st.integers(1, 3))
def test_letters_apart_by_any_punctuation_are_one_word(seed: int, width: int) -> None:
    """``z?q%x``, ``z(q)x``, ``z·q…x``, mixed and repeated: the letters are read as one word (query and page
    path, compiled kernel and pure Python alike)."""
    from filter_proxy.matchers.terms import TermEntry, TermIndex

    rng = random.Random(seed)
    term = ev.nonsense_word(rng, rng.randint(3, 10))
    marks = _PUNCT_ASCII + ["·", "•", "…", "‧", "∙", "⋅", "・", "¦", "§", "–", "—", "’", "“", "«", "−"]
    text = ev._between(term, rng, lambda: "".join(rng.choices(marks, k=rng.randint(1, width))))
    assume(not any(d in text for d in ("()", "\\/", "/\\")))  # leetspeak letters (o, v, a), not separators
    index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
    page = [f"see {text} now", "plain words here"]
    assert index.match(page[0]), page[0]
    assert index.match_many(page) == [index.match(t) for t in page]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", "z", "7", "ab", "12", " ", "x1", *_PUNCT_ASCII]), max_size=16).map("".join))
def test_the_kernel_joins_chains_of_any_punctuation_as_python(text: str) -> None:
    kernel = pytest.importorskip("filter_proxy.matchers._page_kernel", reason="the compiled kernel is not built")
    from filter_proxy.normalize import join_chains, map_digraphs

    text = map_digraphs(text)  # as the lane reads it: "()" mapped first
    if "\\" not in text:  # a backslash beside "/" is a digraph the lane leaves to Python
        assert kernel.join_chains(text) == join_chains(text)


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from(["a", "B", "z", "7", "@", "$", "!", "|", "€", " ", "\t", "é", "ж", *_PUNCT_ASCII, "·", "–"]),
               max_size=20))
def test_the_ascii_chain_hint_is_the_general_one_on_ascii_text(text: str) -> None:
    from filter_proxy.normalize import _CHAIN_HINT, _CHAIN_HINT_ASCII

    if text.isascii():
        assert bool(_CHAIN_HINT_ASCII.search(text)) == bool(_CHAIN_HINT.search(text)), text


@settings(max_examples=200, deadline=None)
@given(SEEDS)
def test_look_alike_words_beside_a_disguise_or_oddly_cased_fold(seed: int) -> None:
    """Every letter of a word replaced by a Cyrillic or Greek look-alike, lower-case ones that are look-alikes
    only by their capital (``к``, ``κ``, ``ԍ``) included: folded when another word of the text mixes scripts,
    or when the word is cased as no genuine word is; genuine prose stays in its script."""
    from filter_proxy.normalize import normalize

    rng = random.Random(seed)
    first = ev.nonsense_word(rng, rng.randint(4, 9))
    second = ev.nonsense_word(rng, rng.randint(4, 9))
    table = {"a": "а", "c": "с", "e": "е", "k": "к", "o": "о", "p": "р", "t": "т", "x": "х", "y": "у", "g": "ԍ"}
    assume(sum(c in table for c in first) >= 2 and any(c not in table for c in second)
           and any(c in table for c in second))  # the second word mixes scripts
    whole = "".join(table.get(c, c) for c in first)
    mixed = "".join(table.get(c, c) for c in second)  # keeps a Latin letter: mixed script
    if not any("\u0400" <= c <= "\u052f" for c in whole) or whole.isascii():
        return
    assert normalize(f"{whole} {mixed}") == normalize(f"{first} {second}")
    if all(c in table for c in first):  # the word alone, every letter a look-alike, cased "кАрОт"
        odd = "".join(c.upper() if i % 2 else c for i, c in enumerate(whole))
        assert normalize(odd) == normalize(first), odd
    prose = "Собака ест мясо, как и кот"
    assert normalize(prose) == "собака ест мясо как и кот"


@settings(max_examples=100, deadline=None)
@given(SEEDS, st.sampled_from(["@!", "@|", "|!", "@$", "|@"]))
def test_leading_leet_symbols_in_a_row_are_letters(seed: int, lead: str) -> None:
    """``@!rings`` (airings): the leading ``@`` or ``|`` followed by another leet symbol, not a letter."""
    from filter_proxy.matchers.terms import TermEntry, TermIndex

    rng = random.Random(seed)
    letters = {"@": "a", "!": "i", "|": "i", "$": "s"}
    term = "".join(letters[c] for c in lead) + "x" + ev.nonsense_word(rng, rng.randint(3, 8))
    index = TermIndex.build([TermEntry(term, "c", "c.txt:1")])
    text = f"{rng.choice(['', 'see '])}{lead}{term[2:]}{rng.choice(['', ' now', '!'])}"
    assert index.match(text), text
    assert index.match_many([text, "plain"]) == [index.match(text), []]
