"""The facts of each image hash algorithm: hex digits, exact or perceptual, default threshold.

A leaf module (imports nothing from the project) so that the hashing and index code in
``matchers/images.py``, the image signal classes (``signals/images.py``, which expose these as class
constants) and the policy all read one table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HashSpec:
    name: str
    hex_length: int  # hex digits of one hash
    exact: bool  # exact digest of the file bytes (distance 0 or nothing) vs perceptual (Hamming distance)
    default_threshold: int = 0  # max Hamming distance of a near match (perceptual only)
    # Max distance at which this algorithm *confirms* another algorithm's near match of a picture that
    # `hashes add` enrolled with both (matchers/image_verify.py); -1 = it neither gives nor needs one.
    confirm_threshold: int = -1

    @property
    def bits(self) -> int:
        return self.hex_length * 4


# dhash 7, not 9 or 10: alone, dhash <= 9 matched different photographs (rocket ~ retina, dark surrounds). On
# the quality benchmark's tuning pictures (150: scikit-image photos and generated ones; every edited query
# against every other picture, 10 edits, all query variants), different pictures were never closer than:
# pHash 10 (with crops), dHash 6 (with crops), dHash 9 on *both* the picture and its transpose; the same
# picture after the ten edits was within pHash 10 or within dHash 6 on both views, with the other algorithm
# at most dHash 10 / pHash 24 (the corner watermark box moves pHash most). Hence the confirm bounds: pHash
# 26 and dHash 14 keep 2-4 bits from those same-picture extremes; a pair of different pictures must then
# come close on two algorithms (and dHash on two views) at once, which none did (see image_verify.py).
SPECS: dict[str, HashSpec] = {spec.name: spec for spec in (
    HashSpec("phash", 16, False, 10, 26),
    HashSpec("dhash", 16, False, 7, 14),
    HashSpec("pdq", 64, False, 31),
    HashSpec("md5", 32, True),
    HashSpec("sha1", 40, True),
    HashSpec("sha256", 64, True),
)}

IMAGE_ALGORITHMS = tuple(SPECS)
EXACT_ALGORITHMS = tuple(name for name, spec in SPECS.items() if spec.exact)
PERCEPTUAL_ALGORITHMS = tuple(name for name, spec in SPECS.items() if not spec.exact)
HASH_HEX_LENGTH = {name: spec.hex_length for name, spec in SPECS.items()}
PERCEPTUAL_BITS = {name: SPECS[name].bits for name in PERCEPTUAL_ALGORITHMS}
DEFAULT_THRESHOLDS = {name: SPECS[name].default_threshold for name in PERCEPTUAL_ALGORITHMS}
CONFIRM_THRESHOLDS = {name: spec.confirm_threshold for name, spec in SPECS.items() if spec.confirm_threshold >= 0}
