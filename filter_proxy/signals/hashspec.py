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

    @property
    def bits(self) -> int:
        return self.hex_length * 4


# dhash 7, not 9 or 10: on the quality benchmark (53 pictures x 10 edits vs every other picture) dhash <= 9
# still matched two different photographs (rocket ~ retina, dark surrounds) and <= 10 did on earlier runs
# (0.014 % of pairs); <= 7 gives none, and phash (with `hashes add` crops) + dhash keeps 99.8 % TPR.
SPECS: dict[str, HashSpec] = {spec.name: spec for spec in (
    HashSpec("phash", 16, False, 10),
    HashSpec("dhash", 16, False, 7),
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
