"""The ``[images]`` section of policy.toml as a value: limits and options of thumbnail screening.

It lives beside the image modules, not in ``rules/``, so that fetching, hashing and screening never import
the rule loader (``rules/policy.py`` re-exports it and validates the TOML into it). Every number here can be
set in policy.toml under ``[images]`` (see rules/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from filter_proxy.signals.hashspec import DEFAULT_THRESHOLDS

__all__ = ["ImagePolicy", "ON_UNVERIFIED", "DEFAULT_THRESHOLDS"]

ON_UNVERIFIED = ("hide-thumbnail", "drop-result", "show")


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    algorithms: tuple[str, ...] = ("phash", "dhash")  # what `hashes add` computes and screening checks
    thresholds: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    on_unverified: str = "hide-thumbnail"
    fetch_timeout: float = 2.0  # seconds per thumbnail
    page_budget: float = 1.5  # seconds for all thumbnails of one page
    max_bytes: int = 2_000_000
    max_pixels: int = 25_000_000  # one picture (checked from its header before any pixel is decoded)
    # All pictures of one page together (every frame counted). Decoding costs memory, not just time: eight
    # 5000x5000 PNGs of 84 KB each would take ~850 MiB at once. A thumbnail over the rest of the page's
    # budget is left unverified (``on_unverified``), but its exact digests are still checked.
    page_pixels: int = 40_000_000
    max_frames: int = 16  # frames of an animated picture hashed, sampled evenly over all of them
    max_redirects: int = 3
    concurrency: int = 8
    allow_networks: tuple[str, ...] = ()  # CIDRs thumbnails may be fetched from despite being internal
    min_pdq_quality: int = 50
    cache_size: int = 10_000
    cache_ttl: float = 3600.0
    # How many perceptual algorithms must agree on one listed picture (same category and note) before a
    # thumbnail counts as a match; 1 = any one algorithm within its threshold. Exact digests always count.
    require_agreement: int = 1
    # Refuse a list whose expected false matches per screened picture (sampled; all 8 dihedral query hashes
    # counted) exceed this, naming the threshold that would meet it.
    max_false_match_rate: float = 1e-5
