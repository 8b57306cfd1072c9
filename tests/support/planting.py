"""Red-team helpers for the response side: a backend (an ASGI app in process) that answers a chosen body,
the plantable positions of a JSON answer (every value, every key, a new key in every object, a new item in
every array), and ``plant`` to put a listed value at one of them.

Written apart from the generators of tests/test_screen_every_string.py: these start from whole answers as
each backend sends them (tests/support/answers.py) and can plant anywhere in them, not only in results.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import asgi_scope, call_asgi

Path = tuple[Any, ...]
NEEDLES = ("zqxblocked", "blocked.example.invalid", "forbidden phrase alpha")


def positions(node: Any, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Every place of ``node`` a value can be planted: (path, how) with how in value / key / newkey / append."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield (*path, key), "key"
            yield from positions(child, (*path, key))
        yield (*path, None), "newkey"
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from positions(child, (*path, i))
        yield (*path, len(node)), "append"
    else:
        yield path, "value"


def plant(doc: Any, path: Path, how: str, listed: Any, append: bool = True) -> Any:
    """A copy of ``doc`` with ``listed`` at ``path``: as the value (a string value gets it appended, so
    the text around it stays, unless ``append`` is False), as the key's name (a string ``listed`` only), as
    a new key, as a new item."""
    doc = copy.deepcopy(doc)
    if not path:
        return listed
    node = doc
    for step in path[:-1]:
        node = node[step]
    last = path[-1]
    if how == "key":
        node[listed if isinstance(listed, str) else json.dumps(listed)] = node.pop(last)
    elif how == "newkey":
        node["extra"] = listed
    elif how == "append":
        node.append(listed)
    else:
        old = node[last]
        node[last] = f"{old} {listed}" if append and isinstance(old, str) and isinstance(listed, str) else listed
    return doc


def fixed_app(body: bytes, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Any:
    """An ASGI app that answers every request with ``body`` (after reading the request)."""
    head = headers if headers is not None else [(b"content-type", b"application/json")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": body})

    return app


async def exchange(rules: Any, adapter: str, request: tuple[str, str, str, bytes], answer: bytes,
                   status: int = 200, **options: Any) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request through FilterMiddleware in front of a backend answering ``answer``."""
    method, path, query, body = request
    mw = FilterMiddleware(fixed_app(answer, status), rules=rules, adapter=adapter, **options)
    headers = [(b"content-type", b"application/json")] if body else []
    return await call_asgi(mw, asgi_scope(method, path.encode(), query.encode(), headers, body), body)


def readings(body: bytes) -> str:
    """What a client can read in ``body``: the text and, when it is JSON (or JSON lines), its decoding
    (escapes undone), lower-cased."""
    text = body.decode("utf-8", "replace")
    out = [text]
    for chunk in [body, *body.splitlines()]:
        try:
            out.append(json.dumps(orjson.loads(chunk), ensure_ascii=False))
        except orjson.JSONDecodeError:
            continue
    return "\n".join(out).lower()


def leaks(body: bytes, needles: tuple[str, ...] = NEEDLES) -> bool:
    text = readings(body)
    return any(n in text for n in needles)


Encoder = Callable[[Any], bytes]
