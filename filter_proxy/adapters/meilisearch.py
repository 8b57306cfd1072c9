"""Meilisearch ``/indexes/{uid}/search`` and ``/multi-search`` responses.

A hit is screened with its ``_formatted`` copy (highlighted / cropped fields); hiding a thumbnail removes
it from both. Totals: ``estimatedTotalHits`` (offset/limit paging) or ``totalHits`` (page/hitsPerPage
paging). A ``/multi-search`` response (``results[]`` of search responses) is read as one result list, in
order; a federated multi-search has the ordinary single-search shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView, Section
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.fields import build_view, hide_images
from filter_proxy.adapters.querysyntax import screened_texts
from filter_proxy.adapters.request import request_strings, top_values, typed_prefixes

MEILI_FIELDS = FieldMapping(
    title=("title", "name"),
    snippet=("overview", "description", "summary", "content", "text", "body"),
    url=("url", "link"),
    image_url=("poster", "thumbnail", "image", "image_url", "cover"),
)
TOTAL_KEYS = ("estimatedTotalHits", "totalHits")


def _pages(doc: Any) -> list[dict[str, Any]]:
    """The search responses in ``doc``: itself, or each of a multi-search's ``results``."""
    if not isinstance(doc, dict):
        raise AdapterError("Meilisearch response is not a JSON object")
    multi = "hits" not in doc and isinstance(doc.get("results"), list)
    pages = doc["results"] if multi else [doc]
    for page in pages:
        if not isinstance(page, dict) or not isinstance(page.get("hits"), list):
            raise AdapterError("Meilisearch response has no 'hits' list")
        if not all(isinstance(h, dict) for h in page["hits"]):
            raise AdapterError("a Meilisearch hit is not an object")
    return pages


def _sources(hit: dict[str, Any]) -> list[Any]:
    formatted = hit.get("_formatted")
    if formatted is None:
        return [hit]
    if not isinstance(formatted, dict):
        raise AdapterError("a hit's '_formatted' is not an object")
    return [hit, formatted]


class MeilisearchAdapter(Adapter):
    name = "meilisearch"
    default_search_paths = ("/indexes/*/search", "/multi-search")
    default_suggest_paths = ()
    default_fields = MEILI_FIELDS

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value) and every key and string of the JSON body at any depth (each
        search of a multi-search, ``filter``, ``attributesToSearchOn`` ...), each also without syntax."""
        strings = request_strings(params, body, content_type, form_ok=False)
        # The last word of q (and of a facet search's facetQuery) is searched as a prefix.
        strings += typed_prefixes(top_values(params, body, content_type, ("q", "facetQuery")))
        return screened_texts(strings)

    def _slots(self, doc: Any) -> list[tuple[dict[str, Any], int]]:
        return [(page, i) for page in _pages(doc) for i in range(len(page["hits"]))]

    def results(self, doc: Any) -> list[ResultView]:
        # The whole hit is screened: every field, ``_formatted`` (markup stripped beside it), ranking details.
        return [build_view(n, _sources(hit := page["hits"][i]), self.fields, (), (hit,))
                for n, (page, i) in enumerate(self._slots(doc))]

    def sections(self, doc: Any) -> list[Section]:
        """Facet values (``facetDistribution.<field>.<value>``) are field values: each is screened."""
        out: list[Section] = []
        for page in _pages(doc):
            facets = page.get("facetDistribution")
            if isinstance(facets, dict):
                for counts in facets.values():
                    if isinstance(counts, dict):
                        out.extend(Section(counts, value, [value]) for value in counts)
        return out

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        return [(page, "query") for page in _pages(doc) if "query" in page]

    def opaque_sections(self, doc: Any) -> list[Section]:
        """Facet search (``/facet-search``): each of ``facetHits`` is a facet value and its count, removed
        when listed (an autocomplete of facet values, like a suggestion list)."""
        hits = doc.get("facetHits") if isinstance(doc, dict) else None
        return [Section(hits, i) for i in range(len(hits))] if isinstance(hits, list) else []

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        drop: dict[int, tuple[dict[str, Any], set[int]]] = {}
        for n, (page, i) in enumerate(self._slots(doc)):
            if n in indices:
                drop.setdefault(id(page), (page, set()))[1].add(i)
        for page, positions in drop.values():
            page["hits"] = [h for i, h in enumerate(page["hits"]) if i not in positions]
            for key in TOTAL_KEYS:
                lower(page, key, len(positions))  # counts.py: in its own type
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        slots = self._slots(doc)
        if 0 <= index < len(slots):
            page, i = slots[index]
            hide_images(_sources(page["hits"][i]), self.fields)

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        return {"hits": [], "query": "", "processingTimeMs": 0, "limit": 20, "offset": 0, "estimatedTotalHits": 0}
