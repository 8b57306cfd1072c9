"""A listed phrase cut in several places (``TermIndex._extend`` gluing again where the phrase stops passing, up
to ``MAX_CUTS`` cut words per phrase; the kernel's ``_extend`` the same in C): two or three of its words each
cut once by a space or separator, any of them the first word. The phrases are drawn from generated syllables
here (a generator of its own, not the evader's, not a typed list); the page path (kernel, its matcher, pure
Python) gives ``match``'s answers on the cut phrases and on soups of their pieces."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.term_forms import MAX_CUTS, MIN_JOINED, ordinary_words
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize, words
from tests.test_term_wide_leet import assert_match_many_as_match

VOWELS = "aeou"
CONSONANTS = "bdfghkmnprtvwxz"
SYLLABLE = st.builds(lambda a, b, c: a + b + c, st.sampled_from(CONSONANTS), st.sampled_from(VOWELS),
                     st.sampled_from(["", "", *CONSONANTS]))
WORD = st.lists(SYLLABLE, min_size=2, max_size=4).map("".join)
ORDINARY = sorted(w for w in ordinary_words() if len(w) >= 5 and w.isalpha())[::300]
PHRASE_WORDS = st.lists(st.one_of(WORD, WORD, st.sampled_from(ORDINARY)), min_size=2, max_size=5)
SEPARATOR = st.sampled_from([" ", " ", "  ", "-", ".", "_", "/", " - "])
CONTEXT = st.sampled_from(["{}", "watch {} now", "{} - free download", "about {}.", "Q: {}?", "a b {} c d"])


def build(listed: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])


def cut_words(phrase: list[str], cuts: dict[int, int], separators: list[str]) -> tuple[str, list[tuple[str, str]]]:
    """The phrase with each word ``i`` of ``cuts`` cut ``cuts[i]`` letters in; the pieces."""
    out, pieces = [], []
    for i, word in enumerate(phrase):
        if i in cuts:
            left, right = word[:cuts[i]], word[cuts[i]:]
            out.append(left + separators[i % len(separators)] + right)
            pieces.append((left, right))
        else:
            out.append(word)
    return " ".join(out), pieces


def _gluable(pieces: list[tuple[str, str]], first_cut: bool, phrase: list[str]) -> bool:
    """The rule glues every cut: pieces of two letters or more once normalised, never two ordinary words; a cut
    first word glues only into the phrase's start (its joined form is indexed: no ordinary word, >= 6 letters)."""
    ordinary = ordinary_words()
    for left, right in pieces:
        a, b = normalize(left), normalize(right)
        if len(a) < 2 or len(b) < 2 or " " in a + b or (a in ordinary and b in ordinary):
            return False
    joined = normalize("".join(phrase))
    return not first_cut or (joined not in ordinary and len(joined) >= MIN_JOINED)


@settings(max_examples=250, deadline=None)
@given(PHRASE_WORDS, st.data(), st.lists(SEPARATOR, min_size=1, max_size=3), CONTEXT)
def test_a_phrase_with_several_words_cut_is_matched(phrase: list[str], data: st.DataObject, separators: list[str],
                                                     context: str) -> None:
    assume(all(len(words(w)) == 1 for w in phrase))
    can = [i for i, w in enumerate(phrase) if len(w) >= 4]
    assume(len(can) >= 2)
    chosen = data.draw(st.lists(st.sampled_from(can), min_size=2, max_size=min(MAX_CUTS, len(can)), unique=True))
    cuts = {i: data.draw(st.integers(2, len(phrase[i]) - 2)) for i in chosen}
    text, pieces = cut_words(phrase, cuts, separators)
    assume(_gluable(pieces, 0 in cuts, phrase))
    listed = " ".join(phrase)
    index = build([listed, "zqvother listed phrase"])
    written = context.format(text)
    assert index.match(written), (listed, written)
    # pieces in another order, a piece missing: no match; the page path agrees with ``match`` everywhere
    shuffled = text.split(" ")
    random.Random(len(text)).shuffle(shuffled)
    assert_match_many_as_match(index, [written, context.format(" ".join(shuffled)), context.format(text[:-2]),
                                       "an ordinary title", context.format(listed)])


def regroup(phrase: list[str], rng: random.Random) -> list[str]:
    """The phrase's letters in 4+ pieces of 2+ letters, never cut where one of its words ends: glued two at a
    time they never give its words back (nor its joined form, which three pieces at most may rebuild)."""
    letters = "".join(phrase)
    bounds = {sum(map(len, phrase[:k])) for k in range(1, len(phrase))}
    at, parts = 0, []
    while len(letters) - at >= 4:
        step = rng.choice([n for n in (2, 3) if at + n not in bounds] or [2])
        if at + step in bounds:
            break
        parts.append(letters[at:at + step])
        at += step
    parts.append(letters[at:])
    return parts


@settings(max_examples=80, deadline=None)
@given(st.lists(WORD, min_size=2, max_size=4), st.lists(st.sampled_from(ORDINARY), min_size=3, max_size=6),
       st.integers(0, 99), CONTEXT)
def test_cut_pieces_only_glue_into_the_listed_phrase(phrase: list[str], filler: list[str], seed: int,
                                                     context: str) -> None:
    """The phrase's letters cut elsewhere than where its words end ("ab cd ef" of "abc def"), alone or among
    ordinary words, match nothing; the kernel agrees."""
    listed = " ".join(phrase)
    index = build([listed])
    parts = regroup(phrase, random.Random(seed))
    assume(len(parts) >= 4 and all(len(normalize(p)) >= 2 for p in parts))
    texts = [context.format(" ".join(parts)), context.format(" ".join([*filler[:2], *parts, *filler[2:]]))]
    assert [index.match(t) for t in texts] == [[], []], texts
    assert_match_many_as_match(index, texts)


def test_recall_over_a_fixed_grid() -> None:
    """Generated 3-word phrases, every pair and the triple of words cut at their middles: 100 %; before this
    rule, none (one cut per phrase)."""
    rng = random.Random(17)
    phrases = list(dict.fromkeys(tuple("".join(rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(3))
                                       for _ in range(3)) for _ in range(60)))
    index = build([" ".join(p) for p in phrases])
    texts = []
    for phrase in phrases:
        for chosen in ((0, 1), (1, 2), (0, 2), (0, 1, 2)):
            text, pieces = cut_words(list(phrase), {i: 3 for i in chosen}, [" ", "-"])
            if _gluable(pieces, 0 in chosen, list(phrase)):
                texts.append(f"watch {text} now")
    assert len(texts) > 150
    found = index.match_many(texts)
    assert all(found), [t for t, f in zip(texts, found, strict=True) if not f][:5]
