"""Loopback stand-ins for Elasticsearch / OpenSearch, Meilisearch and Typesense that speak the parts of each
server's documented HTTP API the official clients use (search, multi-search, scroll + clear, count, get,
documents, export). Every document is returned for every query, so what the filter removes is visible.
Each app records the method, raw path and body of every request that reached it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

DOCS: list[dict[str, Any]] = [
    {"id": "1", "title": "Bread recipe", "url": "https://bakery.example.invalid/bread"},
    {"id": "2", "title": "zqxblocked listing", "url": "https://a.example.invalid/x"},
    {"id": "3", "title": "Garden tools", "url": "https://garden.example.invalid/tools", "note": {"en": "zqxblocked"}},
    {"id": "4", "title": "Soup", "url": "https://blocked.example.invalid/page"},
]
CLEAN_IDS = ["1"]  # the documents nothing in the test rules matches (3 matches only when nested strings are read)
ES_HEADERS = {"x-elastic-product": "Elasticsearch"}


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, bytes]] = []

    async def record(self, request: Request) -> bytes:
        body = await request.body()
        self.seen.append((request.method, request.scope.get("raw_path", b"").decode("latin-1"), body))
        return body

    def paths(self) -> list[str]:
        return [path for _, path, _ in self.seen]


# --- Elasticsearch / OpenSearch ------------------------------------------------------------------------


class ElasticsearchBackend(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.scrolls = 0
        self.app = Starlette(routes=[
            Route("/", self.info, methods=["GET", "HEAD"]),
            Route("/_search/scroll", self.scroll, methods=["GET", "POST", "DELETE"]),
            Route("/{index}/_search", self.search, methods=["GET", "POST"]),
            Route("/_search", self.search, methods=["GET", "POST"]),
            Route("/{index}/_msearch", self.msearch, methods=["GET", "POST"]),
            Route("/_msearch", self.msearch, methods=["GET", "POST"]),
            Route("/{index}/_count", self.count, methods=["GET", "POST"]),
            Route("/{index}/_doc/{id}", self.get, methods=["GET"]),
            Route("/{index}/_mget", self.mget, methods=["GET", "POST"]),
            Route("/{index}/_terms_enum", self.terms, methods=["GET", "POST"]),
        ])

    def respond(self, doc: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(doc, status_code=status, headers=ES_HEADERS)

    async def info(self, request: Request) -> Response:
        await self.record(request)
        return self.respond({"name": "fake", "cluster_name": "fake", "cluster_uuid": "x",
                             "version": {"number": "9.0.0", "build_flavor": "default", "distribution": None},
                             "tagline": "You Know, for Search"})

    @staticmethod
    def hit(doc: dict[str, Any], index: str = "books") -> dict[str, Any]:
        return {"_index": index, "_id": doc["id"], "_score": 1.0, "_source": doc}

    def page(self, hits: list[dict[str, Any]], scroll: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "took": 1, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0,
                     "hits": [self.hit(d) for d in hits]},
        }
        if scroll:
            out["_scroll_id"] = "scroll-1"
        return out

    async def search(self, request: Request) -> Response:
        await self.record(request)
        return self.respond(self.page(DOCS, scroll="scroll" in request.query_params))

    async def scroll(self, request: Request) -> Response:
        await self.record(request)
        if request.method == "DELETE":
            return self.respond({"succeeded": True, "num_freed": 1})
        self.scrolls += 1
        return self.respond(self.page([], scroll=True))

    async def msearch(self, request: Request) -> Response:
        body = await self.record(request)
        lines = [json.loads(x) for x in body.splitlines() if x.strip()]
        responses = [{**self.page(DOCS), "status": 200} for _ in lines[1::2]]
        return self.respond({"took": 1, "responses": responses})

    async def count(self, request: Request) -> Response:
        await self.record(request)
        return self.respond({"count": len(DOCS), "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}})

    async def get(self, request: Request) -> Response:
        await self.record(request)
        index, doc_id = request.path_params["index"], request.path_params["id"]
        for doc in DOCS:
            if doc["id"] == doc_id:
                return self.respond({**self.hit(doc, index), "_version": 1, "_seq_no": 0, "_primary_term": 1,
                                     "found": True})
        return self.respond({"_index": index, "_id": doc_id, "found": False}, 404)

    async def mget(self, request: Request) -> Response:
        body = await self.record(request)
        ids = json.loads(body).get("ids", [])
        docs = [{**self.hit(d), "found": True} for i in ids for d in DOCS if d["id"] == i]
        return self.respond({"docs": docs})

    async def terms(self, request: Request) -> Response:
        await self.record(request)
        return self.respond({"_shards": {"total": 1, "successful": 1, "failed": 0},
                             "terms": ["bread", "zqxblocked", "garden"], "complete": True})


# --- Meilisearch ----------------------------------------------------------------------------------------


class MeilisearchBackend(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.app = Starlette(routes=[
            Route("/health", self.health),
            Route("/indexes/{index}/search", self.search, methods=["GET", "POST"]),
            Route("/multi-search", self.multi, methods=["POST"]),
            Route("/indexes/{index}/documents", self.documents, methods=["GET"]),
            Route("/indexes/{index}/documents/fetch", self.documents, methods=["POST"]),
            Route("/indexes/{index}/documents/{id}", self.document, methods=["GET"]),
        ])

    async def health(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse({"status": "available"})

    @staticmethod
    def page(index: str, query: str = "") -> dict[str, Any]:
        return {"indexUid": index, "hits": list(DOCS), "query": query, "processingTimeMs": 1, "limit": 20,
                "offset": 0, "estimatedTotalHits": len(DOCS)}

    async def search(self, request: Request) -> Response:
        await self.record(request)
        page = self.page(request.path_params["index"])
        del page["indexUid"]
        return JSONResponse(page)

    async def multi(self, request: Request) -> Response:
        body = json.loads(await self.record(request))
        if body.get("federation") is not None:
            return JSONResponse({"hits": list(DOCS), "processingTimeMs": 1, "limit": 20, "offset": 0,
                                 "estimatedTotalHits": len(DOCS)})
        return JSONResponse({"results": [self.page(q["indexUid"], q.get("q", "")) for q in body["queries"]]})

    async def documents(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse({"results": list(DOCS), "offset": 0, "limit": 20, "total": len(DOCS)})

    async def document(self, request: Request) -> Response:
        await self.record(request)
        for doc in DOCS:
            if doc["id"] == request.path_params["id"]:
                return JSONResponse(doc)
        return JSONResponse({"message": "Document not found.", "code": "document_not_found",
                             "type": "invalid_request", "link": "https://docs.meilisearch.com/errors"}, 404)


# --- Typesense ------------------------------------------------------------------------------------------


class TypesenseBackend(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.app = Starlette(routes=[
            Route("/health", self.health),
            Route("/collections/{c}/documents/search", self.search, methods=["GET", "POST"]),
            Route("/multi_search", self.multi, methods=["POST"]),
            Route("/collections/{c}/documents/export", self.export, methods=["GET"]),
            Route("/collections/{c}/documents/{id}", self.document, methods=["GET"]),
        ])

    async def health(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse({"ok": True})

    @staticmethod
    def page(collection: str, q: str = "") -> dict[str, Any]:
        hits = [{"document": d, "highlights": [], "text_match": 1} for d in DOCS]
        return {"facet_counts": [], "found": len(hits), "hits": hits, "out_of": len(hits), "page": 1,
                "request_params": {"collection_name": collection, "per_page": 10, "q": q}, "search_time_ms": 1}

    async def search(self, request: Request) -> Response:
        await self.record(request)
        return JSONResponse(self.page(request.path_params["c"]))

    async def multi(self, request: Request) -> Response:
        body = json.loads(await self.record(request))
        return JSONResponse({"results": [self.page(s.get("collection", ""), s.get("q", "")) for s in body["searches"]]})

    async def export(self, request: Request) -> Response:
        await self.record(request)
        return PlainTextResponse("\n".join(json.dumps(d) for d in DOCS), media_type="application/octet-stream")

    async def document(self, request: Request) -> Response:
        await self.record(request)
        for doc in DOCS:
            if doc["id"] == request.path_params["id"]:
                return JSONResponse(doc)
        return JSONResponse({"message": "Could not find a document with id: x"}, 404)
