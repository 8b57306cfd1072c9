"""What is shown is what was checked: verified thumbnails are served by the filter itself.

Without this, the filter fetches a thumbnail, hashes it and lets the result through, and then the browser
fetches the same URL again; a host can answer the two differently (by User-Agent, address or timing) and
show the person a picture the filter never saw. With ``rewrite_thumbnails`` on, the screener keeps the
exact bytes it hashed (``ShownThumbnails``, bounded in bytes and time) and the page's picture URLs are
rewritten to ``/-/thumb/<token>``, served from those bytes by ``ThumbRoute``.

Not an open proxy: the token is ``<url>.<mac>`` with the MAC an HMAC-SHA256 of the URL under a server
secret, so only URLs this filter screened and signed can be asked for. A token whose bytes are no longer
held (evicted, or another worker screened them) is fetched and screened again with the current rules
before anything is served; a picture that does not pass gives 404. Only raster formats that Pillow
identified are served, with ``nosniff`` and a sandboxing CSP (never an SVG or HTML under our origin).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from PIL import Image

SECRET_ENV = "FILTER_PROXY_THUMB_SECRET"
PREFIX = "/-/thumb/"
RASTER = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp", "BMP": "image/bmp"}
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"content-security-policy", b"default-src 'none'; sandbox"),
            (b"cache-control", b"private, max-age=300"), (b"content-disposition", b"inline")]


def thumb_secret(env: str = SECRET_ENV) -> bytes:
    """The signing secret: ``$FILTER_PROXY_THUMB_SECRET`` (set it to one value for every worker and instance,
    so that a page made by one is served by another), else a random one for this process."""
    value = os.environ.get(env, "").strip()
    if value:
        if len(value) < 16:
            raise ValueError(f"{env} is too short (use at least 16 characters)")
        return value.encode()
    return os.urandom(32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raster_type(data: bytes) -> str | None:
    """The content type of a raster picture Pillow identifies from its header, else None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return RASTER.get(image.format or "")
    except Exception:  # not a picture Pillow knows: never served
        return None


class ShownThumbnails:
    """The bytes of verified pictures by URL (LRU, at most ``max_bytes`` in total, each for ``ttl`` s)."""

    def __init__(self, secret: bytes, *, base: str = "", max_bytes: int = 32_000_000, ttl: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.secret = secret
        self.base = base.rstrip("/")  # e.g. the filter's public origin; "" gives root-relative URLs
        self.max_bytes, self.ttl, self.clock = max_bytes, ttl, clock
        self.size = 0
        self._items: OrderedDict[str, tuple[float, bytes, str]] = OrderedDict()

    # -- tokens -------------------------------------------------------------------------------------------
    def _mac(self, url: str) -> bytes:
        return hmac.new(self.secret, url.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()[:16]

    def token(self, url: str) -> str:
        return f"{_b64(url.encode('utf-8', 'surrogatepass'))}.{_b64(self._mac(url))}"

    def url_of(self, token: str) -> str | None:
        """The URL a token was signed for, or None when it is not one of ours."""
        encoded, _, mac = token.partition(".")
        try:
            url = _unb64(encoded).decode("utf-8", "surrogatepass")
            given = _unb64(mac)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return url if hmac.compare_digest(given, self._mac(url)) else None

    def address(self, url: str) -> str:
        return f"{self.base}{PREFIX}{self.token(url)}"

    # -- the store (ShownBytes for the ImageScreener) -------------------------------------------------
    def keep(self, url: str, data: bytes) -> str | None:
        ctype = raster_type(data)
        if ctype is None or len(data) > self.max_bytes:
            return None
        self._drop(url)
        self._items[url] = (self.clock() + self.ttl, data, ctype)
        self.size += len(data)
        while self.size > self.max_bytes:
            _, (_, old, _) = self._items.popitem(last=False)
            self.size -= len(old)
        return self.address(url)

    def route(self, url: str) -> str | None:
        return self.address(url) if self.get(url) is not None else None

    def get(self, url: str) -> tuple[bytes, str] | None:
        item = self._items.get(url)
        if item is None:
            return None
        if item[0] < self.clock():
            self._drop(url)
            return None
        self._items.move_to_end(url)
        return item[1], item[2]

    def _drop(self, url: str) -> None:
        old = self._items.pop(url, None)
        if old is not None:
            self.size -= len(old[1])

    def __len__(self) -> int:
        return len(self._items)


class ThumbRoute:
    """ASGI: ``GET /-/thumb/<token>`` serves the checked bytes; any other path goes to ``app`` (when given;
    else 404). Usable as a wrapper around the served app or as a route endpoint."""

    def __init__(self, store: ShownThumbnails, app: Any = None, *, screener: Any = None,
                 rules: Callable[[], Any] | None = None) -> None:
        self.store, self.app, self.screener, self.rules = store, app, screener, rules

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if PREFIX not in path or (self.app is not None and not path.startswith(PREFIX)):
            if self.app is None:
                await _answer(send, 404, b"not found")
            else:
                await self.app(scope, receive, send)
            return
        if scope.get("method") not in ("GET", "HEAD"):
            await _answer(send, 405, b"method not allowed")
            return
        url = self.store.url_of(path.rsplit("/", 1)[-1])
        found = None if url is None else self.store.get(url) or await self._screen_again(url)
        if found is None:
            await _answer(send, 404, b"not found")
            return
        data, ctype = found
        body = b"" if scope.get("method") == "HEAD" else data
        headers = [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode()), *_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _screen_again(self, url: str) -> tuple[bytes, str] | None:
        """Bytes no longer held: fetch and screen them now (the screener keeps them if they pass)."""
        if self.screener is None or self.rules is None:
            return None
        from filter_proxy.adapters.base import ResultView

        checks = await self.screener.screen([ResultView(0, image_url=url)], self.rules())
        check = checks.get(0)
        if check is None or check.verdict is None or check.verdict.matched:
            return None
        return self.store.get(url)


async def _answer(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
