"""Which strings of a page certainly match nothing, decided for the whole page in a few C-level passes
(issue 14, item 2: the screening hot path).

``TermIndex.match`` reads one string at a time: its reading (``reading.reading``: words, the alternate
reading, hashtag words, glued words), the per-word first stage, split-word gluing. Each step is cheap, but a
page holds a few dozen strings of ~15 words, and the fixed cost of the steps, paid per string and per
word in Python, was most of the page's screening time (profile: ~21 µs a string, reading ~13 µs of it).

``clean(index, texts)`` answers "``index.match(text) == []`` for certain" for the common strings at once
(``clean_python``, the definition; ``clean`` puts the compiled kernel in front of it, below):

1. **Lane.** ASCII strings with none of ``@ | ! $ \\ \\x00`` and no ``#`` that may start a hashtag (found on
   the joined page; ``_TAGGED``): no alternate
   reading, no hashtag/handle words, no edge symbols to trim, no token that finishes empty, so
   ``normalize.words`` reads each as its raw tokens finished one by one. Strings that are ASCII but for
   curly quotes, dashes and no-break spaces join as their ASCII stand-in (``words`` reads them so); their
   glued words are read from the string as written. ``()`` and ``\\`` digraphs are mapped and chains of
   single characters joined (``normalize``'s chain pre-check over the joined page) as ``words`` does.
2. **Glued words.** ``reading.glued_words`` reads compounds of a string's chunks and letters spelled out
   with spaces. A chunk that may be a compound (a separator run between two other characters: one
   separator-led regex over the page's class bytes) is answered once per index (``_chunks``: do its glued
   words pass the first stage?); spelled letters are three one-letter tokens in a row, which step 4 sends
   on anyway. A string with a passing chunk leaves the lane.
3. **Tokens and classes.** The lane's strings joined with a `` \\x00 `` token between them, one bytes
   ``translate`` (``words``' table: lower-case, ``l`` -> ``i``, separators to spaces) and one ``split``;
   each raw token maps (one ``map(dict.get)``, cached per index) to one byte saying what
   ``TermIndex._found`` would do with its finished word: ``K`` passes the first stage (a listed phrase may
   start here), ``P``/``O`` may be the first piece of a split listed word (not / an ordinary word), else the
   word fails and only its shape matters: ``1`` (one letter), ``D`` (one digit), ``S`` (shorter than a
   piece), ``L`` (an ordinary word), ``N`` (any other word).
4. **Verdict.** A string is certainly clean unless its classes hold ``K``, a run of three or more
   one-character words with two letters (``join_spelled`` would join it), or a ``P`` / ``O`` before a word
   that may be the next piece (``P[KPOLN]``, ``O[KPN]``: ``_match_splits`` glues exactly those). Those
   last are answered here (``_splits_clean``: the glued pair, and a third piece where the pair may be
   extended, from ``_glue_answer``'s cache): on the speed pool many ordinary words ("tuple", "not", "id")
   are first pieces of some of the 100k placeholder words, and 2/3 of the strings left uncleared were
   such pairs that glue into nothing. One charset-led regex over the page's class bytes; only when it hits
   are the strings' own runs searched.

**Compiled kernel** (``_page_kernel.pyx``, built by ``setup.py`` when Cython and a C compiler are there):
``screen`` runs steps 1-4 per ASCII string in one C loop (``()`` mapped as ``map_digraphs``, chains joined as
``join_chains``) over three tables this module fills as it answers (token -> class, chunk -> passes, token
pair -> glues into something): 1 certainly clean, 2 may match (``WORDS``: its words are read in Python), 3
``FULL`` (``@ | !``, a ``#`` that may start a hashtag), 0 anything it cannot decide (a table miss, ``$``,
``\\``, non-ASCII), which goes through ``clean_python``. So a table miss costs speed, never a verdict.
``TermIndex.match_many`` also hands it the index's matcher (``kernel_matcher``): a lane string whose tokens
the table knows and that holds a word that may start a listed phrase or split word is matched in C
(``TermIndex._match_plain`` and ``_match_splits`` on its finished words: ``MATCHED`` with the rows, or
``CLEAN``), so the ~1 string a page that holds a listed word costs no Python reading. Strings ASCII but for
curly quotes and dashes go through the kernel as their ASCII stand-in, their glued words read from the
string as written. tests/test_page_kernel.py checks the two paths' states, ``match_many`` with and without
the matcher, and each C helper against its Python original, on generated pages.

Measured (``/work/notes/prof/page.py``: the speed suite's pool, 100k terms + 10k URLs, verdict cache off,
100 pages of ``check_many`` on title + snippet and 10 ``check_url``, median of 5 passes in CPU time; main
and this branch interleaved twice on the shared 2-core box at load 6-7): ``check_many`` 0.353 / 0.375 ->
0.165 / 0.180 ms per page (``check_url`` unchanged, 0.046-0.051 ms). Strings not cleared on that pool:
437 -> 164 of 2,000 (the rest hold a listed placeholder word, e.g. "line" and "like" are CV-syllable
placeholders); with the kernel 1,778 are decided in C, ~2 strings a page reach Python. Before issue 14
(one string at a time): ``screen_texts`` of a 10-result SearXNG page 1.05 / 0.94 ms.
Then the compiled matcher, chains, hash signs, backslashes and typographic strings in the kernel (same
script, main and this branch interleaved four times at load 1-2, main with the URL kernel): ``check_many``
0.106-0.115 -> 0.055-0.061 ms per page, ``check_many`` + ``check_url`` 0.113-0.126 -> 0.067-0.071 ms. Of
the 2,000 strings, 1,938 are now found clean or matched in C (108 matched), 24 marked ``FULL`` (``@ | !`` or a
hashtag: ``match``), 8 left ``WORDS`` (letters spelled out), 30 undecided (non-ASCII, ``$``).

Strings outside the lane or not certainly clean are matched by ``TermIndex.match`` as before, so the
verdicts are the same by construction; the test suite checks ``match_many`` against ``match`` on generated
pages. Index with hashed or substring entries: every string goes through ``match``.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import TYPE_CHECKING, Any, NamedTuple

from filter_proxy.matchers.term_entries import term_key
from filter_proxy.matchers.term_forms import FAIL as _FAIL
from filter_proxy.matchers.term_forms import MIN_PIECE, glue
from filter_proxy.matchers.term_forms import PIECE as _PIECE_FIRST
from filter_proxy.matchers.term_forms import PIECE_ORDINARY as _PIECE_ORDINARY_FIRST
from filter_proxy.matchers.term_forms import STEM as _STEM_FIRST
from filter_proxy.normalize import (
    _ASCII_FOLD_SPLIT,
    _FINISHED,
    _SPELLED_RUN,
    _TYPOGRAPHIC,
    _WIDE_FIRST,
    _finish_all,
    has_wide,
    join_chains,
    map_digraphs,
)
from filter_proxy.normalize import (
    _SEP as _CHAIN_SEP,
)
from filter_proxy.reading import _MAX_COMPOUND, _SPELLED, _compound, glued_words

try:  # the compiled first pass (setup.py builds it when it can; without it, the same states in Python)
    from filter_proxy.matchers import _page_kernel  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover -- depends on the build
    _page_kernel = None

if TYPE_CHECKING:
    from filter_proxy.matchers.terms import TermIndex

__all__ = ["clean", "clean_python", "kernel_tables", "kernel_matcher", "PageReading", "CLEAN", "WORDS", "FULL",
           "MATCHED"]

# An alternate reading (edge symbols) or hashtag/handle words may exist: ``@ | !``, or a ``#`` that may start
# a hashtag (``reading._TAG``: none after a letter, digit or ``_``, nor before whitespace or the end; so a
# comment's "# note" or "IPv#Address" reads as words, as ``reading`` reads it).
# ... or an HTML character reference (``normalize.REFERENCE``: a numeric one starts "&#", a named one ends ";"),
# which ``words`` reads as its character.
_TAGGED = re.compile(r"[@|!]|(?<![A-Za-z0-9_])#(?=\S)|&[A-Za-z][A-Za-z0-9]{0,31};")
# ``normalize._CHAIN_HINT`` for the lane (ASCII, no leet symbols), on a class string: a letter or digit is
# ``a``, a chain separator ``.``, anything else a space. A chain holds a lone member, separators and a
# last member that no letter or digit follows; the page separator is spaces, so no hit crosses it.
_CHAIN_CLASSES = bytes(ord("a") if chr(b).isalnum() and b < 128 else ord(".") if b < 128 and re.fullmatch(_CHAIN_SEP, chr(b))
                       else 32 for b in range(256))
# Led by the separator, so that the engine skips ahead to it in C (led by the member it tries every letter:
# ~18x slower on a page): a separator after a lone member, more separators, a last member.
_CHAIN_BYTES = re.compile(rb"\.(?<=a\.)(?<!aa\.)\.*a(?!a)")
# Out of the lane too: "$" (a token may finish empty) and "\x00" (the page separator).
_SPECIAL = re.compile(r"[@|!#$\x00]")
_PAGE_SPECIAL = re.compile(r"[@|!#$&]")  # the same on the joined page (whose separators hold "\x00")
_SEP = " \x00 "
# ``words``' ASCII table with the separator kept, so that it stays a token of its own.
_FOLD_SPLIT = b"\x00" + _ASCII_FOLD_SPLIT[1:]
# Chunks (``str.split``'s whitespace-free runs: ASCII whitespace, \x1c-\x1f too) that ``reading._compound``
# may read as a word cut in pieces: a separator run with a character that is neither on each side (its
# pieces must hold two characters or more). Classes: whitespace " ", separator "-", anything else "a".
_CHUNK_CLASSES = bytes(32 if chr(b).isspace() else ord("-") if chr(b) in "-_." else ord("a") for b in range(128)) \
    + b"a" * 128
# Led by the separator (a literal: the engine skips ahead to it in C; ~10x faster than a chunk pattern).
_COMPOUND_SEAM = re.compile(rb"-(?<=a-)-*a")
KEY, PIECE, PIECE_ORDINARY, ONE, DIGIT, SHORT, ORDINARY, OTHER, END = b"KPO1DSLNE"
STEM = ord("X")  # a listed word with a plural ending (``TermIndex._stem``): its string is read in Python
# A listed word may start here, letters spelled out (``join_spelled``: a run of >= 3 one-character words
# holding two letters), or a first piece of a split word before a word long enough to be the next piece
# (after an ordinary one: a next piece that is no ordinary word).
# As written here, each led by one character class so that the engine skips ahead in C (~12x faster on a
# page than the plain ``K|(?<![1D])(?=[1D]{3})D*1D*1|P[KPOLN]|O[KPN]``, which the test suite compares):
# the first character, then what it needs (a run start: no [1D] before it; two more [1D] after it).
_UNCLEAN = re.compile(rb"[XKPO1D](?:(?<=[XK])|(?<=P)[KPOLN]|(?<=O)[KPN]|"
                      rb"(?<![1D][1D])(?<=[1D])(?=[1D]{2})(?:(?<=1)D*1|(?<=D)D*1D*1))")
# What ``_splits_clean`` does not decide: ``K`` or spelled letters.
_HARD = re.compile(rb"[XK1D](?:(?<=[XK])|(?<![1D][1D])(?=[1D]{2})(?:(?<=1)D*1|(?<=D)D*1D*1))")
_CLASSES_MAX = 1 << 15
_CHUNKS_MAX = 1 << 14


CLEAN, WORDS, FULL, MATCHED = 0, 1, 2, 3
# The kernel's marks (``_page_kernel.screen``) as states; 0 (not decided there) is left to ``clean_python``.
_MARKED = (None, CLEAN, WORDS, FULL, MATCHED)


class PageReading(NamedTuple):
    """What ``clean`` learnt of a page: a state per string, and for ``WORDS`` strings of the lane their words
    and glued words (None: not computed, the caller reads the string); for ``MATCHED`` strings (only with a
    matcher) the rows the kernel found, as (first word, end word, table row) in ``_found``'s order."""

    states: list[int]
    words: dict[int, list[str]]
    glued: dict[int, tuple[str, ...]]
    rows: dict[int, list[tuple[int, int, int]]] = {}  # noqa: RUF012 -- read only


def kernel_tables() -> tuple[Any, Any, Any] | None:
    """The compiled pass's tables (token classes, compound chunks, split pairs) for a new index; None
    without it."""
    return None if _page_kernel is None else (_page_kernel.Table(), _page_kernel.Table(), _page_kernel.Table())


def kernel_matcher(bitmap: Any, mask: int, pieces: Any, piece_mask: int, keys: Any, max_words: int) -> Any:
    """The compiled matcher of an index (``clean(..., matcher=)``); None without the kernel, on a big-endian
    host (its xxh64 reads words little-endian) or for arrays it cannot view: ``match_many`` then reads those
    strings in Python, with the same verdicts."""
    if _page_kernel is None or sys.byteorder != "little":
        return None
    try:
        return _page_kernel.Matcher(bitmap, mask, pieces, piece_mask, keys, max_words)
    except (TypeError, ValueError, BufferError):  # pragma: no cover -- an array layout the kernel cannot view
        return None


def clean(index: TermIndex, texts: Sequence[object], matcher: Any = None) -> PageReading:
    """For each text: ``CLEAN`` when ``index.match(text)`` is certainly ``[]``; ``WORDS`` when its reading
    is its words and glued words only (no ``@ | ! #``: no alternate reading, no hashtag words), so
    ``index._found(words, (), glued)`` is ``match``'s work; else ``FULL`` (module docstring). With the
    compiled kernel, the strings it finds certainly clean are ``CLEAN``, those it finds in the lane but
    maybe matching ``WORDS``, those with ``@ | ! #`` ``FULL``, and the rest go through ``clean_python``
    (which decides each string on its own, so a page's states do not depend on how it was split). With
    ``matcher`` (``kernel_matcher`` of ``index``'s own bitmaps and keys) the kernel also matches the lane
    strings whose words it read: ``MATCHED`` with their rows, or ``CLEAN`` when none is found."""
    tables = index._kernel
    if tables is None or not texts:
        return clean_python(index, texts)
    found: list[tuple[int, list[tuple[int, int, int]]]] | None = None if matcher is None else []
    marks = _page_kernel.screen(texts if type(texts) is list else list(texts), *tables, _FOLD_SPLIT,
                                _CHAIN_CLASSES, _CHUNK_CLASSES, matcher, found)
    rows = dict(found) if found else {}
    zero = marks.find(0)
    if zero < 0:
        if marks.count(1) == len(marks):
            return PageReading([CLEAN] * len(texts), {}, {})
        return PageReading(list(map(_MARKED.__getitem__, marks)), {}, {}, rows)
    states = list(map(_MARKED.__getitem__, marks))
    rest: list[int] = []
    typographic: dict[int, str] = {}
    while zero >= 0:  # the strings the kernel did not decide
        k, zero = zero, marks.find(0, zero + 1)
        text = texts[k]
        # As ``clean_python`` decides these on their own, without its page pass:
        if type(text) is not str or _TAGGED.search(text) or has_wide(text):
            states[k] = FULL
        elif not text.isascii():
            if (plain := text.translate(_TYPOGRAPHIC)).isascii():
                typographic[k] = plain
            else:
                states[k] = WORDS  # out of the lane, no ``@ | !`` nor hashtag: read as its words
        elif "$" in text or "\x00" in text:
            states[k] = WORDS  # out of the lane (a token may finish empty), the same
        else:
            rest.append(k)
    glued_of: dict[int, tuple[str, ...]] = {}
    if typographic:
        _typographic(index, texts, typographic, tables, matcher, states, rows, glued_of, rest)
    if not rest:
        return PageReading(states, {}, glued_of, rows)  # type: ignore[arg-type]  # no None left
    part = clean_python(index, [texts[k] for k in rest])
    for k, state in zip(rest, part.states, strict=True):
        states[k] = state
    glued_of.update((rest[k], glued) for k, glued in part.glued.items())
    return PageReading(states, {rest[k]: words for k, words in part.words.items()},  # type: ignore[arg-type]
                       glued_of, rows)


def _typographic(index: TermIndex, texts: Sequence[object], typographic: dict[int, str], tables: Any,
                 matcher: Any, states: list[int | None], rows: dict[int, list[tuple[int, int, int]]],
                 glued_of: dict[int, tuple[str, ...]], rest: list[int]) -> None:
    """Strings that are ASCII but for curly quotes, dashes and no-break spaces: ``words`` reads them as their
    ASCII stand-in, which the kernel screens; their glued words are read from the string as written (as
    ``clean_python`` does), and one that passes the first stage makes the string ``WORDS``. Strings the
    kernel leaves undecided go to ``rest``."""
    where = list(typographic)
    found: list[tuple[int, list[tuple[int, int, int]]]] | None = None if matcher is None else []
    marks = _page_kernel.screen(list(typographic.values()), *tables, _FOLD_SPLIT, _CHAIN_CLASSES, _CHUNK_CLASSES,
                                matcher, found)
    matched = dict(found) if found else {}
    probe = index._probe
    for j, (k, mark) in enumerate(zip(where, marks, strict=True)):
        if mark == 1 or mark == 4:
            glued = glued_words(texts[k])  # type: ignore[arg-type]  # a str
            if glued and any(map(probe, map(term_key, glued))):
                states[k] = WORDS
                glued_of[k] = glued
            elif mark == 4:
                states[k] = MATCHED
                rows[k] = matched[j]
            else:
                states[k] = CLEAN
        elif mark:
            states[k] = _MARKED[mark]
        else:
            rest.append(k)
    rest.sort()


def clean_python(index: TermIndex, texts: Sequence[object]) -> PageReading:
    """``clean`` in Python: the definition, and the path without the compiled kernel."""
    count = len(texts)
    out = PageReading([WORDS] * count, {}, {})
    states = out.states
    page = [text if type(text) is str else "" for text in texts]
    joined = _SEP.join(page)
    # Strings out of the lane, found on the joined page: most pages have none.
    odd = {i for i, text in enumerate(texts) if type(text) is not str}
    if not joined.isascii():
        odd.update(i for i, text in enumerate(page) if not text.isascii())
    if _PAGE_SPECIAL.search(joined):
        ends = list(accumulate(len(text) + len(_SEP) for text in page))
        odd.update(bisect_right(ends, m.start()) for m in _PAGE_SPECIAL.finditer(joined))
    if joined.count("\x00") != count - 1:
        odd.update(i for i, text in enumerate(page) if "\x00" in text)
    if _WIDE_FIRST.search(joined):  # the wider leet table: an alternate reading (``reading``), read whole
        odd.update(i for i, text in enumerate(page) if has_wide(text))  # per string: "f(" ... ")" apart
    typographic: dict[int, str] = {}
    if odd:
        as_is: set[int] = set()
        for i in odd:
            text = texts[i]
            if type(text) is not str or _TAGGED.search(text) or has_wide(text):
                states[i] = FULL
            elif "$" not in text and "\x00" not in text and (plain := text.translate(_TYPOGRAPHIC)).isascii():
                if plain is text or plain == text:
                    # Out of the lane only for a "&" or "#" that starts no reference or hashtag (a URL's
                    # query, "C#"): read in the lane as written, so its chunks and tokens reach the kernel's
                    # tables (as the typographic path's ASCII stand-in, which is itself, would not).
                    as_is.add(i)
                else:
                    typographic[i] = plain  # curly quotes, dashes: ``words`` reads it as this ASCII text
        lane = [i for i in range(count) if i not in odd or i in typographic or i in as_is]
        if not lane:
            return out
        batch = [typographic.get(i) or page[i] for i in lane]
        raw = _SEP.join("" if i in typographic else page[i] for i in lane)
        joined = _SEP.join(batch)
    else:
        lane, batch, raw = list(range(count)), page, joined
    before = batch
    if "()" in joined or "\\" in joined:  # leetspeak digraphs as ``words`` reads them, before the chain check
        batch = [map_digraphs(text) if "()" in text or "\\" in text else text for text in batch]
        joined = _SEP.join(batch)
    hits = [m.start() for m in _CHAIN_BYTES.finditer(joined.encode().translate(_CHAIN_CLASSES))]
    if hits:  # join chains in the strings that hold one, as ``words`` does
        ends = list(accumulate(len(text) + len(_SEP) for text in batch))
        batch = list(batch)
        for k in {bisect_right(ends, hit) for hit in hits}:
            batch[k] = join_chains(batch[k])
        joined = _SEP.join(batch)
    drop = _glued_drops(index, raw, lane, texts, typographic, out.glued)
    if batch is not before:
        # Letters spelled out with spaces are read from the string as written (``glued_words``), but the
        # classes below from the mapped one, where a digraph or chain may have merged the last letter into
        # a longer token ("z q x() there", "z q x.y"): such strings are read whole.
        drop.update(k for k, (old, new) in enumerate(zip(before, batch, strict=True))
                    if old is not new and old != new and _SPELLED.search(old))
    tokens = joined.encode().translate(_FOLD_SPLIT).decode().split()
    codes = list(map(index._classes.get, tokens))
    if None in codes:
        codes = _fill(index, tokens, codes)
    classes = bytes(codes)
    if not _UNCLEAN.search(classes):
        for k, i in enumerate(lane):
            if k not in drop:
                states[i] = CLEAN
        return out
    start = 0
    for k, (i, run) in enumerate(zip(lane, classes.split(bytes((END,))), strict=True)):
        if k in drop or _UNCLEAN.search(run):
            # Its words as ``words`` reads them: the finished tokens, unless letters are spelled out.
            words = _finished(tokens[start:start + len(run)])
            if k not in drop and not _HARD.search(run) and _splits_clean(index, words, run,
                                                                         tokens[start:start + len(run)]):
                states[i] = CLEAN
            elif not (list(map(len, words)).count(1) >= 3 and _SPELLED_RUN.search(" ".join(words))):
                out.words[i] = words
        else:
            states[i] = CLEAN
        start += len(run) + 1
    return out


def _glued_drops(index: TermIndex, raw: str, lane: list[int], texts: Sequence[object], typographic: dict[int, str],
                 glued_of: dict[int, tuple[str, ...]]) -> set[int]:
    """Lane positions of the strings whose glued words (``reading.glued_words``) may pass the first stage.
    A string's glued words are the compounds of some of its chunks (at most ``_MAX_COMPOUNDS``) and its
    letters spelled out with spaces (three one-letter tokens in a row: ``_UNCLEAN`` sends those on). So a
    string is kept when none of its compound chunks gives a word that passes (cached per chunk)."""
    drop: set[int] = set()
    classes = raw.encode().translate(_CHUNK_CLASSES)
    seams = [m.start() for m in _COMPOUND_SEAM.finditer(classes)]
    if seams:
        chunks, probe, ends = index._chunks, index._probe, list(accumulate(len(t) + len(_SEP) for t in raw.split(_SEP)))
        if len(chunks) > _CHUNKS_MAX:
            chunks.clear()
            if index._kernel is not None:
                index._kernel[1].clear()
        done = -1
        for seam in seams:
            if seam < done:
                continue  # another seam of the chunk just read
            start, end = classes.rfind(b" ", 0, seam) + 1, classes.find(b" ", seam)
            done = end = len(classes) if end < 0 else end
            chunk = raw[start:end]
            passes = chunks.get(chunk)
            if passes is None:
                glued = _compound(chunk) if len(chunk) <= _MAX_COMPOUND else None
                passes = chunks[chunk] = bool(glued) and any(map(probe, map(term_key, glued)))  # type: ignore[arg-type]
                if index._kernel is not None:
                    index._kernel[1].add(chunk.encode(), passes)
            if passes:
                drop.add(bisect_right(ends, start))
    for k, i in enumerate(lane):  # as written, the glued reading of these differs from their ASCII stand-in's
        if i in typographic:
            glued = glued_of[i] = glued_words(texts[i])  # type: ignore[arg-type]  # a str
            if glued and any(map(index._probe, map(term_key, glued))):
                drop.add(k)
    return drop


def _splits_clean(index: TermIndex, words: list[str], run: bytes, tokens: list[str]) -> bool:
    """No glued pair or triple of a string without ``K`` words passes the first stage: what
    ``TermIndex._match_splits`` tries for it (then ``_found`` finds nothing), from the pair answers it caches.
    Each pair's answer also goes to the compiled pass, keyed by its raw tokens: 0 when the pair glues into
    nothing that passes and into no piece a third word could extend."""
    last, answer, cached, ordinary = len(words) - 1, index._glue_answer, index._glued.get, index._ordinary
    pairs = None if index._kernel is None else index._kernel[2]
    for i in range(last):
        code = run[i]
        if code != PIECE and code != PIECE_ORDINARY:
            continue
        word, nxt = words[i], words[i + 1]
        if len(nxt) < MIN_PIECE or (code == PIECE_ORDINARY and nxt in ordinary):
            continue
        glued = glue(word, nxt)
        key, more = cached(glued) or answer(glued)
        if pairs is not None:
            pair = f"{tokens[i]} {tokens[i + 1]}".encode()
            if not pairs.add(pair, key != _FAIL or more):  # full: start over, as the dicts do
                pairs.clear()
                pairs.add(pair, key != _FAIL or more)
        if key != _FAIL:
            return False
        if more and i + 2 <= last and len(words[i + 2]) >= MIN_PIECE and answer(glue(glued, words[i + 2]))[0] != _FAIL:
            return False
    return True


def _finished(tokens: list[str]) -> list[str]:
    """Steps 4 and 5 of ``normalize`` per token, through (and into) its bounded token cache."""
    out = list(map(_FINISHED.get, tokens))
    return _finish_all(tokens, out) if None in out else out  # type: ignore[arg-type]  # no None left


def _fill(index: TermIndex, tokens: list[str], codes: list[int | None]) -> list[int]:
    """Classes of the tokens not seen yet (cached per raw token, bounded like the index's other caches)."""
    classes = index._classes
    if len(classes) > _CLASSES_MAX:
        classes.clear()
        if index._kernel is not None:
            index._kernel[0].clear()
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
        elif first == _STEM_FIRST:
            code = STEM
        elif first == _PIECE_FIRST:
            code = PIECE
        elif first == _PIECE_ORDINARY_FIRST:
            code = PIECE_ORDINARY
        else:
            size = len(word)
            code = ((ONE if word.isalpha() else DIGIT) if size == 1 else SHORT if size < MIN_PIECE
                    else ORDINARY if word in ordinary else OTHER)
        found[token] = code
    classes.update(found)
    if index._kernel is not None:  # the compiled pass reads the same answers (never the page separator)
        add = index._kernel[0].add
        for token, code in found.items():
            if token != "\x00":
                # A key word's class carries whether it is an ordinary word (split pieces need it).
                add(token.encode(), code | 0x80 if code == KEY and _finished([token])[0] in ordinary else code)
    return [found[token] if code is None else code for token, code in zip(tokens, codes, strict=True)]
