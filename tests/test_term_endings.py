"""Listed words with an inflection ending other than the plural (``term_forms.stem_candidates`` / ``plural_of``,
``TermIndex._stem``): "ing", "in'", "ings", "ed", "er", "ers" and a consonant's "y" turned "i" ("ies", "ied",
"ier"), spelled as English spells them on an invented word (a silent "e" dropped, a final consonant doubled),
the ending in leetspeak or capitals; on a single listed word or a phrase's last word of >= 5 letters. Never a
dictionary word made a match by a listed one, never a derivation ("-ish", "-ness"), never a stem under 5
letters; the page path (compiled kernel, its matcher, pure Python) gives ``match``'s answers.

The invented stems are drawn from generated syllables here (not the evader's words, not a typed list)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from wordsegment import __file__ as _wordsegment

from filter_proxy.matchers.term_forms import (
    PHRASE_STEM_MIN,
    STEM_MIN,
    ordinary_words,
    plural_of,
    stem_candidates,
)
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize, words
from tests.test_term_wide_leet import assert_match_many_as_match

VOWELS = "aeou"  # no "i": "l" and "i" are one letter after normalisation, the generator stays readable
CONSONANTS = "bcdfghjkmnprtvwxz"
SYLLABLE = st.builds(lambda a, b, c: a + b + c, st.sampled_from(CONSONANTS), st.sampled_from(VOWELS),
                     st.sampled_from(["", *CONSONANTS]))
# Stem shapes an inflection spells differently: a silent "e", a consonant's "y", consonant-vowel-consonant.
STEM = st.builds(lambda head, syllables, tail: head + "".join(syllables) + tail,
                 st.sampled_from(["zq", "qx", "vq", "xz"]), st.lists(SYLLABLE, min_size=1, max_size=3),
                 st.sampled_from(["", "e", "y", "t", "k", "m"]))
ENDING = st.sampled_from(["ing", "ings", "in'", "ed", "er", "ers", "ies", "ied", "ier"])
CONTEXT = st.sampled_from(["{}", "watch {} now", "{} - free download", "about {}.", "tags: {}, other", "Q: {}?"])


def build(listed: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])


def inflect(stem: str, ending: str, double: bool, leet: bool, upper: bool) -> str:
    """``stem`` + ``ending`` as English spells it: "ies"/"ied"/"ier" only after a consonant's "y" (else "es",
    "ed", "er"), a silent "e" dropped before a vowel, a final consonant after one vowel doubled (``double``)."""
    consonant_y = stem.endswith("y") and stem[-2:-1] not in tuple(VOWELS)
    if ending.startswith("ie"):
        if consonant_y:
            stem = stem[:-1]
        else:
            ending = ending[1:]
    if stem.endswith("e") and ending[0] in VOWELS + "i":
        stem = stem[:-1]
    elif double and len(stem) > 2 and stem[-1] in CONSONANTS and stem[-2] in VOWELS and stem[-3] not in VOWELS:
        stem += stem[-1]
    if leet:
        ending = ending.replace("i", "1").replace("e", "3")
    return stem + (ending.upper() if upper else ending)


def _meant(stem: str, written: str) -> bool:
    """The rule reads ``written`` as ``stem`` with an ending: one word, a stem of >= 5 letters, neither an
    ordinary nor a dictionary word."""
    found, base = words(written), words(stem)
    return (len(found) == 1 and len(base) == 1 and len(base[0]) >= STEM_MIN
            and (found[0] == base[0] or plural_of(found[0], base[0])))


@settings(max_examples=200, deadline=None)
@given(st.lists(STEM, min_size=1, max_size=4, unique=True), st.data(), ENDING, st.booleans(), st.booleans(),
       st.booleans(), CONTEXT)
def test_a_listed_word_with_an_inflection_ending_is_matched(listed: list[str], data: st.DataObject, ending: str,
                                                             double: bool, leet: bool, upper: bool,
                                                             context: str) -> None:
    stem = data.draw(st.sampled_from(listed))
    written = inflect(stem, ending, double, leet, upper)
    assume(_meant(stem, written))
    index = build(listed)
    text = context.format(written)
    assert index.match(text), (stem, text)
    assert_match_many_as_match(index, [text, "an ordinary title", context.format(stem)])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.one_of(STEM, st.sampled_from(sorted(ordinary_words())[::500])), min_size=1, max_size=2),
       STEM, ENDING, st.booleans(), st.booleans(), CONTEXT)
def test_a_phrase_whose_last_word_has_an_inflection_ending_is_matched(head: list[str], last: str, ending: str,
                                                                      double: bool, leet: bool,
                                                                      context: str) -> None:
    written = inflect(last, ending, double, leet, False)
    assume(_meant(last, written) and all(len(words(w)) == 1 for w in head))
    phrase = " ".join([*head, last])
    index = build([phrase, "zqvother listed"])
    text = context.format(" ".join([*head, written]))
    assert index.match(text), (phrase, text)
    assert_match_many_as_match(index, [text, context.format(" ".join(head)), context.format(written)])


@settings(max_examples=80, deadline=None)
@given(STEM, st.sampled_from(["ish", "ness", "ly", "ful", "ment", "able", "ist", "ism"]), CONTEXT)
def test_a_derivation_is_not_an_inflection(stem: str, derivation: str, context: str) -> None:
    """"zqxblockish" is another word, not the listed "zqxblock" inflected."""
    index = build([stem])
    written = stem + derivation
    assume(normalize(written) != normalize(stem))
    assert index.match(context.format(written)) == []


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["zq", "qx", "vq"]), st.text(CONSONANTS + VOWELS, min_size=1, max_size=2), ENDING,
       st.booleans())
def test_a_listed_word_under_five_letters_takes_no_ending(head: str, tail: str, ending: str, double: bool) -> None:
    stem = head + tail  # 3-4 letters
    written = inflect(stem, ending, double, False, False)
    assume(normalize(written) != normalize(stem) and len(normalize(stem)) < STEM_MIN)
    assert build([stem]).match(f"see {written} now") == []


def _dictionary_inflections() -> list[tuple[str, str]]:
    """(word, inflected word) pairs both in the English word lists the rule consults (wordsegment's, and the
    system's where installed), 5+ letters: "ablate" / "ablating", "carry" / "carried"."""
    found = set((Path(_wordsegment).parent / "words.txt").read_text().split())
    system = Path("/usr/share/dict/words")
    if system.is_file():
        found |= {w for w in system.read_text().split() if w.isalpha() and w.islower()}
    pairs = []
    for word in sorted(found):
        if len(word) < STEM_MIN or not word.isalpha():
            continue
        for written in (word + "ing", word[:-1] + "ing", word + "ed", word + "d", word + "er", word + "ers",
                        word[:-1] + "ied", word[:-1] + "ies", word + word[-1] + "ing"):
            if written in found and written != word:
                pairs.append((word, written))
    return pairs[::25]


DICTIONARY = _dictionary_inflections()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(DICTIONARY), min_size=1, max_size=20, unique_by=lambda p: p[0]), CONTEXT)
def test_a_dictionary_word_never_becomes_a_match_by_its_ending(pairs: list[tuple[str, str]], context: str) -> None:
    """A listed dictionary word ("ablate") never makes its dictionary inflection ("ablating") a match."""
    index = build([w for w, _ in pairs])
    listed = {normalize(w) for w, _ in pairs}
    texts = [context.format(written) for _, written in pairs if normalize(written) not in listed]
    assert [index.match(t) for t in texts] == [[] for _ in texts], texts
    assert_match_many_as_match(index, texts)


def test_recall_over_a_fixed_grid() -> None:
    """Generated 5+ letter stems of each shape, with each ending, plain: every one the rule reads is matched."""
    rng = random.Random(5)
    stems = list(dict.fromkeys(rng.choice(["zq", "qx", "vq"]) + "".join(
        rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(2)) + rng.choice(["", "e", "y", "t"])
        for _ in range(120)))
    index = build(stems)
    texts = [f"watch {inflect(s, e, d, False, False)} now" for s in stems
             for e in ("ing", "ings", "in'", "ed", "er", "ers", "ies", "ied") for d in (False, True)
             if _meant(s, inflect(s, e, d, False, False))]
    assert len(texts) > 1000
    found = index.match_many(texts)
    assert all(found), [t for t, f in zip(texts, found, strict=True) if not f][:5]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(STEM, st.sampled_from(sorted(ordinary_words())[::500])), min_size=1, max_size=2),
       st.sampled_from(DICTIONARY), CONTEXT)
def test_a_phrase_whose_last_word_is_a_dictionary_word_takes_its_inflection(head: list[str], pair: tuple[str, str],
                                                                            context: str) -> None:
    """"listed garden party" -> "listed garden parties": the listed words before it make it the phrase, so the
    dictionary guard of a single word does not apply (``TermIndex._ended``); the word alone still never
    matches."""
    word, written = pair
    assume(all(len(words(w)) == 1 for w in head) and normalize(word) in stem_candidates(normalize(written)))
    phrase = " ".join([*head, word])
    index = build([phrase, word])
    text = context.format(" ".join([*head, written]))
    assert {m.rule_id for m in index.match(text)} == {"c.txt:1"}, (phrase, text)
    assert index.match(context.format(written)) == []
    assert_match_many_as_match(index, [text, context.format(written), context.format(" ".join(head))])


@settings(max_examples=300, deadline=None)
@given(st.text("aeiouyngsdrzktb", min_size=1, max_size=14), st.sampled_from([STEM_MIN, PHRASE_STEM_MIN]))
def test_the_kernel_reads_the_same_stems(word: str, minimum: int) -> None:
    """The compiled ``_stems`` gives ``stem_candidates``' list, in its order."""
    from filter_proxy.matchers import term_page

    kernel = term_page._page_kernel
    if kernel is None:
        pytest.skip("page kernel not built (setup.py build_ext)")
    assert kernel.stems(word, minimum) == stem_candidates(word, minimum)


@settings(max_examples=120, deadline=None)
@given(st.lists(STEM, min_size=1, max_size=3, unique=True), st.data(), ENDING, st.booleans(),
       st.sampled_from([" ", "-", ".", "_", "/"]), CONTEXT)
def test_a_listed_word_cut_and_inflected_is_matched(listed: list[str], data: st.DataObject, ending: str,
                                                     double: bool, separator: str, context: str) -> None:
    """"zqx blocking", "zqxbl-ocked": the glued pieces read with their stem (``TermIndex._glue_answer``). The
    cut falls inside the listed word (its first piece a proper prefix of it; a cut inside the ending,
    "zqxblocki ng", is not read)."""
    stem = data.draw(st.sampled_from(listed))
    written = inflect(stem, ending, double, False, False)
    assume(_meant(stem, written) and len(stem) >= 5)
    at = data.draw(st.integers(2, len(stem) - 2))
    left, right = normalize(written[:at]), normalize(written[at:])
    ordinary = ordinary_words()
    assume(len(left) >= 2 and len(right) >= 2 and not (left in ordinary and right in ordinary))
    index = build(listed)
    text = context.format(written[:at] + separator + written[at:])
    assert index.match(text), (stem, text)
    assert_match_many_as_match(index, [text, context.format(written), "an ordinary title"])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(STEM, st.sampled_from(sorted(ordinary_words())[::500])), min_size=1, max_size=2),
       st.sampled_from(["zq", "qx", "vq"]), st.text(CONSONANTS + VOWELS, min_size=1, max_size=2), ENDING,
       st.booleans(), CONTEXT)
def test_a_phrase_whose_last_word_is_short_takes_its_inflection(head: list[str], start: str, tail: str,
                                                                ending: str, double: bool, context: str) -> None:
    """A phrase's last word of 3-4 letters takes an ending ("forbidden phrase zqxs"); alone it does not."""
    last = start + tail
    written = inflect(last, ending, double, False, False)
    found, base = words(written), words(last)
    assume(all(len(words(w)) == 1 for w in head) and len(found) == 1 and len(base) == 1)
    assume(len(base[0]) >= PHRASE_STEM_MIN and base[0] in stem_candidates(found[0], PHRASE_STEM_MIN))
    phrase = " ".join([*head, last])
    index = build([phrase, last])
    text = context.format(" ".join([*head, written]))
    assert "c.txt:1" in {m.rule_id for m in index.match(text)}, (phrase, text)
    assert index.match(context.format(written)) == []
    assert_match_many_as_match(index, [text, context.format(written)])
