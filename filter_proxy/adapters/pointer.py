"""JSON pointers (RFC 6901): ``/a/0/b``; ``~1`` is "/", ``~0`` is "~"; "" is the whole document."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_MISSING: Any = object()


@lru_cache(maxsize=512)
def parse_pointer(pointer: str) -> tuple[str, ...]:
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))


def _step(node: Any, token: str) -> Any:
    if isinstance(node, dict):
        return node.get(token, _MISSING)
    if isinstance(node, list) and token.isdigit() and (token == "0" or not token.startswith("0")):
        i = int(token)
        return node[i] if i < len(node) else _MISSING
    return _MISSING


def pointer_get(doc: Any, pointer: str, default: Any = None) -> Any:
    node = doc
    for token in parse_pointer(pointer):
        node = _step(node, token)
        if node is _MISSING:
            return default
    return node


def pointer_set(doc: Any, pointer: str, value: Any) -> Any:
    """Set ``value`` at ``pointer``, creating objects on the way; returns the (possibly new) document."""
    tokens = parse_pointer(pointer)
    if not tokens:
        return value
    node = doc
    for token in tokens[:-1]:
        nxt = _step(node, token)
        if nxt is _MISSING:
            if not isinstance(node, dict):
                raise ValueError(f"cannot create {pointer!r}: {token!r} is inside a non-object")
            nxt = node[token] = {}
        node = nxt
    last = tokens[-1]
    if isinstance(node, dict):
        node[last] = value
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    else:
        raise ValueError(f"cannot set {pointer!r}")
    return doc


def pointer_delete(doc: Any, pointer: str) -> bool:
    tokens = parse_pointer(pointer)
    if not tokens:
        return False
    parent = pointer_get(doc, "".join("/" + t.replace("~", "~0").replace("/", "~1") for t in tokens[:-1]), _MISSING)
    if isinstance(parent, dict) and tokens[-1] in parent:
        del parent[tokens[-1]]
        return True
    return False
