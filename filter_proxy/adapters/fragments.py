"""Highlight fragments read together: a backend's highlighter answers a field as a list of fragments, and
a client shows them side by side (``"zqx" … "blocked"``, ``["forbidden phrase", "alpha"]``). Each fragment
is screened on its own as any string is; ``joined`` adds the fragments of each list joined by a space and
without one, so a listed phrase cut between words or a term cut inside is read too. Only highlight tables are joined (ES ``highlight``, Solr ``highlighting``, Typesense
``snippets`` / ``matched_tokens``): joining every list of a page (tags, URL parts) would cost a check per
list and read unrelated values as one text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["joined"]

def _join(value: Any, out: list[str]) -> None:
    if type(value) is list and len(value) > 1 and all(type(v) is str for v in value):
        out.append(" ".join(value))  # a phrase cut between words
        out.append("".join(value))  # a word cut inside (a fragment boundary needs no space)


def joined(table: Any) -> list[str]:
    """The fragment lists of a highlight table (an object of field -> fragments, at any depth, or a list
    of Typesense highlight objects), each joined by a space and without one. Empty when no list has two fragments."""
    out: list[str] = []
    stack = [table]
    while stack:
        node = stack.pop()
        if type(node) is dict:
            for value in node.values():
                if type(value) is list:
                    _join(value, out)
                    stack.extend(v for v in value if type(v) in (dict, list))
                elif type(value) is dict:
                    stack.append(value)
        elif type(node) is list:
            _join(node, out)
            stack.extend(v for v in node if type(v) in (dict, list))
    return out
