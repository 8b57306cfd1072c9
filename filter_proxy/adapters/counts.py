"""Lowering a backend's count when results are removed, whatever type the backend sent it as.

Backends send counts as JSON numbers, but a proxy, a plugin or a client-side serializer in between can
send them as strings ("found": "12") or floats (12.0). A count the filter left unchanged while it removed
results would tell the client there is more than it gets (and a paging client would ask for it), so the
count is lowered in its own type: an int stays an int, a float a float, a numeric string a numeric string.
Anything else (null, a bool, an object, a string that is not a whole number) is left as it is.
"""

from __future__ import annotations

from typing import Any

__all__ = ["lower", "lowered"]


def lowered(value: Any, by: int) -> Any:
    """``value`` minus ``by`` (at least 0) in ``value``'s own type; ``value`` itself when it is no count."""
    kind = type(value)
    if kind is int:
        return max(0, value - by)
    if kind is float:
        return max(0.0, value - by)
    if kind is str:
        text = value.strip()
        if text.isdigit() and text.isascii():
            return str(max(0, int(text) - by))
    return value


def lower(holder: Any, key: Any, by: int) -> None:
    """Lower the count at ``holder[key]`` (an object's member) by ``by``, when there is one."""
    if by and isinstance(holder, dict) and key in holder:
        holder[key] = lowered(holder[key], by)
