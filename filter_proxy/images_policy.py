"""The ``[images]`` section of policy.toml: which hashes screening computes, their thresholds, and the
limits of thumbnail fetching. A leaf (it needs only the hash facts of ``signals.hashspec``), so the fetcher
and the screener depend on nothing in ``filter_proxy.rules``; ``rules/policy.py`` parses it."""

from __future__ import annotations

from dataclasses import dataclass, field

from filter_proxy.signals.hashspec import DEFAULT_THRESHOLDS

__all__ = ["ImagePolicy", "ON_UNVERIFIED"]

ON_UNVERIFIED = ("hide-thumbnail", "drop-result", "show")


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    algorithms: tuple[str, ...] = ("phash", "dhash")  # what `hashes add` computes and screening checks
    thresholds: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    on_unverified: str = "hide-thumbnail"
    fetch_timeout: float = 2.0  # seconds per thumbnail
    page_budget: float = 1.5  # seconds for all thumbnails of one page
    max_bytes: int = 2_000_000
    max_pixels: int = 25_000_000
    max_redirects: int = 3
    concurrency: int = 8
    allow_networks: tuple[str, ...] = ()  # CIDRs thumbnails may be fetched from despite being internal
    min_pdq_quality: int = 50
    cache_size: int = 10_000
    cache_ttl: float = 3600.0

