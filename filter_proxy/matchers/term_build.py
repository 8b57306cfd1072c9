"""Building a term index in one streaming pass: every key of an entry is hashed as the entry is read and
appended to compact columns (``array``: 8 bytes a key, 4 a rule number), never kept as Python objects;
the columns are sorted and deduplicated with numpy at the end.

Measured at 1M synthetic terms (benchmarks/scale.py generator): format 2's build held per-entry objects,
tuples and sets of Python ints (`rules compile` 1285 MB peak, 44 s CPU); see docs/ARCHITECTURE.md for
the figures of this build.

Runs of plain ASCII lines come in bulk (``add_rows``, from ``term_batch``): their rows go to 16 buckets by
the key's top bits and their single words stay as bytes until ``finish`` hashes the pieces (into the piece
bitmap) and then the wildcard cuts, and sorts the table one bucket at a time into preallocated columns: the
unsorted rows, their sort order and the sorted copy are never held at once, nor pieces and cuts (1M terms:
peak 232 -> 184 MB with the bulk reading).

``TermBuilder.add`` takes an entry already validated (``term_entries.parse_term_words``: its normalised
words come along, so an entry is normalised once from file to index). Rules are numbered in the order
added; ``drop(rule)`` forgets an entry added before it was known to be a duplicate (the directory reader
finds duplicates per file with numpy, after the file is read).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

import numpy as np
from xxhash import xxh64_intdigest

from filter_proxy.matchers.term_entries import split_rule_id, term_key
from filter_proxy.matchers.term_forms import PIECE_ERROR, STEM_MIN, entry_forms, last_key, piece_keys
from filter_proxy.matchers.term_table import Rules, Table, bitmap_of, unique_keys, unique_pairs
from filter_proxy.normalize import normalize, skeleton_words

__all__ = ["TermBuilder", "PREFIX_MIN_LETTERS", "PREFIX_MARK", "SUFFIX_MARK", "prefix_keys"]

PREFIX_MIN_LETTERS = 5
PREFIX_MARK = b"\x01"  # normalised text never holds a control character, so marked keys are apart
SUFFIX_MARK = b"\x02"  # the same for the ends of one-word entries (a leading wildcard: ``*locked``)
_CHUNK = 1 << 19  # keys buffered before a chunk is deduplicated (4 MB of uint64)


def prefix_keys(word: str) -> list[int]:
    """Marked keys of a one-word entry cut short at either end (a trailing or a leading wildcard), keeping
    >= PREFIX_MIN_LETTERS letters (never whole)."""
    cuts = range(PREFIX_MIN_LETTERS, len(word))
    if word.isascii():
        raw = word.encode()
        return ([xxh64_intdigest(PREFIX_MARK + raw[:n]) for n in cuts]
                + [xxh64_intdigest(SUFFIX_MARK + raw[-n:]) for n in cuts])
    return [term_key("\x01" + word[:n]) for n in cuts] + [term_key("\x02" + word[-n:]) for n in cuts]


class _Keys:
    """A growing multiset of uint64 keys kept as sorted unique chunks (shared prefixes repeat a lot)."""

    def __init__(self) -> None:
        self._buffer = array("Q")
        self._chunks: list[np.ndarray] = []

    def extend(self, keys: list[int]) -> None:
        self._buffer.extend(keys)
        if len(self._buffer) >= _CHUNK:
            self._flush()

    def add_array(self, keys: np.ndarray) -> None:
        self._flush()
        if keys.size:
            self._chunks.append(unique_keys(keys))

    def _flush(self) -> None:
        if self._buffer:
            self._chunks.append(unique_keys(np.frombuffer(self._buffer, dtype=np.uint64)))
            self._buffer = array("Q")

    def unique(self, *more: np.ndarray, release: bool = False) -> np.ndarray:
        """Every key once, sorted (``release``: the chunks are dropped as they are joined)."""
        joined = self.joined(*more, release=release)
        keep = np.empty(joined.size, dtype=bool)
        keep[:1] = True
        np.not_equal(joined[1:], joined[:-1], out=keep[1:])
        return joined[keep]

    def joined(self, *more: np.ndarray, release: bool = False) -> np.ndarray:
        """Every key, sorted, repeats kept; with ``release`` each chunk is freed once copied (the joined
        array and one chunk at a time, never all chunks and their join at once)."""
        self._flush()
        parts = [*self._chunks, *more]
        if release:
            self._chunks = []
        out = np.empty(sum(p.size for p in parts), dtype=np.uint64)
        at = 0
        while parts:
            part = parts.pop(0)
            out[at:at + part.size] = part
            at += part.size
            del part
        out.sort()
        return out


_BUCKET_BITS = 4  # rows added in bulk are kept in 16 buckets by their key's top bits


class _Buckets:
    """(key, rule) rows kept apart by the top bits of the key: ``finish`` sorts one bucket at a time into
    the final table (a bucket's columns are freed as it is copied), so a 1M-term build never holds the
    unsorted rows, their sort order and the sorted copy at once (the peak of a 1M-term compile)."""

    def __init__(self) -> None:
        self.keys = [array("Q") for _ in range(1 << _BUCKET_BITS)]
        self.rule = [array("I") for _ in range(1 << _BUCKET_BITS)]

    def add(self, keys: np.ndarray, rule: np.ndarray) -> None:
        if not keys.size:
            return
        top = (keys >> np.uint64(64 - _BUCKET_BITS)).astype(np.intp)
        order = np.argsort(top, kind="stable")
        ends = np.cumsum(np.bincount(top, minlength=1 << _BUCKET_BITS))
        k, r = keys[order], rule.astype(np.uint32)[order]
        start = 0
        for b, end in enumerate(ends.tolist()):
            if end > start:
                self.keys[b].frombytes(k[start:end].tobytes())
                self.rule[b].frombytes(r[start:end].tobytes())
            start = end

    def __len__(self) -> int:
        return sum(map(len, self.keys))

    def take(self, b: int) -> tuple[np.ndarray, np.ndarray]:
        """Bucket ``b``'s rows (copies), its columns freed."""
        k = np.frombuffer(self.keys[b], np.uint64).copy() if len(self.keys[b]) else np.zeros(0, np.uint64)
        r = np.frombuffer(self.rule[b], np.uint32).copy() if len(self.rule[b]) else np.zeros(0, np.uint32)
        self.keys[b], self.rule[b] = array("Q"), array("I")
        return k, r

    def view_keys(self) -> list[np.ndarray]:
        return [np.frombuffer(k, np.uint64) for k in self.keys if len(k)]


def distinct(sorted_keys: np.ndarray) -> int:
    """How many distinct keys a sorted array holds."""
    return int(sorted_keys.size and 1 + np.count_nonzero(sorted_keys[1:] != sorted_keys[:-1]))


class TermBuilder:
    """Accumulates entries; ``finish(allow)`` returns what ``TermIndex(...)`` takes."""

    def __init__(self, error_rate: float = 0.001) -> None:
        self.error_rate = error_rate
        self.categories: dict[str, int] = {}
        self.files: dict[str, int] = {}
        self._cat, self._file, self._line = array("H"), array("I"), array("I")  # per rule
        self._kind = array("B")  # per rule: 0 plain, 1 hashed, 2 substring
        self._plain_keys, self._plain_rule = array("Q"), array("I")
        self._cut_keys, self._cut_rule = array("Q"), array("I")  # marked wildcard cuts (exact table only)
        self._hashed_keys, self._hashed_rule = array("Q"), array("I")
        self._bulk_plain, self._bulk_cut = _Buckets(), _Buckets()  # the same, added a run at a time
        self._singles: list[tuple[bytes, np.ndarray, int]] = []  # bulk runs' single words (``add_rows``)
        self._starts = _Keys()  # word prefixes of phrases (first-stage bitmap only)
        self._pieces = _Keys()  # proper prefixes of single words (piece bitmap)
        self._substrings: list[tuple[str, int]] = []  # (form, rule)
        self._dropped: set[int] = set()
        self.max_words = 1

    def __len__(self) -> int:
        return len(self._line)

    def category(self, name: str) -> int:
        return self.categories.setdefault(name, len(self.categories))

    def file(self, path: str) -> int:
        return self.files.setdefault(path, len(self.files))

    def add_entry(self, text: str, substring: bool, category: str, rule_id: str, found: Sequence[str]) -> int:
        """``add`` by category name and ``path:line`` rule id (``TermIndex.build``'s entries)."""
        path, line = split_rule_id(rule_id)
        return self.add(text, substring, self.category(category), self.file(path), line, found)

    def add(self, text: str, substring: bool, cat: int, file: int, line: int, found: Sequence[str]) -> int:
        """Index one validated entry (``found``: its normalised words); returns its rule number."""
        rule = len(self._line)
        self._cat.append(cat)
        self._file.append(file)
        self._line.append(line)
        if substring or text.startswith("sha256:"):
            self._add_other(text, substring, rule, found)
            return rule
        self._kind.append(0)
        phrases, singles = entry_forms(text, found if isinstance(found, list) else list(found))
        keys, rules = self._plain_keys, self._plain_rule
        if len(found) == 1:  # wildcard cuts of one-word entries, as ``words`` reads them, only
            self._add_cuts(phrases[0], rule)
        for phrase in phrases:
            keys.append(xxh64_intdigest(phrase.encode()))
            rules.append(rule)
            if " " in phrase:  # its word prefixes go to the first stage: "zqx" of "zqx blocked"
                words = phrase.split(" ")
                if len(words) > self.max_words:
                    self.max_words = len(words)
                self._starts.extend([xxh64_intdigest(" ".join(words[:n]).encode()) for n in range(1, len(words))])
                if len(words[-1]) >= STEM_MIN:  # its last word with a plural ending: "xqbsjis"
                    self._pieces.extend([last_key(words[-1])])
        for single in singles:  # first pieces of a split word: "zqx" of "zqx blocked"
            self._pieces.extend(piece_keys(single))
        return rule

    def add_rows(self, cat: int, file: int, lines: np.ndarray, keys: Any) -> None:
        """Index a run of plain entries hashed in bulk (``term_batch.batch_keys``, whose rule numbers must be
        ``len(self)``, ``len(self) + 1``, ... in the order of ``lines``)."""
        n = int(lines.size)
        self._cat.frombytes(np.full(n, cat, np.uint16).tobytes())
        self._file.frombytes(np.full(n, file, np.uint32).tobytes())
        self._line.frombytes(lines.astype(np.uint32).tobytes())
        self._kind.frombytes(bytes(n))
        self.max_words = max(self.max_words, keys.max_words)
        self._bulk_plain.add(keys.plain_keys, keys.plain_rule)
        self._starts.add_array(keys.starts)
        self._pieces.add_array(keys.last_keys)
        if keys.singles:
            self._singles.append((keys.singles, keys.single_rule, keys.entry_words))

    def _hash_pieces(self) -> None:
        """The pieces of the single words of bulk runs (``term_batch.single_pieces``)."""
        from filter_proxy.matchers.term_batch import single_pieces  # term_batch imports this module

        for singles, _, _ in self._singles:
            self._pieces.add_array(single_pieces(singles))

    def _hash_cuts(self, release: bool) -> None:
        """The wildcard cuts of bulk runs' one-word entries (``term_batch.single_cuts``), after the piece
        bitmap is built (the pieces and the cuts are never held at once)."""
        from filter_proxy.matchers.term_batch import single_cuts

        runs = self._singles
        if release:
            self._singles = []
        while runs:
            singles, rule, entry_words = runs.pop(0)
            self._bulk_cut.add(*single_cuts(singles, rule, entry_words))
            del singles, rule

    def _add_other(self, text: str, substring: bool, rule: int, found: Sequence[str]) -> None:
        if not substring:  # sha256:<hex>
            self._kind.append(1)
            self._hashed_keys.append(int(text[7:23], 16))
            self._hashed_rule.append(rule)
            return
        self._kind.append(2)
        normal = found[0]
        for form in dict.fromkeys((normal, " ".join(skeleton_words(text)))):
            self._substrings.append((form, rule))
        self._add_cuts(normal, rule)

    def _add_cuts(self, word: str, rule: int) -> None:
        cuts = prefix_keys(word)
        self._cut_keys.extend(cuts)
        self._cut_rule.extend([rule] * len(cuts))

    def rule_lines(self, first: int) -> memoryview:
        """The lines of rules ``first``, ``first + 1``, ... (indexable like a list)."""
        return memoryview(self._line)[first:]

    def drop(self, rule: int) -> None:
        """Leave out an entry added earlier (a duplicate found after its file was read)."""
        self._dropped.add(rule)

    def _table(self, plain_k: np.ndarray, plain_r: np.ndarray, cut_k: np.ndarray, cut_r: np.ndarray,
               live: np.ndarray, rules: Rules) -> tuple[Table, int]:
        """The plain table (rows sorted by key, then rule; repeated rows once) of the rows added one entry
        at a time (``plain_*``, ``cut_*``, live rows only) and the bulk buckets, a bucket at a time into
        preallocated columns; and how many cut rows it was given."""
        total = plain_k.size + cut_k.size + len(self._bulk_plain) + len(self._bulk_cut)
        out_k, out_r = np.empty(total, np.uint64), np.empty(total, np.uint32)
        shift = np.uint64(64 - _BUCKET_BITS)
        single = (plain_k >> shift).astype(np.uint8), (cut_k >> shift).astype(np.uint8)
        n_cuts = int(cut_k.size)
        at = 0
        for b in range(1 << _BUCKET_BITS):
            parts_k, parts_r = [], []
            for bucket, is_cut in ((self._bulk_plain, False), (self._bulk_cut, True)):
                k, r = bucket.take(b)
                if not live.all():
                    alive = live[r]
                    k, r = k[alive], r[alive]
                if is_cut:
                    n_cuts += int(k.size)
                parts_k.append(k)
                parts_r.append(r)
            for keys, rule, top in ((plain_k, plain_r, single[0]), (cut_k, cut_r, single[1])):
                sel = np.flatnonzero(top == b)
                parts_k.append(keys[sel])
                parts_r.append(rule[sel])
            k, r = np.concatenate(parts_k), np.concatenate(parts_r)
            del parts_k, parts_r
            order = np.lexsort((r, k))
            k, r = k[order], r[order]
            k, r = unique_pairs(k, r)
            out_k[at:at + k.size] = k
            out_r[at:at + k.size] = r
            at += k.size
        return Table(out_k[:at], out_r[:at], rules), n_cuts

    def finish(self, allow: Sequence[str] = (), release: bool = False
               ) -> tuple[dict[str, Any], Table, Table, np.ndarray, np.ndarray]:
        """(meta, plain table, hashed table, first-stage bitmap, piece bitmap). ``release``: the builder's
        columns are freed as they are used (a directory's one build: the peak of a 1M-term compile)."""
        rules = Rules.of_columns(self._cat, self._file, self._line)
        kind = np.frombuffer(self._kind, dtype=np.uint8).copy() if len(self._kind) else np.zeros(0, np.uint8)
        if release:
            self._cat, self._file, self._line, self._kind = array("H"), array("I"), array("I"), array("B")
        live = np.ones(kind.size, dtype=bool)
        if self._dropped:
            live[np.fromiter(self._dropped, np.int64)] = False

        def rows(keys: array, rule: array) -> tuple[np.ndarray, np.ndarray]:
            k = np.frombuffer(keys, dtype=np.uint64) if len(keys) else np.zeros(0, np.uint64)
            r = np.frombuffer(rule, dtype=np.uint32) if len(rule) else np.zeros(0, np.uint32)
            if live.all():
                return k, r  # views: the callers copy (concatenate) before the columns are freed
            alive = live[r]
            return k[alive], r[alive]

        self._hash_pieces()
        pieces = self._pieces.joined(release=release)  # repeats set the same bits: only counted
        piece_bitmap = bitmap_of(pieces, PIECE_ERROR, count=distinct(pieces))
        del pieces
        plain_k, plain_r = rows(self._plain_keys, self._plain_rule)
        # The first stage holds phrase keys and their word prefixes; marked cuts stay out (match_prefix looks
        # them up directly in the exact table, which holds both).
        bulk = self._bulk_plain.view_keys()
        if not live.all():
            bulk = [np.frombuffer(k, np.uint64)[live[np.frombuffer(r, np.uint32)]]
                    for k, r in zip(self._bulk_plain.keys, self._bulk_plain.rule, strict=True) if len(k)]
        starts = self._starts.joined(plain_k, *bulk, release=release)
        del bulk
        bitmap = bitmap_of(starts, self.error_rate, count=distinct(starts))
        del starts
        cut_k, cut_r = rows(self._cut_keys, self._cut_rule)
        self._hash_cuts(release)
        plain, n_cuts = self._table(plain_k, plain_r, cut_k, cut_r, live, rules)
        del plain_k, plain_r, cut_k, cut_r
        if release:
            self._plain_keys, self._plain_rule = array("Q"), array("I")
            self._cut_keys, self._cut_rule = array("Q"), array("I")
        hashed = Table.from_columns(*rows(self._hashed_keys, self._hashed_rule), rules)
        substring_rules = [r for r in dict.fromkeys(r for _, r in self._substrings) if live[r]]
        row_of = {r: i for i, r in enumerate(substring_rules)}
        allowed = {p for text in allow for p in (normalize(text), " ".join(skeleton_words(text))) if p}
        meta = {"categories": list(self.categories), "files": list(self.files), "max_words": self.max_words,
                "entries": int(np.count_nonzero(live & (kind == 0))),
                "substrings": [(form, row_of[r]) for form, r in self._substrings if live[r]],
                "substring_rows": [list(rules.triple(r)) for r in substring_rules],
                "allow": sorted(allowed), "error_rate": self.error_rate, "prefix_rows": n_cuts}
        return meta, plain, hashed, bitmap, piece_bitmap
