"""Term lines of the commonest shape read in bulk: ASCII letters and spaces only (``zqxblocked``, ``Forbidden
Phrase alpha``), normalised and hashed a run of lines at a time instead of line by line.

For such a line ``normalize.words`` reduces to: lower-case, ``l`` -> ``i``, runs of one letter collapsed,
split on spaces (no digits or symbols for leet, no separators for chains, no digraphs), unless three
one-letter words stand in a row (spelled-out letters are joined): those lines, lines over ``MAX_CHARS`` and
lines of more than ``MAX_WORDS`` words go the line-by-line way (``parse_term_words``), as does every other
shape. A plain ASCII phrase's other forms (``term_forms.entry_forms``) reduce to the phrase and, for a
phrase, its words glued (a letter doubled across a seam collapses: the same as collapsing the concatenation,
since each word is collapsed already). ``tests/test_term_batch.py`` checks both against the line-by-line
functions on generated lines, and the index built in bulk against the one built entry by entry.

Measured at 1M terms: see ``term_lines``' docstring.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat

import numpy as np
from xxhash import xxh64_intdigest

from filter_proxy.matchers.term_build import PREFIX_MARK, PREFIX_MIN_LETTERS, SUFFIX_MARK
from filter_proxy.matchers.term_entries import MAX_CHARS, MAX_WORDS
from filter_proxy.matchers.term_forms import MIN_JOINED, MIN_PIECE, STEM_MIN, ordinary_words
from filter_proxy.matchers.term_hash import padded, prefix_hashes, suffix_hashes, xxh64_rows

__all__ = ["simple_lines", "normalise", "ordinary", "BatchKeys", "batch_keys", "single_pieces", "single_cuts"]

PIECE_MARK = b"\x01"  # the mark of ``term_forms.piece_key`` (tests/test_term_batch.py checks they agree)
_SIMPLE = re.compile(r"[A-Za-z]+(?: +[A-Za-z]+)*")
_FOLD = bytes(ord(chr(c).lower().replace("l", "i")) if chr(c).isalpha() and c < 128 else c for c in range(256))
_REPEAT = re.compile(rb"([a-z])\1+")
_SPACES = re.compile(rb" {2,}")
_SPELLED = re.compile(rb"(?<![^ \n])[a-z] [a-z] [a-z](?![^ \n])")  # normalize._SPELLED_RUN, line by line


def simple_lines(texts: Sequence[str]) -> list[bool]:
    """Which lines (comment and edge spaces stripped) have the bulk shape (not yet: spelled runs, word count)."""
    match = _SIMPLE.fullmatch
    return [bool(t) and len(t) <= MAX_CHARS and match(t) is not None for t in texts]


def normalise(texts: Sequence[str]) -> tuple[list[bytes], list[int]]:
    """(normalised phrases as bytes, indexes of lines that must go line by line after all) for lines that
    ``simple_lines`` accepted: ``" ".join(words(t)).encode()`` for the rest."""
    data = "\n".join(texts).encode("ascii").translate(_FOLD)
    data = _REPEAT.sub(rb"\1", data)
    if b"  " in data:
        data = _SPACES.sub(b" ", data)
    phrases = data.split(b"\n")
    odd: set[int] = set()
    if _SPELLED.search(data):
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)
        odd.update(np.searchsorted(ends, [m.start() for m in _SPELLED.finditer(data)]).tolist())
    spaces = np.fromiter(map(bytes.count, phrases, repeat(b" ")), np.int64, len(phrases))
    odd.update(np.flatnonzero(spaces >= MAX_WORDS).tolist())
    return phrases, sorted(odd)


def ordinary(phrases: Sequence[bytes]) -> list[bool]:
    """Which normalised phrases are ordinary words (``term_forms.ordinary_words``; decoded one by one: a
    bytes copy of the word set would cost ~4 MB for the whole run)."""
    words = ordinary_words()
    return [p.decode() in words for p in phrases]


class BatchKeys:
    """The keys of a run of bulk-shaped plain entries (``rules[i]`` is phrase i's rule number) that the
    first stage needs, and the run's single words, kept as one bytes string: their pieces and wildcard
    cuts (~7 keys a word, 70 MB at 1M terms) are hashed only when the index is built (``single_keys``)."""

    plain_keys: np.ndarray  # phrases and glued phrases
    plain_rule: np.ndarray
    starts: np.ndarray  # word prefixes of phrases (first stage)
    last_keys: np.ndarray  # phrases' last words of >= STEM_MIN letters (piece bitmap: plural endings)
    singles: bytes  # one-word entries, then glued phrases, "\n"-separated
    single_rule: np.ndarray  # the rule of each single word
    entry_words: int  # how many of the singles are one-word entries (they also get wildcard cuts)
    max_words: int


def batch_keys(phrases: list[bytes], phrase_keys: np.ndarray, rules: np.ndarray) -> BatchKeys:
    """What ``TermBuilder.add`` indexes for each of ``phrases`` (normalised, plain, ASCII letters), at once."""
    out = BatchKeys()
    n = len(phrases)
    spaces = np.fromiter(map(bytes.count, phrases, repeat(b" ")), np.int64, n)
    out.max_words = int(spaces.max(initial=0)) + 1
    single = np.flatnonzero(spaces == 0)
    multi = np.flatnonzero(spaces > 0)
    words = [phrases[i] for i in single.tolist()]
    # Glued phrases: the words without spaces, collapsed again across the seams.
    glued: list[bytes] = []
    glued_rows = np.zeros(0, np.int64)
    if multi.size:
        multi_phrases = [phrases[i] for i in multi.tolist()]
        joined = _REPEAT.sub(rb"\1", b"\n".join(multi_phrases).replace(b" ", b"")).split(b"\n")
        keep = [len(j) >= MIN_JOINED and not o for j, o in zip(joined, ordinary(joined), strict=True)]
        glued = [j for j, k in zip(joined, keep, strict=True) if k]
        glued_rows = multi[np.fromiter(keep, bool, len(keep))]
        out.starts = _word_prefixes(multi_phrases)
        lasts = [p[p.rindex(b" ") + 1:] for p in multi_phrases]
        out.last_keys = np.fromiter((xxh64_intdigest(b"\x03" + w) for w in lasts if len(w) >= STEM_MIN), np.uint64)
    else:
        out.starts = np.zeros(0, np.uint64)
        out.last_keys = np.zeros(0, np.uint64)
    glued_keys = np.fromiter(map(xxh64_intdigest, glued), np.uint64, len(glued))
    out.plain_keys = np.concatenate([phrase_keys, glued_keys])
    out.plain_rule = np.concatenate([rules, rules[glued_rows]]).astype(np.uint32)
    out.singles = b"\n".join(words + glued)
    out.single_rule = np.concatenate([rules[single], rules[glued_rows]]).astype(np.uint32)
    out.entry_words = len(words)
    return out


def single_pieces(singles: bytes) -> np.ndarray:
    """The piece keys of a run's single words (``BatchKeys.singles``): ``b"\x01" + word[:n]`` for
    2 <= n < len (``term_forms.piece_keys``)."""
    words = singles.split(b"\n") if singles else []
    data, lens = padded(words, mark=PIECE_MARK)
    blocks = prefix_hashes(data, lens, MIN_PIECE + 1, cut=1)
    return np.concatenate([keys for _, keys, _ in blocks]) if blocks else np.zeros(0, np.uint64)


def single_cuts(singles: bytes, single_rule: np.ndarray, entry_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys, rules) of the wildcard cuts of a run's one-word entries (``term_build.prefix_keys``): marked
    prefixes and ends keeping >= ``PREFIX_MIN_LETTERS`` letters, never the whole word."""
    words = singles.split(b"\n")[:entry_words] if singles and entry_words else []
    data, lens = padded(words, mark=PREFIX_MARK)
    blocks = prefix_hashes(data, lens, PREFIX_MIN_LETTERS + 1, cut=1)
    del data
    prefix_keys = np.concatenate([k for _, k, _ in blocks]) if blocks else np.zeros(0, np.uint64)
    prefix_rule = single_rule[np.concatenate([r for _, _, r in blocks])] if blocks else np.zeros(0, np.uint32)
    del blocks
    wdata, wlens = padded(words)
    suffix_keys, suffix_rows = suffix_hashes(wdata, wlens, SUFFIX_MARK[0], PREFIX_MIN_LETTERS, cut=1)
    return (np.concatenate([prefix_keys, suffix_keys]),
            np.concatenate([prefix_rule, single_rule[suffix_rows]]).astype(np.uint32))

def _word_prefixes(phrases: list[bytes]) -> np.ndarray:
    """xxh64 of every word prefix of each phrase (``"a b c"`` -> ``"a"``, ``"a b"``)."""
    data, lens = padded(phrases)
    space = data == 32
    rows, cols = np.nonzero(space)
    if not rows.size:
        return np.zeros(0, np.uint64)
    keys = []
    order = np.argsort(cols, kind="stable")
    rows, cols = rows[order], cols[order]
    bounds = np.flatnonzero(np.diff(cols)) + 1
    for group_rows, group_cols in zip(np.split(rows, bounds), np.split(cols, bounds), strict=True):
        keys.append(xxh64_rows(data[group_rows], int(group_cols[0])))
    return np.concatenate(keys)
