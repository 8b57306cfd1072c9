"""The search app the speed suite puts behind FilterMiddleware: pure ASGI, SearXNG-shaped JSON pages of
10 results (benign text from the corpus, a few listed placeholder terms and URLs), optional thumbnails
served by the same app from loopback.

Also a subprocess entry: ``python -m benchmarks.searchapp --port P --mode pass|filtered [--rules R]
[--thumbs]`` serves the app with uvicorn on 127.0.0.1 for the real-HTTP measurements.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
from typing import Any
from urllib.parse import parse_qsl

import orjson

from benchmarks import synth

THUMBS = 50  # distinct thumbnails; pages reuse them so the screener's cache can be warmed


def make_results(count: int, terms: list[str], blocked_urls: list[str], seed: int = 3) -> list[dict[str, Any]]:
    """A pool of results; about 5 % carry a listed term or URL (so pages have something to remove)."""
    rng = random.Random(seed)
    corpus = [line for lines in synth.benign_corpus(4, 30).values() for line in lines]
    urls = synth.benign_urls(count, seed=seed)
    out = []
    for i in range(count):
        title = " ".join(rng.choice(corpus).split()[:8])
        content = rng.choice(corpus)
        url = urls[i]
        if terms and rng.random() < 0.03:
            content = f"{content} {rng.choice(terms)}"
        if blocked_urls and rng.random() < 0.02:
            url = rng.choice(blocked_urls).replace("/*", "/page").replace("*", "")
            url = url if url.startswith("http") else f"https://{url}/index.html"
        out.append({"title": title, "content": content, "url": url, "engine": "bench", "score": 1.0})
    return out


class SearchApp:
    """GET /search?q=..: a SearXNG-shaped page of 10 results; GET /thumb/<n>.png: a generated thumbnail."""

    def __init__(self, results: list[dict[str, Any]], thumbs_base: str | None = None, fts: bool = False) -> None:
        self.results = results
        self.db = _fts_index(results) if fts else None
        self.thumbs_base = thumbs_base
        self.counter = 0
        self.thumbs: dict[str, bytes] = {}
        if thumbs_base is not None:
            from benchmarks.imageset import generated_picture, png_bytes

            self.thumbs = {f"/thumb/{i}.png": png_bytes(generated_picture(500 + i, (96, 72))) for i in range(THUMBS)}

    def page(self, query: str) -> dict[str, Any]:
        start = (self.counter * 10) % max(1, len(self.results) - 10)
        self.counter += 1
        rows = self.results[start:start + 10]
        if self.db is not None:  # a real search: FTS5 ranking over the pool, topped up to 10 results
            found = _fts_search(self.db, query)
            rows = [self.results[i] for i in found] + rows[: 10 - len(found)]
        results = [dict(r) for r in rows]
        if self.thumbs_base is not None:
            for k, r in enumerate(results):
                r["img_src"] = f"{self.thumbs_base}/thumb/{(start + k) % THUMBS}.png"
        return {"query": query, "number_of_results": 1000, "results": results, "answers": [], "corrections": [],
                "infoboxes": [], "suggestions": [], "unresponsive_engines": []}

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if path in self.thumbs:
            body, ctype = self.thumbs[path], b"image/png"
        elif path == "/search":
            params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
            body, ctype = orjson.dumps(self.page(params.get("q", ""))), b"application/json"
        else:
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
            await send({"type": "http.response.body", "body": b""})
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _fts_index(results: list[dict[str, Any]]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(title, content)")
    db.executemany("INSERT INTO docs(rowid, title, content) VALUES (?, ?, ?)",
                   [(i, r["title"], r["content"]) for i, r in enumerate(results)])
    return db


def _fts_search(db: sqlite3.Connection, query: str) -> list[int]:
    words = [w for w in re.findall(r"[A-Za-z0-9]+", query)][:8]
    if not words:
        return []
    expr = " OR ".join(f'"{w}"' for w in words)
    return [row[0] for row in db.execute("SELECT rowid FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT 10", (expr,))]


def build_app(mode: str, rules_dir: str | None, thumbs_base: str | None, bundle: str | None = None,
              n_results: int = 1000, fts: bool = False, results_file: str | None = None) -> Any:
    """The pass-through app, or the same app behind FilterMiddleware (with an ImageScreener for thumbnails).
    Listed terms and URLs sprinkled into results are read from ``rules_dir``; rules load from ``bundle``
    when given (faster), else from the directory."""
    from pathlib import Path

    terms: list[str] = []
    blocked: list[str] = []
    rules = None
    if rules_dir:
        from benchmarks.subjects import load_rules

        root = Path(rules_dir)
        terms = [t for f in sorted((root / "terms").glob("*.txt")) for t in f.read_text("utf-8").split("\n")[:200] if t]
        blocked = [u for f in sorted((root / "urls").glob("*.txt")) for u in f.read_text("utf-8").split("\n")[:60] if u]
        rules = load_rules(Path(bundle) if bundle else root)
    # The parent passes its result pool as JSON so every server serves the same pages (and starts faster).
    pool = orjson.loads(Path(results_file).read_bytes()) if results_file else make_results(n_results, terms, blocked)
    app = SearchApp(pool, thumbs_base, fts)
    if mode == "pass":
        return app
    from filter_proxy.middleware import FilterMiddleware

    screener = None
    if thumbs_base is not None:
        import dataclasses

        from filter_proxy.images_screen import ImageScreener

        policy = rules.policy.images  # type: ignore[union-attr]
        screener = ImageScreener(dataclasses.replace(policy, allow_networks=("127.0.0.0/8",)))
    return FilterMiddleware(app, rules=rules, adapter="searxng", image_screener=screener)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("pass", "filtered"), required=True)
    parser.add_argument("--rules", help="rules directory (listed entries are sprinkled into results)")
    parser.add_argument("--bundle", help="compiled bundle to load instead of the directory")
    parser.add_argument("--thumbs", action="store_true")
    parser.add_argument("--results", help="JSON file with the result pool (default: generated)")
    parser.add_argument("--fts", action="store_true", help="answer with a SQLite FTS5 search (real backend work)")
    args = parser.parse_args()
    import uvicorn

    base = f"http://127.0.0.1:{args.port}" if args.thumbs else None
    app = build_app(args.mode, args.rules, base, args.bundle, fts=args.fts, results_file=args.results)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                loop="uvloop", http="httptools", lifespan="off")


if __name__ == "__main__":
    main()
