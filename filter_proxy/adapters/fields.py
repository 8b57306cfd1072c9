"""Reading and removing the screened fields of one result document.

A field path is either dotted (``"meta.title"``: a literal key containing dots wins, arrays of objects are
searched item by item) or a JSON pointer (``"/meta/title"``, RFC 6901).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from filter_proxy.adapters.base import FieldMapping, ResultView
from filter_proxy.adapters.pointer import pointer_delete, pointer_get
from filter_proxy.adapters.request import string_leaves

_TAG = re.compile(r"<[^>]{0,200}>")
MISSING: Any = object()


def strip_tags(text: str) -> str:
    """Highlight fragments carry markup such as ``<em>``; screen the words, not the tags."""
    return _TAG.sub("", text) if "<" in text else text


def get_field(doc: Any, path: str) -> Any:
    """The value at ``path`` or MISSING."""
    if path.startswith("/") or path == "":
        return pointer_get(doc, path, MISSING)
    return _dotted_get(doc, path)


def _dotted_get(doc: Any, path: str) -> Any:
    if isinstance(doc, list):
        for item in doc:
            found = _dotted_get(item, path)
            if found is not MISSING:
                return found
        return MISSING
    if not isinstance(doc, dict):
        return MISSING
    if path in doc:
        return doc[path]
    head, dot, rest = path.partition(".")
    if not dot or head not in doc:
        return MISSING
    return _dotted_get(doc[head], rest)


def delete_field(doc: Any, path: str) -> bool:
    """Remove the field at ``path`` (every occurrence inside arrays of objects). True if something went."""
    if path.startswith("/"):
        return pointer_delete(doc, path)
    if isinstance(doc, list):
        return any([delete_field(item, path) for item in doc])
    if not isinstance(doc, dict):
        return False
    if path in doc:
        del doc[path]
        return True
    head, dot, rest = path.partition(".")
    return bool(dot) and head in doc and delete_field(doc[head], rest)


def as_texts(value: Any) -> list[str]:
    """Strings in a field value: a string, or the strings of a (nested) list. Numbers and objects carry no
    screened text."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [t for item in value if not isinstance(item, dict) for t in as_texts(item)]
    return []


def collect(sources: Sequence[Any], paths: Iterable[str]) -> list[str]:
    """Texts found at ``paths`` in each of ``sources``, in mapping order, without repeats."""
    out: dict[str, None] = {}
    for path in paths:
        for source in sources:
            value = get_field(source, path)
            if value is not MISSING:
                out.update(dict.fromkeys(as_texts(value)))
    return list(out)


def build_view(index: int, sources: Sequence[Any], fields: FieldMapping, highlights: Iterable[str] = ()) -> ResultView:
    """One result's screened view. Every mapped field is read (not only the first present), so a document
    with both ``description`` and ``content`` is screened on both; what is not the title or snippet goes to
    ``extra_text`` / ``extra_urls``."""
    titles = collect(sources, fields.title)
    snippets = collect(sources, fields.snippet)
    extra = collect(sources, [p for p in fields.extra_text if p != "*"])
    if "*" in fields.extra_text:  # screen every string of the document
        for source in sources:
            extra.extend(string_leaves(source))
    extra.extend(strip_tags(h) for h in highlights)
    # Markup inside a field ("<em>zqx</em>blocked" in a formatted copy) would split words: screen the
    # text without tags as well, keeping the original in case "<" was just a character.
    extra.extend(s for t in (*titles, *snippets, *extra) if "<" in t and (s := strip_tags(t)) != t)
    urls = collect(sources, fields.url)
    images = collect(sources, fields.image_url)
    hashes: dict[str, str] = {}
    for algorithm, path in fields.image_hash.items():
        found = collect(sources, [path])
        if found:
            hashes[algorithm] = found[0].strip().lower()
    return ResultView(
        index=index,
        title=titles[0] if titles else "",
        snippet=snippets[0] if snippets else "",
        url=urls[0] if urls else None,
        image_url=images[0] if images else None,
        image_hashes=hashes,
        extra_text=titles[1:] + snippets[1:] + extra,
        extra_urls=urls[1:] + images[1:],
    )


def hide_images(sources: Sequence[Any], fields: FieldMapping) -> None:
    """Remove every image field (and precomputed hashes) of one result, in every source view of it."""
    for source in sources:
        for path in (*fields.image_url, *fields.image_hash.values()):
            delete_field(source, path)
