"""Image hash signals: phash, dhash, pdq (perceptual: Hamming distance within a threshold) and md5, sha1,
sha256 (exact digests of the file bytes).

Hashing and the multi-index-hashing index live in ``filter_proxy.matchers.images``; each class here is
one algorithm's signal-type face over them: its constants (from ``signals.hashspec``), line validation,
distance, hashing, and an index of that algorithm's entries only. ``ImageSignals`` answers for all image
signals of a rule set at once (the closest match per category over every algorithm), which is what a
thumbnail's hashes are checked against.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import ClassVar

from filter_proxy.matchers.images import (
    ImageDecodeError,
    ImageEntry,
    ImageIndex,
    ImageMatch,
    agreeing_matches,
    compute_hashes,
    compute_query_hashes,
    pdq_available,
    picture_id,
    validate_image_hash,
)
from filter_proxy.signals.base import Entry, SignalError, SignalType
from filter_proxy.signals.hashspec import PERCEPTUAL_BITS, SPECS, HashSpec

__all__ = ["ImageHashSignal", "PHashSignal", "DHashSignal", "PdqSignal", "Md5Signal", "Sha1Signal",
           "Sha256Signal", "ImageSignalIndex", "ImageSignals", "ImageDecodeError", "ImageMatch",
           "hash_image", "digest_image", "pdq_available", "picture_id"]

# Ties at one distance: exact digests first (strongest evidence), then the most robust perceptual hash.
_PREFERENCE = ("sha256", "sha1", "md5", "pdq", "phash", "dhash")


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
            [ImageEntry(cls.name, e.value, e.category, e.rule_id, e.picture) for e in entries]))

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
    """Every image signal index of a rule set, answering together (``RuleSet.images``)."""

    def __init__(self, indexes: Mapping[str, ImageSignalIndex]) -> None:
        self.indexes = {name: index for name, index in indexes.items() if len(index)}
        # images.require_agreement (set by image_fmr.check_image_lists at load): how many perceptual
        # algorithms must agree on one listed picture; 1 = any one.
        self.require_agreement = 1

    @property
    def algorithms(self) -> set[str]:
        """The algorithms that have listed hashes."""
        return set(self.indexes)

    def __len__(self) -> int:
        return sum(len(index) for index in self.indexes.values())

    def matches(self, hashes: Mapping[str, str | Sequence[str]],
                threshold: Callable[[str, str], int]) -> list[ImageMatch]:
        """The closest match per category over all algorithms, closest first (exact digests win ties).
        ``hashes``: algorithm -> hex or several hexes; unknown algorithms and malformed hexes are ignored."""
        best: dict[str, tuple[tuple[int, int], ImageMatch]] = {}
        if self.require_agreement > 1:
            agreed = agreeing_matches({a: ix.index for a, ix in self.indexes.items()}, hashes, threshold,
                                      self.require_agreement)
            hashes = {a: v for a, v in hashes.items() if a not in PERCEPTUAL_BITS}  # exact digests below
            for found in agreed:
                order = _PREFERENCE.index(found.algorithm) if found.algorithm in _PREFERENCE else len(_PREFERENCE)
                best[found.category] = ((found.distance, order), found)
        for algorithm, value in hashes.items():
            index = self.indexes.get(algorithm)
            if index is None or not value:
                continue
            order = _PREFERENCE.index(algorithm) if algorithm in _PREFERENCE else len(_PREFERENCE)
            for found in index.match(value, lambda category, a=algorithm: threshold(category, a)):
                key = (found.distance, order)
                if found.category not in best or key < best[found.category][0]:
                    best[found.category] = (key, found)
        return [match for _, match in sorted(best.values(), key=lambda kv: kv[0])]

    def match(self, hashes: Mapping[str, str | Sequence[str]],
              threshold: Callable[[str, str], int]) -> ImageMatch | None:
        found = self.matches(hashes, threshold)
        return found[0] if found else None


def hash_image(data: bytes, algorithms: Iterable[str], max_pixels: int = 25_000_000,
               min_pdq_quality: int = 50) -> dict[str, tuple[str, ...]]:
    """Query hashes of one picture for the given algorithms, decoded once: each perceptual algorithm also
    hashes the flipped and rotated variants (identity first). ImageDecodeError when it cannot be decoded."""
    return compute_query_hashes(data, algorithms, max_pixels, min_pdq_quality)


def digest_image(data: bytes, algorithms: Iterable[str]) -> dict[str, str]:
    """Exact digests of the bytes (no decoding: a listed file is found even when it will not decode)."""
    exact = [a for a in algorithms if SPECS[a].exact]
    return compute_hashes(data, exact) if exact else {}
