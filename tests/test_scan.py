"""``filter-proxy scan``: the demo corpus, an NDJSON file and loopback backends of each shape (ES/OpenSearch
point in time + search_after, Solr cursorMark, Meilisearch documents, Typesense export) find exactly the
planted documents, resume after an interruption without duplicates, and never write to the backend."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from filter_proxy.cli import main
from filter_proxy.commands.scan_cmd import run_scan
from filter_proxy.scan.output import read_findings
from tests.support.server import serve
from tests.test_rules_forms import write_rules

SHIPPED = Path(__file__).resolve().parent.parent / "rules"
BENIGN = ("garden", "tools", "bread", "weather", "music", "report", "family", "summer", "the", "and")
PLANTS = ("zqxblocked", "zqxgamma and zqxalpha with zqxbeta", "zqxscore two zqxscore one",
          "see https://blocked.example.invalid/page")


def args(out: Path, backend: str, **kw: Any) -> argparse.Namespace:
    base: dict[str, Any] = {"backend": backend, "url": None, "index": "", "file": None, "rules": SHIPPED,
                            "out": out, "format": "jsonl", "checkpoint": None, "summary": None, "batch": 3,
                            "rate": 0.0, "id_field": "id", "api_key_env": None, "thumbnails": False,
                            "delete_requests": None, "no_progress": True, "precomputed": False}
    base.update(kw)
    return argparse.Namespace(**base)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_rules(tmp_path_factory.mktemp("scan") / "rules")
    (root / "urls").mkdir(exist_ok=True)
    (root / "urls" / "zqx-abuse.txt").write_text("blocked.example.invalid\n", encoding="utf-8")
    return root


def corpus(plant: list[bool], words: list[list[str]]) -> list[dict[str, Any]]:
    docs = []
    for i, (planted, text) in enumerate(zip(plant, words, strict=True)):
        body = " ".join(text)
        if planted:
            body += " " + PLANTS[i % len(PLANTS)]
        docs.append({"id": f"d{i}", "title": f"doc {i}", "body": {"text": body}, "url": f"https://ok.example.invalid/{i}"})
    return docs


# -- the demo -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("precomputed", [False, True], ids=["image-screener", "backend-hashes"])
def test_demo_scan_finds_every_planted_document_and_resumes(tmp_path: Path, precomputed: bool) -> None:
    from filter_proxy.demo.corpus import build_corpus

    planted = {str(d.id) for d in build_corpus() if d.planted}
    out = tmp_path / "found.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_scan(args(out, "demo", thumbnails=True, batch=50, precomputed=precomputed), stop_after_pages=2)
    first = {row["id"] for row in lines(out)}
    assert first < planted  # interrupted part way
    summary = run_scan(args(out, "demo", thumbnails=True, batch=50, precomputed=precomputed,
                            delete_requests=tmp_path / "del.json"))
    rows = lines(out)
    assert [r["id"] for r in rows] == list(dict.fromkeys(r["id"] for r in rows))  # no duplicates
    assert {r["id"] for r in rows} == planted
    assert summary["complete"] and summary["resumed"] and summary["findings_total"] == len(planted)
    assert {r["signal"] for r in rows} == {"term", "url", "image"}
    text = out.read_text("utf-8")
    assert "zqxblocked" not in text and "forbidden" not in text  # ids and rule ids only, never the text
    requests = json.loads((tmp_path / "del.json").read_text("utf-8"))
    assert sorted(requests[0]["body"]["query"]["ids"]["values"]) == sorted(planted)
    # A finished scan run again reads nothing more.
    assert run_scan(args(out, "demo", thumbnails=True))["scanned"] == 320
    assert len(lines(out)) == len(planted)


# -- an NDJSON file -------------------------------------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_jsonl_scan_finds_exactly_the_planted_documents_across_an_interruption(rules_dir: Path, tmp_path_factory: Any,
                                                                                data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 30))
    plant = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    words = data.draw(st.lists(st.lists(st.sampled_from(BENIGN), max_size=8), min_size=n, max_size=n))
    stop = data.draw(st.integers(1, 5))
    fmt = data.draw(st.sampled_from(["jsonl", "csv"]))
    tmp = tmp_path_factory.mktemp("jsonl")
    docs = corpus(plant, words)
    source = tmp / "docs.ndjson"
    source.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    out = tmp / f"found.{fmt}"
    a = args(out, "jsonl", file=source, index="docs", rules=rules_dir, format=fmt)
    with contextlib.suppress(KeyboardInterrupt):
        run_scan(a, stop_after_pages=stop)
    summary = run_scan(a)
    found = read_findings(out, fmt)
    assert {doc_id for _, doc_id in found} == {d["id"] for d, p in zip(docs, plant, strict=True) if p}
    raw = out.read_text("utf-8").splitlines()
    assert len(raw) == len(found) + (1 if fmt == "csv" else 0)  # every document once (csv: plus its header)
    assert summary["complete"]


def test_the_cli_writes_csv_and_a_summary(rules_dir: Path, tmp_path: Path, capsys: Any) -> None:
    source = tmp_path / "docs.jsonl"
    source.write_text(json.dumps({"id": "a", "t": "garden"}) + "\n" + json.dumps({"id": "b", "t": "zqxblocked"}) + "\n")
    code = main(["scan", "jsonl", "--file", str(source), "--rules", str(rules_dir), "--out", str(tmp_path / "f.csv"),
                 "--format", "csv", "--summary", str(tmp_path / "s.json"), "--no-progress", "--rate", "100000"])
    assert code == 0
    assert (tmp_path / "f.csv").read_text().splitlines()[1].startswith("b,docs.jsonl,zqx-abuse,term,")
    assert json.loads((tmp_path / "s.json").read_text())["matched"] == 1
    assert json.loads(capsys.readouterr().out)["scanned"] == 2


# -- loopback backends ----------------------------------------------------------------------------------

class Store:
    """One index of documents behind each backend shape's listing API; records every request."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.docs = sorted(docs, key=lambda d: d["id"])
        self.requests: list[tuple[str, str]] = []
        self.pits: set[str] = set()  # open points in time
        self.opened = 0

    def app(self) -> Starlette:
        async def record(request: Request) -> None:
            self.requests.append((request.method, request.url.path))

        async def es_pit(request: Request) -> Response:
            await record(request)
            self.opened += 1
            pit = f"pit-{self.opened}"
            self.pits.add(pit)
            return JSONResponse({"id": pit, "pit_id": pit})

        async def es_search(request: Request) -> Response:
            await record(request)
            body = json.loads(await request.body())
            if body["pit"]["id"] not in self.pits:
                return JSONResponse({"error": "search_context_missing_exception"}, status_code=404)
            after = body.get("search_after", [-1])[0]
            rows = [(i, d) for i, d in enumerate(self.docs) if i > after][: body["size"]]
            hits = [{"_index": "idx", "_id": d["id"], "_source": d, "sort": [i]} for i, d in rows]
            return JSONResponse({"pit_id": body["pit"]["id"], "hits": {"hits": hits}})

        async def es_pit_close(request: Request) -> Response:
            await record(request)
            body = json.loads(await request.body())
            self.pits.discard(body.get("id") or body.get("pit_id"))
            return JSONResponse({"succeeded": True})

        async def solr(request: Request) -> Response:
            await record(request)
            mark = request.query_params["cursorMark"]
            start = 0 if mark == "*" else int(mark)
            rows = self.docs[start:start + int(request.query_params["rows"])]
            return JSONResponse({"responseHeader": {"status": 0},
                                 "response": {"numFound": len(self.docs), "start": 0, "docs": rows},
                                 "nextCursorMark": str(start + len(rows)) if rows else mark})

        async def meili(request: Request) -> Response:
            await record(request)
            offset, limit = int(request.query_params["offset"]), int(request.query_params["limit"])
            return JSONResponse({"results": self.docs[offset:offset + limit], "offset": offset, "limit": limit,
                                 "total": len(self.docs)})

        async def typesense(request: Request) -> Response:
            await record(request)
            return PlainTextResponse("\n".join(json.dumps(d) for d in self.docs))

        return Starlette(routes=[
            Route("/idx/_pit", es_pit, methods=["POST"]),
            Route("/idx/_search/point_in_time", es_pit, methods=["POST"]),
            Route("/_search", es_search, methods=["POST"]),
            Route("/_pit", es_pit_close, methods=["DELETE"]),
            Route("/_search/point_in_time", es_pit_close, methods=["DELETE"]),
            Route("/solr/idx/select", solr),
            Route("/indexes/idx/documents", meili),
            Route("/collections/idx/documents/export", typesense),
        ])


@pytest.mark.parametrize(("backend", "expire"), [("elasticsearch", False), ("elasticsearch", True),
                                               ("opensearch", False), ("solr", False), ("meilisearch", False),
                                               ("typesense", False)])
def test_each_backend_shape_finds_the_planted_documents_and_resumes(backend: str, expire: bool, rules_dir: Path,
                                                                     tmp_path: Path) -> None:
    plant = [i % 3 == 1 for i in range(17)]
    docs = corpus(plant, [[BENIGN[i % len(BENIGN)], BENIGN[(i * 7) % len(BENIGN)]] for i in range(17)])
    expected = {d["id"] for d, p in zip(docs, plant, strict=True) if p}
    store = Store(docs)
    out = tmp_path / "found.jsonl"
    with serve(store.app()) as url:
        a = args(out, backend, url=url, index="idx", rules=rules_dir, delete_requests=tmp_path / "del.json")
        with pytest.raises(KeyboardInterrupt):
            run_scan(a, stop_after_pages=2)
        if backend in ("elasticsearch", "opensearch"):
            assert len(store.pits) == 1  # left open for the resume
            if expire:
                store.pits.clear()  # it timed out meanwhile: the resume starts over in a new one
        summary = run_scan(a)
        if backend in ("elasticsearch", "opensearch"):
            assert store.opened == (2 if expire else 1) and not store.pits  # resumed in it (or anew); closed
    rows = lines(out)
    assert len(rows) == len({r["id"] for r in rows})
    assert {r["id"] for r in rows} == expected and summary["complete"]
    assert {r["index"] for r in rows} == {"idx"}
    # Read-only: listings, searches and a point in time; nothing that changes a document.
    assert {m for m, _ in store.requests} <= {"GET", "POST", "DELETE"}
    assert all(p.endswith(("_pit", "point_in_time")) for m, p in store.requests if m == "DELETE")
    assert all(p.endswith(("_search", "_pit", "point_in_time")) for m, p in store.requests if m == "POST")
    requests = json.loads((tmp_path / "del.json").read_text("utf-8"))
    listed = json.dumps(requests)
    assert all(f'"{doc_id}"' in listed or f"`{doc_id}`" in listed for doc_id in expected)


def test_thumbnails_go_through_the_image_screener(tmp_path: Path) -> None:
    from filter_proxy.demo.app import demo_image_screener
    from filter_proxy.demo.images import picture_png
    from filter_proxy.rules import load_rules

    pictures = {"1": "gen:3", "2": "listed:0", "3": "gen:8", "4": "listed:1:edited"}

    async def thumb(request: Request) -> Response:
        return Response(picture_png(pictures[request.path_params["name"]]), media_type="image/png")

    store = Store([])
    app = store.app()
    app.router.routes.append(Route("/thumbs/{name}.png", thumb))
    out = tmp_path / "found.jsonl"
    with serve(app) as url:
        store.docs = [{"id": k, "title": "garden", "thumbnail": f"{url}/thumbs/{k}.png"} for k in pictures]
        screener = demo_image_screener(load_rules(SHIPPED))  # the demo's screener: allowed onto loopback
        summary = run_scan(args(out, "elasticsearch", url=url, index="idx", thumbnails=True),
                           image_screener=screener)
    rows = lines(out)
    assert {r["id"] for r in rows} == {"2", "4"} and {r["signal"] for r in rows} == {"image"}
    assert summary["complete"] and summary["scanned"] == 4


def test_progress_display_runs_when_asked(rules_dir: Path, tmp_path: Path, capsys: Any) -> None:
    import asyncio

    from filter_proxy.rules import load_rules
    from filter_proxy.scan.core import Checkpoint, Scanner
    from filter_proxy.scan.output import FindingWriter
    from filter_proxy.scan.sources import JsonlSource

    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "t": "zqxblocked" if i == 3 else "garden"}) + "\n"
                              for i in range(10)))
    writer = FindingWriter(tmp_path / "f.jsonl", "jsonl")
    scanner = Scanner(JsonlSource(source, batch=4), load_rules(rules_dir), writer,
                      checkpoint=Checkpoint(tmp_path / "cp.json", "t"), progress=True)
    summary = asyncio.run(scanner.run())
    writer.close()
    assert summary.complete and summary.scanned == 10 and summary.matched == 1
    assert "10 documents, 1 matching" in capsys.readouterr().err


def test_a_resume_with_changed_rules_is_refused(rules_dir: Path, tmp_path: Path, capsys: Any) -> None:
    import shutil

    rules = shutil.copytree(rules_dir, tmp_path / "rules")
    source = tmp_path / "docs.jsonl"
    source.write_text("".join(json.dumps({"id": str(i), "t": "garden"}) + "\n" for i in range(9)))
    a = args(tmp_path / "f.jsonl", "jsonl", file=source, rules=rules)
    with pytest.raises(KeyboardInterrupt):
        run_scan(a, stop_after_pages=1)
    with open(rules / "terms" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
        fh.write("zqxnewterm\n")
    code = main(["scan", "jsonl", "--file", str(source), "--rules", str(rules), "--out", str(tmp_path / "f.jsonl"),
                 "--no-progress", "--batch", "3"])
    assert code == 2 and "rules changed" in capsys.readouterr().err
