"""Typesense ``/collections/{c}/documents/search`` and ``/multi_search`` responses.

A hit is ``{"document": {...}, "highlights": [...], "highlight": {...}}``; every string of the hit is
screened with the document. ``found`` is adjusted (``out_of`` is the collection size and stays). Grouped results
(``grouped_hits[].hits[]``) are read in order: a group's ``found`` and the response's ``found_docs`` are
adjusted, and a group left empty is removed (with ``found``, which counts groups there). A multi_search
response (``results[]`` of search responses) is read as one result list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView, Section
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.fields import build_view, hide_images
from filter_proxy.adapters.fragments import joined
from filter_proxy.adapters.querysyntax import QueryInfix, QueryPrefix, QuerySuffix, screened_texts
from filter_proxy.adapters.request import read_bodies, request_strings, top_values, typed_prefixes
from filter_proxy.adapters.walk import strings

TYPESENSE_FIELDS = FieldMapping(
    title=("title", "name"),
    snippet=("description", "summary", "content", "text", "body"),
    url=("url", "link"),
    image_url=("thumbnail", "image", "image_url", "poster"),
)


def _check_hits(hits: Any) -> list[dict[str, Any]]:
    if not isinstance(hits, list):
        raise AdapterError("Typesense response: 'hits' is not a list")
    for hit in hits:
        # A hit without its document (``exclude_fields`` of everything, a proxy's filtering) is still a hit:
        # every string of it is screened as the result's nodes.
        if not isinstance(hit, dict) or not isinstance(hit.get("document", {}), dict):
            raise AdapterError("Typesense response: a hit is not an object with a 'document' object")
    return hits


def _pages(doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict):
        raise AdapterError("Typesense response is not a JSON object")
    pages = doc["results"] if "hits" not in doc and "grouped_hits" not in doc and isinstance(doc.get("results"), list) else [doc]
    for page in pages:
        # A page without hits (``per_page=0``: found and facet counts only) has no results; the last walk
        # reads the rest of it.
        if not isinstance(page, dict):
            raise AdapterError("Typesense response has no 'hits'")
    return pages


class TypesenseAdapter(Adapter):
    name = "typesense"
    default_search_paths = ("/collections/*/documents/search", "/multi_search")
    default_suggest_paths = ()
    default_fields = TYPESENSE_FIELDS

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value) and every key and string of the JSON body at any depth (each
        search of a multi-search, ``filter``, ``attributesToSearchOn`` ...), each also without syntax."""
        strings = request_strings(params, body, content_type, form_ok=False)
        settings = dict((k, v.lower()) for k, v in params)
        for value in read_bodies(body, content_type)[1] if body else ():
            if isinstance(value, dict):
                settings.update((k, str(v).lower()) for k, v in value.items() if k in ("prefix", "infix"))
        queries = top_values(params, body, content_type, ("q",))
        if any(p.strip() != "false" for p in settings.get("prefix", "true").split(",")):
            strings += typed_prefixes(queries)  # prefix=true (the default): the last word is a prefix
        if any(p.strip() in ("always", "fallback") for p in settings.get("infix", "off").split(",")):
            # infix search: every word is looked for inside longer words
            # (anywhere: inside, at the start or at the end of a listed word)
            words = [word for query in queries for word in query.split() if len(word) >= 4]
            strings += [kind(word) for word in words for kind in (QueryInfix, QueryPrefix, QuerySuffix)]
        return screened_texts(strings)

    def _slots(self, doc: Any) -> list[tuple[dict[str, Any], dict[str, Any] | None, int]]:
        """(page, group or None, position in that hits list) per result, in order."""
        out: list[tuple[dict[str, Any], dict[str, Any] | None, int]] = []
        for page in _pages(doc):
            if "grouped_hits" in page:
                groups = page["grouped_hits"]
                if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
                    raise AdapterError("Typesense response: 'grouped_hits' is not a list of groups")
                for group in groups:
                    out.extend((page, group, i) for i in range(len(_check_hits(group.get("hits")))))
            if "hits" in page:
                out.extend((page, None, i) for i in range(len(_check_hits(page["hits"]))))
        return out

    @staticmethod
    def _hit(page: dict[str, Any], group: dict[str, Any] | None, i: int) -> dict[str, Any]:
        hit: dict[str, Any] = (page if group is None else group)["hits"][i]
        return hit

    def results(self, doc: Any) -> list[ResultView]:
        # The whole hit is screened: ``document``, ``highlights`` / ``highlight`` in every shape, and the rest.
        views = []
        for n, slot in enumerate(self._slots(doc)):
            hit = self._hit(*slot)
            marks = [hit[k] for k in ("highlights", "highlight") if k in hit]
            pieces = joined(marks) if marks else None  # fragments.py: snippets / tokens read together too
            views.append(build_view(n, [hit.get("document", {})], self.fields, (), (hit, pieces) if pieces else (hit,)))
        return views

    def sections(self, doc: Any) -> list[Section]:
        """Facet values (``facet_counts[].counts[]``, screened whole) and groups (on their ``group_key``)."""
        out: list[Section] = []
        for page in _pages(doc):
            facets = page.get("facet_counts")
            if isinstance(facets, list):
                for facet in facets:
                    counts = facet.get("counts") if isinstance(facet, dict) else None
                    if isinstance(counts, list):
                        out.extend(Section(counts, i) for i in range(len(counts)))
            groups = page.get("grouped_hits")
            if isinstance(groups, list):
                out.extend(Section(groups, g, strings(group.get("group_key"))[0])
                           for g, group in enumerate(groups) if isinstance(group, dict))
        return out

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        return [(page, "request_params") for page in _pages(doc) if "request_params" in page]

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        drop: dict[int, tuple[dict[str, Any], dict[str, Any] | None, set[int]]] = {}
        for n, (page, group, i) in enumerate(self._slots(doc)):
            if n in indices:
                drop.setdefault(id(page if group is None else group), (page, group, set()))[2].add(i)
        for page, group, positions in drop.values():
            holder = page if group is None else group
            holder["hits"] = [h for i, h in enumerate(holder["hits"]) if i not in positions]
            _decrement(holder, "found", len(positions))
            if group is not None:
                _decrement(page, "found_docs", len(positions))
                if not group["hits"]:
                    page["grouped_hits"] = [g for g in page["grouped_hits"] if g is not group]
                    _decrement(page, "found", 1)
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        slots = self._slots(doc)
        if 0 <= index < len(slots):
            hide_images([self._hit(*slots[index]).get("document", {})], self.fields)

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        return {
            "facet_counts": [],
            "found": 0,
            "hits": [],
            "out_of": 0,
            "page": 1,
            "request_params": {"collection_name": "", "per_page": 0, "q": ""},
            "search_time_ms": 0,
        }


def _decrement(holder: dict[str, Any], key: str, by: int) -> None:
    lower(holder, key, by)  # counts.py: in its own type (a number, a numeric string)
