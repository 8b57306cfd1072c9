"""The compiled page kernel (``matchers/_page_kernel.pyx``) against the pure-Python path it stands in front
of (issue 14, item 2): the same states for every string of generated pages (listed terms in disguise,
digraphs, chains, compounds, URLs, non-ASCII), so ``match_many`` gives ``[match(t) for t in texts]`` with
and without it. Skipped, saying why, where the kernel was not built (no C compiler)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers import term_page
from filter_proxy.matchers.term_page import CLEAN, FULL, MATCHED, WORDS, clean, clean_python
from tests.support.kernel_check import assert_match_many_as_match
from tests.test_term_page import BENIGN_TOKEN, LISTED, PUNCT, build, disguised

kernel = pytest.importorskip("filter_proxy.matchers._page_kernel",
                             reason="the compiled page kernel was not built (setup.py needs Cython and a C compiler)")

# What the kernel reads itself besides tokens: calls and digraphs, chains of digits or letters, compounds.
CODEISH = st.sampled_from(["exc_info()", "f()", "()", "a()()b", "()x", "x()()()()", "(ID)", "I/O", "1-7", "0.2",
                           "\\n", "a\\b", "x/\\y", "\\/", "C:\\dir\\f.txt", "z\\q\\x",
                           "3.4 - 3.9", "e.g.", "R-O", "C.F.R.", "os.stat()", "bytes-like", "well-known",
                           "set_seq1()", "x.y", "a.b.cd", "1.a", "z-q-x", "()()zqx", "zq()x", "Foo[int]",
                           # the wider leet table (normalize.WIDE_LEET) and code/prose that is not it
                           "zq><x", "x}{b", "zq[]x", "q<>z", "zq[)", "b]-[a", "a}-{q", "x/-\\b", "x/_\\", "(_)q",
                           "q(v)x", "x)(b", "zq(x", "zq[x", "q{z", "zq<x", "vq+a", "q^z", "zq&b", "x()(b", "x()+",
                           "open(file, 'r')", "x[0]", "x</b>", "a<b>c", "C++", "a+b", "i++", "R&D", "q=a&b=c",
                           "list[int]", "\\^/x", "x/v\\", "zq/\\/q", "%()s", "O(n^2)", "def f(x):"])


@st.composite
def page(draw: st.DrawFn, listed: list[str]) -> list[str]:
    out = []
    for _ in range(draw(st.integers(1, 10))):
        parts = [draw(st.one_of(BENIGN_TOKEN, CODEISH)) + draw(PUNCT) for _ in range(draw(st.integers(0, 9)))]
        if listed and draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), draw(disguised(draw(st.sampled_from(listed)))))
        out.append(draw(st.sampled_from([" ", "  ", "\n", "-", "."])).join(parts))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=6, unique=True), st.data())
def test_the_kernel_gives_the_pure_python_states(listed: list[str], data: st.DataObject) -> None:
    index = build(listed, [])
    assert index._kernel is not None
    pages = [data.draw(page(listed)) for _ in range(3)]
    for _ in range(2):  # the first round fills the kernel's tables, the second reads them
        for texts in pages:
            fast, slow = clean(index, texts), clean_python(index, texts)
            # The same states, except that the kernel may leave a string to be read whole (WORDS) where the
            # pure-Python path went on to prove it clean (a split pair whose third piece it tried).
            assert all(f == s or (f == WORDS and s == CLEAN) for f, s in zip(fast.states, slow.states, strict=True)), texts
            for i, state in enumerate(fast.states):
                if state == CLEAN:
                    assert index.match(texts[i]) == [], texts[i]
            assert index.match_many(texts) == [index.match(t) for t in texts], texts
        for texts in pages:  # with the matcher: matched strings are the lane's, their rows ``_found``'s
            page_reading, slow = clean(index, texts, index._matcher), clean_python(index, texts)
            for i, (f, s) in enumerate(zip(page_reading.states, slow.states, strict=True)):
                if f == MATCHED:
                    assert s == WORDS, texts[i]
                    assert index._to_matches([(a, b, *index._plain.triple(row)) for a, b, row in
                                              page_reading.rows[i]]) == index.match(texts[i]), texts[i]
                elif f == CLEAN:
                    assert index.match(texts[i]) == [], texts[i]
                else:
                    assert f == s or (f == WORDS and s == CLEAN), texts[i]
    marks = kernel.screen(pages[0], *index._kernel, term_page._FOLD_SPLIT, term_page._CHAIN_CLASSES,
                          term_page._CHUNK_CLASSES)
    for mark, text in zip(marks, pages[0], strict=True):
        if mark == 1:
            assert clean_python(index, [text]).states == [CLEAN], text
        elif mark == 2:
            assert clean_python(index, [text]).states != [FULL], text
        elif mark == 3:
            assert clean_python(index, [text]).states == [FULL], text


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["zqxao", "zqxo", "aob", "fo", "zqxblocked"]),
       st.lists(st.sampled_from(["()", "a", "b", "zqx", "x", " ", ".", "o", "f"]), max_size=10).map("".join))
def test_digraphs_read_as_map_digraphs_reads_them(listed: str, text: str) -> None:
    index = build([listed, "zqxfiller"], [])
    texts = [text, text + " " + text]
    for _ in range(2):
        for fast, slow in zip(clean(index, texts).states, clean_python(index, texts).states, strict=True):
            assert fast == slow or (fast == WORDS and slow == CLEAN), texts
        assert index.match_many(texts) == [index.match(t) for t in texts], texts


def test_table_keeps_whole_keys_and_refuses_when_full() -> None:
    table = kernel.Table(4)  # 16 slots: at most 8 keys
    assert table.add(b"garden", 76) and table.get(b"garden") == 76
    assert table.get(b"gardens") is None and table.get(b"garde") is None
    assert table.add(b"garden", 75) and table.get(b"garden") == 75 and len(table) == 1
    assert all(table.add(f"w{n}".encode(), n) for n in range(7))
    assert not table.add(b"one-too-many", 1) and table.get(b"one-too-many") is None
    assert not table.add(b"", 1)
    table.clear()
    assert len(table) == 0 and table.get(b"garden") is None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["()", "(", ")", "a", "b", "7", " ", ".", "_"]), max_size=14).map("".join))
def test_parens_read_as_map_digraphs(text: str) -> None:
    from filter_proxy.normalize import map_digraphs

    assert kernel.map_parens(text) == map_digraphs(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_xxh64_is_the_index_key(data: bytes) -> None:
    from xxhash import xxh64_intdigest

    assert kernel.xxh64(data) == xxh64_intdigest(data)


@settings(max_examples=300, deadline=None)
@given(st.text("abcz0123456789", min_size=1, max_size=12))
def test_finish_is_normalize_finish(token: str) -> None:
    from filter_proxy.normalize import _finish

    assert kernel.finish(token.encode()).decode() == _finish(token)


@settings(max_examples=200, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=6, unique=True), st.data())
def test_the_compiled_matcher_gives_match(listed: list[str], data: st.DataObject) -> None:
    """``match_many`` with the kernel matching the lane's strings, without it (tables only), and in pure
    Python: ``[match(t) for t in texts]`` every time, caches cold and warm."""
    index = build(listed, [])
    assert index._matcher is not None
    pages = [data.draw(page(listed)) for _ in range(3)]
    for _ in range(2):
        for texts in pages:
            assert_match_many_as_match(index, texts)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["zqx", "zqxk", "abzq"]), st.sampled_from(["", "hello ", "a "]),
       st.sampled_from(["()", "().", ".y", "-y", "_yy", "*b", "'s", "() there", ".y there"]))
def test_letters_spelled_before_a_digraph_or_chain_are_read_as_written(listed: str, before: str, after: str) -> None:
    """``glued_words`` reads letters spelled out with spaces from the string as written; a digraph or chain
    that merges the last letter into a longer token must not hide them (both paths; found by this work)."""
    index = build([listed, "zqxfiller"], [])
    text = before + " ".join(listed) + after
    texts = [text, "plain words here"]
    for _ in range(2):
        expected = [index.match(t) for t in texts]
        assert index.match_many(texts) == expected, texts
        for i, state in enumerate(clean_python(index, texts).states):
            if state == CLEAN:
                assert expected[i] == [], texts[i]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", "z", "7", "0", "ab", "12", ".", "-", "_", "*", "'", "/", " ", "..",
                                 "x1", ",", "()", "\\"]), max_size=16).map("".join))
def test_chains_join_as_join_chains_joins_them(text: str) -> None:
    from filter_proxy.normalize import join_chains

    assert kernel.join_chains(text) == join_chains(text)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["a", "B", "z", "7", "ab", " ", "  ", "\t", "_", ".", "()", "\x1c"]),
                max_size=14).map("".join))
def test_spelled_letters_are_found_as_reading_finds_them(text: str) -> None:
    from filter_proxy.reading import _SPELLED

    assert kernel.spelled(text) == bool(_SPELLED.search(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=4, unique=True), st.data())
def test_hash_signs_that_start_no_hashtag_read_as_words(listed: list[str], data: st.DataObject) -> None:
    """A comment's ``# note``, ``x#y`` and a trailing ``#`` start no hashtag (``reading._TAG``), so the string
    reads as its words (the lane); ``#word`` and ``##word`` do, and are read whole. Same matches either way."""
    index = build(listed, [])
    parts = st.one_of(st.sampled_from(["#", "# ", "##", " #", "x#", "IPv#", "_#", "\t#", "#\n"]), BENIGN_TOKEN,
                      st.sampled_from(listed), st.sampled_from(listed).map(lambda t: "#" + t.replace(" ", "")))
    texts = [data.draw(st.lists(parts, max_size=8).map(" ".join)) for _ in range(4)]
    for _ in range(2):
        assert index.match_many(texts) == [index.match(t) for t in texts], texts
        for fast, slow in zip(clean(index, texts).states, clean_python(index, texts).states, strict=True):
            assert fast == slow or (fast == WORDS and slow == CLEAN), texts


SOUP = st.sampled_from([*"abcdefgzqxKLIO0123456789 .-_*'/\\()#!|@$,:;\"\t\n[]{}<>+^&v", "\u2019", "\u201c", "\u00a0",
                        "\u00e9",
                        "\u2014"])


@settings(max_examples=200, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=5, unique=True), st.booleans(), st.data())
def test_punctuation_soup_matches_as_match_with_and_without_the_kernel(listed: list[str], compiled: bool,
                                                                       data: st.DataObject) -> None:
    """Listed terms (plain and disguised) in runs of any ASCII punctuation, digits, letters and the common
    non-ASCII marks: ``match_many`` equals ``match`` string by string, with the kernel and in pure Python."""
    index = build(listed, data.draw(st.lists(st.sampled_from([*listed, "garden party"]), max_size=1)))
    if not compiled:
        index._kernel = index._matcher = None
    texts = []
    for _ in range(data.draw(st.integers(1, 6))):
        parts = data.draw(st.lists(st.one_of(st.text(SOUP, max_size=8), st.sampled_from(listed),
                                             st.sampled_from(listed).flatmap(disguised)), max_size=6))
        texts.append(data.draw(st.sampled_from([" ", "", ".", "-", "  "])).join(parts))
    for _ in range(2):
        assert index.match_many(texts) == [index.match(text) for text in texts], texts



URL_QUERY = st.builds(lambda host, path, pairs: f"https://{host}.example.invalid/{path}?" + "&".join(pairs),
                      st.text("abcdefghkmnpqrstuvw", min_size=3, max_size=8),
                      st.text("abcdefghkmnpqrstuvw0123456789/_-", min_size=1, max_size=12),
                      st.lists(st.tuples(st.text("abcdefgh_", min_size=1, max_size=10),
                                         st.text("abcdefgh0123456789", max_size=6)).map("=".join),
                               min_size=2, max_size=4))


@settings(max_examples=100, deadline=None)
@given(st.lists(LISTED, min_size=1, max_size=4, unique=True), st.lists(URL_QUERY, min_size=1, max_size=5),
       # ("R&D", "fish&chips": a letter before the "&" is the wider leet table's e, read whole since then.)
       st.lists(st.sampled_from(["a & b", "C#", "x#y", "fish &chips", "see &more"]), max_size=2))
def test_strings_with_a_stray_ampersand_or_hash_are_learnt_by_the_kernel(listed: list[str], urls: list[str],
                                                                        prose: list[str]) -> None:
    """A URL's query (``a=1&b=2``) or a stray ``&`` / ``#`` starts no character reference or hashtag: once the
    Python path has read such a string, the kernel decides it itself the next time (its tokens and chunks are
    in the tables), with the same answers. Before, these strings went through Python on every page."""
    index = build(listed, [])
    texts = [*urls, *prose]
    first = index.match_many(texts)
    assert first == [index.match(t) for t in texts], texts
    marks = kernel.screen(texts, *index._kernel, term_page._FOLD_SPLIT, term_page._CHAIN_CLASSES,
                          term_page._CHUNK_CLASSES)
    assert 0 not in marks, (texts, list(marks))
    assert index.match_many(texts) == first
