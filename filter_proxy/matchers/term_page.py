"""Which strings of a page certainly match nothing, decided for the whole page in a few C-level passes
(issue 14, item 2: the screening hot path).

``TermIndex.match`` reads one string at a time: its reading (``reading.reading``: words, the alternate
reading, hashtag words, glued words), the per-word first stage, split-word gluing. Each step is cheap, but a
page holds a few dozen strings of ~15 words, and the fixed cost of the steps, paid per string and per
word in Python, was most of the page's screening time (profile: ~21 µs a string, reading ~13 µs of it).

``clean(index, texts)`` answers "``index.match(text) == []`` for certain" for the common strings at once:

1. **Lane.** ASCII strings with none of ``@ | ! # $ \\ \\x00`` and no ``()``: they have no alternate
   reading, no hashtag/handle words, no leetspeak digraphs, no edge symbols to trim and no token that
   finishes empty, so ``normalize.words`` reads each of them as its raw tokens finished one by one. Strings
   that hold a chain of single characters (``f.o.o``, found by ``normalize``'s chain pre-check over the
   joined page) or that have glued words (``reading.glued_words``, after its class pre-check over the
   joined page) leave the lane.
2. **Tokens.** The lane's strings joined with a `` \\x00 `` token between them, then one bytes
   ``translate`` (``words``' table: lower-case, ``l`` -> ``i``, separators to spaces) and one ``split``.
3. **Classes.** Each raw token maps (one ``map(dict.get)``, cached per index) to one byte saying what
   ``TermIndex._found`` would do with its finished word: ``K`` passes the first stage (a listed phrase may
   start here), ``P``/``O`` may be the first piece of a split listed word (not / an ordinary word), else the
   word fails and only its shape matters to a preceding piece: ``1`` (one character, a spelled-out letter),
   ``S`` (shorter than a piece), ``L`` (an ordinary word), ``N`` (any other word).
4. **Verdict.** A string is certainly clean unless its classes hold ``K``, three one-character words in a
   row (``normalize`` would join them), a ``P`` followed by a word long enough to be the next piece, or an
   ``O`` followed by such a word that is not ordinary (``_match_splits`` glues exactly those). One regex
   search over the page's class bytes; only when it hits are the strings' own class runs searched.

Measured (speed suite's pool, 100k terms, verdict cache off, CPU time, this commit against the one before
issue 14 interleaved twice, on a 2-core box at load average ~8): ``screen_texts`` of a 10-result SearXNG
page 1.05 / 0.94 -> 0.91 / 0.76 ms; in-process FilterMiddleware, static page, added per request 1,250 /
1,170 -> 980 / 850 µs. py-spy of that loop: ``reading`` + ``_words`` were 36 % + 24 % of the samples
before; after, ``clean`` is 35 %, the strings it leaves to ``_found`` / ``match`` ~15 %.

Strings outside the lane or not certainly clean are matched by ``TermIndex.match`` as before, so the
verdicts are the same by construction; the test suite checks ``match_many`` against ``match`` on generated
pages. Index with hashed or substring entries: every string goes through ``match``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, NamedTuple

from filter_proxy.matchers.term_entries import term_key
from filter_proxy.matchers.term_forms import MIN_PIECE
from filter_proxy.normalize import (
    _ASCII_FOLD_SPLIT,
    _FINISHED,
    _SPELLED_RUN,
    _finish_all,
    join_chains,
    map_digraphs,
)
from filter_proxy.reading import _CLASSES, glued_words

if TYPE_CHECKING:
    from filter_proxy.matchers.terms import TermIndex

__all__ = ["clean", "PageReading", "CLEAN", "WORDS", "FULL"]

_TAGGED = re.compile(r"[@|!#]")  # an alternate reading (edge symbols) or hashtag/handle words may exist
# ``normalize._CHAIN_HINT`` for the lane (ASCII, no leet symbols), on a class string: a letter or digit is
# ``a``, a chain separator ``.``, anything else a space. A chain holds a lone member, separators and a
# last member that no letter or digit follows; the page separator is spaces, so no hit crosses it.
_CHAIN_CLASSES = bytes(ord("a") if chr(b).isalnum() and b < 128 else ord(".") if chr(b) in "._-*'/\\" else 32
                       for b in range(256))
# Led by the separator, so that the engine skips ahead to it in C (led by the member it tries every letter:
# ~18x slower on a page): a separator after a lone member, more separators, a last member.
_CHAIN_BYTES = re.compile(rb"\.(?<=a\.)(?<!aa\.)\.*a(?!a)")
# Out of the lane too: "$" (a token may finish empty) and "\x00" (the page separator).
_SPECIAL = re.compile(r"[@|!#$\x00]")
_SEP = " \x00 "
# ``words``' ASCII table with the separator kept, so that it stays a token of its own.
_FOLD_SPLIT = b"\x00" + _ASCII_FOLD_SPLIT[1:]
# ``reading._hints``' class table with the separator as ``#`` (a class it never produces), to cut the page.
_HINT_CLASSES = b"#" + _CLASSES[1:]
KEY, PIECE, PIECE_ORDINARY, ONE, SHORT, ORDINARY, OTHER, END = b"KPO1SLNE"
_UNCLEAN = re.compile(rb"K|111|P[KPOLN]|O[KPN]")
_CLASSES_MAX = 1 << 15


CLEAN, WORDS, FULL = 0, 1, 2


class PageReading(NamedTuple):
    """What ``clean`` learnt of a page: a state per string, and for ``WORDS`` strings of the lane their words
    and glued words (None: not computed, the caller reads the string)."""

    states: list[int]
    words: dict[int, list[str]]
    glued: dict[int, tuple[str, ...]]


def clean(index: TermIndex, texts: Sequence[object]) -> PageReading:
    """For each text: ``CLEAN`` when ``index.match(text)`` is certainly ``[]``; ``WORDS`` when its reading
    is its words and glued words only (no ``@ | ! #``: no alternate reading, no hashtag words), so
    ``index._found(words, (), glued)`` is ``match``'s work; else ``FULL`` (module docstring)."""
    out = PageReading([FULL] * len(texts), {}, {})
    states = out.states
    lane: list[int] = []
    batch: list[str] = []
    for i, text in enumerate(texts):
        if type(text) is not str:
            continue
        special = _SPECIAL.search(text)  # one scan for both tests below: most strings have none
        if special is None or not _TAGGED.search(text, special.start()):
            states[i] = WORDS
            if special is None and text.isascii():
                lane.append(i)
                # Leetspeak digraphs ("()", "\\/") as ``words`` reads them, before the chain pre-check.
                batch.append(map_digraphs(text) if "()" in text or "\\" in text else text)
    if not lane:
        return out
    joined = _SEP.join(batch)
    hits = [m.start() for m in _CHAIN_BYTES.finditer(joined.encode().translate(_CHAIN_CLASSES))]
    if hits:  # join chains in the strings that hold one, as ``words`` does
        ends = list(accumulate(len(text) + len(_SEP) for text in batch))
        for k in {bisect_right(ends, hit) for hit in hits}:
            batch[k] = join_chains(batch[k])
        joined = _SEP.join(batch)
    # Glued words (``reading.glued_words`` on the string as written) are looked up whole: a string whose
    # glued words all fail the first stage reads as its words alone.
    drop: set[int] = set()
    glued_of = out.glued
    raw = _SEP.join(texts[i] for i in lane)  # type: ignore[misc]  # the lane holds strings only
    for k, cls in enumerate(raw.encode().translate(_HINT_CLASSES).split(b"#")):
        if b"a-a" in cls or (b"-" in cls and b"1" in cls) or b" a a " in cls or b" a  a " in cls:
            glued = glued_of[lane[k]] = glued_words(texts[lane[k]])  # type: ignore[arg-type]
            if glued and any(map(index._probe, map(term_key, glued))):
                drop.add(k)
    tokens = joined.encode().translate(_FOLD_SPLIT).decode().split()
    codes = list(map(index._classes.get, tokens))
    if None in codes:
        codes = _fill(index, tokens, codes)
    page = bytes(codes)
    if not _UNCLEAN.search(page):
        for k, i in enumerate(lane):
            if k not in drop:
                states[i] = CLEAN
        return out
    start = 0
    for k, (i, run) in enumerate(zip(lane, page.split(bytes((END,))), strict=True)):
        if k in drop or _UNCLEAN.search(run):
            # Its words as ``words`` reads them: the finished tokens, unless letters are spelled out.
            words = _finished(tokens[start:start + len(run)])
            if not (list(map(len, words)).count(1) >= 3 and _SPELLED_RUN.search(" ".join(words))):
                out.words[i] = words
            glued_of.setdefault(i, ())
        else:
            states[i] = CLEAN
        start += len(run) + 1
    return out


def _finished(tokens: list[str]) -> list[str]:
    """Steps 4 and 5 of ``normalize`` per token, through (and into) its bounded token cache."""
    out = list(map(_FINISHED.get, tokens))
    return _finish_all(tokens, out) if None in out else out  # type: ignore[arg-type]  # no None left


def _fill(index: TermIndex, tokens: list[str], codes: list[int | None]) -> list[int]:
    """Classes of the tokens not seen yet (cached per raw token, bounded like the index's other caches)."""
    classes = index._classes
    if len(classes) > _CLASSES_MAX:
        classes.clear()
    new = list(dict.fromkeys(token for token, code in zip(tokens, codes, strict=True)
                             if code is None and token != "\x00"))
    words = _finished(new)
    firsts = list(map(index._known.get, words))
    if None in firsts:
        firsts = index._first_stage(words, firsts)
    ordinary = index._ordinary
    found = {"\x00": END}
    for token, word, first in zip(new, words, firsts, strict=True):
        if first >= 0:
            code = KEY
        elif first == -2:  # terms._PIECE
            code = PIECE
        elif first == -3:  # terms._PIECE_ORDINARY
            code = PIECE_ORDINARY
        else:
            size = len(word)
            code = ONE if size == 1 else SHORT if size < MIN_PIECE else ORDINARY if word in ordinary else OTHER
        found[token] = code
    classes.update(found)
    return [found[token] if code is None else code for token, code in zip(tokens, codes, strict=True)]
