"""Screening one buffered page: which results and suggestions go, which thumbnails are hidden.

Pure logic shared by both modes (mounted middleware and reverse proxy). Nothing here touches ASGI or the
network except the optional image screener, which is awaited by ``screen_page``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from filter_proxy.adapters.base import Adapter, ResultView
from filter_proxy.images_check import ImageCheck, matched_hash, rewrite_urls
from filter_proxy.verdict import Verdict

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet


class ImageScreenerLike(Protocol):
    async def screen(self, views: list[ResultView], rules: RuleSet) -> dict[int, ImageCheck]: ...


@dataclass(slots=True)
class Removal:
    """One removed result or suggestion, for the observer (never the query, never who asked)."""

    verdict: Verdict
    url: str | None = None
    image_hash: str | None = None


@dataclass(slots=True)
class PageOutcome:
    removed: list[Removal] = field(default_factory=list)
    hidden_images: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.removed) or self.hidden_images > 0


def screen_results(views: Sequence[ResultView], rules: RuleSet) -> dict[int, Removal]:
    """Text fields, every URL (link, thumbnail, further links) and backend-supplied hashes of each result.

    Any matched verdict (block, warn or strip) removes the result: the action only decides what happens
    to a *query*; matching content is never shown.
    """
    # The hot loop of a screened page: plain attribute tests, no per-result lists beyond texts().
    removals: dict[int, Removal] = {}
    check_texts = rules.check_texts
    check_url = rules.check_url
    for view in views:
        verdict = check_texts(view.texts())
        if verdict.action != "allow":
            removals[view.index] = Removal(verdict, view.url)
            continue
        hit = None
        if view.url:
            verdict = check_url(view.url)
            if verdict.action != "allow":
                hit = view.url
        if hit is None and view.image_url:
            verdict = check_url(view.image_url)
            if verdict.action != "allow":
                hit = view.image_url
        if hit is None and view.extra_urls:
            for url in view.extra_urls:
                verdict = check_url(url)
                if verdict.action != "allow":
                    hit = url
                    break
        if hit is not None:
            removals[view.index] = Removal(verdict, hit)
        elif view.image_hashes:
            verdict = rules.check_image_hashes(view.image_hashes)
            if verdict.action != "allow":
                # the report sink records the hash that matched, not the first one the backend sent
                removals[view.index] = Removal(verdict, view.url, matched_hash(rules, view.image_hashes, verdict))
    return removals


def screen_texts(doc: Any, adapter: Adapter, rules: RuleSet, *, results: bool) -> tuple[Any, PageOutcome]:
    """``screen_page`` without an image screener: plain synchronous code, so the middleware's common path
    makes no coroutine for it."""
    outcome = PageOutcome()
    if results:
        views = adapter.results(doc)
        if views:
            removals = screen_results(views, rules)
            if removals:
                doc = adapter.remove_results(doc, set(removals))
                outcome.removed.extend(removals.values())
    return _screen_suggestions(doc, adapter, rules, outcome), outcome


async def screen_page(
    doc: Any,
    adapter: Adapter,
    rules: RuleSet,
    *,
    results: bool,
    image_screener: ImageScreenerLike | None = None,
) -> tuple[Any, PageOutcome]:
    """Screen a parsed page: drop matching results and suggestions, hide unverified thumbnails. Returns the
    (possibly new) document, as the adapter's ``remove_*`` methods return it.

    ``results`` is False on suggest routes (their documents carry suggestions only). Adapter errors
    propagate: the caller fails closed.
    """
    if image_screener is None:
        return screen_texts(doc, adapter, rules, results=results)
    outcome = PageOutcome()
    if results:
        views = adapter.results(doc)
        if views:
            removals = screen_results(views, rules)
            hide: list[int] = []
            shown: dict[str, str] = {}
            await _screen_images(views, rules, image_screener, removals, hide, shown)
            for index in hide:  # before removal: indices refer to the original order
                adapter.hide_image(doc, index)
            outcome.hidden_images = len(hide)
            if removals:
                doc = adapter.remove_results(doc, set(removals))
                outcome.removed.extend(removals.values())
            if shown:  # verified pictures are shown from the bytes that were checked (images_check.py)
                doc = rewrite_urls(doc, shown)
    return _screen_suggestions(doc, adapter, rules, outcome), outcome


def _screen_suggestions(doc: Any, adapter: Adapter, rules: RuleSet, outcome: PageOutcome) -> Any:
    suggestions = adapter.suggestions(doc)
    if suggestions:
        check_text = rules.check_text
        dropped: set[int] = set()
        for i, text in enumerate(suggestions):
            verdict = check_text(text)
            if verdict.matched:
                dropped.add(i)
                outcome.removed.append(Removal(verdict))
        if dropped:
            doc = adapter.remove_suggestions(doc, dropped)
    return doc


async def _screen_images(
    views: Sequence[ResultView],
    rules: RuleSet,
    screener: ImageScreenerLike,
    removals: dict[int, Removal],
    hide: list[int],
    shown: dict[str, str],
) -> None:
    # Results already removed need no picture check. Backend-supplied hashes were checked above; the
    # screener decides whether they stand in for fetching (only when the list holds that algorithm) and
    # fetches every further image field.
    candidates = [v for v in views if (v.image_url or v.extra_images) and v.index not in removals]
    if not candidates:
        return
    checks = await screener.screen(candidates, rules)
    on_unverified = rules.policy.images.on_unverified
    for view in candidates:
        check = checks.get(view.index)
        verdict = check.verdict if check is not None else None  # not answered: unverified (fail closed)
        if verdict is None:  # could not be checked in time: the policy decides
            if on_unverified == "drop-result":
                removals[view.index] = Removal(Verdict("strip", signal="image"), view.url)
            elif on_unverified == "hide-thumbnail":
                hide.append(view.index)
        elif verdict.matched:  # the matched content is the picture: report its address and hash
            assert check is not None
            removals[view.index] = Removal(verdict, check.url or view.image_url or view.url, check.image_hash)
        elif check is not None:
            shown.update(check.shown)


def prefers_html(accept: str) -> bool:
    """True when the Accept header ranks text/html above JSON (a browser), False for API clients and */*."""
    if "html" not in accept:
        return False
    html_q = json_q = 0.0
    for part in accept.split(","):
        media, _, params = part.partition(";")
        media = media.strip().lower()
        q = 1.0
        if params:
            for param in params.split(";"):
                name, _, value = param.partition("=")
                if name.strip() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in ("application/json", "application/*", "*/*"):
            json_q = max(json_q, q)
    return html_q > 0 and html_q > json_q


def decode_body(body: bytes, encoding: bytes, limit: int) -> bytes | None:
    """gzip / deflate bodies (an upstream that ignored ``accept-encoding: identity``); None when unknown,
    corrupt or larger than ``limit`` once decoded."""
    enc = encoding.strip().lower()
    if enc in (b"gzip", b"x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif enc == b"deflate":
        wbits = zlib.MAX_WBITS
    else:
        return None
    try:
        inflater = zlib.decompressobj(wbits)
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        return None
    if len(out) > limit or inflater.unconsumed_tail:
        return None
    return out
