"""Screen a page's pictures: backend-supplied hashes, or fetch → hash → near-match, under a page budget.

Every image field of a result is screened (the thumbnail and further image fields), every sampled frame of
an animated picture is hashed, and the exact digests of a fetched file are checked even when the file does
not decode or is over a pixel limit. A backend-supplied hash stands in for fetching only when the list
holds hashes of that algorithm; otherwise it could never match and the picture would pass unchecked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import anyio
import anyio.to_thread
import httpx

from filter_proxy.adapters.base import ResultView
from filter_proxy.events import FilterObserver, NullObserver
from filter_proxy.images_check import ImageCheck, matched_hash
from filter_proxy.images_fetch import FetchResult, Resolver, ThumbnailFetcher, TTLCache
from filter_proxy.images_policy import ImagePolicy
from filter_proxy.matchers.images import (
    ImageDecodeError,
    PixelBudget,
    PixelBudgetExceeded,
    compute_query_hashes,
    exact_digests,
)
from filter_proxy.signals.registry import EXACT_ALGORITHMS
from filter_proxy.verdict import Verdict

if TYPE_CHECKING:
    from filter_proxy.signals.base import ImageRules as RuleSet

Hashes = Mapping[str, Sequence[str]]


class ShownBytes(Protocol):
    """Where the checked bytes of a picture are kept to be served in place of its URL (``thumbs.py``)."""

    def keep(self, url: str, data: bytes) -> str | None:
        """Hold ``data`` as the bytes shown for ``url``; the address that serves them, or None."""
        ...

    def route(self, url: str) -> str | None:
        """The address serving the held bytes of ``url``, or None when they are no longer held."""
        ...


@dataclass(frozen=True, slots=True)
class Hashed:
    """One picture's hashes. ``complete`` is False when only the exact digests could be computed (the file
    did not decode, or was over a pixel limit): a miss then proves nothing."""

    hashes: Hashes
    complete: bool = True

    def to_json(self) -> str:
        """For a shared cache tier (e.g. Redis): hashes only, never image bytes or who asked."""
        return json.dumps({"h": {a: list(v) for a, v in self.hashes.items()}, "c": self.complete},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> Hashed:
        raw = json.loads(text)
        return cls({str(a): tuple(str(h) for h in v) for a, v in raw["h"].items()}, bool(raw["c"]))


def _usable(view: ResultView, algorithms: set[str]) -> bool:
    """Whether the backend's hashes can stand in for fetching the thumbnail: the list holds one of them."""
    return any(a in algorithms for a in view.image_hashes)


class ImageScreener:
    """One per app: holds the fetcher (one pooled client) and the hash caches (by URL and by content).

    The caches are ``get``/``put`` maps (``TTLCache``): a shared tier (e.g. Redis) can wrap them.
    """

    def __init__(self, policy: ImagePolicy, client: httpx.AsyncClient | None = None,
                 observer: FilterObserver | None = None, resolver: Resolver | None = None,
                 shown: ShownBytes | None = None) -> None:
        self.policy = policy
        self.observer = observer or NullObserver()
        self.fetcher = ThumbnailFetcher(policy, client, resolver)
        self.shown = shown
        # Hashes, never image bytes, are cached: a hash is ~100 bytes, a thumbnail tens of kilobytes. (The
        # optional ``shown`` store keeps bytes, bounded by its own byte limit.)
        self.by_url: TTLCache[tuple[str, tuple[str, ...]], Hashed] = TTLCache(policy.cache_size, policy.cache_ttl)
        self.by_digest: TTLCache[tuple[str, tuple[str, ...]], Hashed] = TTLCache(policy.cache_size,
                                                                                 policy.cache_ttl)
        # Decoding holds whole bitmaps: no more pictures decode at once than are fetched at once.
        self._decoders = anyio.CapacityLimiter(policy.concurrency)
        # A fleet-wide tier behind the local one (fleet/hash_cache.py: async get, put_later); None alone.
        self.shared: Any = None

    async def aclose(self) -> None:
        await self.fetcher.aclose()

    def algorithms(self, rules: RuleSet) -> tuple[str, ...]:
        """What to compute: the algorithms the rule set's index holds (else the policy's) plus exact digests."""
        index: Any = getattr(rules, "images", None)
        wanted = set(index.algorithms) if index is not None else set(self.policy.algorithms)
        return tuple(sorted(wanted | set(EXACT_ALGORITHMS)))

    async def screen(self, views: list[ResultView], rules: RuleSet) -> dict[int, ImageCheck]:
        """An ImageCheck for every view that has a picture (a URL or backend hashes)."""
        index: Any = getattr(rules, "images", None)
        listed = set(index.algorithms) if index is not None else set()
        algorithms = self.algorithms(rules)
        budget = PixelBudget(self.policy.page_pixels)
        out: dict[int, ImageCheck] = {}
        work: dict[int, list[str]] = {}
        for view in views:
            urls = list(view.extra_images)
            if view.image_hashes and _usable(view, listed):
                self.observer.image_fetch("precomputed")
                verdict = rules.check_image_hashes(view.image_hashes)
                if verdict.matched:
                    out[view.index] = ImageCheck(verdict, view.image_url, matched_hash(rules, view.image_hashes,
                                                                                        verdict))
                    continue
            elif view.image_url:
                urls.insert(0, view.image_url)
            urls = [u for u in dict.fromkeys(urls) if u]
            if urls:
                work[view.index] = urls
            elif view.image_hashes:
                out[view.index] = ImageCheck(rules.check_image_hashes(view.image_hashes))
        if not work:
            return out
        found: dict[str, tuple[Hashed | None, bytes | None]] = {}

        async def one(url: str) -> None:
            found[url] = await self._hashes(url, algorithms, budget)

        with anyio.move_on_after(self.policy.page_budget):
            async with anyio.create_task_group() as group:
                for url in dict.fromkeys(u for urls in work.values() for u in urls):
                    group.start_soon(one, url)
        for number, urls in work.items():
            out[number] = self._judge(rules, urls, found)
        return out

    def _judge(self, rules: RuleSet, urls: list[str], found: dict[str, tuple[Hashed | None, bytes | None]]
               ) -> ImageCheck:
        """A result's verdict over all its pictures: any match wins; else unverified if any was not checked."""
        unverified = False
        shown: dict[str, str] = {}
        for url in urls:
            hashed, data = found.get(url, (None, None))
            if url not in found:
                self.observer.image_fetch("over-budget")
            if hashed is None:
                unverified = True
                continue
            verdict = rules.check_image_hashes(hashed.hashes)
            if verdict.matched:
                return ImageCheck(verdict, url, matched_hash(rules, hashed.hashes, verdict))
            if not hashed.complete:
                unverified = True
            elif self.shown is not None:
                route = self.shown.keep(url, data) if data is not None else self.shown.route(url)
                if route is not None:
                    shown[url] = route
        if unverified:
            return ImageCheck(None)
        return ImageCheck(Verdict(), shown=shown)

    async def _hashes(self, url: str, algorithms: tuple[str, ...], budget: PixelBudget
                      ) -> tuple[Hashed | None, bytes | None]:
        """The picture's hashes (None: not fetched) and, when the bytes are wanted for showing, the bytes."""
        cached = self.by_url.get((url, algorithms))
        if cached is not None and (self.shown is None or not cached.complete or self.shown.route(url)):
            self.observer.image_fetch("cached")
            return cached, None
        if self.shared is not None and self.shown is None:  # showing checked bytes needs the bytes
            shared = await self.shared.get(url, algorithms)
            if shared is not None:  # fetched and hashed by another instance of the fleet
                self.observer.image_fetch("shared")
                self.by_url.put((url, algorithms), Hashed(shared))
                return Hashed(shared), None
        result: FetchResult = await self.fetcher.fetch(url)
        if result.data is None:
            self.observer.image_fetch(result.outcome)
            return None, None
        digest = hashlib.sha256(result.data).hexdigest()
        hashed = self.by_digest.get((digest, algorithms))
        if hashed is None:
            try:
                # Hashing is CPU work (decode + 8 dihedral variants per frame): keep it off the event loop.
                # On budget expiry the thread is abandoned, not killed; its result is simply not used.
                hashes = await anyio.to_thread.run_sync(self._compute, result.data, algorithms, budget,
                                                        abandon_on_cancel=True, limiter=self._decoders)
                hashed = Hashed(hashes)
            except ImageDecodeError as exc:
                # The exact digests need no decoding: a listed file is caught even when it will not decode
                # or is over a pixel limit. Over the page budget is not cached: another page may have room.
                self.observer.image_fetch("over-pixel-budget" if isinstance(exc, PixelBudgetExceeded)
                                          else "undecodable")
                partial = Hashed(exact_digests(result.data, algorithms), complete=False)
                if not isinstance(exc, PixelBudgetExceeded):
                    self.by_digest.put((digest, algorithms), partial)
                    self.by_url.put((url, algorithms), partial)
                return partial, None
            self.by_digest.put((digest, algorithms), hashed)
        self.observer.image_fetch("fetched")
        self.by_url.put((url, algorithms), hashed)
        if self.shared is not None and hashed.complete:
            self.shared.put_later(url, algorithms, hashed.hashes)
        return hashed, result.data

    def _compute(self, data: bytes, algorithms: tuple[str, ...], budget: PixelBudget | None = None) -> Hashes:
        return compute_query_hashes(data, algorithms, self.policy.max_pixels, self.policy.min_pdq_quality,
                                    max_frames=self.policy.max_frames, budget=budget)
