"""The demo app: the FTS5 backend behind FilterMiddleware (mode A, mounted in process), plus a plain HTML
search page that is itself a client of the filtered JSON API, so what a person sees is exactly what the
filter lets through.

Thumbnails are screened in one of two ways (``thumbnails=``):

- ``"fetch"``: the ImageScreener fetches each thumbnail, hashes it and near-matches it, as for any
  real backend. The demo serves its thumbnails on loopback, which the fetcher refuses by default (SSRF
  guard), so the demo's screener is given ``allow_networks`` for loopback only.
- ``"auto"`` (the default): ``"fetch"`` when the ImageScreener is installed, else ``"precomputed"``.
- ``"precomputed"``: the backend puts each thumbnail's phash/dhash in the result (``thumbnail_phash``,
  ``thumbnail_dhash``) and the adapter's field mapping reads them; nothing is fetched.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from filter_proxy.adapters.searxng import SEARXNG_FIELDS
from filter_proxy.demo.backend import HASH_FIELDS, PAGE_SIZE, create_backend
from filter_proxy.demo.i18n import labels
from filter_proxy.middleware import FilterMiddleware
from filter_proxy.rules import RuleSet, load_rules
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.warnings import WarningCatalog, warning_headers

SEARCH_PATH = "/search"
SUGGEST_PATH = "/autocompleter"
LOOPBACK_NETWORKS = ("127.0.0.0/8", "::1/128")
THUMBNAIL_MODES = ("auto", "fetch", "precomputed")
DEMO_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)


def demo_image_screener(rules: RuleSet) -> Any:
    """An ImageScreener that may fetch from loopback (where the demo serves its thumbnails)."""
    from filter_proxy.images_screen import ImageScreener
    from filter_proxy.thumbs import ShownThumbnails, thumb_secret

    policy = rules.policy.images
    allowed = tuple(dict.fromkeys((*policy.allow_networks, *LOOPBACK_NETWORKS)))
    # On in the demo: thumbnails are shown from the bytes that were checked (/-/thumb/..., thumbs.py).
    return ImageScreener(dataclasses.replace(policy, allow_networks=allowed), shown=ShownThumbnails(thumb_secret()))


def thumbnail_mode(requested: str = "auto") -> str:
    """``"fetch"`` or ``"precomputed"``: what ``requested`` means on this installation."""
    if requested not in THUMBNAIL_MODES:
        raise ValueError(f"thumbnails must be one of {', '.join(THUMBNAIL_MODES)}, not {requested!r}")
    if requested != "auto":
        return requested
    try:
        import filter_proxy.images_screen  # noqa: F401
    except ImportError:
        return "precomputed"
    return "fetch"


def create_filtered_backend(rules: RuleSet | RuleHolder, *, thumbnails: str = "auto",
                            image_screener: Any | None = None) -> Any:
    """The demo backend wrapped in FilterMiddleware with the SearXNG adapter: the filtered JSON API.
    In ``fetch`` mode an ImageScreener allowed onto loopback is made unless ``image_screener`` is given."""
    precomputed = thumbnail_mode(thumbnails) == "precomputed"
    if not precomputed and image_screener is None:
        image_screener = demo_image_screener(rules.current if isinstance(rules, RuleHolder) else rules)
    return FilterMiddleware(
        create_backend(precomputed_hashes=precomputed),
        rules=rules,
        adapter="searxng",
        search_paths=[SEARCH_PATH],
        suggest_paths=[SUGGEST_PATH],
        pass_routes=["GET /thumbs/*"],  # the thumbnails themselves (deny by default refuses the rest)
        query_param="q",
        fields=dataclasses.replace(SEARXNG_FIELDS, image_hash=HASH_FIELDS) if precomputed else None,
        image_screener=None if precomputed else image_screener,
    )


class SearchPage:
    """``GET /``: the HTML search page, rendered on the server from the filtered JSON API (works without JS).
    Its language follows Accept-Language as the warnings' does: ``lang``, headings and buttons."""

    def __init__(self, api: Any, catalog: Callable[[], WarningCatalog]) -> None:
        self.api = api  # the filtered ASGI app, called in process
        self.catalog = catalog  # the current rules' warning catalog (follows reloads)

    async def render(self, request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        catalog = self.catalog()
        lang, text = labels(catalog.choose_language(request.headers.get("accept-language")))
        context: dict[str, Any] = {"query": query, "results": [], "suggestions": [], "safety": None,
                                   "removed": 0, "total": 0, "error": None, "page": _page(request)}
        if query:
            context.update(await self._search(request, query, context["page"]))
        safety = context["safety"]
        if safety and safety.get("action") == "block":
            context["query"] = ""  # never echo a blocked query back into the page
        warning = safety.get("warning") if isinstance(safety, dict) else None
        chrome = catalog.chrome(warning.get("lang", lang)) if isinstance(warning, dict) else catalog.chrome(lang)
        html = TEMPLATES.get_template("search.html").render(**context, page_size=PAGE_SIZE, lang=lang, t=text,
                                                            chrome=chrome, warning=warning)
        headers = {k.decode(): v.decode() for k, v in warning_headers(html=True)} if warning else {}
        # Its own policy: the demo page has one inline script (suggestions while typing) and thumbnails
        # from this site; never framed, like the warning page.
        headers["content-security-policy"] = DEMO_CSP
        return HTMLResponse(html, headers=headers)

    async def _search(self, request: Request, query: str, page: int) -> dict[str, Any]:
        # The base URL is the one the browser used, so result thumbnails point back at this server.
        headers = {"accept": "application/json"}
        if "accept-language" in request.headers:
            headers["accept-language"] = request.headers["accept-language"]
        transport = httpx.ASGITransport(app=self.api)
        async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url)) as client:
            response = await client.get(SEARCH_PATH, params={"q": query, "format": "json", "pageno": str(page)},
                                        headers=headers)
        if response.status_code != 200:
            return {"error": f"The search service answered {response.status_code}; please try again."}
        doc = response.json()
        return {
            "results": doc.get("results") or [],
            "suggestions": doc.get("suggestions") or [],
            "safety": doc.get("safety"),
            "total": doc.get("number_of_results") or 0,
            "removed": int(response.headers.get("x-filter-removed", "0") or 0),
        }


def _page(request: Request) -> int:
    try:
        return min(max(int(request.query_params.get("pageno", "1")), 1), 1000)
    except ValueError:
        return 1


def create_demo_app(rules: str | Path | RuleSet | RuleHolder = "rules", *, thumbnails: str = "auto",
                    image_screener: Any | None = None) -> Starlette:
    """The whole demo: ``/`` (HTML page), ``/search`` and ``/autocompleter`` (filtered JSON), ``/thumbs/``.

    ``rules`` is a rules directory, a compiled bundle, or already loaded rules (RulesError if bad).
    ``image_screener`` replaces the default loopback-allowed one in ``fetch`` mode; the app closes it.
    """
    if isinstance(rules, str | Path):
        rules = load_rules(rules)
    screener = image_screener
    if screener is None and thumbnail_mode(thumbnails) == "fetch":
        screener = demo_image_screener(rules.current if isinstance(rules, RuleHolder) else rules)
    api = create_filtered_backend(rules, thumbnails=thumbnails, image_screener=screener)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:  # the screener owns a pooled httpx client
            if screener is not None:
                await screener.aclose()

    holder = rules if isinstance(rules, RuleHolder) else None
    fixed = rules if not isinstance(rules, RuleHolder) else None

    def catalog() -> WarningCatalog:
        return (holder.current if holder is not None else fixed).warnings  # type: ignore[union-attr]

    routes = [Route("/", SearchPage(api, catalog).render, methods=["GET"]), Mount("/", app=api)]
    if getattr(screener, "shown", None) is not None:  # serves the checked thumbnail bytes (thumbs.py)
        from filter_proxy.thumbs import PREFIX, ThumbRoute

        current = (lambda: rules.current) if isinstance(rules, RuleHolder) else (lambda: rules)
        routes.insert(1, Route(PREFIX + "{token}", ThumbRoute(screener.shown, screener=screener, rules=current)))
    return Starlette(routes=routes, lifespan=lifespan)
