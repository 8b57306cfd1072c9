"""Listed words with a plural ending (``term_forms.stem_candidates`` / ``plural_of``, ``TermIndex._stem``):
"s", "es", a leet "z", the possessive "'s", on a single listed word or a phrase's last word of >= 5 letters;
never a dictionary word made a match by a listed one, never a shorter listed word; the page path (compiled
kernel, its matcher, pure Python) gives ``match``'s answers."""

from __future__ import annotations

from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from wordsegment import __file__ as _wordsegment

from filter_proxy.matchers.term_forms import STEM_MIN, dictionary_word, ordinary_words, plural_of
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize
from tests.test_term_wide_leet import assert_match_many_as_match

LETTERS = "abcdeghjkmnopqrtuvwxy"
NONSENSE = st.builds(lambda head, tail: "zq" + head + tail, st.text("xqvk", min_size=1, max_size=2),
                     st.text(LETTERS, min_size=3, max_size=8))
ENDING = st.sampled_from(["s", "es", "z", "'s", "\u2019s", "S", "ES", "$", "5"])
CONTEXT = st.sampled_from(["{}", "watch {} now", "{} - free download", "about {}.", "tags: {}, other", "Q: {}?"])


def build(listed: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])


def _plural(word: str, ending: str) -> bool:
    """The ending read as a plural of ``word`` by the rule (its stem and the word are no dictionary word)."""
    written = normalize(word + ending)
    stem = normalize(word)
    return written == stem or " " in written or plural_of(written, stem) or plural_of(written, written[:-2])


@settings(max_examples=150, deadline=None)
@given(st.lists(NONSENSE, min_size=1, max_size=4, unique=True), st.data(), ENDING, CONTEXT)
def test_a_listed_word_with_a_plural_ending_is_matched(listed: list[str], data: st.DataObject, ending: str,
                                                        context: str) -> None:
    word = data.draw(st.sampled_from(listed))
    assume(len(normalize(word)) >= STEM_MIN and _plural(word, ending))
    index = build(listed)
    text = context.format(word + ending)
    assert index.match(text), text
    assert_match_many_as_match(index, [text, "an ordinary title", context.format(word)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["forbidden", "phrase", "garden", "yellow", "mirror"]), min_size=1, max_size=2),
       NONSENSE, ENDING, CONTEXT)
def test_a_phrase_whose_last_word_has_a_plural_ending_is_matched(head: list[str], last: str, ending: str,
                                                                 context: str) -> None:
    assume(len(normalize(last)) >= STEM_MIN and _plural(last, ending))
    phrase = " ".join([*head, last])
    index = build([phrase, "zqvother listed"])
    text = context.format(phrase + ending)
    assert index.match(text), text
    assert_match_many_as_match(index, [text, context.format(" ".join(head)), context.format(last + ending)])


def _dictionary_plurals() -> list[str]:
    """Words of wordsegment's English list whose plural ("s") is also in it, 5+ letters."""
    found = set((Path(_wordsegment).parent / "words.txt").read_text().split())
    return sorted(w for w in found if len(w) >= STEM_MIN and w.isalpha() and w + "s" in found)[::40]


DICTIONARY = _dictionary_plurals()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(DICTIONARY), min_size=1, max_size=20, unique=True), CONTEXT)
def test_a_dictionary_word_never_becomes_a_match_by_its_ending(listed: list[str], context: str) -> None:
    """A listed dictionary word ("ablative") never makes its dictionary plural ("ablatives") a match."""
    index = build(listed)
    texts = [context.format(w + "s") for w in listed]
    assert all(dictionary_word(normalize(w + "s")) or normalize(w + "s") in ordinary_words() for w in listed)
    expected = [[] if normalize(w + "s") != normalize(w) else index.match(t) for w, t in zip(listed, texts, strict=True)]
    assert [index.match(t) for t in texts] == expected, texts
    assert_match_many_as_match(index, texts)


@settings(max_examples=60, deadline=None)
@given(st.text(LETTERS, min_size=1, max_size=2), st.sampled_from(["s", "es", "z"]))
def test_a_listed_word_under_five_letters_takes_no_ending(tail: str, ending: str) -> None:
    word = "zq" + tail  # 3-4 letters
    index = build([word])
    assume(normalize(word + ending) != normalize(word))
    assert index.match(f"see {word}{ending} now") == []


def test_recall_over_a_fixed_grid() -> None:
    """Every 5+ letter nonsense word of a fixed list, with each ending: 100 %."""
    words = [f"zq{a}{b}{c}x{d}" for a in "bdgk" for b in "aeou" for c in "mnrt" for d in "pvw"][:120]
    index = build(words)
    texts = [f"watch {w}{e} now" for w in words for e in ("s", "es", "z", "'s", "5", "$")]
    assert all(index.match_many(texts)), [t for t, m in zip(texts, index.match_many(texts), strict=True) if not m]
