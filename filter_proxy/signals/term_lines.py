"""The term lines of a rules directory as they are read: validated, normalised once, hashed into index
rows (``matchers.term_build.TermBuilder``) and counted, never kept as ``Entry`` objects.

The directory reader (``rules/sources.py``) calls ``begin_file``, ``add_line`` for each term line and
``end_file``, which returns the duplicates of that file: lines whose entry is another line's (a plain phrase
and its hashed twin, ``sha256:`` of the normalised phrase, are one entry; ``~x`` and ``x`` are not). The
first line keeps the entry; the later ones are dropped from the index and reported (``duplicate of line
N; ignored``). Duplicates are found with numpy over a 96-bit key per line (SHA-256 of the normalised
phrase: 95 bits and the substring flag) once the file is read: a set of 1M keys as Python objects was
~150 MB.
"""

from __future__ import annotations

import hashlib
import struct
from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np

from filter_proxy.matchers.term_build import TermBuilder
from filter_proxy.matchers.term_entries import parse_term_words
from filter_proxy.matchers.term_forms import ordinary_words

__all__ = ["TermEntries"]

_KEY = struct.Struct(">QQ")


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

    def __len__(self) -> int:
        return sum(self._counts.values())

    def __iter__(self):  # noqa: ANN204 -- nothing reads these entries one by one; say so loudly
        raise TypeError("term entries read from a directory are index rows; use category_counts/file_counts")

    def begin_file(self, category: str, rel: str, load: bool) -> None:
        """Lines that follow belong to ``rel`` (category ``category``); ``load`` False: validate and find
        duplicates only (an undeclared category)."""
        self._where = (category, rel, load)
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
        else:
            digest = hashlib.sha256(" ".join(found).encode("utf-8")).digest()
        if len(found) == 1 and not substring and found[0] in ordinary_words():
            # Look-alike letters merge and repeats collapse ("liline" reads as "line"): say so before the
            # entry blocks an ordinary word in everybody's text.
            self._notes.append((number, f"{entry!r} reads as an ordinary English word once look-alike letters "
                                        "are merged and repeated letters collapsed; it will also match that "
                                        "word in ordinary text (list it inside a phrase to narrow it)"))
        hi, lo = _KEY.unpack_from(digest)
        self._hi.append(hi)
        self._lo.append(((lo >> 32) & ~1) | substring)  # 96 bits in all (95 + the substring flag)
        if not self._load:  # else the builder keeps the rule's line: no second column of line numbers
            self._line.append(number)
        if self._load:
            cat, file = self._ids
            self.builder.add(entry, substring, cat, file, number, found)
        return None

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
            ties = np.flatnonzero(hi[order[1:]] == hi[order[:-1]])
            del hi
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
