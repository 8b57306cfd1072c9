"""``GET /-/help/<token>``: count a help-link click, then send the person on to the link.

The token (token.py) names (kind, language, variant, link index); the target is looked up in the warning
catalogue in force, so only a link an operator wrote can be reached (no open redirect). Anything else
(bad MAC, unknown kind, language, variant or index) is 404 and counted nowhere. The click is counted per
(kind, language, variant, link) and nothing else: no address, cookie, referrer or query is read.

``https:`` and ``mailto:`` links: a 303 redirect. ``tel:`` links: a tiny interstitial page with one
plain link to the number, not a redirect. Why: a redirect to a ``tel:`` URL is not followed the same way
by every browser (some refuse external-protocol navigations that a user did not start on the page, some
show nothing), so the person could be left on a blank page; and the ``<a ping>`` alternative sends a
POST that several browsers switch off, carries the page URL, and would count a different set of people.
The interstitial works everywhere without scripts, and the second tap is the person's own choice to call.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from filter_proxy.events import FilterObserver
from filter_proxy.funnel.token import PREFIX, HelpSigner
from filter_proxy.warnings import WarningCatalog, warning_headers

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

_PAGE = """<!doctype html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{name}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}
a.call{{display:inline-block;font-size:1.4rem;padding:.6rem 1rem;border:2px solid #0b4f9c;border-radius:.4rem;
color:#0b4f9c;text-decoration:none}}</style></head>
<body><main><h1>{name}</h1>
<p><a class="call" href="{tel}">{label}: {phone}</a></p>
</main></body></html>
"""


class HelpRoute:
    """ASGI: serves ``/-/help/<token>``; every other path goes to ``app``."""

    def __init__(self, signer: HelpSigner, catalog: Callable[[], WarningCatalog], observer: FilterObserver,
                 app: Any | None = None) -> None:
        self.signer = signer
        self.catalog = catalog  # the catalogue in force (follows reloads)
        self.observer = observer
        self.app = app

    def resolve(self, token: str) -> tuple[Any, str] | None:
        """(the verified link, its target URL), or None."""
        link = self.signer.verify(token)
        if link is None:
            return None
        catalog = self.catalog()
        text = catalog.texts.get(link.lang, {}).get(link.kind)
        if text is None or link.variant not in text.variant_names()[0]:
            return None
        target = text.target(link.index)
        return (link, target) if target else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope.get("type") == "http" else ""
        if not path.startswith(PREFIX):
            if self.app is None:
                await _send(send, 404, b"text/plain; charset=utf-8", b"not found\n")
                return
            await self.app(scope, receive, send)
            return
        # GET only: a HEAD (link checkers, prefetch) is no person following the link, so it is not counted.
        found = self.resolve(path[len(PREFIX):]) if scope.get("method") == "GET" else None
        if found is None:
            await _send(send, 404, b"text/plain; charset=utf-8", b"not found\n")
            return
        link, target = found
        self.observer.help_click(link.kind, link.lang, link.variant, link.index)
        if target.startswith("tel:"):
            text = self.catalog().texts[link.lang][link.kind]
            line = text.helplines[(link.index - len(text.links)) // 2]
            chrome = self.catalog().chrome(link.lang)
            page = _PAGE.format(lang=html.escape(link.lang), dir=html.escape(chrome["dir"]),
                                name=html.escape(line.name), tel=html.escape(target),
                                label=html.escape(chrome["phone_label"]), phone=html.escape(line.phone or ""))
            await _send(send, 200, b"text/html; charset=utf-8", page.encode(), warning_headers(html=True))
            return
        await _send(send, 303, b"text/plain; charset=utf-8", b"",
                    [(b"location", target.encode()), *warning_headers(html=False)])


async def _send(send: Send, status: int, content_type: bytes, body: bytes,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), (b"referrer-policy", b"no-referrer"), *(extra or [])]
    seen: set[bytes] = set()
    unique = [(k, v) for k, v in headers if not (k in seen or seen.add(k))]  # type: ignore[func-returns-value]
    await send({"type": "http.response.start", "status": status, "headers": unique})
    await send({"type": "http.response.body", "body": body})
