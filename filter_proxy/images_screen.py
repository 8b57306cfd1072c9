"""Screen a page's thumbnails: precomputed hashes, or fetch → hash → near-match, under a page budget."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread
import httpx

from filter_proxy.adapters.base import ResultView
from filter_proxy.events import FilterObserver, NullObserver
from filter_proxy.images_fetch import Resolver, ThumbnailFetcher, TTLCache
from filter_proxy.images_policy import ImagePolicy
from filter_proxy.matchers.images import ImageDecodeError, compute_query_hashes
from filter_proxy.signals.hashspec import EXACT_ALGORITHMS
from filter_proxy.verdict import Verdict

if TYPE_CHECKING:
    from filter_proxy.signals.base import ImageRules as RuleSet

Hashes = Mapping[str, Sequence[str]]


class ImageScreener:
    """One per app: holds the fetcher (one pooled client) and the hash caches (by URL and by content).

    A thumbnail that cannot be verified (fetch refused or failed, not an image, or not done within
    ``policy.page_budget``) gets ``None``; the middleware then applies ``images.on_unverified``.
    """

    def __init__(self, policy: ImagePolicy, client: httpx.AsyncClient | None = None,
                 observer: FilterObserver | None = None, resolver: Resolver | None = None) -> None:
        self.policy = policy
        self.observer = observer or NullObserver()
        self.fetcher = ThumbnailFetcher(policy, client, resolver)
        # Hashes, never image bytes, are cached: a hash is ~100 bytes, a thumbnail tens of kilobytes.
        self.by_url: TTLCache[tuple[str, tuple[str, ...]], Hashes] = TTLCache(policy.cache_size, policy.cache_ttl)
        self.by_digest: TTLCache[tuple[str, tuple[str, ...]], Hashes] = TTLCache(policy.cache_size,
                                                                                 policy.cache_ttl)
        # A fleet-wide tier behind the local one (fleet/hash_cache.py: async get, put_later); None alone.
        self.shared: Any = None

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    def algorithms(self, rules: RuleSet) -> tuple[str, ...]:
        """What to compute: the algorithms the rule set's index holds (else the policy's) plus exact digests."""
        index: Any = getattr(rules, "images", None)
        wanted = set(index.algorithms) if index is not None else set(self.policy.algorithms)
        return tuple(sorted(wanted | set(EXACT_ALGORITHMS)))

    async def screen(self, views: list[ResultView], rules: RuleSet) -> dict[int, Verdict | None]:
        out: dict[int, Verdict | None] = {}
        pending: list[ResultView] = []
        for view in views:
            if view.image_hashes:
                self.observer.image_fetch("precomputed")
                out[view.index] = rules.check_image_hashes(view.image_hashes)
            elif view.image_url:
                out[view.index] = None
                pending.append(view)
        if not pending:
            return out
        algorithms = self.algorithms(rules)

        async def one(view: ResultView) -> None:
            assert view.image_url is not None
            hashes = await self._hashes(view.image_url, algorithms)
            if hashes is not None:
                out[view.index] = rules.check_image_hashes(hashes)
            done.add(view.index)

        done: set[int] = set()
        with anyio.move_on_after(self.policy.page_budget):
            async with anyio.create_task_group() as group:
                for view in pending:
                    group.start_soon(one, view)
        for view in pending:
            if view.index not in done:
                self.observer.image_fetch("over-budget")
        return out

    async def _hashes(self, url: str, algorithms: tuple[str, ...]) -> Hashes | None:
        cached = self.by_url.get((url, algorithms))
        if cached is not None:
            self.observer.image_fetch("cached")
            return cached
        if self.shared is not None:
            shared = await self.shared.get(url, algorithms)
            if shared is not None:  # fetched and hashed by another instance of the fleet
                self.observer.image_fetch("shared")
                self.by_url.put((url, algorithms), shared)
                return shared
        result = await self.fetcher.fetch(url)
        if result.data is None:
            self.observer.image_fetch(result.outcome)
            return None
        digest = hashlib.sha256(result.data).hexdigest()
        hashes = self.by_digest.get((digest, algorithms))
        if hashes is None:
            try:
                # Hashing is CPU work (decode + 8 dihedral variants): keep it off the event loop. On budget
                # expiry the thread is abandoned, not killed; its result is simply not used.
                hashes = await anyio.to_thread.run_sync(self._compute, result.data, algorithms,
                                                        abandon_on_cancel=True)
            except ImageDecodeError:
                self.observer.image_fetch("undecodable")
                return None
            self.by_digest.put((digest, algorithms), hashes)
        self.observer.image_fetch("fetched")
        self.by_url.put((url, algorithms), hashes)
        if self.shared is not None:
            self.shared.put_later(url, algorithms, hashes)
        return hashes

    def _compute(self, data: bytes, algorithms: tuple[str, ...]) -> Hashes:
        return compute_query_hashes(data, algorithms, self.policy.max_pixels, self.policy.min_pdq_quality)
