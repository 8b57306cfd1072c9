"""Leetspeak inside chains of single characters (``z.q.x.b.1.0.c.k.e.d`` with the wider table's symbols among
the letters: ``x::z::7:o::p:&``, ``>-<-z-q``, ``v#q#|#3``, ``q.(.).x``): the letters are read joined, a
multi-symbol letter cut by the separators whole again (``normalize._wide_chain``), on the query and the page
path, with and without the compiled kernel; URL queries and code stay as they were. Generators written
from the class (each letter of a placeholder word written as a symbol a reader takes for it, then a separator
between every character), not from ``normalize``'s tables."""

from __future__ import annotations

import random

from hypothesis import example, given, settings
from hypothesis import strategies as st

from filter_proxy.normalize import has_wide, map_wide, words
from tests.support.kernel_check import assert_match_many_as_match
from tests.test_term_wide_leet import build

# What a reader takes for a letter, one or several characters (typed from common leetspeak tables).
SYMBOLS = {"a": ["^", "4", "@"], "b": ["8", "|3"], "c": ["(", "<", "[", "{"], "e": ["&", "3"], "g": ["9"],
           "k": ["|<", "|{"], "o": ["()", "[]", "0", "<>"], "t": ["+"], "x": ["><", "}{"], "s": ["5", "$"],
           "z": ["2"], "r": ["|2"], "d": ["[)"]}  # ("(_)" u: its "_" is a separator here)
# Separators that are no leetspeak letter (a reader skips them): not "/", "\\" (paths), "=" (queries), "#"
# ("&#8" is a character reference).
SEPARATORS = [".", "-", "_", "*", "~", ":", ";", ",", "'", "`", "%", "?", "·", "•", "…", "—", "‧", "⋅"]
LETTERS = "abcdeghkmnopqrstuvwxyz"  # no "i"/"l"/"f" (one letter after normalisation)
WORD = st.text(LETTERS, min_size=4, max_size=10).map(lambda w: "zq" + w).filter(
    lambda w: len(words(w)) == 1 and words(w)[0] == w and all(a != b for a, b in zip(w, w[1:], strict=False)))


def chained(word: str, rng: random.Random, share: float) -> str:
    """``word`` with some letters written as symbols (at least one from the wider table when it has such a
    letter), every character apart by the same separator (once or twice)."""
    wide = [i for i, c in enumerate(word) if any(not s.isalnum() for s in SYMBOLS.get(c, []))]
    forced = rng.choice(wide) if wide else -1
    chars: list[str] = []
    for i, c in enumerate(word):
        options = SYMBOLS.get(c, [])
        if i == forced:
            chars.extend(rng.choice([s for s in options if not s.isalnum()]))
        elif options and rng.random() < share:
            chars.extend(rng.choice(options))
        else:
            chars.append(c)
    sep = rng.choice(SEPARATORS)
    return "".join(ch + (sep * rng.randint(1, 2) if k < len(chars) - 1 else "") for k, ch in enumerate(chars))


@settings(max_examples=200, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=4, unique=True), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0),
       st.sampled_from(["{}", "see {} now", "{} - free download", "q: {}?", "tags: {}, other", "about {}."]))
@example(["zqxzcoep"], 1, 0.0, "{}")
def test_a_listed_word_chained_with_wide_symbols_is_matched(listed: list[str], seed: int, share: float,
                                                            context: str) -> None:
    rng = random.Random(seed)
    index = build(listed)
    term = rng.choice(listed)
    text = context.format(chained(term, rng, share))
    assert index.match(text), (term, text)
    assert_match_many_as_match(index, [text, "an ordinary title", context.format(term)])


def test_known_chains_read_as_their_words() -> None:
    assert words(map_wide("x::z::7:o::i::p:&")) == ["xztoipe"]
    assert words(map_wide(">-<-z-D-q-F--k V-Q-z-[-]-->--<-M")) == ["xzdqfk", "vqzoxm"]
    assert words(map_wide("v#q#j##|#3#a")) == ["vqjba"]
    assert words(map_wide("q.(.).x")) == ["qox"]


URL_QUERY = st.builds(lambda host, path, pairs: f"https://{host}.example.invalid/{path}?" + "&".join(pairs),
                      st.text("abcdefghkmnpqrstuvw", min_size=3, max_size=8),
                      st.text("abcdefghkmnpqrstuvw0123456789/_-", min_size=1, max_size=12),
                      st.lists(st.tuples(st.text("abcdefgh_.-", max_size=6), st.text("abcdefgh0123456789_", max_size=6))
                               .map("=".join), min_size=2, max_size=4))
CODE = st.sampled_from(["f(x);", "x[0].y", "a -> b", "e.g. (see: x)", "i++;", "a && b", "x=(a+b)*c", "[1], [2]",
                        "<b>x</b>", "map<int, str>", "{a: b}", "1.(2).3", "C:\\dir\\f.txt", "a/b/c", "x ^ y"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(URL_QUERY, CODE), min_size=1, max_size=4).map(" ".join))
def test_url_queries_and_code_are_no_chain(text: str) -> None:
    """An "&" between query pairs ("?a=&_b=1"), calls, indexes, arrows and operators are not chain members:
    the wide reading of such text is the one it had before (no chain read)."""
    from filter_proxy.normalize import _wide_chains

    assert _wide_chains(text) == text, text


SOUP = st.sampled_from([*"abzqxk70 .-_:#*~'()[]{}<>+^&|=?/", "·", "…"])


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(SOUP, max_size=24), min_size=1, max_size=6))
@example(["https://aaa.example.invalid/0?_=&_a_a="])
@example(["x::z::7:o::q:&", "k.(.).x", "zq><x"])
def test_the_kernel_reads_chains_as_python(texts: list[str]) -> None:
    """Strings of letters, separators and wide symbols in every arrangement: the compiled kernel sends every
    string Python reads a chain in to Python (``_wide_at`` is a superset of ``has_wide``)."""
    index = build(["zqxoq", "xzoq", "kox", "qxok"])
    assert_match_many_as_match(index, texts)
    for text in texts:
        if has_wide(text):
            assert map_wide(text) != text or "|" in text or "\\" in text, text
