"""``TermIndex.match_prefix`` / ``RuleSet.check_prefix``: a query term cut short by a trailing wildcard
counts as a listed entry that starts with it, when it keeps at least five letters of that entry."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.terms import PREFIX_MIN_LETTERS, TermEntry, TermIndex
from filter_proxy.normalize import words

# Letters that normalisation leaves as they are (no l/i merge, no repeats collapsed by construction).
WORD = st.text(alphabet="abcdefghkmnprstuvwy", min_size=2, max_size=9).filter(
    lambda w: all(a != b for a, b in zip(w, w[1:], strict=False)))
ENTRY = st.lists(WORD, min_size=1, max_size=3).map(" ".join)  # phrases are listed too, but get no cuts


def build(entries: list[str], substring: bool = False) -> TermIndex:
    return TermIndex.build([TermEntry(e, "cat", f"rules/terms/cat.txt:{i + 1}", substring)
                            for i, e in enumerate(entries)])


@settings(max_examples=60, deadline=None)
@given(entries=st.lists(ENTRY, min_size=1, max_size=5, unique=True), data=st.data())
def test_every_cut_keeping_five_letters_matches(entries: list[str], data: st.DataObject) -> None:
    index = build(entries)
    entry = data.draw(st.sampled_from(entries))
    last = entry.split(" ")[-1]
    head = entry[: len(entry) - len(last)]
    cut = data.draw(st.integers(1, len(last)))
    query = words(head + last[:cut])
    found = index.match_prefix(query)
    if not head and cut >= PREFIX_MIN_LETTERS and cut < len(last):
        assert found and found[0].category == "cat"
    # Round trip: the prefix keys are part of the serialised index; len() counts entries, not keys.
    again = TermIndex.from_bytes(index.to_bytes())
    assert again.match_prefix(query) == index.match_prefix(query)
    assert len(again) == len(index) == len(entries)


@settings(max_examples=60, deadline=None)
@given(entry=WORD.filter(lambda w: len(w) >= 6), cut=st.integers(1, 4))
def test_fewer_than_five_letters_never_match(entry: str, cut: int) -> None:
    assert build([entry]).match_prefix(words(entry[:cut])) == []


def test_substring_entries_and_unrelated_prefixes() -> None:
    index = build(["zqxcoined"], substring=True)
    assert index.match_prefix(["zqxco"]) and not index.match_prefix(["zqxca"])
    phrase = build(["forbidden phrase alpha"])
    assert phrase.match_prefix(words("forbidden")) == []  # a whole first word is not a cut of the phrase
    assert phrase.match_prefix(words("forbidden phrase alph")) == []  # phrases get no cuts (table size)
    assert build(["zqxblocked"]).match_prefix([]) == []
