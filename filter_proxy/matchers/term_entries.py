"""Term entry syntax: ``TermEntry``, ``TermMatch``, line validation and phrase keys (see ``terms``)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from xxhash import xxh64_intdigest

from filter_proxy.normalize import words

__all__ = ["TermEntry", "TermMatch", "parse_term_line", "parse_term_words", "validate_term", "term_key", "sha_key", "split_rule_id",
           "HASHED_MAX_WORDS", "MAX_WORDS", "MAX_CHARS", "MIN_SUBSTRING"]

MAX_WORDS = 12
MAX_CHARS = 200
MIN_SUBSTRING = 5
HASHED_MAX_WORDS = 4
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class TermEntry:
    text: str  # as written: a phrase, or "sha256:<64 hex>" of the normalised phrase
    category: str
    rule_id: str  # "rules/terms/x.txt:12"
    substring: bool = False


@dataclass(frozen=True, slots=True)
class TermMatch:
    category: str
    rule_id: str


def term_key(phrase: str) -> int:
    """The 64-bit key of an already-normalised phrase."""
    return xxh64_intdigest(phrase.encode())


def sha_key(phrase: str) -> int:
    return int.from_bytes(hashlib.sha256(phrase.encode()).digest()[:8], "big")


def parse_term_line(line: str) -> tuple[str, bool, str | None]:
    """Validate one entry line: ``(text, substring, reason)``; ``reason`` is None when the line is valid.

    ``text`` is the entry without the ``~`` marker, ready for ``TermEntry(text, ..., substring=...)``.
    """
    text, substring, reason, _ = parse_term_words(line)
    return text, substring, reason


def parse_term_words(line: str) -> tuple[str, bool, str | None, list[str]]:
    """``parse_term_line`` and the normalised words it validated (``[]`` for a hashed entry or an error):
    the index build reuses them instead of normalising the entry again."""
    text = line.strip()
    substring = text.startswith("~")
    if substring:
        text = text[1:].strip()
    if text[:7].lower() == "sha256:":
        if substring:
            return text, True, "hashed entries cannot be substring entries; list the plain term or drop '~'", []
        digest = text[7:].strip()
        if not _HEX64.fullmatch(digest):
            return text, False, "sha256: must be followed by exactly 64 hex digits", []
        return "sha256:" + digest.lower(), False, None, []
    if len(text) > MAX_CHARS:
        return text, substring, f"entry is longer than {MAX_CHARS} characters", []
    found = words(text)
    if not found:
        return text, substring, "entry is empty after normalisation (only punctuation or symbols?)", []
    count = len(found)
    if count > MAX_WORDS:
        return text, substring, f"entry has {count} words; at most {MAX_WORDS} are allowed", []
    if substring and (count > 1 or len(found[0]) < MIN_SUBSTRING):
        return text, True, (f"substring entry must normalise to one word of at least {MIN_SUBSTRING} "
                            f"characters (got {' '.join(found)!r})"), []
    return text, substring, None, found


def validate_term(line: str) -> tuple[tuple[str, bool] | None, str | None]:
    """ARCHITECTURE form of ``parse_term_line``: ``((text, substring), None)`` or ``(None, reason)``."""
    text, substring, reason = parse_term_line(line)
    return (None, reason) if reason else ((text, substring), None)


def split_rule_id(rule_id: str) -> tuple[str, int]:
    path, sep, line = rule_id.rpartition(":")
    return (path, int(line)) if sep and line.isdigit() and path else (rule_id, 0)
