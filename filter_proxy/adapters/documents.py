"""Responses that carry stored documents outside a search page, per backend: one document (ES ``_doc`` and
``_source``, Solr ``/get``, Meilisearch and Typesense documents by id), a list (ES ``_mget``, Meilisearch
documents, Typesense export), a search page wrapped in a status (ES ``_async_search``), index terms and rows.

Each shape turns the response into a page of the adapter's own search shape, so the documents are screened
by the same ``Adapter.results`` as search hits; ``drop`` then removes the documents whose views matched
and answers what the backend answers for a missing document. Unknown shapes raise AdapterError (502).
"""

from __future__ import annotations

from typing import Any

from filter_proxy.adapters.base import AdapterError
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.routes import DOCUMENT, DOCUMENTS

Page = tuple[Any, list[int]]  # (a search page, owner document position of each result view)


def _need_dict(doc: Any, what: str) -> dict[str, Any]:
    if not isinstance(doc, dict):
        raise AdapterError(f"{what} is not a JSON object")
    return doc


class DocumentShape:
    """The default: this backend has no document responses (its routes never name such a kind)."""

    jsonl = False  # the response is JSON lines, one document a line (Typesense export)

    def page(self, kind: str, doc: Any) -> Page:
        raise AdapterError(f"no {kind} responses for this backend")

    def drop(self, kind: str, doc: Any, drop: set[int], status: int) -> tuple[int, Any]:
        raise AdapterError(f"no {kind} responses for this backend")

    def terms(self, doc: Any) -> list[str]:
        raise AdapterError("no terms responses for this backend")

    def drop_terms(self, doc: Any, drop: set[int]) -> Any:
        raise AdapterError("no terms responses for this backend")


# --- Elasticsearch / OpenSearch ---------------------------------------------------------------------


def _es_hits(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One document as hits: the whole object as ``_source`` (every string inside it, whatever its
    layout), its own ``_source`` and ``fields`` too, so the field mapping's hints still apply."""
    hits = [{"_source": doc}]
    for key in ("_source", "fields"):
        if isinstance(doc.get(key), dict):
            hits.append({"_source": doc[key]})
    return hits


def _es_missing(doc: dict[str, Any]) -> dict[str, Any]:
    return {"_index": doc.get("_index"), "_id": doc.get("_id"), "found": False}


class ElasticsearchShape(DocumentShape):
    def page(self, kind: str, doc: Any) -> Page:
        doc = _need_dict(doc, "the document response")
        if kind == DOCUMENT:
            docs = [doc]
        elif kind == DOCUMENTS:
            docs = doc.get("docs")
            if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
                raise AdapterError("'docs' is not a list of objects")
        else:
            raise AdapterError(f"no {kind} responses")
        hits: list[dict[str, Any]] = []
        owners: list[int] = []
        for n, item in enumerate(docs):
            found = _es_hits(item)
            hits.extend(found)
            owners.extend([n] * len(found))
        return {"hits": {"hits": hits}}, owners

    def drop(self, kind: str, doc: Any, drop: set[int], status: int) -> tuple[int, Any]:
        if kind == DOCUMENT:
            if "_id" in doc and "found" in doc:  # GET _doc: the backend's own "not found"
                return 404, _es_missing(doc)
            return 404, {"error": {"type": "resource_not_found_exception", "reason": "document not found"},
                         "status": 404}
        doc["docs"] = [_es_missing(d) if i in drop else d for i, d in enumerate(doc["docs"])]
        return status, doc

    def terms(self, doc: Any) -> list[str]:
        terms = _need_dict(doc, "the terms response").get("terms")
        if not isinstance(terms, list) or not all(isinstance(t, str) for t in terms):
            raise AdapterError("'terms' is not a list of strings")
        return terms

    def drop_terms(self, doc: Any, drop: set[int]) -> Any:
        doc["terms"] = [t for i, t in enumerate(doc["terms"]) if i not in drop]
        return doc


# --- Solr ------------------------------------------------------------------------------------------


class SolrShape(DocumentShape):
    def page(self, kind: str, doc: Any) -> Page:
        doc = _need_dict(doc, "the Solr response")
        if kind != DOCUMENT:
            raise AdapterError(f"no {kind} responses")
        if "doc" in doc:  # /get?id=1
            single = doc["doc"]
            if single is None:
                return {"response": {"docs": []}}, []
            return {"response": {"docs": [_need_dict(single, "'doc'")]}}, [0]
        response = doc.get("response")  # /get?ids=1,2
        docs = response.get("docs") if isinstance(response, dict) else None
        if not isinstance(docs, list) or not all(isinstance(d, dict) for d in docs):
            raise AdapterError("Solr /get response has neither 'doc' nor 'response.docs'")
        return {"response": {"docs": docs}}, list(range(len(docs)))

    def drop(self, kind: str, doc: Any, drop: set[int], status: int) -> tuple[int, Any]:
        if "doc" in doc:
            doc["doc"] = None
            return status, doc
        response = doc["response"]
        response["docs"] = [d for i, d in enumerate(response["docs"]) if i not in drop]
        lower(response, "numFound", len(drop))  # counts.py: in its own type
        return status, doc

    @staticmethod
    def _fields(doc: Any) -> list[tuple[dict[str, Any], str, Any]]:
        terms = _need_dict(doc, "the Solr terms response").get("terms")
        if not isinstance(terms, dict):
            raise AdapterError("Solr terms response has no 'terms' object")
        return [(terms, name, value) for name, value in terms.items()]

    def terms(self, doc: Any) -> list[str]:
        out: list[str] = []
        for _, _, value in self._fields(doc):
            if isinstance(value, list):  # json.nl=flat: term, count, term, count
                names = value[0::2]
            elif isinstance(value, dict):  # json.nl=map
                names = list(value)
            else:
                raise AdapterError("a Solr terms field is neither a list nor an object")
            if not all(isinstance(t, str) for t in names):
                raise AdapterError("a Solr term is not a string")
            out.extend(names)
        return out

    def drop_terms(self, doc: Any, drop: set[int]) -> Any:
        n = 0
        for terms, name, value in self._fields(doc):
            if isinstance(value, list):
                pairs = [value[i : i + 2] for i in range(0, len(value), 2)]
                kept = [p for k, p in enumerate(pairs) if n + k not in drop]
                terms[name] = [x for p in kept for x in p]
                n += len(pairs)
            else:
                terms[name] = {t: c for k, (t, c) in enumerate(value.items()) if n + k not in drop}
                n += len(value)
        return doc


# --- Meilisearch ------------------------------------------------------------------------------------

MEILI_NOT_FOUND = {
    "message": "Document not found.",
    "code": "document_not_found",
    "type": "invalid_request",
    "link": "https://docs.meilisearch.com/errors#document_not_found",
}


class MeilisearchShape(DocumentShape):
    def page(self, kind: str, doc: Any) -> Page:
        doc = _need_dict(doc, "the Meilisearch response")
        if kind == DOCUMENT:
            return {"hits": [doc]}, [0]
        results = doc.get("results")
        if kind != DOCUMENTS or not isinstance(results, list) or not all(isinstance(d, dict) for d in results):
            raise AdapterError("Meilisearch documents response has no 'results' list of objects")
        return {"hits": results}, list(range(len(results)))

    def drop(self, kind: str, doc: Any, drop: set[int], status: int) -> tuple[int, Any]:
        if kind == DOCUMENT:
            return 404, dict(MEILI_NOT_FOUND)
        doc["results"] = [d for i, d in enumerate(doc["results"]) if i not in drop]
        lower(doc, "total", len(drop))
        return status, doc


# --- Typesense --------------------------------------------------------------------------------------


class TypesenseShape(DocumentShape):
    jsonl = True  # export: one document a line (a single document by id is one line too)

    def page(self, kind: str, doc: Any) -> Page:
        docs = doc if isinstance(doc, list) else [doc]
        if not all(isinstance(d, dict) for d in docs):
            raise AdapterError("a Typesense document is not a JSON object")
        return {"hits": [{"document": d} for d in docs]}, list(range(len(docs)))

    def drop(self, kind: str, doc: Any, drop: set[int], status: int) -> tuple[int, Any]:
        if kind == DOCUMENT:
            return 404, {"message": "Could not find a document with that id."}
        return status, [d for i, d in enumerate(doc) if i not in drop]


SHAPES: dict[str, DocumentShape] = {
    "elasticsearch": ElasticsearchShape(),
    "opensearch": ElasticsearchShape(),
    "solr": SolrShape(),
    "meilisearch": MeilisearchShape(),
    "typesense": TypesenseShape(),
}
DEFAULT_SHAPE = DocumentShape()
