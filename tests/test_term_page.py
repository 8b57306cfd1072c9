"""The page batch path (``TermIndex.match_many``, ``RuleSet.check_many``) gives exactly the per-string
verdicts (issue 14, item 2): listed placeholder terms disguised in generated ways inside generated benign
text, whole pages at a time, caches cold and warm."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.confusables import latin_lookalikes
from filter_proxy.matchers.term_page import CLEAN, clean
from filter_proxy.matchers.terms import TermEntry, TermIndex

# Synthetic placeholders only. Some start with an ordinary word ("garden" is then the first piece of a
# split listed word), some with a coined one; phrases mix both.
ORDINARY = ["garden", "music", "water", "photo", "report", "the", "and", "a", "i", "of", "new", "data", "model",
            "file", "open", "return", "value", "list", "string", "object", "time", "path", "with", "for"]
COINED = st.text("bcdfghjkmnpqrstvwxz", min_size=2, max_size=5).map(lambda s: "zq" + s)
LISTED_WORD = st.one_of(COINED, st.tuples(st.sampled_from(ORDINARY), COINED).map("".join),
                        st.tuples(st.sampled_from(ORDINARY[:6]), st.sampled_from(ORDINARY[:6])).map("".join),
                        st.tuples(COINED, st.sampled_from(["blocked", "fine", "lock"])).map("".join))
LISTED = st.one_of(LISTED_WORD, st.lists(st.one_of(LISTED_WORD, st.sampled_from(ORDINARY)), min_size=2,
                                         max_size=3).map(" ".join))
LOOKALIKES = {letter: sorted(chars) for letter, chars in latin_lookalikes().items()}
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "$", "t": "7", "b": "8", "g": "9"}
PUNCT = st.sampled_from(["", ",", ".", ":", ";", "?", "!", "'", "\"", "(", ")", "()", "-", "...", "\u2019",
                         "\u201c", "\u2014", "$", "@", "#", "|", "\\", "/", "_", "*", "\u00a0", "&", "&x=1",
                         "&amp;", "&#98;"])
BENIGN_TOKEN = st.one_of(
    st.sampled_from(ORDINARY),
    st.sampled_from(["2024", "3.11", "1-2", "a.b.c", "os.path.join", "f(x)", "x_1", "e.g.", "U.S.A.", "C++",
                     "www.example.invalid/page", "https://docs.example.invalid/a?b=1",
                     "https://q.example.invalid/p?utm_source=feed&id=4", "R&D", "a&b", "getdefaultlocale",
                     "caf\u00e9", "\u0441\u043e\u0431\u0430\u043a\u0430", "\u03ba\u03b1\u03b9", "na\u00efve",
                     "I", "b", "c", "x", "ok", "mid-day", "seq1", "\x00", "\t", "\n", "aaa", "Zz"]),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
)


@st.composite
def disguised(draw: st.DrawFn, term: str) -> str:
    """One written form of a listed term: case, joined/hashtag/CamelCase, split, letter-spaced, chained,
    leet (edges too), look-alike letters, digraphs."""
    words = term.split(" ")
    form = draw(st.sampled_from(["plain", "upper", "joined", "hashtag", "camel", "split", "split", "spaced",
                                 "spaced", "chain", "leet", "lookalike", "digraph", "handle"]))
    if form == "upper":
        return term.upper()
    if form in ("joined", "hashtag", "camel", "handle"):
        glued = "".join(w.title() if form == "camel" else w for w in words)
        return {"hashtag": "#", "handle": "@"}.get(form, "") + glued + draw(st.sampled_from(["", "life", "2024",
                                                                                            "_fan"]))
    if form == "split":
        word = words[0]
        cut = draw(st.integers(1, max(1, len(word) - 1)))
        starts = [len(w) for w in ORDINARY if word.startswith(w) and len(w) < len(word)]
        if starts and draw(st.booleans()):  # at the seam of an ordinary word ("garden zqab", "garden-music")
            cut = max(starts)
        sep = draw(st.sampled_from([" ", " ", "-", ".", "_"]))
        return " ".join([word[:cut] + sep + word[cut:], *words[1:]])
    if form == "spaced":  # letters spelled out, some as leetspeak digits, words wider apart
        spelled = [" ".join(LEET.get(c, c) if c in LEET and draw(st.booleans()) else c for c in w) for w in words]
        return draw(st.sampled_from(["   ", "  "])).join(spelled)
    if form == "chain":
        return " ".join(draw(st.sampled_from([".", "-", "_", "*"])).join(w) for w in words)
    if form == "digraph":
        return term.replace("o", "()").replace("d", "|)").replace("v", "\\/")
    chars = list(term)
    for k, char in enumerate(chars):
        if form == "leet" and char in LEET and draw(st.booleans()):
            chars[k] = LEET[char]
        elif form == "lookalike" and char in LOOKALIKES and draw(st.booleans()):
            chars[k] = draw(st.sampled_from(LOOKALIKES[char]))
    return "".join(chars)


@st.composite
def page(draw: st.DrawFn, listed: list[str]) -> list[str]:
    """A page of strings: benign tokens and punctuation, some holding a disguised listed term."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        parts = [draw(BENIGN_TOKEN) + draw(PUNCT) for _ in range(draw(st.integers(0, 10)))]
        if listed and draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), draw(disguised(draw(st.sampled_from(listed)))))
        out.append(draw(st.sampled_from([" ", "  ", "\n", "\u2019 "])).join(parts))
    if out and draw(st.booleans()):
        out.append(out[0])  # a repeated string on one page
    return out


def build(listed: list[str], allow: list[str]) -> TermIndex:
    return TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)], allow=allow)


@settings(max_examples=150, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=6, unique=True), st.data())
def test_batch_matches_exactly_as_one_string_at_a_time(listed: list[str], data: st.DataObject) -> None:
    allow = data.draw(st.lists(st.sampled_from([*listed, "garden party", "new data"]), max_size=1))
    index = build(listed, allow)
    pages = [data.draw(page(listed)) for _ in range(3)]
    for texts in pages:  # caches filled page by page, as in service
        assert index.match_many(texts) == [index.match(t) for t in texts], texts
    fresh = build(listed, allow)  # cold caches, batch first
    for texts in pages:
        assert fresh.match_many(texts) == [fresh.match(t) for t in texts], texts


@settings(max_examples=100, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=4, unique=True), st.data())
def test_strings_called_clean_never_match(listed: list[str], data: st.DataObject) -> None:
    index = build(listed, [])
    texts = data.draw(page(listed))
    for state, text in zip(clean(index, texts).states, texts, strict=True):
        if state == CLEAN:
            assert index.match(text) == [], text


def test_batch_path_still_finds_listed_terms() -> None:
    index = build(["zqxblocked", "garden zqxfine"], [])
    texts = ["a clean line of text", "see ZQX-Blocked here", "the garden zqxfine", "#zqxblockedlife", "plain"]
    found = index.match_many(texts)
    assert [bool(m) for m in found] == [False, True, True, True, False]
    assert clean(index, ["a clean line of text"]).states == [CLEAN]


def test_indexes_with_hashed_or_substring_entries_match_each_string() -> None:
    index = TermIndex.build([TermEntry("zqxcoined", "c", "c.txt:1", substring=True)])
    texts = ["prefix-zqxcoinedsuffix here", "nothing here"]
    assert index.match_many(texts) == [index.match(t) for t in texts]
    assert index.match_many(texts)[0]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(ORDINARY[:8]), st.one_of(COINED, st.sampled_from(ORDINARY[:8])),
       st.sampled_from([" ", "-", ".", "_", "  "]), st.lists(st.sampled_from(ORDINARY), max_size=4), st.data())
def test_batch_agrees_on_words_split_at_an_ordinary_seam(first: str, second: str, sep: str, around: list[str],
                                                         data: st.DataObject) -> None:
    # "garden zqab", "garden-music": the first piece is an ordinary word, which the split-word stage glues
    # only to a piece that is no ordinary word, and the glued reading looks up whole.
    index = build([first + second, "zqxfiller"], [])
    at = data.draw(st.integers(0, len(around)))
    text = " ".join([*around[:at], first + sep + second, *around[at:]])
    texts = [text, " ".join(around), text.upper()]
    assert index.match_many(texts) == [index.match(t) for t in texts], texts


def test_a_full_class_cache_starts_over_without_changing_answers(monkeypatch: object) -> None:
    import filter_proxy.matchers.term_page as term_page

    monkeypatch.setattr(term_page, "_CLASSES_MAX", 2)  # type: ignore[attr-defined]
    index = build(["zqxblocked", "garden zqxfine"], [])
    texts = ["one two three four five", "six seven zqx blocked", "eight nine ten", "the garden zqxfine"]
    for _ in range(3):
        assert index.match_many(texts) == [index.match(t) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("ab1Z9._-*'/\\ ,:;()?x\"\t\n"), max_size=14))
def test_the_page_chain_check_finds_what_the_chain_hint_finds(text: str) -> None:
    from filter_proxy.matchers.term_page import _CHAIN_BYTES, _CHAIN_CLASSES
    from filter_proxy.normalize import _CHAIN_HINT

    assert bool(_CHAIN_BYTES.search(text.encode().translate(_CHAIN_CLASSES))) == bool(_CHAIN_HINT.search(text))


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("KPO1DSLNEX"), max_size=14) | st.text(st.sampled_from("1DLE"), max_size=10))
def test_the_class_patterns_are_the_plain_ones(classes: str) -> None:
    # Charset-led for speed; the plain forms say what they mean: a K, a run of >= 3 one-character words with
    # two letters (join_spelled), a first piece before a word that may be the next piece.
    import re

    from filter_proxy.matchers.term_page import _HARD, _UNCLEAN

    run = classes.encode()
    # (X: a listed word with a plural ending, read in Python like a K.)
    assert bool(_UNCLEAN.search(run)) == bool(re.search(rb"X|K|(?<![1D])(?=[1D]{3})D*1D*1|P[KPOLN]|O[KPN]", run))
    assert bool(_HARD.search(run)) == bool(re.search(rb"X|K|(?<![1D])(?=[1D]{3})D*1D*1", run))


@settings(max_examples=100, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=8, unique=True), st.data())
def test_small_lookups_by_bisection_equal_the_table_lookup(listed: list[str], data: st.DataObject) -> None:
    from filter_proxy.matchers.term_entries import term_key
    from filter_proxy.normalize import normalize

    index = build(listed + listed[:1], [])  # a duplicate line: one key, two rows
    keys = [term_key(normalize(t)) for t in listed]
    query = data.draw(st.lists(st.one_of(st.sampled_from(keys), st.integers(0, 2**64 - 1)), max_size=20))
    assert index._rows(query) == index._plain.lookup(query)
