"""False matches at scale: how often an unrelated picture falls within a category's threshold of some listed
perceptual hash, at the list's size, and the threshold that keeps that under a bound.

A threshold safe for 10k entries is not for 10M: at 10M listed 64-bit pHashes about one random hash in
ten has an entry within 10 bits. The rate is *measured* by sampling uniformly random query hashes against
the real index (what the loader does; clustering of real lists is then seen as it is), and bounded
analytically where sampling sees too few hits to count: for a uniformly random query the expected number
of entries within T bits is exactly n * V(T) / 2^b whatever the entries are (V = Hamming ball volume),
an upper bound of the chance of any. Every screened picture is looked up as 8 dihedral hashes and 2
uncropped ones (``compute_query_hashes``), so the rate per picture is 1 - (1 - p)^10 for a per-hash rate p.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from filter_proxy.matchers.images import PERCEPTUAL_BITS, ImageIndex

VARIANTS = 10  # hashes looked up per screened picture: 8 dihedral + 2 uncropped (compute_query_hashes)
MIN_HITS = 10  # sampled hits needed before the sampled rate is trusted over the analytic bound


def ball(bits: int, radius: int) -> int:
    """Number of ``bits``-bit values within Hamming distance ``radius`` of one value."""
    return sum(math.comb(bits, k) for k in range(0, min(radius, bits) + 1))


def _per_picture(per_hash: float, variants: int) -> float:
    per_hash = min(max(per_hash, 0.0), 1.0)
    if per_hash >= 1.0:
        return 1.0
    return -math.expm1(variants * math.log1p(-per_hash))


def analytic_rate(n: int, threshold: int, algorithm: str = "phash", variants: int = VARIANTS) -> float:
    """Upper bound of the false-match rate per picture for ``n`` listed hashes (union bound per hash)."""
    bits = PERCEPTUAL_BITS[algorithm]
    if n <= 0 or threshold < 0:
        return 0.0
    per_hash = min(1.0, n * ball(bits, threshold) / 2.0**bits)
    return _per_picture(per_hash, variants)


def estimate_false_match_rate(index: ImageIndex, algorithm: str, threshold: int, samples: int = 1000,
                              rng: np.random.Generator | None = None, category: str | None = None,
                              variants: int = VARIANTS) -> float:
    """Expected false matches per screened picture of ``category``'s rows (all rows when None) of one
    perceptual algorithm at ``threshold``: ``samples`` random hashes are looked up in the index; with fewer
    than MIN_HITS hits the analytic bound (never below the sampled rate) is used instead."""
    table = index.tables.get(algorithm)
    if table is None or algorithm not in PERCEPTUAL_BITS or threshold < 0:
        return 0.0
    wanted = None if category is None else {g for g, (c, _) in enumerate(index.groups) if c == category}
    n = len(table) if wanted is None else int(np.isin(table.group, list(wanted)).sum())
    if n == 0:
        return 0.0
    rng = rng or np.random.default_rng()
    bits = PERCEPTUAL_BITS[algorithm]
    hits = 0
    for _ in range(samples):
        query = rng.integers(0, 256, size=bits // 8, dtype=np.uint8).tobytes().hex()
        rows, _ = table.find([query], threshold)
        if len(rows) and (wanted is None or np.isin(table.group[rows], list(wanted)).any()):
            hits += 1
    sampled = hits / samples if samples else 0.0
    if hits >= MIN_HITS:
        return _per_picture(sampled, variants)
    bound = min(1.0, n * ball(bits, threshold) / 2.0**bits)
    return _per_picture(max(sampled, bound) if hits else bound, variants)


def threshold_for(rate_bound: float, n: int, algorithm: str = "phash", variants: int = VARIANTS) -> int:
    """The largest threshold whose analytic rate per picture stays within ``rate_bound`` for ``n`` hashes
    (-1: none does, even exact equality)."""
    bits = PERCEPTUAL_BITS[algorithm]
    best = -1
    for t in range(0, bits + 1):
        if analytic_rate(n, t, algorithm, variants) <= rate_bound:
            best = t
        else:
            break
    return best


@dataclass(frozen=True, slots=True)
class RateFinding:
    """The measured false-match rate of one category's perceptual list(s)."""

    category: str
    algorithms: tuple[str, ...]
    sizes: tuple[int, ...]
    thresholds: tuple[int, ...]
    rate: float  # per picture, with require_agreement taken into account
    bound: float
    suggestion: dict[str, int]  # algorithm -> threshold that would meet the bound alone

    @property
    def ok(self) -> bool:
        return self.rate <= self.bound

    def describe(self) -> str:
        parts = ", ".join(f"{a} <= {t} over {n:,} hashes" for a, t, n in
                          zip(self.algorithms, self.thresholds, self.sizes, strict=True))
        text = f"category {self.category!r}: expected false matches {self.rate:.1e} per picture ({parts})"
        if self.ok:
            return text
        fix = ", ".join(f"{a} = {t}" if t >= 0 else f"{a}: none (split the list)" for a, t in self.suggestion.items())
        return (f"{text} exceeds images.max_false_match_rate {self.bound:.0e}; thresholds that would meet it: "
                f"{fix} (set [categories.{self.category}.thresholds] or [images.thresholds])")


def assess_index(indexes: Mapping[str, ImageIndex] | ImageIndex, categories: Iterable[str],
                 threshold: Callable[[str, str], int], bound: float, require_agreement: int = 1,
                 samples: int = 256, rng: np.random.Generator | None = None) -> list[RateFinding]:
    """One RateFinding per category that lists perceptual hashes. ``indexes``: algorithm -> the index
    holding it (or one index holding several). With ``require_agreement`` = k the per-picture rate is the
    chance that k algorithms all match by accident: the sum over every k of the category's algorithms of
    their rates' product (independent algorithms; an upper bound since the matches must also name the same
    picture)."""
    if isinstance(indexes, ImageIndex):
        indexes = {a: indexes for a in indexes.tables}
    rng = rng or np.random.default_rng(0)
    found = []
    for category in categories:
        algos, sizes, limits, rates = [], [], [], []
        for algo in sorted(indexes):
            index = indexes[algo]
            table = index.tables.get(algo)
            if algo not in PERCEPTUAL_BITS or table is None:
                continue
            groups = [g for g, (c, _) in enumerate(index.groups) if c == category]
            n = int(np.isin(table.group, groups).sum()) if groups else 0
            if not n:
                continue
            t = threshold(category, algo)
            algos.append(algo)
            sizes.append(n)
            limits.append(t)
            rates.append(estimate_false_match_rate(index, algo, t, samples, rng, category))
        if not algos:
            continue
        k = max(1, require_agreement)
        if k <= 1:
            rate = -math.expm1(sum(math.log1p(-min(r, 1 - 1e-16)) for r in rates))  # any one algorithm
        else:
            rate = min(1.0, sum(math.prod(c) for c in itertools.combinations(rates, k)))
        suggestion = {a: threshold_for(bound, n, a) for a, n in zip(algos, sizes, strict=True)}
        found.append(RateFinding(category, tuple(algos), tuple(sizes), tuple(limits), rate, bound, suggestion))
    return found


def configure_index(index: ImageIndex, policy: Any, samples: int = 256) -> tuple[list[RateFinding], list[str]]:
    """What the rule loader calls once per load (directory or bundle) on the rule set's image index:
    applies ``images.require_agreement`` to ``index`` and measures each category's false-match rate.
    Returns (findings, refusal reasons); a non-empty second list means the rule set must be refused."""
    settings = policy.images
    agree = max(1, int(settings.require_agreement))
    index.require_agreement = agree
    findings = assess_index(index, policy.categories, policy.threshold, settings.max_false_match_rate, agree,
                            samples, np.random.default_rng(0))
    reasons = [f.describe() for f in findings if not f.ok]
    if agree > 1 and findings and not index.pictures:
        reasons.append(f"images.require_agreement = {agree} but no listed hash names its picture (pic:<id> in the "
                       "note column, as `filter-proxy hashes add` writes): no perceptual hash could ever match")
    return findings, reasons
