"""The term lines of a rules directory as they are read: validated, normalised once, hashed into index
rows (``matchers.term_build.TermBuilder``) and counted, never kept as ``Entry`` objects.

The directory reader (``rules/sources.py``) calls ``begin_file``, ``add_line`` for each term line and
``end_file``, which returns the duplicates of that file: lines whose entry is another line's (a plain phrase
and its hashed twin, ``sha256:`` of the normalised phrase, are one entry; ``~x`` and ``x`` are not). The
first line keeps the entry; the later ones are dropped from the index and reported (``duplicate of line
N; ignored``). Duplicates are found with numpy over a 96-bit key per line (SHA-256 of the normalised
phrase: 95 bits and the substring flag; in a file without any ``sha256:`` entry, two xxh64 keys of it,
which need no per-line SHA-256) once the file is read: a set of 1M keys as Python objects was ~150 MB.

``add_chunk`` (issue 14.3): runs of >= 64 lines of ASCII letters and spaces are normalised and hashed a run
at a time (``matchers.term_batch``); the other lines go back to the directory reader one by one, in line
order. At 1M terms: 23.5 s CPU -> ~7.3 s for `rules compile` (see benchmarks/README.md, issue 14.3).
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import struct
from array import array
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from xxhash import xxh64_intdigest

from filter_proxy.matchers.term_batch import batch_keys, normalise, ordinary, simple_lines
from filter_proxy.matchers.term_build import TermBuilder
from filter_proxy.matchers.term_entries import parse_term_words
from filter_proxy.matchers.term_forms import ordinary_words

__all__ = ["TermEntries"]

_KEY = struct.Struct(">QQ")
_MIN_RUN = 64  # shorter runs of bulk-shaped lines go line by line (a run costs a few dozen array operations)


def _trim_heap() -> None:
    """Hand the heap's free pages back before the index is built (glibc ``malloc_trim``): reading 1M lines
    leaves ~18 MB of freed small blocks that the build's large (mapped) arrays would not reuse."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        ctypes.CDLL(None).malloc_trim(0)


def _seed1(phrase: bytes) -> int:
    return xxh64_intdigest(phrase, 1)


def _ordinary_note(entry: str) -> str:
    # Look-alike letters merge and repeats collapse ("liline" reads as "line"): say so before the entry
    # blocks an ordinary word in everybody's text.
    return (f"{entry!r} reads as an ordinary English word once look-alike letters are merged and repeated "
            "letters collapsed; it will also match that word in ordinary text (list it inside a phrase to "
            "narrow it)")


class TermEntries:
    """The ``terms`` signal's entries of one rules directory (``TermSignal.new_entries``)."""

    def __init__(self) -> None:
        self.builder = TermBuilder()
        self._counts: dict[tuple[str, str], int] = {}  # (category, file) -> entries kept
        self._where: tuple[str, str, bool] = ("", "", False)
        self._load = False
        self._built: tuple[tuple[str, ...], tuple[Any, ...]] | None = None
        self._ids: tuple[int, int] = (0, 0)
        self._hi, self._lo, self._line = array("Q"), array("I"), array("I")
        self._first_rule = 0
        self._notes: list[tuple[int, str]] = []  # (line, warning) of the file being read
        self._hashed_file = True

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __iter__(self):  # noqa: ANN204 -- nothing reads these entries one by one; say so loudly
        raise TypeError("term entries read from a directory are index rows; use category_counts/file_counts")

    def begin_file(self, category: str, rel: str, load: bool, hashed: bool = True) -> None:
        """Lines that follow belong to ``rel`` (category ``category``); ``load`` False: validate and find
        duplicates only (an undeclared category). ``hashed`` False: the file holds no ``sha256:`` entry, so
        duplicates are found on two xxh64 keys of the normalised phrase (96 bits, as with SHA-256) instead
        of a SHA-256 per line."""
        self._where = (category, rel, load)
        self._hashed_file = hashed
        self._load = load
        if load:
            self._ids = (self.builder.category(category), self.builder.file(rel))
        # The valid lines of a loaded file become consecutive rules: the i-th is rule _first_rule + i.
        self._first_rule = len(self.builder)
        self._hi, self._lo, self._line = array("Q"), array("I"), array("I")

    def add_line(self, text: str, number: int) -> str | None:
        """Read one term line (comment and edge spaces stripped); the reason when it is not a valid entry."""
        entry, substring, reason, found = parse_term_words(text)
        if reason is not None:
            return reason
        if entry.startswith("sha256:"):
            digest = bytes.fromhex(entry[7:])
        elif self._hashed_file:
            digest = hashlib.sha256(" ".join(found).encode("utf-8")).digest()
        if len(found) == 1 and not substring and found[0] in ordinary_words():
            self._notes.append((number, _ordinary_note(entry)))
        if self._hashed_file or entry.startswith("sha256:"):
            hi, lo = _KEY.unpack_from(digest)
        else:  # the key a bulk run gives the same phrase (``_add_run``)
            phrase = " ".join(found).encode("utf-8")
            hi, lo = xxh64_intdigest(phrase), _seed1(phrase)
        self._hi.append(hi)
        self._lo.append(((lo >> 32) & ~1) | substring)  # 96 bits in all (95 + the substring flag)
        if not self._load:  # else the builder keeps the rule's line: no second column of line numbers
            self._line.append(number)
        if self._load:
            cat, file = self._ids
            self.builder.add(entry, substring, cat, file, number, found)
        return None

    def add_chunk(self, first: int, texts: Sequence[str], each: Callable[[int, str], None]) -> None:
        """Lines ``first``, ``first + 1``, ... (``texts``; "" for none): runs of bulk-shaped lines
        (``term_batch``) are indexed here a run at a time; every other line, in line order, goes to
        ``each(number, text)`` (the directory reader: the signal that claims it, else ``add_line``)."""
        simple = simple_lines(texts)
        picked = [i for i, ok in enumerate(simple) if ok]
        if len(picked) < _MIN_RUN:
            phrases: list[bytes] = []
        else:
            phrases, odd = normalise([texts[i] for i in picked])
            for k in odd:
                simple[picked[k]] = False
        phrase_of = dict(zip(picked, phrases, strict=False)) if phrases else {}
        at, n = 0, len(texts)
        while at < n:
            end = at
            while end < n and simple[end] and phrase_of:
                end += 1
            if end - at >= _MIN_RUN:
                self._add_run(first, list(range(at, end)), texts, phrase_of)
                at = end
                continue
            stop = max(end, at + 1)
            for i in range(at, stop):
                if texts[i]:
                    each(first + i, texts[i])
            at = stop

    def _add_run(self, first: int, rows: list[int], texts: Sequence[str], phrase_of: dict[int, bytes]) -> None:
        phrases = [phrase_of[i] for i in rows]
        lines = np.asarray(rows, np.int64) + first
        keys = np.fromiter(map(xxh64_intdigest, phrases), np.uint64, len(phrases))
        if self._hashed_file:  # a hashed entry is the duplicate of the phrase whose SHA-256 it lists
            for p in phrases:
                hi, lo = _KEY.unpack_from(hashlib.sha256(p).digest())
                self._hi.append(hi)
                self._lo.append((lo >> 32) & ~1)
        else:
            self._hi.frombytes(keys.tobytes())
            second = np.fromiter(map(_seed1, phrases), np.uint64, len(phrases))
            self._lo.frombytes(((second >> np.uint64(32)) & np.uint64(0xFFFFFFFE)).astype(np.uint32).tobytes())
        singles = [(i, p) for i, p in zip(rows, phrases, strict=True) if b" " not in p]
        for (i, _), known in zip(singles, ordinary([p for _, p in singles]), strict=True):
            if known:
                self._notes.append((first + i, _ordinary_note(texts[i])))
        if not self._load:
            self._line.frombytes(lines.astype(np.uint32).tobytes())
            return
        cat, file = self._ids
        start = len(self.builder)
        self.builder.add_rows(cat, file, lines, batch_keys(phrases, keys, np.arange(start, start + len(rows))))

    def take_notes(self) -> list[tuple[int, str]]:
        """(line, warning) of the lines read since the last call: entries that read as ordinary words."""
        notes, self._notes = self._notes, []
        return notes

    def end_file(self) -> list[tuple[int, int]]:
        """(line, first line) of every duplicate in the file just read, by line; those are not indexed."""
        category, rel, load = self._where
        n = len(self._hi)
        lines = self.builder.rule_lines(self._first_rule) if load else self._line
        found: list[tuple[int, int]] = []
        if n > 1:
            # Sorted by the first 64 bits only (a stable sort keeps line order within ties); the few ties,
            # nearly all true duplicates, are compared on the second 64 bits in Python. Sorting both
            # columns at once cost ~50 MB of transients at 1M lines, the peak of a 1M-term read.
            hi = np.frombuffer(self._hi, np.uint64)
            order = np.argsort(hi, kind="stable")
            ordered = hi[order]
            del hi
            ties = np.flatnonzero(ordered[1:] == ordered[:-1])
            del ordered
            runs: list[list[int]] = []  # line indexes sharing the first 64 bits, in line order
            prev = -2
            for t in ties.tolist():
                if t != prev + 1:
                    runs.append([int(order[t])])
                runs[-1].append(int(order[t + 1]))
                prev = t
            del order, ties
            for run in runs:
                firsts: dict[int, int] = {}
                for index in run:
                    first = firsts.setdefault(self._lo[index], index)
                    if first != index:
                        found.append((lines[index], lines[first]))
                        if load:
                            self.builder.drop(self._first_rule + index)
            found.sort()
        del lines  # a view of the builder's line column: released before the next file adds rules
        if load:
            self._counts[(category, rel)] = self._counts.get((category, rel), 0) + n - len(found)
        self._hi, self._lo, self._line = array("Q"), array("I"), array("I")
        return found

    def index_parts(self, allow: Sequence[str]) -> tuple[Any, ...]:
        """``TermBuilder.finish`` of what was read; built once (the builder's columns are freed as the
        index is built: they were the peak of a 1M-term compile), later calls get the same parts."""
        key = tuple(allow)
        if self._built is None or self._built[0] != key:
            if self._built is not None:
                raise ValueError("term entries read from a directory are indexed once, with one allow list")
            _trim_heap()
            self._built = (key, self.builder.finish(allow, release=True))
        return self._built[1]

    def category_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (category, _), count in self._counts.items():
            out[category] = out.get(category, 0) + count
        return out

    def file_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, rel), count in self._counts.items():
            out[rel] = out.get(rel, 0) + count
        return out
