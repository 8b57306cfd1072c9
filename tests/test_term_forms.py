"""Joined phrases, split words, hashtags/handles and leetspeak at word edges (issue 11, items 3 and 4)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.term_forms import MIN_PIECE, Segmenter, entry_forms, glue, ordinary_words
from filter_proxy.matchers.terms import TermEntry, TermIndex, TermMatch
from filter_proxy.normalize import normalize
from filter_proxy.reading import reading

# Synthetic placeholders only: "zq" + letters never spells an ordinary word.
WORD = st.text("bcdfghjkmnpqrstvwxz", min_size=3, max_size=7).map(lambda s: "zq" + s)
HIT = [TermMatch("c", "c.txt:1")]
CONTEXT = st.sampled_from(["{}", "look at {} today", "{}!", "new: {} (2024)"])
VOCAB = sorted(w for w in ordinary_words() if len(w) >= 4 and w.isalpha())


def index(text: str) -> TermIndex:
    return TermIndex.build([TermEntry(text, "c", "c.txt:1")])


@settings(max_examples=60, deadline=None)
@given(st.lists(WORD, min_size=2, max_size=3), st.sampled_from(["#", "", "@"]), st.booleans(), CONTEXT)
def test_a_phrase_matches_its_words_joined(phrase: list[str], sigil: str, camel: bool, context: str) -> None:
    joined = "".join(w.title() if camel else w for w in phrase)
    assert index(" ".join(phrase)).match(context.format(sigil + joined)) == HIT


@settings(max_examples=60, deadline=None)
@given(st.lists(WORD, min_size=1, max_size=3), st.data(), CONTEXT)
def test_a_phrase_matches_letter_spaced_with_any_gaps(phrase: list[str], data: st.DataObject, context: str) -> None:
    # One gap style per word (as people write), any width; words further apart than letters.
    spaced = [data.draw(st.sampled_from([" ", "  ", " . ", "-", "."])).join(word) for word in phrase]
    between = data.draw(st.sampled_from(["   ", "    ", " / "]))
    assert index(" ".join(phrase)).match(context.format(between.join(spaced))) == HIT


@settings(max_examples=80, deadline=None)
@given(WORD, st.data(), CONTEXT)
def test_a_word_matches_in_two_or_three_pieces(word: str, data: st.DataObject, context: str) -> None:
    word = word + data.draw(st.text("aeiou", min_size=2, max_size=3))
    cuts = sorted(data.draw(st.sets(st.integers(MIN_PIECE, len(word) - MIN_PIECE), min_size=1, max_size=2)))
    assume(all(b - a >= MIN_PIECE for a, b in zip(cuts, cuts[1:], strict=False)))  # pieces of 2+ letters
    pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
    assume(all(len(normalize(p)) >= MIN_PIECE for p in pieces))  # "aa" reads as the one letter "a"
    seps = data.draw(st.lists(st.sampled_from([" ", "-", ".", "_", " - "]), min_size=len(pieces) - 1,
                              max_size=len(pieces) - 1))
    upper = data.draw(st.booleans())
    text = "".join(p.upper() if upper and i == 0 else p for i, p in enumerate(pieces))
    split = "".join(p + s for p, s in zip(pieces if not upper else [text[:cuts[0]], *pieces[1:]], [*seps, ""],
                                          strict=True))
    assert index(word).match(context.format(split)) == HIT, split


@pytest.mark.parametrize("text", ["ZQX-Blocked", "zqx blocked", "zqx_blocked", "zqx.blocked", "ZQX Blocked!",
                                  "#zqxblockedlife", "#zqxblocked2024", "@zqxblocked_fan", "@zqxblockedfan",
                                  "#ILoveZqxBlocked", "zqxblocke|)", "$ee zqxbl0cked"])
def test_shipped_comment_forms(text: str) -> None:
    assert index("zqxblocked").match(text) == HIT


@settings(max_examples=80, deadline=None)
@given(WORD, st.lists(st.one_of(st.sampled_from(VOCAB), st.integers(0, 9999).map(str)), min_size=1, max_size=2),
       st.booleans(), st.sampled_from(["#", "@"]))
def test_a_word_inside_a_hashtag_between_ordinary_words(word: str, rest: list[str], before: bool, sigil: str) -> None:
    tag = "".join([*rest, word]) if before else "".join([word, *rest])
    assert index(word).match(f"see {sigil}{tag} now") == HIT, tag


@settings(max_examples=80, deadline=None)
@given(WORD, st.text("aeiou", min_size=1, max_size=2), st.text("qxz", min_size=2, max_size=4),
       st.sampled_from(["", "#"]))
def test_scunthorpe_a_word_inside_a_longer_non_word_never_matches(word: str, vowel: str, tail: str, sigil: str) -> None:
    longer = word + vowel + tail  # not an ordinary word, so a hashtag of it does not segment either
    # Nor with the word's last letter shared at the seam ("zqbm" + "max" is written "zqbmax").
    assume(normalize(vowel + tail) not in ordinary_words() and normalize(word[-1] + vowel + tail) not in ordinary_words())
    assert index(word).match(f"a {sigil}{longer} b") == []
    assert index(word).match(f"a pre{word}{vowel}{tail} b") == []


def test_an_ordinary_joined_phrase_is_not_indexed_joined() -> None:
    phrases, singles = entry_forms("in to")
    assert phrases == ["in to"] and singles == []
    assert index("in to").match("walk into the room") == []


@pytest.mark.parametrize(("text", "listed"), [
    ("forbidden phrase @lpha", "forbidden phrase alpha"),  # a leading "@" read as "a"
    ("$tuff zqx", "stuff zqx"),
    ("zqxblocke|)", "zqxblocked"),  # "|)" is a d at the end of a word
    ("zqxfil!", "zqxfili"),  # a trailing "!" read as "i"
    ("f()rbidden phrase alpha", "forbidden phrase alpha"),
])
def test_leet_symbols_at_word_edges(text: str, listed: str) -> None:
    assert index(listed).match(text) == HIT


def test_a_handle_sigil_still_works() -> None:
    read = reading("@zqxblockedfan hi")
    assert read.words == ["zqxbiockedfan", "hi"]  # "@" as the handle marker
    assert read.alternate == ["azqxbiockedfan", "hi"]  # and as a leetspeak "a"
    assert "zqxbiockedfan" in read.tagged


@settings(max_examples=200, deadline=None)
@given(st.text("abcxyz", min_size=2, max_size=12), st.text("abcxyz", min_size=2, max_size=12))
def test_glue_is_normalising_the_written_whole(left: str, right: str) -> None:
    assert glue(normalize(left), normalize(right)) == normalize(left + right)


def test_segmenter_needs_ordinary_words_on_both_sides() -> None:
    seg = Segmenter(frozenset({"ife", "fan"}))
    assert "zqxab" in seg.middles("zqxabife")
    assert seg.middles("zqxabuious") == []
    assert "zqxab" in seg.middles("2024zqxab")


def test_old_index_format_is_refused_with_a_recompile_hint() -> None:
    data = bytearray(index("zqxblocked").to_bytes())
    data[:8] = b"FPTERMS1"
    with pytest.raises(ValueError, match="recompile"):
        TermIndex.from_bytes(bytes(data))


DIGIT_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "b": "8", "g": "9", "z": "2"}


@settings(max_examples=60, deadline=None)
@given(WORD, st.text("".join(DIGIT_LEET), min_size=2, max_size=4), st.sampled_from("-_."), CONTEXT)
def test_a_split_word_whose_piece_is_all_leet_digits(word: str, tail: str, sep: str, context: str) -> None:
    # "zqxab-8173": the digit piece alone reads as a number, glued to the letters it is leetspeak.
    listed = word + tail
    assume(len(normalize(listed)) == len(normalize(word)) + len(normalize(tail)))  # no seam collapse
    text = word + sep + "".join(DIGIT_LEET[c] for c in tail)
    assert index(listed).match(context.format(text)) == HIT, text


@settings(max_examples=60, deadline=None)
@given(WORD, st.sampled_from(["a", "Q:", "I", "x"]), st.sampled_from([" ", "  "]))
def test_letters_spelled_out_after_a_one_letter_word(word: str, before: str, gap: str) -> None:
    assert index(word).match(f"{before} {gap.join(word)}") == HIT


def test_reading_parts() -> None:
    read = reading("Q: z q x b  and vy_1|8 and #zqxab2024")
    assert "zqxb" in read.glued and "vyib" in read.glued
    assert "zqxab" in read.tagged and "2024" in read.tagged


def test_a_hashtag_of_ordinary_words_hides_no_nonsense_term() -> None:
    seg = Segmenter(frozenset({"every", "body", "likes", "zqxab"}))
    middles = seg.middles("everybodylikes")
    assert "rybod" not in middles and "ybodyl" not in middles
    assert "zqxab" in seg.middles("zqxablikes")  # a listed ordinary-looking word still counts


@pytest.mark.parametrize(("text", "blocked"), [
    ("ZQX-Blocked", True), ("zqx blocked", True), ("zqxbl0cked", True), ("#zqxblocked2024", True),
    ("#ForbiddenPhraseAlpha", True), ("zqxblockedness", False),
])
def test_the_shipped_rule_comment_is_true(text: str, blocked: bool) -> None:
    # rules/terms/zqx-abuse.txt lists these forms as examples (all checked in tests/test_rule_comments.py).
    from pathlib import Path

    from filter_proxy.rules.loader import load_rules

    rules = load_rules(Path(__file__).resolve().parent.parent / "rules")
    assert (rules.check_text(text).action == "block") is blocked


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["the", "garden", "music", "aba", "ba", "zqx", "zz", "7", "2024", "x", "q", "an", "a"]),
                max_size=8).map("".join))
def test_segmenter_prefixes_and_suffixes_as_defined(word: str) -> None:
    # The definition, position by position: text[:i] (text[j:]) splits into ordinary words or digit runs.
    seg = Segmenter(frozenset({"the", "garden", "music", "aba", "an", "a", "ba"}))
    n = len(word)

    def part(start: int, end: int) -> bool:
        return seg._ordinary(word, start, end, seg.vocabulary)

    prefix = [True] + [False] * n
    for end in range(1, n + 1):
        prefix[end] = any(prefix[s] and part(s, end) for s in range(max(0, end - 24), end))
    suffix = [False] * n + [True]
    for start in range(n - 1, -1, -1):
        suffix[start] = any(suffix[e] and part(start, e) for e in range(start + 1, min(n, start + 24) + 1))
    assert seg._prefixes(word) == prefix
    assert seg._suffixes(word) == suffix
