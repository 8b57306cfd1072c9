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


# dhash 9, not 10: on the quality benchmark (150 pictures x 10 edits vs every other picture) dhash <= 10 gave
# 0.014 % false matches (phash and PDQ none); <= 9 gives 0.0058 % with phash + dhash TPR 95.6 %.
SPECS: dict[str, HashSpec] = {spec.name: spec for spec in (
    HashSpec("phash", 16, False, 10),
    HashSpec("dhash", 16, False, 9),
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
