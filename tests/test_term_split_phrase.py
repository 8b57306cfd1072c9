"""A word cut in two inside a listed phrase (``TermIndex._match_plain`` / ``_match_splits`` -> ``_extend``, and
the kernel's ``_match``): a generator of its own (phrases of nonsense and ordinary words, any word cut once by
a space or a separator); two ordinary words are never glued into a phrase's word; the page path (kernel,
its matcher, pure Python) gives ``match``'s answers."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.term_forms import ordinary_words
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize
from tests.test_term_wide_leet import assert_match_many_as_match

ORDINARY = ["forbidden", "phrase", "garden", "yellow", "mirror", "little", "ocean", "window", "basket", "winter"]
NONSENSE = st.builds(lambda a, b: a + b, st.sampled_from(["xq", "zv", "qx", "vz"]),
                     st.text("abdeghkmnoprtuwy", min_size=3, max_size=7))
WORD = st.one_of(NONSENSE, st.sampled_from(ORDINARY))
PHRASE = st.lists(WORD, min_size=2, max_size=4).map(" ".join)
SEPARATOR = st.sampled_from([" ", " ", "  ", "-", ".", "_", "/", " - "])
CONTEXT = st.sampled_from(["{}", "watch {} now", "{} - free download", "about {}.", "Q: {}?"])


def build(listed: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])


def cut(phrase: str, which: int, at: int, separator: str) -> tuple[str, str, str]:
    """The phrase with word ``which`` cut ``at`` letters in (both pieces two letters or more)."""
    words = phrase.split(" ")
    word = words[which]
    left, right = word[:at], word[at:]
    words[which] = left + separator + right
    return " ".join(words), left, right


@settings(max_examples=200, deadline=None)
@given(PHRASE, st.data(), SEPARATOR, CONTEXT)
def test_a_phrase_with_one_word_cut_is_matched(phrase: str, data: st.DataObject, separator: str, context: str) -> None:
    words = phrase.split(" ")
    which = data.draw(st.integers(0, len(words) - 1))
    at = data.draw(st.integers(2, len(words[which]) - 2))
    text, left, right = cut(phrase, which, at, separator)
    ordinary = ordinary_words()
    assume(not (normalize(left) in ordinary and normalize(right) in ordinary))
    assume(len(normalize(left)) >= 2 and len(normalize(right)) >= 2)
    index = build([phrase, "zqvother listed"])
    # the first word cut: its first piece must start the phrase's joined form (indexed when it is no ordinary word)
    assume(which > 0 or normalize(phrase.replace(" ", "")) not in ordinary)
    written = context.format(text)
    assert index.match(written), (phrase, written)
    assert_match_many_as_match(index, [written, "an ordinary title", context.format(phrase)])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from([("green", "house"), ("fire", "place"), ("sun", "flower"), ("foot", "ball"),
                                 ("rain", "bow"), ("book", "case")]), min_size=1, max_size=3, unique=True),
       st.sampled_from(ORDINARY), CONTEXT)
def test_two_ordinary_words_are_not_glued_into_a_phrase_word(pairs: list[tuple[str, str]], other: str,
                                                            context: str) -> None:
    """"green house party" is a phrase of three ordinary words, not "greenhouse party" cut."""
    listed = [f"{other} {a}{b} zqvend" for a, b in pairs] + [f"{a}{b} {other} zqvend" for a, b in pairs]
    index = build(listed)
    texts = [context.format(f"{other} {a} {b} zqvend") for a, b in pairs] + \
        [context.format(f"{a} {b} {other} zqvend") for a, b in pairs]
    assert [index.match(t) for t in texts] == [[] for _ in texts], texts
    assert_match_many_as_match(index, texts)


def test_recall_over_a_fixed_grid() -> None:
    """Every word of fixed phrases cut at every place, by a space: where both pieces keep two letters and
    are not both ordinary words, all are matched (100 %)."""
    rng = random.Random(11)
    phrases = [" ".join(rng.choice(["xq", "zv"]) + "".join(rng.choice("abdeghkmnoprtuwy") for _ in range(5))
                        if rng.random() < 0.6 else rng.choice(ORDINARY) for _ in range(rng.randint(2, 3)))
               for _ in range(40)]
    index = build(phrases)
    texts = []
    for phrase in phrases:
        for which, word in enumerate(phrase.split(" ")):
            for at in range(2, len(word) - 1):
                text, left, right = cut(phrase, which, at, " ")
                if which == 0 and normalize(phrase.replace(" ", "")) in ordinary_words():
                    continue
                if min(len(normalize(left)), len(normalize(right))) < 2:
                    continue  # a piece of one letter once normalised ("li" is "i")
                if not (normalize(left) in ordinary_words() and normalize(right) in ordinary_words()):
                    texts.append(f"watch {text} now")
    found = index.match_many(texts)
    assert all(found), [t for t, f in zip(texts, found, strict=True) if not f][:5]
