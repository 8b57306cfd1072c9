"""The bloom-filter layer over pybloom-live: build, (de)serialise, configured and measured FPR.

pybloom-live is pure Python: every lookup re-hashes the key with hashlib/xxhash in Python (~1.5-4 µs on
this machine class, DESIGN §10). Its worth is memory (~1.8 MB for 1M items at 0.1 % FPR), so it suits
lists that are looked up a few times per page (exact image hashes, one lookup per thumbnail). The term
and URL hot paths do not call it per n-gram; see ``matchers/terms.py`` for what they do instead.

Serialised form: pybloom-live's own ``tofile`` format (header ``<dQQQQ`` + the raw bit array), so a file
written here can be read by ``pybloom_live.BloomFilter.fromfile`` and vice versa.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable

from pybloom_live import BloomFilter

__all__ = ["Bloom"]


class Bloom:
    """A fixed-capacity bloom filter of strings (or bytes, hashed as their UTF-8/str form by pybloom-live)."""

    __slots__ = ("_filter",)

    def __init__(self, bloom_filter: BloomFilter) -> None:
        self._filter = bloom_filter

    @classmethod
    def build(cls, items: Iterable[str], capacity: int | None = None, error_rate: float = 0.001) -> Bloom:
        """Build from ``items``. ``capacity`` defaults to the number of items (at least 1)."""
        if capacity is None:
            items = list(items)
            capacity = len(items)
        bloom_filter = BloomFilter(capacity=max(1, capacity), error_rate=error_rate)
        add = bloom_filter.add
        for item in items:
            add(item, skip_check=True)  # skip_check: one pass over the bits instead of two
        return cls(bloom_filter)

    def __contains__(self, item: object) -> bool:
        return item in self._filter

    def __len__(self) -> int:
        return len(self._filter)

    @property
    def capacity(self) -> int:
        return int(self._filter.capacity)

    @property
    def error_rate(self) -> float:
        """The configured false-positive rate at full capacity."""
        return float(self._filter.error_rate)

    @property
    def nbytes(self) -> int:
        return -(-len(self._filter.bitarray) // 8)  # whole bytes, as serialised

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        self._filter.tofile(buffer)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> Bloom:
        """Load a filter written by ``to_bytes``; ValueError on a truncated or inconsistent buffer."""
        try:
            return cls(BloomFilter.fromfile(io.BytesIO(bytes(data))))
        except Exception as exc:  # pybloom-live raises struct.error, ValueError, ...
            raise ValueError(f"not a bloom filter: {exc}") from exc

    def measured_fpr(self, probe_count: int = 10_000) -> float:
        """Share of ``probe_count`` random non-members that the filter reports as present.

        Probes are random 128-bit hex strings with a prefix no real item uses, so they are non-members.
        """
        if probe_count <= 0:
            return 0.0
        hits = sum(1 for _ in range(probe_count) if f"\x00probe:{os.urandom(16).hex()}" in self._filter)
        return hits / probe_count
