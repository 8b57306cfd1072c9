"""Multi-search in each backend's own shape: split the request into sub-queries, rebuild it from the ones
that may be forwarded, and put the answer back together in the original order.

- Elasticsearch / OpenSearch ``_msearch`` and ``_msearch/template``: NDJSON header/body line pairs in,
  ``{"took", "responses": [...]}`` out;
- Meilisearch ``/multi-search``: ``{"queries": [...]}`` in, ``{"results": [...]}`` out; with
  ``federation`` the answer is one merged page (screened as a whole, blocked as a whole);
- Typesense ``/multi_search``: ``{"searches": [...]}`` in, ``{"results": [...]}`` out; with ``union``
  the answer is one merged page (as federation).

The forwarded body is the re-encoding of exactly the sub-queries that were screened (never the client's
bytes, which a backend could read differently, e.g. with duplicate keys).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from filter_proxy.adapters.base import Adapter, AdapterError

_JSON = "application/json"
WITHHELD = "upstream response withheld: it holds listed content"
UNREADABLE = "upstream response cannot be screened"


@dataclass(slots=True)
class Plan:
    """A parsed multi-search request. ``items``: one per sub-query (the backend's own object, or an ES
    (header, body) pair); ``texts``: what each sub-query asks; ``federated``: one merged answer."""

    items: list[Any]
    texts: list[list[str]]
    federated: bool = False
    envelope: dict[str, Any] = field(default_factory=dict)  # the request object around the list


class MultiShape:
    content_type = _JSON
    list_key = "results"

    def plan(self, body: bytes, adapter: Adapter) -> Plan:
        raise NotImplementedError

    def encode(self, plan: Plan, keep: list[int]) -> bytes:
        raise NotImplementedError

    def pages(self, doc: Any) -> list[Any]:
        """The sub-responses, in order. AdapterError when the answer has another shape."""
        if not isinstance(doc, dict) or not isinstance(doc.get(self.list_key), list):
            raise AdapterError(f"multi-search response has no {self.list_key!r} list")
        pages: list[Any] = doc[self.list_key]
        return pages

    def withheld_item(self, reason: str) -> dict[str, Any] | None:
        """The per-item error put in the slot of a sub-response withheld for listed content or unreadable
        (``reason``), or None when the backend's shape has no per-item errors (then the whole answer is
        withheld)."""
        return None

    def envelope(self, doc: dict[str, Any]) -> dict[str, Any]:
        """The answer without its sub-responses (read as opaque: nothing in it is removable)."""
        return {k: v for k, v in doc.items() if k != self.list_key}

    def assemble(self, doc: Any, pages: list[Any]) -> Any:
        if not isinstance(doc, dict):
            doc = {}
        doc[self.list_key] = pages
        return doc

    def empty(self, plan: Plan, index: int, adapter: Adapter) -> dict[str, Any]:
        page: dict[str, Any] = adapter.empty([])
        return page


def _texts(adapter: Adapter, value: Any) -> list[str]:
    return adapter.query_texts([], orjson.dumps(value), _JSON)


def _object(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"{what} body is not JSON") from exc
    if not isinstance(doc, dict):
        raise AdapterError(f"{what} body is not a JSON object")
    return doc


class ElasticsearchMulti(MultiShape):
    content_type = "application/x-ndjson"
    list_key = "responses"

    def plan(self, body: bytes, adapter: Adapter) -> Plan:
        lines = body.split(b"\n")
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) % 2:
            raise AdapterError("_msearch body is not header/body line pairs")
        items: list[Any] = []
        texts: list[list[str]] = []
        for i in range(0, len(lines), 2):
            header = orjson.loads(lines[i]) if lines[i].strip() else {}
            if not lines[i + 1].strip():
                raise AdapterError("_msearch search body line is empty")
            search = orjson.loads(lines[i + 1])
            if not isinstance(header, dict) or not isinstance(search, dict):
                raise AdapterError("_msearch line is not a JSON object")
            items.append((header, search))
            texts.append(_texts(adapter, search))
        return Plan(items, texts)

    def encode(self, plan: Plan, keep: list[int]) -> bytes:
        out = bytearray()
        for i in keep:
            header, search = plan.items[i]
            out += orjson.dumps(header) + b"\n" + orjson.dumps(search) + b"\n"
        return bytes(out)

    def empty(self, plan: Plan, index: int, adapter: Adapter) -> dict[str, Any]:
        page = super().empty(plan, index, adapter)
        page["status"] = 200
        return page

    def withheld_item(self, reason: str) -> dict[str, Any] | None:
        cause = {"type": "filter_withheld_exception", "reason": reason}
        return {"error": {"root_cause": [cause], **cause}, "status": 502}

    def assemble(self, doc: Any, pages: list[Any]) -> Any:
        doc = super().assemble(doc, pages)
        doc.setdefault("took", 0)
        return doc


class MeilisearchMulti(MultiShape):
    def plan(self, body: bytes, adapter: Adapter) -> Plan:
        doc = _object(body, "multi-search")
        queries = doc.get("queries")
        if not isinstance(queries, list) or not all(isinstance(q, dict) for q in queries):
            raise AdapterError("multi-search body has no 'queries' list of objects")
        envelope = {k: v for k, v in doc.items() if k != "queries"}
        # Anything beside the queries (federation options) may hold text too: screened with every query.
        extra = _texts(adapter, envelope) if envelope else []
        texts = [_texts(adapter, q) + extra for q in queries]
        return Plan(queries, texts, federated=doc.get("federation") is not None, envelope=envelope)

    def encode(self, plan: Plan, keep: list[int]) -> bytes:
        return orjson.dumps({**plan.envelope, "queries": [plan.items[i] for i in keep]})

    def empty(self, plan: Plan, index: int, adapter: Adapter) -> dict[str, Any]:
        page = super().empty(plan, index, adapter)
        uid = plan.items[index].get("indexUid")
        if isinstance(uid, str):
            page["indexUid"] = uid
        return page


class TypesenseMulti(MultiShape):
    def plan(self, body: bytes, adapter: Adapter) -> Plan:
        doc = _object(body, "multi_search")
        searches = doc.get("searches")
        if not isinstance(searches, list) or not all(isinstance(s, dict) for s in searches):
            raise AdapterError("multi_search body has no 'searches' list of objects")
        envelope = {k: v for k, v in doc.items() if k != "searches"}
        extra = _texts(adapter, envelope) if envelope else []
        texts = [_texts(adapter, s) + extra for s in searches]
        return Plan(searches, texts, federated=bool(doc.get("union")), envelope=envelope)

    def encode(self, plan: Plan, keep: list[int]) -> bytes:
        return orjson.dumps({**plan.envelope, "searches": [plan.items[i] for i in keep]})

    def withheld_item(self, reason: str) -> dict[str, Any] | None:
        return {"code": 502, "error": reason}


SHAPES: dict[str, MultiShape] = {
    "elasticsearch": ElasticsearchMulti(),
    "opensearch": ElasticsearchMulti(),
    "meilisearch": MeilisearchMulti(),
    "typesense": TypesenseMulti(),
}


def shape_for(adapter: Adapter) -> MultiShape:
    try:
        return SHAPES[adapter.name]
    except KeyError:
        raise AdapterError(f"the {adapter.name} adapter has no multi-search shape") from None
