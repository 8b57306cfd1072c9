"""The terms signal: phrases, substring entries and hashed phrases, matched on normalised words.

Parsing, normalisation and the index itself live in ``filter_proxy.matchers.terms`` and
``filter_proxy.normalize`` (the text matcher); this class is their signal-type face.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence

from filter_proxy.matchers.terms import TermEntry, TermIndex, parse_term_line
from filter_proxy.normalize import normalize
from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.term_lines import TermEntries

__all__ = ["TermSignal", "TermEntries"]


class TermSignal(SignalType):
    name = "terms"
    index_group = "terms"
    source = "terms"
    verdict_signal = "term"
    exact = True

    @classmethod
    def parse_line(cls, text: str) -> tuple[str, Hashable]:
        """``value`` is the entry as ``TermIndex`` takes it: ``~`` marks a substring entry. Duplicates:
        a plain phrase and its hashed twin (``sha256:`` of the normalised phrase) share one key."""
        term, substring, reason = parse_term_line(text)
        if reason is not None:
            raise SignalError(reason)
        if term.startswith("sha256:"):
            digest = bytes.fromhex(term[len("sha256:"):])
        else:
            digest = hashlib.sha256(normalize(term).encode("utf-8")).digest()
        # One 33-byte key (not a tuple holding a 64-character hex string): ~100 MB less while 1M are read.
        return ("~" if substring else "") + term, digest + (b"s" if substring else b"w")

    @classmethod
    def new_entries(cls) -> TermEntries:
        """What a rules directory's term lines are read into (``TermEntries.add_line``): index rows, not
        ``Entry`` objects (1M entries: ~200 MB of objects otherwise)."""
        return TermEntries()

    @classmethod
    def canonical(cls, text: str) -> str:
        """The form entries and screened text are compared in (``normalize``)."""
        return normalize(text)

    @staticmethod
    def _term_entry(entry: Entry) -> TermEntry:
        substring = entry.value.startswith("~")
        return TermEntry(entry.value[1:] if substring else entry.value, entry.category, entry.rule_id, substring)

    @classmethod
    def build(cls, entries: Sequence[Entry] | TermEntries, allow: Sequence[str] = ()) -> TermIndex:
        if isinstance(entries, TermEntries):  # read from a directory: the keys are hashed already
            return TermIndex(*entries.index_parts(allow))
        # A generator, not a second list of entries: TermIndex.build reads them once.
        return TermIndex.build((cls._term_entry(e) for e in entries), allow=allow)

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> TermIndex:
        return TermIndex.from_bytes(data)
