"""Where a scan reads documents: one class per backend shape, each yielding pages in its adapter's own
search shape (so ``Adapter.results`` reads them exactly as it reads a search response) with the id and
index of every result, and a cursor to resume after that page.

- Elasticsearch / OpenSearch: a point in time and ``search_after`` (sorted by ``_shard_doc``).
- Solr: ``cursorMark`` over ``q=*:*`` sorted by the unique key.
- Meilisearch: ``GET /indexes/<uid>/documents`` by offset. Typesense: the documents export (JSONL).
- An NDJSON/JSONL file (one document a line, read as Elasticsearch ``_source``), and the demo corpus.

Only reads: searches, document listings, an export, and opening/closing a point in time (which changes
no document). Cursors are JSON values. A resumed ES/OpenSearch scan goes on in its point in time while it
lives, else starts over (see ``ElasticsearchSource.pages``); Solr cursor marks stay valid across restarts;
Meilisearch offsets and the Typesense export position assume the index did not change meanwhile.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

__all__ = ["Page", "Source", "JsonlSource", "DemoSource", "ElasticsearchSource", "SolrSource",
           "MeilisearchSource", "TypesenseSource", "SOURCES"]


@dataclass(slots=True)
class Page:
    doc: Any  # a search response in the adapter's shape
    ids: list[tuple[str, str]]  # (document id, index) per result, in result order
    cursor: Any  # where to resume after this page (JSON)


class Source:
    adapter = "elasticsearch"  # the adapter that reads this source's pages

    def pages(self, cursor: Any) -> AsyncIterator[Page]:
        raise NotImplementedError

    async def aclose(self) -> None:
        return None


def _es_page(docs: list[tuple[str, str, Any]]) -> dict[str, Any]:
    return {"hits": {"total": {"value": len(docs), "relation": "eq"},
                     "hits": [{"_index": index, "_id": doc_id, "_source": source} for doc_id, index, source in docs]}}


class JsonlSource(Source):
    """One JSON document a line; its id is ``id_field`` (else the line number); cursor = lines done."""

    def __init__(self, path: Path, *, index: str = "", id_field: str = "id", batch: int = 500) -> None:
        self.path, self.index, self.id_field, self.batch = path, index or path.name, id_field, batch

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        done = int(cursor or 0)
        batch: list[tuple[str, str, Any]] = []
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if number <= done or not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except ValueError as exc:
                    raise ValueError(f"{self.path}:{number}: not a JSON document ({exc})") from exc
                doc_id = value.get(self.id_field) if isinstance(value, dict) else None
                batch.append((str(doc_id if doc_id is not None else number), self.index, value))
                if len(batch) >= self.batch:
                    yield Page(_es_page(batch), [(d, i) for d, i, _ in batch], number)
                    batch = []
                done = number
        if batch:
            yield Page(_es_page(batch), [(d, i) for d, i, _ in batch], done)


DEMO_THUMBS = "http://127.0.0.1"  # the demo backend's thumbnails, fetched in process (scan_cmd.demo_screener)


class DemoSource(Source):
    """The demo corpus (``filter_proxy.demo``), as the demo backend answers it (SearXNG results); with
    ``hashes`` each result carries its thumbnail's hashes as a backend can supply them (else the image
    screener fetches the thumbnails from the demo backend, in process)."""

    adapter = "searxng"

    def __init__(self, *, batch: int = 50, hashes: bool = False) -> None:
        self.batch, self.hashes = batch, hashes

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        from filter_proxy.demo.backend import HASH_FIELDS, thumbnail_hashes
        from filter_proxy.demo.corpus import build_corpus

        docs = build_corpus()
        start = int(cursor or 0)
        for at in range(start, len(docs), self.batch):
            chunk = docs[at:at + self.batch]
            results = []
            for doc in chunk:
                result: dict[str, Any] = {"title": doc.title, "content": doc.body, "url": doc.url,
                                          "thumbnail": f"{DEMO_THUMBS}/thumbs/{doc.id}.png", "engine": "demo"}
                if self.hashes:
                    result.update({HASH_FIELDS[a]: h for a, h in thumbnail_hashes(doc.picture).items()})
                results.append(result)
            yield Page({"query": "", "results": results}, [(str(d.id), "demo") for d in chunk], at + len(chunk))


class _HttpSource(Source):
    def __init__(self, url: str, index: str, *, batch: int = 500, headers: dict[str, str] | None = None,
                 client: httpx.AsyncClient | None = None, timeout: float = 60.0) -> None:
        self.url, self.index, self.batch = url.rstrip("/"), index, batch
        self.client = client or httpx.AsyncClient(headers=headers or {}, timeout=timeout, follow_redirects=False)

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.client.request(method, self.url + path, **kw)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: backend answered {response.status_code}")
        return response.json()

    async def aclose(self) -> None:
        await self.client.aclose()


_KEEP_ALIVE = "30m"  # a point in time outlives a short interruption, so a resume can go on in it


class ElasticsearchSource(_HttpSource):
    """Point in time + ``search_after``; ``flavor`` "opensearch" uses OpenSearch's PIT endpoints."""

    def __init__(self, url: str, index: str, *, flavor: str = "elasticsearch", **kw: Any) -> None:
        super().__init__(url, index, **kw)
        self.flavor = flavor

    async def _open(self) -> str:
        if self.flavor == "opensearch":
            found = await self._json("POST", f"/{self.index}/_search/point_in_time", params={"keep_alive": _KEEP_ALIVE})
            return str(found["pit_id"])
        return str((await self._json("POST", f"/{self.index}/_pit", params={"keep_alive": _KEEP_ALIVE}))["id"])

    async def _close(self, pit: str) -> None:
        path = "/_search/point_in_time" if self.flavor == "opensearch" else "/_pit"
        key = "pit_id" if self.flavor == "opensearch" else "id"
        with contextlib.suppress(httpx.HTTPError):  # else it expires on its own (keep_alive)
            await self.client.request("DELETE", self.url + path, json={key: pit})

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        """Cursor ``{"pit": id, "after": sort values}``. ``_shard_doc`` values mean something only within
        their point in time, so a resume reuses the stored one while it lives (keep_alive 30m); once it
        has expired the walk starts again from the first document (the findings file skips what it
        already lists), never from sort values of another point in time, which could skip documents."""
        state = cursor if isinstance(cursor, dict) else {}
        pit, after = state.get("pit"), state.get("after")
        if pit is None:
            pit, after = await self._open(), None
        first = True
        while True:
            body: dict[str, Any] = {"size": self.batch, "pit": {"id": pit, "keep_alive": _KEEP_ALIVE},
                                    "sort": [{"_shard_doc": "asc"}], "track_total_hits": False}
            if after is not None:
                body["search_after"] = after
            response = await self.client.post(self.url + "/_search", json=body)
            if response.status_code in (400, 404) and first and state.get("pit") is not None:
                pit, after, first = await self._open(), None, False  # the stored point in time expired
                continue
            if response.status_code >= 400:
                raise RuntimeError(f"POST /_search: backend answered {response.status_code}")
            first = False
            doc = response.json()
            pit = str(doc.get("pit_id") or pit)
            hits = doc.get("hits", {}).get("hits", [])
            if not hits:
                await self._close(pit)  # done; an interrupted scan leaves it open for its resume
                return
            after = hits[-1].get("sort")
            if after is None:
                raise RuntimeError("the backend returned hits without sort values: cannot page on")
            yield Page(doc, [(str(h.get("_id")), str(h.get("_index", self.index))) for h in hits],
                       {"pit": pit, "after": after})


class SolrSource(_HttpSource):
    adapter = "solr"

    def __init__(self, url: str, index: str, *, unique_key: str = "id", **kw: Any) -> None:
        super().__init__(url, index, **kw)
        self.unique_key = unique_key

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        mark = cursor or "*"
        while True:
            doc = await self._json("GET", f"/solr/{self.index}/select", params={
                "q": "*:*", "sort": f"{self.unique_key} asc", "rows": str(self.batch), "cursorMark": mark, "wt": "json"})
            docs = doc.get("response", {}).get("docs", [])
            following = doc.get("nextCursorMark")
            if docs:
                yield Page(doc, [(str(d.get(self.unique_key)), self.index) for d in docs], following)
            if not docs or following is None or following == mark:
                return
            mark = following


class MeilisearchSource(_HttpSource):
    adapter = "meilisearch"

    def __init__(self, url: str, index: str, *, id_field: str = "id", **kw: Any) -> None:
        super().__init__(url, index, **kw)
        self.id_field = id_field

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        offset = int(cursor or 0)
        while True:
            doc = await self._json("GET", f"/indexes/{self.index}/documents",
                                   params={"offset": str(offset), "limit": str(self.batch)})
            docs = doc.get("results", [])
            if not docs:
                return
            offset += len(docs)
            yield Page({"hits": docs}, [(str(d.get(self.id_field)), self.index) for d in docs], offset)


class TypesenseSource(_HttpSource):
    """The export streams every document as JSONL; cursor = documents done (a resume skips them)."""

    adapter = "typesense"

    async def pages(self, cursor: Any) -> AsyncIterator[Page]:
        done = int(cursor or 0)
        seen = 0
        batch: list[Any] = []
        async with self.client.stream("GET", f"{self.url}/collections/{self.index}/documents/export") as response:
            if response.status_code >= 400:
                raise RuntimeError(f"typesense export: backend answered {response.status_code}")
            async for line in response.aiter_lines():
                if not line.strip():
                    continue
                seen += 1
                if seen <= done:
                    continue
                batch.append(json.loads(line))
                if len(batch) >= self.batch:
                    yield self._page(batch, seen)
                    batch = []
        if batch:
            yield self._page(batch, seen)

    def _page(self, docs: list[Any], seen: int) -> Page:
        return Page({"hits": [{"document": d} for d in docs]}, [(str(d.get("id")), self.index) for d in docs], seen)


SOURCES = {"elasticsearch": ElasticsearchSource, "opensearch": ElasticsearchSource, "solr": SolrSource,
           "meilisearch": MeilisearchSource, "typesense": TypesenseSource}
