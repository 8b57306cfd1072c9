"""SearXNG ``/search?format=json`` responses and ``/autocompleter`` suggestions.

Besides ``results[]``, a SearXNG page shows ``answers`` and ``infoboxes``: they are screened too, as views
numbered after the results (``len(results) + i`` for answers, then infoboxes), so removing one of those
indices removes that answer or infobox. ``number_of_results`` counts only ``results``.
Suggestions are ``suggestions`` then ``corrections``; the autocompleter answers either the OpenSearch
suggestions array ``["prefix", [...]]`` or a plain list of strings, and both are read.
Only the JSON format can be screened: an HTML page on a filtered route must be refused by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.fields import build_view, hide_images, view_builder
from filter_proxy.adapters.opensearch_suggestions import remove_parallel
from filter_proxy.adapters.querysyntax import screened_texts
from filter_proxy.adapters.request import request_strings

SEARXNG_FIELDS = FieldMapping(
    title=("title",),
    snippet=("content",),
    url=("url", "iframe_src", "audio_src"),
    image_url=("thumbnail_src", "thumbnail", "img_src"),
    extra_text=("author",),
)
# Answers are strings (older releases) or objects; infoboxes are objects. Their every string is screened.
ANSWER_FIELDS = FieldMapping(title=("answer",), snippet=("content",), url=("url",), image_url=("img_src", "thumbnail"))
INFOBOX_FIELDS = FieldMapping(
    title=("infobox",), snippet=("content",), url=("id", "urls.url"), image_url=("img_src", "attributes.image.src")
)
SECTIONS = (("answers", ANSWER_FIELDS), ("infoboxes", INFOBOX_FIELDS))
SUGGESTION_LISTS = ("suggestions", "corrections")


def _list(doc: dict[str, Any], key: str, required: bool = False) -> list[Any]:
    value = doc.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise AdapterError(f"SearXNG response: {key!r} is not a list")
    return value


def _doc(doc: Any) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise AdapterError("SearXNG response is not a JSON object (was format=json asked for?)")
    return doc


def _section_view(n: int, item: Any, fields: FieldMapping) -> ResultView:
    """The view of an answer or infobox: its mapped fields, and every string it holds is screened."""
    if isinstance(item, str):
        return ResultView(index=n, title=item, nodes=(item,))
    if not isinstance(item, dict):
        raise AdapterError("SearXNG response: an answer or infobox is neither text nor an object")
    return build_view(n, [item], fields)


class SearxngAdapter(Adapter):
    name = "searxng"
    default_search_paths = ("/search",)
    default_suggest_paths = ("/autocompleter",)
    default_fields = SEARXNG_FIELDS

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value), form field, and key and string of a JSON body, each also
        without query syntax."""
        return screened_texts(request_strings(params, body, content_type))

    def _entries(self, doc: Any) -> list[tuple[list[Any], int, FieldMapping | None]]:
        """(list, position, fields) for each view index: results, then answers, then infoboxes.
        ``fields`` is None for the results (the adapter's own mapping)."""
        doc = _doc(doc)
        out: list[tuple[list[Any], int, FieldMapping | None]] = []
        results = _list(doc, "results", required=True)
        out.extend((results, i, None) for i in range(len(results)))
        for key, fields in SECTIONS:
            items = _list(doc, key)
            out.extend((items, i, fields) for i in range(len(items)))
        return out

    def results(self, doc: Any) -> list[ResultView]:
        doc = _doc(doc)
        build = view_builder(self.fields).build  # compiled once per mapping
        views = []
        for n, item in enumerate(_list(doc, "results", required=True)):
            if not isinstance(item, dict):
                raise AdapterError("SearXNG response: a result is not an object")
            views.append(build(n, (item,)))
        # Answers, then infoboxes (usually none), numbered after the results as in ``_entries``.
        for key, fields in SECTIONS:
            for item in _list(doc, key):
                views.append(_section_view(len(views), item, fields))
        return views

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        results = _list(_doc(doc), "results", required=True)
        for key, _ in SECTIONS:
            _list(doc, key)  # the shape checks of ``_entries``
        if indices and min(indices) >= 0 and max(indices) < len(results):
            # Only results go (the usual page): no table of every entry.
            kept = [x for i, x in enumerate(results) if i not in indices]
            gone = len(results) - len(kept)
            results[:] = kept
            lower(doc, "number_of_results", gone)  # counts.py: in its own type
            return doc
        drop: dict[int, tuple[list[Any], set[int]]] = {}
        for n, (items, i, _) in enumerate(self._entries(doc)):
            if n in indices:
                drop.setdefault(id(items), (items, set()))[1].add(i)
        results = doc["results"]
        for items, positions in drop.values():
            items[:] = [x for i, x in enumerate(items) if i not in positions]
            if items is results:
                lower(doc, "number_of_results", len(positions))
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        entries = self._entries(doc)
        if 0 <= index < len(entries):
            items, i, fields = entries[index]
            if isinstance(items[i], dict):
                hide_images([items[i]], fields or self.fields)

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        if isinstance(doc, dict):
            return [(doc, "query")] if "query" in doc else []
        # The autocompleter's OpenSearch array starts with the prefix that was asked for.
        return [(doc, 0)] if isinstance(doc, list) and doc and isinstance(doc[0], str) and len(doc) >= 2 else []

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        # The query is not echoed back.
        return {
            "query": "",
            "number_of_results": 0,
            "results": [],
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "suggestions": [],
            "unresponsive_engines": [],
        }

    # --- suggestions: a search page's suggestions + corrections, or an autocompleter array ----------
    def _suggestion_lists(self, doc: Any) -> list[list[Any]]:
        if isinstance(doc, list):
            if len(doc) >= 2 and isinstance(doc[0], str) and isinstance(doc[1], list):
                return [doc[1]]  # OpenSearch suggestions: ["prefix", [...], ...]
            return [doc]
        doc = _doc(doc)
        return [_list(doc, key) for key in SUGGESTION_LISTS]

    def suggestions(self, doc: Any) -> list[str]:
        out = []
        for items in self._suggestion_lists(doc):
            for item in items:
                if not isinstance(item, str):
                    raise AdapterError("SearXNG response: a suggestion is not a string")
                out.append(item)
        return out

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        if isinstance(doc, list) and len(doc) >= 2 and isinstance(doc[0], str) and isinstance(doc[1], list):
            return remove_parallel(doc, indices)
        n = 0
        for items in self._suggestion_lists(doc):
            kept = [x for i, x in enumerate(items) if n + i not in indices]
            n += len(items)
            items[:] = kept
        return doc

    def empty_suggestions(self, params: Sequence[tuple[str, str]]) -> Any:
        # A plain empty list: SearXNG's own page reads it, and a browser bar shows nothing.
        return []
