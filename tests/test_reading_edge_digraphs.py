"""An edge symbol beside a leetspeak digraph (``|()mmob``, ``zqxf()|``) is read as a letter, as it is beside a
plain letter (``|ommob``): the alternate reading looks for edge symbols after digraphs are read."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import words

# "|" leads as i/l, "!" and "|" trail as i; each digraph stands for its letter.
DIGRAPHS = {"o": "()", "d": "|)", "k": "|<", "v": "\\/", "u": "|_|", "n": "|\\|"}
CORE = st.text(alphabet="abcefghjkmnopqrstuvwxyz", min_size=4, max_size=9)


@st.composite
def disguised_edge(draw: st.DrawFn) -> tuple[str, str]:
    """(listed word, the word written with an edge symbol touching a digraph), at the start or the end."""
    letter = draw(st.sampled_from(sorted(DIGRAPHS)))
    core = draw(CORE)
    if draw(st.booleans()):  # leading: "|" for the first letter (i or l), then the digraph's letter
        first = draw(st.sampled_from("il"))
        return first + letter + core, "|" + DIGRAPHS[letter] + core
    last = draw(st.sampled_from("il"))  # trailing: the digraph's letter, then "!" or "|" for i
    symbol = "!" if last == "i" and draw(st.booleans()) else "|"
    return core + letter + last, core + DIGRAPHS[letter] + symbol


@given(pair=disguised_edge(), before=st.sampled_from(["", "see ", "about the "]),
       after=st.sampled_from(["", " here", ", then more"]))
@settings(max_examples=200, deadline=None)
def test_edge_symbol_beside_a_digraph_is_matched(pair: tuple[str, str], before: str, after: str) -> None:
    listed, written = pair
    if len(words(listed)) != 1:
        return  # the generator made something that is not one word once normalised
    index = TermIndex.build([TermEntry(listed, "c", "c.txt:1")])
    text = before + written + after
    assert index.match(text), (listed, text)
    assert index.match_many([text, "an ordinary sentence"])[0], (listed, text)
