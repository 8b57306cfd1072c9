"""Reading and removing the mapped fields of one result document (hints: title, link, thumbnail).

What is screened is every string of the result's nodes (``page_results.screen_results``); the mapping says which
string is which, for the image screener, ``hide_image`` and reports.

A field path is either dotted (``"meta.title"``: a literal key containing dots wins, arrays of objects are
searched item by item) or a JSON pointer (``"/meta/title"``, RFC 6901).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from filter_proxy.adapters.base import FieldMapping, ResultView
from filter_proxy.adapters.pointer import pointer_delete, pointer_get
from filter_proxy.adapters.walk import strip_tags

__all__ = ["MISSING", "ViewBuilder", "as_texts", "build_view", "collect", "delete_field", "get_field",
           "hide_images", "strip_tags", "view_builder"]
MISSING: Any = object()


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


# One compiled path: (path, plain). A plain path is a top-level key (no dot, not a pointer): read with one
# dict lookup, which is what ``get_field`` answers for it on an object.
_Path = tuple[str, bool]


def compile_paths(paths: Iterable[str]) -> tuple[_Path, ...]:
    return tuple((p, bool(p) and p[0] != "/" and "." not in p) for p in paths)


def _values(sources: Sequence[Any], paths: tuple[_Path, ...]) -> list[str]:
    """``collect`` over compiled paths (the hot loop of every adapter's ``results``)."""
    out: list[str] = []
    # The usual result is one object; several sources (e.g. a hit and its highlight) are read path by path.
    for path, plain in paths:
        for source in sources:
            value = source.get(path) if plain and type(source) is dict else get_field(source, path)
            if value is None or value is MISSING:
                continue
            if type(value) is str:
                # ``not isspace()`` is ``strip()`` being non-empty, without building the stripped copy.
                if value and not value.isspace() and value not in out:
                    out.append(value)
            else:
                for text in as_texts(value):
                    if text not in out:
                        out.append(text)
    return out


def collect(sources: Sequence[Any], paths: Iterable[str]) -> list[str]:
    """Texts found at ``paths`` in each of ``sources``, in mapping order, without repeats."""
    return _values(sources, compile_paths(paths))


def _plain_values(get: Any, keys: tuple[str, ...]) -> list[str]:
    """``_values`` of one object source over plain paths (top-level keys): ``get`` is its ``dict.get``."""
    if len(keys) == 1 and type(value := get(keys[0])) is str:  # the usual field: one key, a string
        return [value] if value and not value.isspace() else []
    out: list[str] = []
    for key in keys:
        value = get(key)
        if value is None:
            continue
        if type(value) is str:
            if value and not value.isspace() and value not in out:
                out.append(value)
        else:
            for text in as_texts(value):
                if text not in out:
                    out.append(text)
    return out


def _plain_fields_py(source: dict[str, Any], plain: tuple[tuple[str, ...], ...]) -> list[list[str]]:
    """``_plain_values`` of each key group of ``plain`` over one object; ``_walk_kernel.plain_fields`` is the
    compiled copy (tests/test_walk_kernel.py)."""
    get = source.get
    return [_plain_values(get, keys) for keys in plain]


def _plain_view_py(index: int, source: dict[str, Any], plain: tuple[tuple[str, ...], ...],
                   view: type[ResultView]) -> ResultView:
    """``ViewBuilder.build`` of one object over plain paths without hashes, highlights or other nodes: what
    ``_walk_kernel.plain_view`` computes in one call (tests/test_walk_kernel.py)."""
    titles, snippets, extra, urls, images = _plain_fields_py(source, plain)
    if len(titles) > 1 or len(snippets) > 1:
        extra = titles[1:] + snippets[1:] + extra
    return view(index, titles[0] if titles else "", snippets[0] if snippets else "", urls[0] if urls else None,
                images[0] if images else None, {}, extra,
                urls[1:] + images[1:] if len(urls) > 1 or len(images) > 1 else [], images[1:], (source,))


try:  # the compiled copies (setup.py builds them when it can)
    from filter_proxy.adapters._walk_kernel import plain_fields as _plain_fields  # type: ignore[import-not-found]
    from filter_proxy.adapters._walk_kernel import plain_view as _plain_view  # type: ignore[import-not-found]
except ImportError:
    _plain_fields, _plain_view = _plain_fields_py, _plain_view_py


class ViewBuilder:
    """A FieldMapping compiled once: the per-result work is dict lookups, not path parsing.
    ``build`` is ``build_view`` for this mapping (a FieldMapping is treated as immutable)."""

    __slots__ = ("fields", "title", "snippet", "extra", "url", "image_url", "hashes", "plain")

    def __init__(self, fields: FieldMapping) -> None:
        self.fields = fields
        self.title = compile_paths(fields.title)
        self.snippet = compile_paths(fields.snippet)
        self.extra = compile_paths(p for p in fields.extra_text if p != "*")  # "*" (every string) is now always so
        self.url = compile_paths(fields.url)
        self.image_url = compile_paths(fields.image_url)
        self.hashes = tuple((algorithm, compile_paths([path])) for algorithm, path in fields.image_hash.items())
        # Every path a top-level key (the usual mapping): a result with one object source is read with
        # ``dict.get`` per key and nothing else (``_plain_values``); (title, snippet, extra, url, image).
        groups = (self.title, self.snippet, self.extra, self.url, self.image_url, *(p for _, p in self.hashes))
        self.plain: tuple[tuple[str, ...], ...] | None = (
            tuple(tuple(path for path, _ in group) for group in groups[:5])
            if all(plain for group in groups for _, plain in group) else None)

    def build(self, index: int, sources: Sequence[Any], highlights: Iterable[str] = (),
              nodes: tuple[Any, ...] = ()) -> ResultView:
        """The view of one result. ``nodes`` are its subtrees as they sit in the response (a hit, a hit and
        its highlighting entry); every string in them is screened. Without ``nodes`` the sources and
        highlights are the nodes."""
        plain = self.plain
        if plain is not None and len(sources) == 1 and type(sources[0]) is dict:
            if not nodes and not highlights and not self.hashes:  # the usual result: one call
                return _plain_view(index, sources[0], plain, ResultView)
            # The same values as ``_values`` gives for one object and plain paths, without its loops.
            titles, snippets, extra, urls, images = _plain_fields(sources[0], plain)
        else:
            titles = _values(sources, self.title)
            snippets = _values(sources, self.snippet)
            extra = _values(sources, self.extra) if self.extra else []
            urls = _values(sources, self.url)
            images = _values(sources, self.image_url)
        hashes: dict[str, str] = {}
        for algorithm, path in self.hashes:
            found = _values(sources, path)
            if found:
                hashes[algorithm] = found[0].strip().lower()
        if len(titles) > 1 or len(snippets) > 1:
            extra = titles[1:] + snippets[1:] + extra
        if not nodes:
            nodes = (*sources, list(highlights)) if highlights else tuple(sources)
        # Every string of ``nodes`` is screened by ``page_results.screen_results``, which walks them once
        # per page: nothing is walked here.
        return ResultView(
            index,
            titles[0] if titles else "",
            snippets[0] if snippets else "",
            urls[0] if urls else None,
            images[0] if images else None,
            hashes,
            extra,
            urls[1:] + images[1:] if len(urls) > 1 or len(images) > 1 else [],
            images[1:],
            nodes,
        )


_BUILDERS: dict[int, tuple[FieldMapping, ViewBuilder]] = {}
_MAX_BUILDERS = 256


def view_builder(fields: FieldMapping) -> ViewBuilder:
    """The compiled builder of ``fields`` (made on first use, then one dict lookup). Keyed by identity, so
    an adapter whose ``fields`` is replaced gets the new mapping's builder."""
    entry = _BUILDERS.get(id(fields))
    if entry is not None and entry[0] is fields:
        return entry[1]
    builder = ViewBuilder(fields)
    if len(_BUILDERS) >= _MAX_BUILDERS:  # mappings made on the fly (tests, config reloads) cannot pile up
        _BUILDERS.clear()
    _BUILDERS[id(fields)] = (fields, builder)  # holding ``fields`` keeps its id from being reused
    return builder


def build_view(index: int, sources: Sequence[Any], fields: FieldMapping, highlights: Iterable[str] = (),
               nodes: tuple[Any, ...] = ()) -> ResultView:
    """One result's screened view. Every mapped field is read (not only the first present), so a document
    with both ``description`` and ``content`` is screened on both; what is not the title or snippet goes to
    ``extra_text`` / ``extra_urls``."""
    return view_builder(fields).build(index, sources, highlights, nodes)


def hide_images(sources: Sequence[Any], fields: FieldMapping) -> None:
    """Remove every image field (and precomputed hashes) of one result, in every source view of it."""
    for source in sources:
        for path in (*fields.image_url, *fields.image_hash.values()):
            delete_field(source, path)
