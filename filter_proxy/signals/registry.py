"""The signal registry: signal name -> signal type class. The one place the rule loader, the bundle, the
RuleSet and the image screener ask which signals exist, which rules sub-directory lists each, and how to
parse, index and load them. Adding a signal type is adding its class here.

A rule set holds one index per *index group* (``INDEXES``): ``terms``, ``urls``, and ``images`` for every
image hash algorithm together (``SignalType.index_group``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from filter_proxy.signals.base import Entry, SignalIndex, SignalType
from filter_proxy.signals.combos import ComboSignal
from filter_proxy.signals.images import (
    DHashSignal,
    ImageHashSignal,
    ImageSignals,
    Md5Signal,
    PdqSignal,
    PHashSignal,
    Sha1Signal,
    Sha256Signal,
)
from filter_proxy.signals.terms import TermSignal
from filter_proxy.signals.urls import UrlSignal
from filter_proxy.signals.weighted import WeightedSignal

__all__ = ["SIGNALS", "INDEXES", "get", "names", "for_source", "image_signals", "members", "SOURCES", "for_line",
           "EXACT_ALGORITHMS", "PERCEPTUAL_ALGORITHMS"]


class IndexBuilder(Protocol):
    def build(self, entries: Sequence[Entry], allow: Sequence[str] = ()) -> SignalIndex: ...

    def from_bytes(self, data: bytes | memoryview) -> SignalIndex: ...


# Order matters only for bundles (section order) and listings; the image algorithms follow hashspec's order.
SIGNALS: dict[str, type[SignalType]] = {cls.name: cls for cls in (
    TermSignal, ComboSignal, WeightedSignal, UrlSignal, PHashSignal, DHashSignal, PdqSignal, Md5Signal, Sha1Signal, Sha256Signal,
)}
# Index group -> what builds and loads its index (a signal type, or ImageSignals for all image hashes).
INDEXES: dict[str, IndexBuilder] = {"terms": TermSignal, "combos": ComboSignal, "weights": WeightedSignal,
                                    "urls": UrlSignal, "images": ImageSignals}
assert {cls.index_group for cls in SIGNALS.values()} == set(INDEXES)
# The rules sub-directories that list signals, with the suffix of their files.
SOURCES = {"terms": ".txt", "urls": ".txt", "images": ".csv"}


def get(name: str) -> type[SignalType] | None:
    return SIGNALS.get(name)


def names() -> tuple[str, ...]:
    return tuple(SIGNALS)


def for_source(source: str) -> dict[str, type[SignalType]]:
    """The signals listed in one rules sub-directory (``terms``, ``urls``, ``images``)."""
    return {name: cls for name, cls in SIGNALS.items() if cls.source == source}


def for_line(source: str, text: str) -> str:
    """The signal that reads one line of a ``source`` file other than images (whose rows name their
    algorithm): the one that ``claims`` its form, else the source's catch-all signal."""
    listed = for_source(source)
    for name, cls in listed.items():
        if not cls.catch_all and cls.claims(text):
            return name
    return next(name for name, cls in listed.items() if cls.catch_all)


def members(group: str) -> tuple[str, ...]:
    """The signals whose entries an index group holds."""
    return tuple(name for name, cls in SIGNALS.items() if cls.index_group == group)


def image_signals() -> dict[str, type[ImageHashSignal]]:
    return {name: cls for name, cls in SIGNALS.items() if issubclass(cls, ImageHashSignal)}


# What the image screener computes for every thumbnail (exact digests need no decoding and cost little),
# and what it near-matches: the image signal classes' own constants.
EXACT_ALGORITHMS = tuple(name for name, cls in image_signals().items() if cls.exact)
PERCEPTUAL_ALGORITHMS = tuple(name for name, cls in image_signals().items() if not cls.exact)
