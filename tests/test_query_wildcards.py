"""Query syntax read as a competent filter reads it: wildcards that are syntax count, punctuation does not.

Benign sentences of ordinary English words with punctuation that is also Lucene syntax (question marks,
emphasis stars, quotes, colons, brackets, boosts) must not match listed terms made from those very words
(``never`` -> ``neverqx``, ``qxnever``, ``nevera``), which a wildcard reading of the punctuation would;
disguises of a listed term in query syntax (escapes, wildcards at either end or inside, fuzzy/boost, field
prefixes, local params, Solr macros) must match. Through the function the middleware uses to read a
request's query (``Adapter.query_texts`` + ``screening.query_verdict``), for three request shapes.
"""

from __future__ import annotations

import functools
import json
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.querysyntax import QueryPrefix, QuerySuffix, query_variants
from filter_proxy.matchers.term_forms import ordinary_words
from filter_proxy.matchers.terms import PREFIX_MIN_LETTERS, TermEntry, TermIndex
from filter_proxy.normalize import words as normal_words
from filter_proxy.screening import query_verdict
from tests.test_middleware import build_rules

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SHAPES = ("searxng", "elasticsearch", "solr")
# Letters that normalisation keeps as they are (no l/i merge, no leet), never twice in a row.
LETTERS = "abcdefghkmnprstuvwy"
SYNTAX_EDGES = ["{}", "{}?", "{}??", "{}?!", "{}.", "{},", "{}:", '"{}"', "({})", "'{}'", "{}...", "+{}",
                "-{}", "{}~", "{}^2", "{}!", "[{}]", "{}?\"", "¿{}?", "{}&&", "{}||"]


@functools.cache
def ordinary() -> list[str]:
    """Ordinary English words of 3-9 letters from the segmenter's own word list (wordsegment), those the
    filter itself counts as ordinary once normalised."""
    vocabulary = ordinary_words()
    text = resources.files("wordsegment").joinpath("words.txt").read_text("utf-8")
    found = [w for w in text.split() if w.isalpha() and w.isascii() and 3 <= len(w) <= 9]
    return sorted(w for w in found if all(n in vocabulary for n in normal_words(w)))[::7]


def plain_word(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=LETTERS, min_size=min_size, max_size=max_size).filter(
        lambda w: all(a != b for a, b in zip(w, w[1:], strict=False)))


LISTED = plain_word(4, 7).map(lambda w: "zqx" + w)  # 7-10 letters, never an ordinary word


def verdict(shape: str, query: str, rules: Any, extra: list[tuple[str, str]] = ()) -> str:  # type: ignore[assignment]
    """What the middleware decides for ``query`` sent in ``shape``'s usual request."""
    adapter = get_adapter(shape)
    if shape == "elasticsearch":
        body = json.dumps({"query": {"query_string": {"query": query, "default_field": "title"}}}).encode()
        texts = adapter.query_texts(list(extra), body, "application/json")
    else:
        texts = adapter.query_texts([("q", query), *extra], b"", "")
    return query_verdict(texts, rules).action


def with_rules(terms: list[str], check: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="fp-wild-") as tmp:
        check(build_rules(Path(tmp) / "rules", extra_terms=terms))


@st.composite
def benign_query(draw: st.DrawFn) -> tuple[str, list[str]]:
    """(a sentence of ordinary words with punctuation that is also query syntax, its bare words)."""
    words = draw(st.lists(st.sampled_from(ordinary()), min_size=1, max_size=7))
    out = [draw(st.sampled_from(SYNTAX_EDGES)).format(w) for w in words]
    if len(out) > 1 and draw(st.booleans()):  # *emphasis* over one or more words
        i = draw(st.integers(0, len(out) - 1))
        j = draw(st.integers(i, min(len(out) - 1, i + 2)))
        out[i:j + 1] = ["*" + " ".join(words[i:j + 1]) + "*"]
    if draw(st.booleans()):  # a stray operator or wildcard on its own
        out.insert(draw(st.integers(0, len(out))), draw(st.sampled_from(["*", "?", "-", "&&", "||", "**", "??"])))
    return " ".join(out), words


@st.composite
def near_terms(draw: st.DrawFn, words: list[str]) -> list[str]:
    """Listed terms that a wildcard reading of the sentence's punctuation would match: a word with a
    letter or two added at either end (what ``word?``, ``?word``, ``word*``, ``*word`` would ask for)."""
    terms = []
    for word in words:
        tail = draw(plain_word(1, 3))
        terms += [word.lower() + tail, tail + word.lower(), word.lower() + tail[0]]
    return [t for t in terms if not all(n in ordinary_words() for n in normal_words(t))]


@SETTINGS
@given(data=st.data(), shape=st.sampled_from(SHAPES))
def test_punctuation_in_benign_queries_is_not_a_wildcard(data: st.DataObject, shape: str) -> None:
    query, words = data.draw(benign_query())
    terms = data.draw(near_terms(words))
    assume(terms)

    def check(rules: Any) -> None:
        # The words themselves are not listed (a collision of the matcher's own, if any, is not ours).
        assume(rules.check_text(" ".join(words)).action == "allow")
        assert verdict(shape, query, rules) == "allow", query

    with_rules(terms, check)


@st.composite
def disguised(draw: st.DrawFn, term: str) -> str:
    """``term`` in query syntax that a Lucene/Solr backend reads back to it (or to a wildcard keeping at
    least five of its letters at one end)."""
    n = len(term)
    form = draw(st.sampled_from(["escape", "trailing star", "trailing ?", "leading ?", "leading star",
                                 "inner ?", "inner star", "both stars", "edge and inner ?", "plain"]))
    if form == "escape":
        text = "".join("\\" + c if draw(st.booleans()) else c for c in term)
    elif form == "trailing star":
        text = term[: draw(st.integers(PREFIX_MIN_LETTERS, n - 1))] + "*"
    elif form == "trailing ?":
        k = draw(st.integers(1, 2))
        text = term[: n - k] + "?" * k
    elif form == "leading ?":
        k = draw(st.integers(1, 2))
        text = "?" * k + term[k:]
    elif form == "leading star":
        text = "*" + term[draw(st.integers(1, n - PREFIX_MIN_LETTERS)):]
    elif form == "inner ?":
        spots = draw(st.sets(st.integers(1, n - 2), min_size=1, max_size=2))
        text = "".join("?" if i in spots else c for i, c in enumerate(term))
    elif form == "inner star":
        cut = draw(st.integers(1, n - 1))
        text = term[:cut] + "*" + term[cut:]
    elif form == "both stars":  # *zqxbloc* or *xblocked*: contains, read as a prefix and as a suffix
        cut = draw(st.integers(1, n - PREFIX_MIN_LETTERS))
        text = "*" + (term[: n - cut] if draw(st.booleans()) else term[cut:]) + "*"
    elif form == "edge and inner ?":
        cut = draw(st.integers(2, n - 2))
        text = "?" + term[1:cut] + "?" + term[cut + 1:] if draw(st.booleans()) else term[:cut] + "?" + term[cut + 1:-1] + "?"
    else:
        text = term
    if draw(st.booleans()):
        text += draw(st.sampled_from(["^3", "~2", "~", "^0.5"]))
    if draw(st.booleans()):
        text = draw(plain_word(1, 6)) + ":" + text
    if draw(st.booleans()):
        text = draw(st.sampled_from(["{!lucene df=title}", "{!edismax qf=title}", "+", "(", "-(", "NOT "])) + text
    return text


@SETTINGS
@given(data=st.data(), term=LISTED, shape=st.sampled_from(SHAPES))
def test_disguises_in_query_syntax_match(data: st.DataObject, term: str, shape: str) -> None:
    query, _ = data.draw(benign_query())
    words = query.split(" ")
    words.insert(data.draw(st.integers(0, len(words))), data.draw(disguised(term)))
    with_rules([term], lambda rules: _assert_block(shape, " ".join(words), rules))


def _assert_block(shape: str, query: str, rules: Any) -> None:
    assert verdict(shape, query, rules) == "block", query


@SETTINGS
@given(term=LISTED, cut=st.integers(1, 9), name=plain_word(1, 5), data=st.data())
def test_solr_macros_carrying_a_wildcard_disguise_match(term: str, cut: int, name: str, data: st.DataObject) -> None:
    cut = min(cut, len(term) - PREFIX_MIN_LETTERS)
    rest = data.draw(st.sampled_from(["*" + term[cut:], term[cut:]]))
    params = [(name, rest)]
    query = term[:cut] + "${" + name + "}" if not rest.startswith("*") else "title:${" + name + "}"
    with_rules([term], lambda rules: _assert_block_params("solr", query, params, rules))


def _assert_block_params(shape: str, query: str, params: list[tuple[str, str]], rules: Any) -> None:
    assert verdict(shape, query, rules, params) == "block", (query, params)


@SETTINGS
@given(term=LISTED, cut=st.integers(1, 9))
def test_a_leading_wildcard_keeping_fewer_than_five_letters_is_not_the_term(term: str, cut: int) -> None:
    tail = term[-min(cut, PREFIX_MIN_LETTERS - 1):]
    with_rules([term], lambda rules: _assert_allow("elasticsearch", "*" + tail, rules))


def _assert_allow(shape: str, query: str, rules: Any) -> None:
    assert verdict(shape, query, rules) == "allow", query


@SETTINGS
@given(word=st.sampled_from(ordinary()), mark=st.sampled_from(["?", "??", "?!", "?)"]))
def test_a_question_mark_after_an_ordinary_word_is_punctuation(word: str, mark: str) -> None:
    variants = query_variants(word + mark)
    assert not [v for v in variants if type(v) is not str], variants
    # Readings only drop punctuation: no "?" was tried as a letter.
    assert {"".join(c for c in v if c.isalnum()) for v in variants} == {word}, variants


@SETTINGS
@given(word=st.sampled_from(ordinary()), mark=st.sampled_from(["?", "??"]))
def test_a_question_mark_before_a_word_is_syntax(word: str, mark: str) -> None:
    # Prose puts "?" after words; "??nod" is a wildcard asking for any two letters before "nod".
    variants = query_variants(mark + word)
    assert len(variants) > 3 * len(mark) and QuerySuffix(word) in variants


@SETTINGS
@given(term=LISTED, keep=st.integers(PREFIX_MIN_LETTERS, 9))
def test_term_index_matches_suffixes_keeping_five_letters(term: str, keep: int) -> None:
    index = TermIndex.build([TermEntry(term, "cat", "rules/terms/cat.txt:1", False)])
    again = TermIndex.from_bytes(index.to_bytes())
    suffix = normal_words(term[-keep:])
    if keep < len(term):
        assert index.match_suffix(suffix) and again.match_suffix(suffix) == index.match_suffix(suffix)
    else:
        assert index.match_suffix(suffix) == []  # the whole word is a plain match, not a cut
    assert index.match_suffix(normal_words(term[-(PREFIX_MIN_LETTERS - 1):])) == []


@SETTINGS
@given(listed=st.lists(LISTED, min_size=1, max_size=6, unique=True),
       probes=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 6), st.integers(0, 6), plain_word(0, 3)),
                       min_size=1, max_size=40))
def test_has_cuts_answers_as_match_prefix_and_match_suffix_one_by_one(
        listed: list[str], probes: list[tuple[int, int, int, str]]) -> None:
    # Cuts of listed words (some whole, some too short, some with letters added) and plain words.
    index = TermIndex.build([TermEntry(t, "cat", f"rules/terms/cat.txt:{i + 1}", False) for i, t in enumerate(listed)])
    texts = []
    for which, drop_start, drop_end, added in probes:
        word = listed[which % len(listed)]
        texts.append(added + word[drop_start:len(word) - drop_end] + added[::-1])
    assert index.has_cuts(texts, ends=True) == [bool(index.match_suffix([t])) for t in texts]
    assert index.has_cuts(texts, ends=False) == [bool(index.match_prefix([t])) for t in texts]
    assert any(index.has_cuts([w[1:] for w in listed], ends=True))  # the generator does reach hits


def test_wildcard_readings_name_prefixes_and_suffixes() -> None:
    assert QuerySuffix("locked") in query_variants("*locked")
    assert QueryPrefix("garden zqxblo") in query_variants("garden zqxblo*")
    both = [(type(v), v) for v in query_variants("*zqxbloc*")]
    assert (QueryPrefix, "zqxbloc") in both and (QuerySuffix, "zqxbloc") in both
    assert query_variants("a system *I* can") == ["a system *I* can", "a system I can"]


@st.composite
def fuzzy_disguise(draw: st.DrawFn, term: str) -> str:
    """A fuzzy query term one edit from ``term`` at one of its ends (a letter dropped, changed or added),
    with Lucene's optional edit count."""
    edit = draw(st.sampled_from(["drop_end", "drop_start", "change_end", "change_start", "add_end", "add_start",
                                 "none"]))
    letter = draw(st.sampled_from(LETTERS))
    word = {"drop_end": term[:-1], "drop_start": term[1:], "change_end": term[:-1] + letter,
            "change_start": letter + term[1:], "add_end": term + letter, "add_start": letter + term,
            "none": term}[edit]
    return word + draw(st.sampled_from(["~", "~1", "~2", "~0.8"]))


@SETTINGS
@given(data=st.data(), term=LISTED, shape=st.sampled_from(SHAPES))
def test_fuzzy_terms_one_edit_from_a_listed_term_match(data: st.DataObject, term: str, shape: str) -> None:
    """The backend finds a term one or two edits from a fuzzy query term: ``zqxblocke~`` asks for
    ``zqxblocked`` as surely as the term itself does."""
    query, _ = data.draw(benign_query())
    words = query.split(" ")
    words.insert(data.draw(st.integers(0, len(words))), data.draw(fuzzy_disguise(term)))
    with_rules([term], lambda rules: _assert_block(shape, " ".join(words), rules))


@SETTINGS
@given(term=LISTED, edit=st.sampled_from(["~0", ""]))
def test_an_exact_or_unmarked_cut_term_is_not_the_term(term: str, edit: str) -> None:
    """Without a fuzzy mark (or with ``~0``, exact) a term a letter short is another word."""
    with_rules([term], lambda rules: _assert_allow("elasticsearch", term[:-1] + edit, rules))


@SETTINGS
@given(data=st.data(), term=LISTED, shape=st.sampled_from(SHAPES))
def test_lucene_unicode_escapes_in_a_term_match(data: st.DataObject, term: str, shape: str) -> None:
    """Lucene's parser reads ``\\uXXXX`` as the character (``zqx\\u0062locked`` is ``zqxblocked``), in
    either case of hex digit, for any of the term's letters."""
    spots = data.draw(st.sets(st.integers(0, len(term) - 1), min_size=1, max_size=3))
    upper = data.draw(st.booleans())
    escaped = "".join((f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}") if i in spots else c
                      for i, c in enumerate(term))
    with_rules([term], lambda rules: _assert_block(shape, f"bread {escaped}", rules))
