"""Apache Solr JSON responses (``wt=json``): ``/select`` and ``/query`` search, ``/suggest`` suggestions.

Results: ``response.docs[]``; ``response.numFound`` is adjusted; a result's ``highlighting`` entry (keyed by
the unique key, ``id`` unless configured) is screened with it and removed with it. Spellcheck suggestions
and collations in a search response are suggestions. The Suggester component answers
``suggest.<dictionary>.<query>.suggestions[].term`` with a ``numFound`` each.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from filter_proxy.adapters.base import Adapter, AdapterError, FieldMapping, ResultView, Section
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.fields import build_view, hide_images
from filter_proxy.adapters.fragments import joined
from filter_proxy.adapters.querysyntax import expand_macros, screened_texts
from filter_proxy.adapters.request import read_bodies, request_strings, string_leaves
from filter_proxy.adapters.route_tables import CONTENT_PARAMS, ROUTING_PARAMS
from filter_proxy.adapters.solr_sections import solr_sections

# Parameters refused wherever they are written (query string, form body, JSON "params"): ``qt`` picks
# another handler, ``stream.url`` / ``stream.file`` read the query from a place the filter never sees.
_REFUSED = CONTENT_PARAMS["solr"] | ROUTING_PARAMS["solr"]

SOLR_FIELDS = FieldMapping(
    title=("title", "name"),
    snippet=("description", "summary", "content", "text", "features"),
    url=("url", "link"),
    image_url=("thumbnail", "image", "image_url"),
)


def _docs(doc: Any) -> list[Any]:
    if not isinstance(doc, dict):
        raise AdapterError("Solr response is not a JSON object (was wt=json asked for?)")
    response = doc.get("response")
    if response is None and any(k in doc for k in ("grouped", "terms", "moreLikeThis", "facet_counts")):
        return []  # grouped / terms / facet-only responses: their documents are sections
    if not isinstance(response, dict):
        # Any other shape is not a search response: refuse rather than pass it on.
        raise AdapterError("Solr response has no 'response' object")
    docs = response.get("docs")
    if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
        raise AdapterError("'response.docs' is not a list of objects")
    return docs


class SolrAdapter(Adapter):
    name = "solr"
    default_search_paths = ("/solr/*/select", "/solr/*/query")
    default_suggest_paths = ("/solr/*/suggest",)
    default_fields = SOLR_FIELDS

    def __init__(self, fields: FieldMapping | None = None, *, query_param: str | None = None,
                 unique_key: str = "id") -> None:
        super().__init__(fields, query_param=query_param)
        self.unique_key = unique_key

    def query_texts(self, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
        """Every parameter (name and value; a form body is more parameters), every key and string of a JSON
        body and of JSON parameter values (``json=``, ``json.query=``), each with Solr's ``${macro}`` and
        ``$param`` references replaced by the parameters' values, and as the query parser reads it."""
        strings = request_strings(params, body, content_type)
        named: dict[str, list[str]] = {}
        pairs = list(params)
        kind, values = read_bodies(body, content_type)
        if kind == "form":
            pairs.extend(values[0])
        for value in values if kind == "json" else ():
            extra = value.get("params") if isinstance(value, dict) else None
            if isinstance(extra, dict):  # JSON Request API: "params" are request parameters too
                pairs.extend((k, v) for k, v in extra.items() if isinstance(v, str))
        for name, value in pairs:
            named.setdefault(name, []).append(value)
        if _REFUSED & named.keys():  # the query string's are refused earlier (request_guard); a body's here
            raise AdapterError("a parameter that picks another handler or reads the query from elsewhere")
        if any("$" in text for text in strings):
            strings = [reading for text in strings for reading in expand_macros(text, named)]
        return screened_texts(strings)

    def _keyed(self, doc: dict[str, Any]) -> list[dict[str, Any]]:
        """The tables keyed by a document's unique key that belong to that document: its highlighting and
        its ``debug.explain`` entry (which quotes the terms it matched)."""
        tables = [doc.get("highlighting")]
        debug = doc.get("debug")
        if isinstance(debug, dict):
            tables.append(debug.get("explain"))
        return [t for t in tables if isinstance(t, dict)]

    def _nodes(self, doc: dict[str, Any], item: dict[str, Any]) -> tuple[Any, ...]:
        """The document and its highlighting and explain entries (keyed by the unique key), screened whole
        with it: a listed term there removes the document rather than withholding the page."""
        if self.unique_key not in item or not ("highlighting" in doc or "debug" in doc):
            return (item,)
        key = str(item[self.unique_key])
        entries = [table[key] for table in self._keyed(doc) if key in table]
        pieces = joined(entries[0]) if entries and "highlighting" in doc else None  # fragments.py
        return (item, *entries, pieces) if pieces else (item, *entries)

    def results(self, doc: Any) -> list[ResultView]:
        # Every field of a document is screened whatever its name (``fl=t:title`` aliases included).
        return [build_view(i, [d], self.fields, (), self._nodes(doc, d)) for i, d in enumerate(_docs(doc))]

    def sections(self, doc: Any) -> list[Section]:
        return solr_sections(doc) if isinstance(doc, dict) else []

    def echoes(self, doc: Any) -> list[tuple[Any, Any]]:
        # responseHeader.params repeats the request's parameters. spellcheck holds the query's own words and
        # suggestions; the suggestions were screened (``suggestions``) before this is asked.
        return [(doc, key) for key in ("responseHeader", "spellcheck") if key in doc] if isinstance(doc, dict) else []

    def remove_results(self, doc: Any, indices: set[int]) -> Any:
        docs = _docs(doc)
        removed = [d for i, d in enumerate(docs) if i in indices]
        if not removed:
            return doc
        doc["response"]["docs"] = [d for i, d in enumerate(docs) if i not in indices]
        lower(doc["response"], "numFound", len(removed))  # counts.py: in its own type
        for table in self._keyed(doc):  # a removed document's snippets and explanation go with it
            for d in removed:
                table.pop(str(d.get(self.unique_key)), None)
        return doc

    def hide_image(self, doc: Any, index: int) -> None:
        docs = _docs(doc)
        if 0 <= index < len(docs):
            hide_images([docs[index]], self.fields)

    def empty(self, params: Sequence[tuple[str, str]]) -> Any:
        return {
            "responseHeader": {"status": 0, "QTime": 0, "params": {}},
            "response": {"numFound": 0, "start": 0, "numFoundExact": True, "docs": []},
        }

    # --- suggestions ---------------------------------------------------------------------------------
    def _slots(self, doc: Any) -> list[tuple[Any, Any, dict[str, Any] | None]]:
        """(list, position, owner-with-numFound) for every suggestion, in document order."""
        if not isinstance(doc, dict):
            raise AdapterError("Solr response is not a JSON object")
        slots: list[tuple[Any, Any, dict[str, Any] | None]] = []
        suggest = doc.get("suggest")
        if suggest is not None:  # the Suggester component
            if not isinstance(suggest, dict) or not all(isinstance(d, dict) for d in suggest.values()):
                raise AdapterError("'suggest' is not an object of dictionaries")
            for per_query in suggest.values():
                for entry in per_query.values():
                    items = entry.get("suggestions") if isinstance(entry, dict) else None
                    if not isinstance(items, list):
                        raise AdapterError("a Solr suggest entry has no 'suggestions' list")
                    slots.extend((items, i, entry) for i in range(len(items)))
        spell = doc.get("spellcheck")
        if spell is not None:  # spellcheck in a search response
            if not isinstance(spell, dict):
                raise AdapterError("'spellcheck' is not an object")
            pairs = spell.get("suggestions", [])
            # json.nl=flat (the default): [word, {...}, ...]; json.nl=map: {word: {...}}
            values = pairs[1::2] if isinstance(pairs, list) else list(pairs.values()) if isinstance(pairs, dict) else []
            for value in values:
                items = value.get("suggestion") if isinstance(value, dict) else None
                if isinstance(items, list):
                    slots.extend((items, i, value) for i in range(len(items)))
                elif items is not None or not isinstance(value, dict):
                    raise AdapterError("a Solr spellcheck entry has no 'suggestion' list")
            collations = spell.get("collations", [])
            if isinstance(collations, list):
                slots.extend((collations, i, None) for i in range(1, len(collations), 2))
            elif isinstance(collations, dict):  # json.nl=map (duplicate "collation" keys: the parsed one is sent)
                slots.extend((collations, key, None) for key in list(collations))
            else:
                raise AdapterError("'spellcheck.collations' is neither a list nor an object")
        return slots

    @staticmethod
    def _text(item: Any) -> str:
        if isinstance(item, str):
            return item
        if isinstance(item, dict):
            primary = next((item[k] for k in ("term", "word", "collationQuery") if isinstance(item.get(k), str)), None)
            if primary is not None:
                # Every other string of the suggestion too (payload, misspellingsAndCorrections ...).
                extra = [t for t in string_leaves(item) if t != primary]
                return "\n".join([primary, *extra]) if extra else primary
        raise AdapterError("a Solr suggestion has no text")

    def suggestions(self, doc: Any) -> list[str]:
        return [self._text(items[i]) for items, i, _ in self._slots(doc)]

    def remove_suggestions(self, doc: Any, indices: set[int]) -> Any:
        drop: dict[int, tuple[Any, set[Any], dict[str, Any] | None]] = {}
        for n, (items, i, owner) in enumerate(self._slots(doc)):
            if n in indices:
                drop.setdefault(id(items), (items, set(), owner))[1].add(i)
        for items, positions, owner in drop.values():
            if isinstance(items, dict):  # collations in the map shape
                for key in positions:
                    items.pop(key, None)
                continue
            if owner is None:  # collations: a flat ["collation", text, ...] list, drop name and value
                positions |= {i - 1 for i in positions}
            items[:] = [x for i, x in enumerate(items) if i not in positions]
            if owner is not None and isinstance(owner.get("numFound"), int):
                owner["numFound"] = len(items)
        return doc

    def empty_suggestions(self, params: Sequence[tuple[str, str]]) -> Any:
        return {"responseHeader": {"status": 0, "QTime": 0}, "suggest": {}}
