"""Where listed words and phrases occur in a text, for the rule forms that need more than "is it there".

Combination rules (``signals/combos.py``) and weighted phrases (``signals/weighted.py``) reuse the term
matcher as it is (``matchers/terms.TermIndex``: normalisation, look-alikes, leetspeak, joined and split
forms, hashtag segmentation), so a disguise that hides a term hides neither of them. ``SpanIndex`` adds
only what ``TermIndex.match`` drops: the word positions of each match, for ``within N``. A match inside
a hashtag or handle (segmented, no position) has the span ``(-1, -1)``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from filter_proxy.matchers.terms import TermIndex
from filter_proxy.reading import Reading, reading

__all__ = ["SpanIndex", "Span", "pack", "read", "unpack"]

Span = tuple[int, int, str]  # (first word, past the last word, rule id of the matched entry)


def read(text: str) -> Reading:
    """The reading both rule forms match on; computed once per screened field."""
    return reading(text)


class SpanIndex(TermIndex):
    """A ``TermIndex`` whose matches keep their word positions."""

    # Words of a combination or weighted phrase match as written: a plural ending is a longer word there
    # ("zqxalphas" does not count for ``all: zqxalpha ...``; rules/README.md).
    _PLURALS = False

    def spans(self, read: Reading) -> list[Span]:
        found = self._found(read.words, read.tagged, read.glued)
        if read.alternate is not None:
            found += self._found(read.alternate, ())
        if not found:
            return []
        files = self._files
        return [(start, end, f"{files[file]}:{line}" if line else files[file])
                for start, end, _, file, line in found]


def pack(magic: bytes, meta: dict[str, Any], spans: SpanIndex) -> bytes:
    """One rule form's index as bytes: 8-byte magic, meta JSON (length-prefixed, padded to 8) and spans."""
    data = json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode()
    data += b" " * (-len(data) % 8)
    return magic + struct.pack("<Q", len(data)) + data + spans.to_bytes()


def unpack(data: bytes | memoryview, magic: bytes, what: str, keys: tuple[str, ...]) -> tuple[dict[str, Any], SpanIndex]:
    """The inverse of ``pack``; ValueError naming ``what`` when the magic or a required meta key is wrong."""
    view = memoryview(data).cast("B")
    if bytes(view[:8]) != magic:
        raise ValueError(f"not a {what} index (bad magic)")
    try:
        (length,) = struct.unpack_from("<Q", view, 8)
        meta = json.loads(bytes(view[16:16 + length]))
        for key in keys:
            meta[key]  # noqa: B018 -- every required key must be present
    except (ValueError, struct.error, KeyError) as exc:
        raise ValueError(f"damaged {what} index: {exc}") from exc
    return meta, SpanIndex.from_bytes(view[16 + length:])
