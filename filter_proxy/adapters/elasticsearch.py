"""Elasticsearch / OpenSearch ``_search`` responses and query DSL requests.

Results: ``hits.hits[]``; every string of a hit (``_source`` at any depth, ``fields``, ``highlight``
fragments, ``inner_hits``, ...) is screened as one result. Aggregation buckets, ``top_hits`` documents and
suggest options are removable parts (``es_sections``). Totals: ``hits.total`` as ``{"value", "relation"}`` or as a number
(``rest_total_hits_as_int``). Suggestions: the ``suggest`` section of a search response
(term / phrase / completion suggesters: ``suggest.<name>[].options[].text``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView, Section
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.es_sections import aggregation_sections, suggest_echoes, suggest_sections
from filter_proxy.adapters.fields import hide_images, view_builder
from filter_proxy.adapters.fragments import joined
from filter_proxy.adapters.querysyntax import expand_mustache, screened_texts
from filter_proxy.adapters.request import read_bodies, request_strings
from filter_proxy.adapters.walk import strings as strings_of

ES_FIELDS = FieldMapping(
    title=("title", "name", "headline"),
    snippet=("snippet", "description", "summary", "content", "body", "text"),
    url=("url", "link", "href"),
    image_url=("thumbnail", "thumbnail_url", "image", "image_url", "img_src"),
)


def _hits(doc: Any) -> list[Any]:
    if not isinstance(doc, dict):
        raise AdapterError("search response is not a JSON object")
    hits = doc.get("hits")
    if hits is None:
        # No hits section (``filter_path=aggregations``, ``-hits``, an empty object): no results; every
        # string of the answer is still read by the last walk (screening.screen_rest).
        return []
    if not isinstance(hits, dict):
        raise AdapterError("search response has no 'hits' object")
    items = hits.get("hits", [])
    if not isinstance(items, list):
        raise AdapterError("'hits.hits' is not a list")
    return items


def _sources(hit: Any) -> list[Any]:
    """The parts of one hit that are shown: _source, fields, and the sources of its inner hits."""
    if not isinstance(hit, dict):
        raise AdapterError("an entry of 'hits.hits' is not an object")
    sources: list[Any] = []
    for key in ("_source", "fields"):
        part = hit.get(key)
        if part is not None:
            if not isinstance(part, dict):
                raise AdapterError(f"a hit's {key!r} is not an object")
            sources.append(part)
    inner = hit.get("inner_hits")
    if isinstance(inner, dict):
        # Inner hits only add hints (mapped fields, thumbnails to hide): every string of them is screened
        # with the hit whatever their shape, so an odd one is skipped here rather than refused.
        for group in inner.values():
            found = group.get("hits") if isinstance(group, dict) else None
            items = found.get("hits") if isinstance(found, dict) else None
            for inner_hit in items if isinstance(items, list) else ():
                if isinstance(inner_hit, dict):
                    sources.extend(_sources(inner_hit))
    return sources


def _suggest_options(doc: Any) -> list[tuple[list[Any], int]]:
    """(options list, position) for every suggestion option, in document order."""
    if not isinstance(doc, dict) or doc.get("suggest") is None:
        return []
    suggest = doc["suggest"]
    if not isinstance(suggest, dict):
        raise AdapterError("'suggest' is not an object")
    out: list[tuple[list[Any], int]] = []
    for entries in suggest.values():
        if not isinstance(entries, list):
            raise AdapterError("a 'suggest' section is not a list")
        for entry in entries:
            options = entry.get("options", []) if isinstance(entry, dict) else None
            if not isinstance(options, list):
                raise AdapterError("a suggest entry has no 'options' list")
            out.extend((options, i) for i in range(len(options)))
    return out


class ElasticsearchAdapter(Adapter):
    name = "elasticsearch"
    default_search_paths = (
        "/_search",
        "/*/_search",
        "/_search/template",
        "/*/_search/template",
        "/_search/scroll",
        "/_search/scroll/*",
    )
    default_suggest_paths = ()  # suggestions arrive inside _search responses
    default_fields = ES_FIELDS
    local_headers = ((b"x-elastic-product", b"Elasticsearch"),)

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value), every key and string of the JSON / NDJSON body at any depth
        (query options, ``script.params``, ``highlight_query``, ``rescore`` ... included) and of a
        ``source=`` parameter, each also as Lucene reads it (``querysyntax``)."""
        strings = request_strings(params, body, content_type, form_ok=False)
        if any("{{" in text for text in strings):  # a search template: read it with its params filled in
            named: dict[str, list[str]] = {}
            for value in read_bodies(body, content_type)[1]:
                values = value.get("params") if isinstance(value, dict) else None
                for name, param in values.items() if isinstance(values, dict) else ():
                    named.setdefault(name, []).extend(t for t in strings_of(param)[0] if t != name)
                    if isinstance(param, (int, float)) and not isinstance(param, bool):
                        named[name].append(str(param))
            strings = [reading for text in strings for reading in expand_mustache(text, named)]
        return screened_texts(strings)

    def results(self, doc: Any) -> list[ResultView]:
        build = view_builder(self.fields).build  # compiled once per mapping
        views = []
        for i, hit in enumerate(_hits(doc)):
            # The usual hit is just ``_source``: skip the general walk over fields and inner hits.
            source = hit.get("_source") if type(hit) is dict and "fields" not in hit and "inner_hits" not in hit else None
            sources = (source,) if type(source) is dict else _sources(hit)
            # Screened: every string of the whole hit (``_source`` at any depth, ``fields``, ``highlight``,
            # ``inner_hits``, ``_ignored``, script fields ...); the mapping only names title/link/thumbnail.
            highlight = hit.get("highlight") if type(hit) is dict else None
            pieces = joined(highlight) if highlight else None  # fragments.py: fragments read together too
            views.append(build(i, sources, (), (hit, pieces) if pieces else (hit,)))
        return views

    def sections(self, doc: Any) -> list[Section]:
        if not isinstance(doc, dict):
            raise AdapterError("search response is not a JSON object")
        return [*aggregation_sections(doc), *suggest_sections(doc)]

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        return suggest_echoes(doc) if isinstance(doc, dict) else []

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        items = _hits(doc)
        kept = [hit for i, hit in enumerate(items) if i not in indices]
        removed = len(items) - len(kept)
        doc["hits"]["hits"] = kept
        if removed:
            total = doc["hits"].get("total")
            if isinstance(total, dict):  # counts.py: a count in its own type (a number, a numeric string)
                lower(total, "value", removed)
            else:
                lower(doc["hits"], "total", removed)
            if not kept and "max_score" in doc["hits"]:
                doc["hits"]["max_score"] = None
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        items = _hits(doc)
        if 0 <= index < len(items):
            hide_images(_sources(items[index]), self.fields)

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        return {
            "took": 0,
            "timed_out": False,
            "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": None, "hits": []},
        }

    def suggestions(self, doc: Any) -> list[str]:
        out = []
        for options, i in _suggest_options(doc):
            option = options[i]
            text = option.get("text") if isinstance(option, dict) else None
            if not isinstance(text, str):
                raise AdapterError("a suggest option has no 'text'")
            out.append(text)
        return out

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        drop: dict[int, tuple[list[Any], set[int]]] = {}
        for n, (options, i) in enumerate(_suggest_options(doc)):
            if n in indices:
                drop.setdefault(id(options), (options, set()))[1].add(i)
        for options, positions in drop.values():
            options[:] = [o for i, o in enumerate(options) if i not in positions]
        return doc
