"""The demo search backend: SQLite FTS5 over the synthetic corpus, answering in SearXNG's JSON shape.

Routes: ``GET /search?q=...&format=json[&pageno=N]``, ``GET /autocompleter?q=...`` (OpenSearch suggestions
``[q, [...]]``) and ``GET /thumbs/<id>.png``. It knows nothing about filtering: the demo wraps it in
FilterMiddleware exactly as a real deployment would wrap its own search app.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from bisect import bisect_left
from functools import lru_cache

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from filter_proxy.demo.corpus import Document, build_corpus, suggestion_pool
from filter_proxy.demo.images import picture_png

PAGE_SIZE = 10
# Result fields holding precomputed thumbnail hashes (when the backend is asked to supply them).
HASH_FIELDS = {"phash": "thumbnail_phash", "dhash": "thumbnail_dhash"}
MAX_SUGGESTIONS = 8
_TOKEN = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str, any_word: bool = False) -> str | None:
    """User text as a safe FTS5 query: every word becomes a quoted string, so operators, quotes, column
    filters and stray syntax in the input are plain words and never FTS syntax errors. None if no words."""
    tokens = _TOKEN.findall(text)[:32]
    if not tokens:
        return None
    quoted = ['"' + t.replace('"', '""') + '"' for t in tokens]
    return (" OR " if any_word else " ").join(quoted)


class SearchIndex:
    """An in-memory FTS5 index of the corpus. One connection shared under a lock (queries take microseconds;
    uvicorn may call from another thread than the one that built it)."""

    def __init__(self, docs: tuple[Document, ...]) -> None:
        self.docs = {d.id: d for d in docs}
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, body, tokenize='porter unicode61')")
        self._db.executemany("INSERT INTO docs(rowid, title, body) VALUES (?, ?, ?)",
                             [(d.id, d.title, d.body) for d in docs])
        self._suggestions = suggestion_pool(docs)

    def search(self, text: str, page: int = 1, size: int = PAGE_SIZE) -> tuple[int, list[Document]]:
        """(total matches, documents of the page), best first. All words must match; if none does, any."""
        for any_word in (False, True):
            match = fts_query(text, any_word)
            if match is None:
                return 0, []
            with self._lock:
                total = self._db.execute("SELECT count(*) FROM docs WHERE docs MATCH ?", (match,)).fetchone()[0]
                rows = self._db.execute(
                    "SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 5.0, 1.0), rowid "
                    "LIMIT ? OFFSET ?",
                    (match, size, (page - 1) * size),
                ).fetchall()
            if total:
                return total, [self.docs[r[0]] for r in rows]
        return 0, []

    def suggest(self, prefix: str, limit: int = MAX_SUGGESTIONS) -> list[str]:
        """Known phrases starting with ``prefix`` (case-insensitive), in alphabetical order."""
        key = " ".join(prefix.lower().split())
        if not key:
            return []
        out: list[str] = []
        for phrase in self._suggestions[bisect_left(self._suggestions, key):]:
            if not phrase.startswith(key) or len(out) >= limit:
                break
            out.append(phrase)
        return out


def _page_number(request: Request) -> int:
    try:
        return min(max(int(request.query_params.get("pageno", "1")), 1), 1000)
    except ValueError:
        return 1


def thumbnail_hashes(picture: str) -> dict[str, str]:
    """Perceptual hashes of a picture, as a backend that indexes its images would store them."""
    from filter_proxy.matchers.images import compute_hashes

    return compute_hashes(picture_png(picture), tuple(HASH_FIELDS))


def create_backend(docs: tuple[Document, ...] | None = None, *, precomputed_hashes: bool = False) -> Starlette:
    """The unfiltered backend app over ``docs`` (default: the demo corpus). With ``precomputed_hashes``
    every result also carries its thumbnail's hashes (``thumbnail_phash``, ``thumbnail_dhash``)."""
    index = SearchIndex(docs if docs is not None else build_corpus())
    hashes = lru_cache(maxsize=None)(thumbnail_hashes)

    def result(doc: Document, base: str) -> dict[str, object]:
        out: dict[str, object] = {
            "title": doc.title,
            "content": doc.body,
            "url": doc.url,
            "thumbnail": f"{base}/thumbs/{doc.id}.png",
            "engine": "demo",
            "engines": ["demo"],
            "category": "general",
            "score": 1.0,
        }
        if precomputed_hashes:
            out.update({HASH_FIELDS[algo]: hexdigest for algo, hexdigest in hashes(doc.picture).items()})
        return out

    async def search(request: Request) -> Response:
        query = request.query_params.get("q", "")
        total, hits = index.search(query, _page_number(request))
        base = str(request.base_url).rstrip("/")
        results = [result(d, base) for d in hits]
        related = [s for s in index.suggest(query.split()[0] if query.split() else "") if s != query.lower()]
        return JSONResponse({
            "query": query,
            "number_of_results": total,
            "results": results,
            "suggestions": related[:5],
            "answers": [],
            "corrections": [],
            "infoboxes": [],
            "unresponsive_engines": [],
        })

    async def autocompleter(request: Request) -> Response:
        query = request.query_params.get("q", "")
        return JSONResponse([query, index.suggest(query)])

    async def thumbnail(request: Request) -> Response:
        doc = index.docs.get(request.path_params["doc_id"])
        if doc is None:
            return Response("no such thumbnail", status_code=404, media_type="text/plain")
        return Response(picture_png(doc.picture), media_type="image/png",
                        headers={"Cache-Control": "public, max-age=86400"})

    return Starlette(routes=[
        Route("/search", search),
        Route("/autocompleter", autocompleter),
        Route("/thumbs/{doc_id:int}.png", thumbnail),
    ])
