"""TermIndex: whole-word phrases, Scunthorpe, disguises, hashed and substring entries, allow-list, bundles."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers import terms as terms_module
from filter_proxy.matchers.terms import (
    MAX_WORDS,
    TermEntry,
    TermIndex,
    TermMatch,
    parse_term_line,
    validate_term,
)
from filter_proxy.normalize import normalize, words


def sha(phrase: str) -> str:
    return "sha256:" + hashlib.sha256(normalize(phrase).encode()).hexdigest()


ENTRIES = [
    TermEntry("zqxblocked", "zqx-abuse", "rules/terms/zqx-abuse.txt:1"),
    TermEntry("forbidden phrase alpha", "zqx-abuse", "rules/terms/zqx-abuse.txt:2"),
    TermEntry("zqxab", "zqx-abuse", "rules/terms/zqx-abuse.txt:3"),
    TermEntry("zqxcoined", "zqx-coined", "rules/terms/zqx-coined.txt:1", substring=True),
    TermEntry(sha("hidden zqxsecret"), "zqx-hashed", "rules/terms/zqx-hashed.txt:1"),
    TermEntry("zqxsupport", "zqx-support", "rules/terms/zqx-support.txt:7"),
]
ALLOW = ["zqxblocked history museum"]


@pytest.fixture(scope="module")
def index() -> TermIndex:
    return TermIndex.build(ENTRIES, allow=ALLOW)


def rule_ids(matches: list[TermMatch]) -> set[str]:
    return {m.rule_id for m in matches}


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("zqxblocked", "rules/terms/zqx-abuse.txt:1"),
        ("Where to find Z Q X B L O C K E D now", "rules/terms/zqx-abuse.txt:1"),
        ("zqxb1ock3d!!", "rules/terms/zqx-abuse.txt:1"),
        ("ｚｑｘｂｌｏｃｋｅｄ", "rules/terms/zqx-abuse.txt:1"),
        ("zq\u200bxbloc\u00adked", "rules/terms/zqx-abuse.txt:1"),
        ("a f.o.r.b.i.d.d.e.n phrase alpha", "rules/terms/zqx-abuse.txt:2"),
        ("FORBIDDEN   phrase,  ALPHA", "rules/terms/zqx-abuse.txt:2"),
        ("zqxab", "rules/terms/zqx-abuse.txt:3"),
        ("megazqxcoinedstuff", "rules/terms/zqx-coined.txt:1"),
        ("pre-zqxc0ined-post", "rules/terms/zqx-coined.txt:1"),
        ("the Hidden ZQXSECRET file", "rules/terms/zqx-hashed.txt:1"),
    ],
)
def test_matches(index: TermIndex, text: str, rule: str) -> None:
    assert rule in rule_ids(index.match(text))


@pytest.mark.parametrize(
    "text",
    [
        "zqxabulous",  # Scunthorpe: a listed word inside a longer word does not match
        "prezqxab",
        "forbidden phrase",  # part of a phrase is not the phrase
        "phrase alpha forbidden",  # order matters
        "zqxblocked history museum opening hours",  # allow-listed context
        "hidden zqxsecrets",
        "zqxcoine",
        "fresh bread recipe 2024",
        "",
    ],
)
def test_does_not_match(index: TermIndex, text: str) -> None:
    assert index.match(text) == []


def test_match_reports_category_and_rule(index: TermIndex) -> None:
    assert index.match("zqxsupport") == [TermMatch("zqx-support", "rules/terms/zqx-support.txt:7")]
    found = index.match("zqxblocked and forbidden phrase alpha and zqxblocked again")
    assert sorted(rule_ids(found)) == ["rules/terms/zqx-abuse.txt:1", "rules/terms/zqx-abuse.txt:2"]


def test_allow_only_cancels_covered_matches(index: TermIndex) -> None:
    text = "zqxblocked history museum, and zqxblocked"
    assert rule_ids(index.match(text)) == {"rules/terms/zqx-abuse.txt:1"}  # second occurrence not covered
    assert index.match("the zqxblocked history museum") == []


def test_match_words_takes_normalised_words(index: TermIndex) -> None:
    assert rule_ids(index.match_words(words("Forbidden Phrase Alpha"))) == {"rules/terms/zqx-abuse.txt:2"}
    assert index.match_words([]) == []


def test_word_cache_never_changes_the_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny cache bound forces clears mid-stream; answers must match a fresh index (empty cache) each time.
    monkeypatch.setattr(terms_module, "_KNOWN_MAX", 3)
    cached = TermIndex.build(ENTRIES, allow=ALLOW)
    texts = ["bread forbidden phrase alpha", "forbidden phrase", "zqxblocked history museum", "zqxblocked",
             "the zqxb1ock3d file", "forbidden phrase beta alpha", "hidden zqxsecret", "megazqxcoinedstuff"] * 3
    for text in texts:
        assert cached.match(text) == TermIndex.build(ENTRIES, allow=ALLOW).match(text), text
    assert len(cached._known) <= 3 + len(words(texts[-1]))
    cached.clear_cache()
    assert cached.match("where is zqxblocked") == [TermMatch("zqx-abuse", "rules/terms/zqx-abuse.txt:1")]


def test_round_trip_bytes(index: TermIndex) -> None:
    data = index.to_bytes()
    loaded = TermIndex.from_bytes(memoryview(data))
    assert len(loaded) == len(index) == len(ENTRIES)
    for text in ("zqxblocked", "megazqxcoinedstuff", "hidden zqxsecret", "zqxblocked history museum", "x"):
        assert loaded.match(text) == index.match(text)
    assert loaded.to_bytes() == data


@pytest.mark.parametrize("data", [b"", b"FPTERMS1", b"NOTTERMS" + b"\0" * 64, b"FPTERMS1" + b"\xff" * 40,
                                  b"FPTERMS3" + b"\0" * 64])
def test_from_bytes_refuses_damaged_data(data: bytes) -> None:
    with pytest.raises(ValueError):
        TermIndex.from_bytes(data)


def test_empty_index() -> None:
    empty = TermIndex.build([])
    assert len(empty) == 0
    assert empty.match("zqxblocked") == []
    assert TermIndex.from_bytes(empty.to_bytes()).match("anything") == []


def test_same_phrase_in_two_categories_reports_both() -> None:
    index = TermIndex.build([TermEntry("zqxdual", "a", "a.txt:1"), TermEntry("ZQXDUAL!", "b", "b.txt:9")])
    assert set(index.match("zqxdual")) == {TermMatch("a", "a.txt:1"), TermMatch("b", "b.txt:9")}


def test_build_refuses_invalid_entries() -> None:
    with pytest.raises(ValueError, match="x.txt:3"):
        TermIndex.build([TermEntry("!!!", "c", "x.txt:3")])


@settings(max_examples=60, deadline=None)
@given(
    term=st.lists(st.text("abcdefghjkmnopqrstuvwxyz", min_size=3, max_size=8), min_size=1, max_size=4),
    before=st.lists(st.sampled_from(["fresh", "bread", "a", "recipe", "2024", "the"]), max_size=4),
    after=st.lists(st.sampled_from(["today", "with", "honey", "!", "i", "cake"]), max_size=4),
)
def test_listed_phrase_found_in_any_context(term: list[str], before: list[str], after: list[str]) -> None:
    phrase = " ".join("zq" + w for w in term)
    index = TermIndex.build([TermEntry(phrase, "c", "c.txt:1")])
    disguised = " ".join(w.upper().replace("o", "0").replace("e", "3") for w in phrase.split())
    assert index.match(" ".join([*before, disguised, *after])) == [TermMatch("c", "c.txt:1")]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("  forbidden phrase alpha ", ("forbidden phrase alpha", False, None)),
        ("~zqxcoined", ("zqxcoined", True, None)),
        ("sha256:" + "AB" * 32, ("sha256:" + "ab" * 32, False, None)),
    ],
)
def test_parse_valid_lines(line: str, expected: tuple[str, bool, None]) -> None:
    assert parse_term_line(line) == expected
    assert validate_term(line) == ((expected[0], expected[1]), None)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("!!! ...", "empty after normalisation"),
        ("", "empty after normalisation"),
        (" ".join(["zqxword"] * (MAX_WORDS + 1)), "at most 12"),
        ("zqx" * 70, "longer than 200"),
        ("sha256:abc", "64 hex"),
        ("sha256:" + "g" * 64, "64 hex"),
        ("~sha256:" + "a" * 64, "cannot be substring"),
        ("~zqx", "at least 5"),
        ("~zqx coined", "one word"),
    ],
)
def test_parse_invalid_lines(line: str, reason: str) -> None:
    assert reason in (parse_term_line(line)[2] or "")
    entry, why = validate_term(line)
    assert entry is None and why


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=30), st.lists(st.integers(0, 60), min_size=1, max_size=6))
def test_table_lookup_agrees_with_brute_force(table_keys: list[int], query: list[int]) -> None:
    # The exact stage's early "nothing listed" exit must not lose a hit (duplicates, keys past the end).
    from filter_proxy.matchers.term_table import Table as _Table

    if not table_keys:
        return
    table = _Table.build([(k, 0, 0, i) for i, k in enumerate(table_keys)])
    want = sorted((q, row) for q, k in enumerate(query) for row in range(table.keys.size) if int(table.keys[row]) == k)
    assert sorted(table.lookup(query)) == want


def test_a_format_3_index_is_refused_with_a_recompile_message() -> None:
    """Format 4 marks phrases' last words for their plural endings; a format-3 index would read less."""
    data = bytearray(TermIndex.build([TermEntry("forbidden phrase alpha", "c", "c.txt:1")]).to_bytes())
    assert data[:8] == b"FPTERMS4"
    data[:8] = b"FPTERMS3"
    with pytest.raises(ValueError, match="recompile"):
        TermIndex.from_bytes(bytes(data))
