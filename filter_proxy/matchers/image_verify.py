"""Verification of a near match of a picture that `hashes add` enrolled with several algorithms.

Alone, each perceptual hash of a listed picture lets some different picture through at scale: on the
quality benchmark a pHash crop row matched a different generated picture at distance 10 and a dHash row
another at 7. Such chance closeness rarely happens on two independent hashes of the same listed picture at
once, while an edited copy of the picture stays close on both (a corner watermark box moves pHash by up to
24 bits but dHash by at most 6; a 5 % crop the other way round). So a near match of algorithm A on a listed
picture counts only when

* every *view* of A that the picture was enrolled with is within A's threshold: dHash is enrolled for the
  picture and for its transpose (label ``transposed``), which compare vertical instead of horizontal
  gradients; the query's dihedral variants always include the transpose, so an edited copy meets both, and
* every other confirming algorithm B enrolled for the picture (``CONFIRM_THRESHOLDS``: phash, dhash) is
  within B's looser *confirm* bound on some row (any crop) of each of its views. Each view must confirm on
  its own: a different generated picture came within pHash 10 and dHash 14 of a listed one, but its
  transposed dHash was 22 away (quality benchmark, fresh set).

What cannot be verified keeps the single-algorithm rule: rows naming no picture (shared hash lists), pictures
enrolled with one algorithm only, PDQ (no confirm bound: it is not robust to the watermark box), exact
digests, and an algorithm the query did not hash (a backend that supplies only a pHash).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from filter_proxy.matchers.image_table import HashTable
from filter_proxy.signals.hashspec import CONFIRM_THRESHOLDS, PERCEPTUAL_BITS

TRANSPOSED = "transposed"  # the label `hashes add` gives rows hashing the transposed picture


def picture_view(note: str) -> int:
    """1 when a hash-list row hashes the transposed picture (its note's label says ``transposed``)."""
    return 1 if TRANSPOSED in note.split() else 0


class Verifier:
    """Verifies near matches for one query (caches per listed picture and algorithm)."""

    def __init__(self, tables: Mapping[str, HashTable], hashes: Mapping[str, Sequence[str]],
                 threshold: Callable[[str, str], int]) -> None:
        self.tables, self.hashes, self.threshold = tables, hashes, threshold
        self._seen: dict[tuple[str, int, str], bool] = {}

    def confirmed(self, algorithm: str, picture: int, category: str) -> bool:
        """Whether a near match of ``algorithm`` on listed picture number ``picture`` (0 = none) counts."""
        if not picture or algorithm not in CONFIRM_THRESHOLDS:
            return True
        key = (algorithm, picture, category)
        if key not in self._seen:
            self._seen[key] = self._check(algorithm, picture, category)
        return self._seen[key]

    def _check(self, algorithm: str, picture: int, category: str) -> bool:
        for other, bound in CONFIRM_THRESHOLDS.items():
            table, query = self.tables.get(other), self.hashes.get(other)
            if table is None or not query or other not in PERCEPTUAL_BITS:
                continue  # not enrolled, or not hashed by the query: nothing to confirm with
            rows = table.rows_of(picture)
            if not len(rows):
                continue
            dist = table.distances(rows, query)
            limit = self.threshold(category, algorithm) if other == algorithm else bound
            views = table.view[rows] if table.view is not None else np.zeros(len(rows), dtype=np.uint8)
            for view in np.unique(views).tolist():
                if int(dist[views == view].min()) > limit:
                    return False
        return True
