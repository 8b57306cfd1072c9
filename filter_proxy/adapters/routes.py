"""Route patterns: which request paths an adapter screens.

A pattern is a path whose segments are literal, ``*`` (exactly one non-empty segment) or ``**`` (any number
of segments, including none). Paths are compared after collapsing repeated slashes and dropping a trailing
slash, so ``/books//_search/`` cannot slip past ``/*/_search``. Pass the already percent-decoded path
(ASGI ``scope["path"]``).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> tuple[str, ...]:
    return _segments(pattern)


def match_path(pattern: str, path: str) -> bool:
    """True when ``path`` matches ``pattern`` ("*" = one segment, "**" = any number of segments)."""
    return _match(_pattern(pattern), _segments(path))


def match_any(patterns: Iterable[str], path: str) -> bool:
    segments = _segments(path)
    return any(_match(_pattern(p), segments) for p in patterns)


def _match(pat: tuple[str, ...], seg: tuple[str, ...]) -> bool:
    if "**" not in pat:  # the common case: one comparison per segment
        return len(pat) == len(seg) and all(p == "*" or p == s for p, s in zip(pat, seg, strict=True))
    if not pat:
        return not seg
    head, rest = pat[0], pat[1:]
    if head == "**":
        return any(_match(rest, seg[i:]) for i in range(len(seg) + 1))
    return bool(seg) and (head == "*" or head == seg[0]) and _match(rest, seg[1:])
