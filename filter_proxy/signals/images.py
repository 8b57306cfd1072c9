"""Image hash signals: phash, dhash, pdq (perceptual: Hamming distance within a threshold) and md5, sha1,
sha256 (exact digests of the file bytes).

Hashing and the multi-index-hashing index live in ``filter_proxy.matchers.images``; each class here is
one algorithm's signal-type face over them: its constants (from ``signals.hashspec``), line validation,
distance, hashing, and an index of that algorithm's entries alone (``build``/``from_bytes``). A rule set
indexes every algorithm together (``index_group = "images"``) in one ``ImageSignals``: the closest match
per category over every algorithm, and ``images.require_agreement`` (several algorithms agreeing on one
listed picture, ``pic:<id>`` in the note column) needs them side by side.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import ClassVar

from filter_proxy.matchers.images import (
    ImageDecodeError,
    ImageEntry,
    ImageIndex,
    ImageMatch,
    compute_hashes,
    compute_query_hashes,
    pdq_available,
    picture_id,
    picture_view,
    validate_image_hash,
)
from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.hashspec import SPECS, HashSpec

__all__ = ["ImageHashSignal", "PHashSignal", "DHashSignal", "PdqSignal", "Md5Signal", "Sha1Signal",
           "Sha256Signal", "ImageSignalIndex", "ImageSignals", "ImageDecodeError", "ImageMatch",
           "hash_image", "digest_image", "pdq_available"]

class ImageSignalIndex:
    """One algorithm's listed hashes (an ``ImageIndex`` holding a single table)."""

    __slots__ = ("algorithm", "index")

    def __init__(self, algorithm: str, index: ImageIndex) -> None:
        self.algorithm, self.index = algorithm, index

    def match(self, hashes: str | Sequence[str], threshold: Callable[[str], int]) -> list[ImageMatch]:
        """The closest match per category (closest first) of any of ``hashes`` (e.g. the dihedral variants
        of one picture) within ``threshold(category)``; exact digests ignore the threshold."""
        return self.index.matches({self.algorithm: hashes}, lambda category, _algorithm: threshold(category))

    def __len__(self) -> int:
        return len(self.index)

    def to_bytes(self) -> bytes:
        return self.index.to_bytes()


class ImageHashSignal(SignalType):
    """Base of the image hash signals; each subclass names its algorithm and takes its ``hashspec``."""

    source = "images"
    index_group = "images"
    verdict_signal = "image"
    spec: ClassVar[HashSpec]
    hex_length: ClassVar[int]
    bits: ClassVar[int]
    default_threshold: ClassVar[int]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.spec = SPECS[cls.name]
        cls.exact = cls.spec.exact
        cls.hex_length, cls.bits, cls.default_threshold = cls.spec.hex_length, cls.spec.bits, cls.spec.default_threshold

    @classmethod
    def parse_line(cls, text: str) -> tuple[str, Hashable]:
        hex_ = text.strip().lower()
        reason = validate_image_hash(cls.name, hex_)
        if reason is not None:
            raise SignalError(reason)
        return hex_, (cls.name, hex_)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance of two hashes; exact digests are 0 apart or ``bits`` (no near match)."""
        if cls.exact:
            return 0 if a.lower() == b.lower() else cls.bits
        return (int(a, 16) ^ int(b, 16)).bit_count()

    @classmethod
    def hash_bytes(cls, data: bytes, max_pixels: int = 25_000_000, min_pdq_quality: int = 50) -> str | None:
        """This algorithm's hash of the image as it is (None: PDQ not available or quality too low)."""
        return compute_hashes(data, (cls.name,), max_pixels, min_pdq_quality).get(cls.name)

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> ImageSignalIndex:
        return ImageSignalIndex(cls.name, ImageIndex.build(
            [ImageEntry(cls.name, e.value, e.category, e.rule_id, picture_id(e.note),
                       picture_view(e.note)) for e in entries]))

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> ImageSignalIndex:
        index = ImageIndex.from_bytes(data)
        if index.algorithms - {cls.name}:
            raise ValueError(f"{cls.name} index holds other algorithms: {sorted(index.algorithms)}")
        return ImageSignalIndex(cls.name, index)


class PHashSignal(ImageHashSignal):
    name = "phash"


class DHashSignal(ImageHashSignal):
    name = "dhash"


class PdqSignal(ImageHashSignal):
    name = "pdq"


class Md5Signal(ImageHashSignal):
    name = "md5"


class Sha1Signal(ImageHashSignal):
    name = "sha1"


class Sha256Signal(ImageHashSignal):
    name = "sha256"


class ImageSignals:
    """The image hashes of a rule set, every algorithm in one ``ImageIndex`` (``RuleSet.images``): a
    picture's hashes are checked against all of them at once."""

    __slots__ = ("index",)

    def __init__(self, index: ImageIndex) -> None:
        self.index = index

    @classmethod
    def build(cls, entries: Sequence[Entry], allow: Sequence[str] = ()) -> ImageSignals:
        """Entries of any image signals (``Entry.signal`` names the algorithm)."""
        return cls(ImageIndex.build(
            [ImageEntry(e.signal, e.value, e.category, e.rule_id, picture_id(e.note), picture_view(e.note)) for e in entries]))

    @classmethod
    def from_bytes(cls, data: bytes | memoryview) -> ImageSignals:
        return cls(ImageIndex.from_bytes(data))

    def to_bytes(self) -> bytes:
        return self.index.to_bytes()

    @property
    def algorithms(self) -> set[str]:
        """The algorithms that have listed hashes."""
        return self.index.algorithms

    @property
    def require_agreement(self) -> int:
        return self.index.require_agreement

    def __len__(self) -> int:
        return len(self.index)

    def matches(self, hashes: Mapping[str, str | Sequence[str]],
                threshold: Callable[[str, str], int]) -> list[ImageMatch]:
        """The closest match per category over all algorithms, closest first (exact digests win ties).
        ``hashes``: algorithm -> hex or several hexes; unknown algorithms and malformed hexes are ignored."""
        return self.index.matches(hashes, threshold)

    def match(self, hashes: Mapping[str, str | Sequence[str]],
              threshold: Callable[[str, str], int]) -> ImageMatch | None:
        return self.index.match(hashes, threshold)


def hash_image(data: bytes, algorithms: Iterable[str], max_pixels: int = 25_000_000,
               min_pdq_quality: int = 50) -> dict[str, tuple[str, ...]]:
    """Query hashes of one picture for the given algorithms, decoded once: each perceptual algorithm also
    hashes the flipped and rotated variants (identity first). ImageDecodeError when it cannot be decoded."""
    return compute_query_hashes(data, algorithms, max_pixels, min_pdq_quality)


def digest_image(data: bytes, algorithms: Iterable[str]) -> dict[str, str]:
    """Exact digests of the bytes (no decoding: a listed file is found even when it will not decode)."""
    exact = [a for a in algorithms if SPECS[a].exact]
    return compute_hashes(data, exact) if exact else {}
