"""The signal registry: signal name -> signal type class. The one place the rule loader, the bundle, the
RuleSet and the image screener ask which signals exist, which rules sub-directory lists each, and how to
parse, index and load them. Adding a signal type is adding its class here."""

from __future__ import annotations

from filter_proxy.signals.base import SignalType
from filter_proxy.signals.images import (
    DHashSignal,
    ImageHashSignal,
    Md5Signal,
    PdqSignal,
    PHashSignal,
    Sha1Signal,
    Sha256Signal,
)
from filter_proxy.signals.terms import TermSignal
from filter_proxy.signals.urls import UrlSignal

__all__ = ["SIGNALS", "get", "names", "for_source", "image_signals", "SOURCES", "EXACT_ALGORITHMS",
           "PERCEPTUAL_ALGORITHMS"]

# Order matters only for bundles (section order) and listings; the image algorithms follow hashspec's order.
SIGNALS: dict[str, type[SignalType]] = {cls.name: cls for cls in (
    TermSignal, UrlSignal, PHashSignal, DHashSignal, PdqSignal, Md5Signal, Sha1Signal, Sha256Signal,
)}
# The rules sub-directories that list signals, with the suffix of their files.
SOURCES = {"terms": ".txt", "urls": ".txt", "images": ".csv"}


def get(name: str) -> type[SignalType] | None:
    return SIGNALS.get(name)


def names() -> tuple[str, ...]:
    return tuple(SIGNALS)


def for_source(source: str) -> dict[str, type[SignalType]]:
    """The signals listed in one rules sub-directory (``terms``, ``urls``, ``images``)."""
    return {name: cls for name, cls in SIGNALS.items() if cls.source == source}


def image_signals() -> dict[str, type[ImageHashSignal]]:
    return {name: cls for name, cls in SIGNALS.items() if issubclass(cls, ImageHashSignal)}


# What the image screener computes for every thumbnail (exact digests need no decoding and cost little),
# and what it near-matches: the image signal classes' own constants.
EXACT_ALGORITHMS = tuple(name for name, cls in image_signals().items() if cls.exact)
PERCEPTUAL_ALGORITHMS = tuple(name for name, cls in image_signals().items() if not cls.exact)
