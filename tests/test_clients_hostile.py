"""The official clients (elasticsearch-py, opensearch-py, meilisearch, typesense) through ``filter-proxy
serve`` (build_app under uvicorn on loopback) in front of a loopback backend that answers whatever the test
scripts: every answer kind of tests/support/answers.py, clean or with a listed placeholder planted at any
position, plain or gzip-compressed. The client either gets an answer with nothing listed in it, which it
reads as it reads the backend's own (the clean answer equal to what the backend sent), or raises its own
API error for the filter's 502. It never gets a listed string.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from tests.support.answers import BY_NAME, Answer
from tests.support.planting import NEEDLES, plant, positions
from tests.test_clients import served
from tests.test_middleware import build_rules

LISTED = st.sampled_from(["zqxblocked", "Forbidden Phrase Alpha", "https://blocked.example.invalid/p",
                          "mirror at blocked.example.invalid", "<b>zqx</b>blocked"])


@dataclass
class Script:
    """What the backend answers next."""

    body: bytes = b"{}"
    status: int = 200
    gzip: bool = False
    chunked: bool = False  # sent as a stream of small chunks (Transfer-Encoding: chunked)


class ScriptedBackend:
    def __init__(self) -> None:
        self.script = Script()
        self.app = Starlette(routes=[Route("/{path:path}", self.answer, methods=["GET", "POST", "HEAD", "PUT", "DELETE"])])

    async def answer(self, request: Request) -> Response:
        await request.body()
        if request.url.path == "/" and request.method in ("GET", "HEAD"):  # client product checks
            body = json.dumps({"version": {"number": "8.13.0", "build_flavor": "default"}, "tagline": "You Know, for Search"})
            return Response(body, headers={"x-elastic-product": "Elasticsearch", "content-type": "application/json"})
        script = self.script
        body = gzip.compress(script.body) if script.gzip else script.body
        headers = {"x-elastic-product": "Elasticsearch", "content-type": "application/json"}
        if script.gzip:
            headers["content-encoding"] = "gzip"
        if script.chunked:
            async def pieces() -> AsyncIterator[bytes]:
                for i in range(0, len(body), 7):
                    yield body[i : i + 7]

            return StreamingResponse(pieces(), status_code=script.status, headers=headers)
        return Response(body, status_code=script.status, headers=headers)


def _served(adapter: str, rules_dir: Path) -> Iterator[tuple[ScriptedBackend, str]]:
    yield from served(ScriptedBackend(), adapter, rules_dir)


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile-client-rules")
    build_rules(directory)
    return directory


def _plain(value: Any) -> Any:
    """What the client returned, as plain data (client response and document objects included)."""
    body = getattr(value, "body", None)
    if body is not None and not callable(body):
        return _plain(body)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _plain(vars(value))
    return value


def _leaks(value: Any) -> bool:
    text = json.dumps(_plain(value), default=str, ensure_ascii=False).lower()
    return any(n in text for n in NEEDLES)


Call = Callable[[Any], Any]
ES_QUERY = {"match": {"title": "gar"}}
ES_CALLS: dict[str, Call] = {
    "es search": lambda c: c.search(index="books", query=ES_QUERY),
    "es scroll": lambda c: c.scroll(scroll_id="abc", scroll="1m"),
    "es msearch": lambda c: c.msearch(index="books", searches=[{}, {"query": ES_QUERY}, {}, {"query": ES_QUERY}]),
    "es async": lambda c: c.async_search.submit(index="books", query=ES_QUERY),
    "es get": lambda c: c.get(index="books", id="1"),
    "es mget": lambda c: c.mget(index="books", ids=["1", "3"]),
    "es explain": lambda c: c.explain(index="books", id="1", query=ES_QUERY),
    "es termvectors": lambda c: c.termvectors(index="books", id="1"),
    "es terms_enum": lambda c: c.terms_enum(index="books", field="title", string="ga"),
    "es count": lambda c: c.count(index="books", query=ES_QUERY),
    "es sql": lambda c: c.sql.query(query="SELECT title FROM books"),
    "es error": lambda c: c.search(index="books", query=ES_QUERY),
}
MEILI_CALLS: dict[str, Call] = {
    "meili search": lambda c: c.index("books").search("garden"),
    "meili multi": lambda c: c.multi_search([{"indexUid": "books", "q": "garden"}, {"indexUid": "books", "q": "soup"}]),
    "meili facet": lambda c: c.index("books").facet_search("genre", "gar"),
    "meili doc": lambda c: c.index("books").get_document("1"),
    "meili docs": lambda c: c.index("books").get_documents({"limit": 2}),
    "meili error": lambda c: c.index("books").search("garden"),
}
TS_CALLS: dict[str, Call] = {
    "ts search": lambda c: c.collections["books"].documents.search({"q": "garden", "query_by": "title"}),
    "ts grouped": lambda c: c.collections["books"].documents.search({"q": "garden", "query_by": "title",
                                                                     "group_by": "tags"}),
    "ts multi": lambda c: c.multi_search.perform({"searches": [{"collection": "books", "q": "garden"},
                                                               {"collection": "books", "q": "soup"}]},
                                                 {"query_by": "title"}),
    "ts doc": lambda c: c.collections["books"].documents["1"].retrieve(),
    "ts export": lambda c: c.collections["books"].documents.export(),
    "ts error": lambda c: c.collections["books"].documents.search({"q": "garden", "query_by": "title"}),
}


@dataclass
class Family:
    adapter: str
    calls: dict[str, Call]
    make: Callable[[str], Any]
    errors: tuple[type[BaseException], ...]


def _es(base: str) -> Any:
    from elasticsearch import Elasticsearch

    return Elasticsearch(base, request_timeout=10, max_retries=0, retry_on_status=())


def _os(base: str) -> Any:
    from opensearchpy import OpenSearch

    return OpenSearch([base], timeout=10, max_retries=0)


def _meili(base: str) -> Any:
    import meilisearch

    return meilisearch.Client(base, "masterKey", timeout=10)


def _ts(base: str) -> Any:
    import typesense

    host, port = base.removeprefix("http://").split(":")
    return typesense.Client({"nodes": [{"host": host, "port": port, "protocol": "http"}], "api_key": "k",
                             "connection_timeout_seconds": 10, "num_retries": 0})


def _families() -> dict[str, Family]:
    from elasticsearch import ApiError
    from meilisearch.errors import MeilisearchApiError
    from opensearchpy.exceptions import TransportError
    from typesense.exceptions import TypesenseClientError

    os_calls = {k: v for k, v in ES_CALLS.items() if k not in ("es async", "es terms_enum", "es sql")}
    os_calls["es search"] = lambda c: c.search(index="books", body={"query": ES_QUERY})
    os_calls["es error"] = os_calls["es search"]
    os_calls["es msearch"] = lambda c: c.msearch(index="books", body=[{}, {"query": ES_QUERY}, {}, {"query": ES_QUERY}])
    os_calls["es explain"] = lambda c: c.explain(index="books", id="1", body={"query": ES_QUERY})
    os_calls["es count"] = lambda c: c.count(index="books", body={"query": ES_QUERY})
    os_calls["es mget"] = lambda c: c.mget(index="books", body={"ids": ["1", "3"]})
    return {
        "elasticsearch": Family("elasticsearch", ES_CALLS, _es, (ApiError,)),
        "opensearch": Family("opensearch", os_calls, _os, (TransportError,)),
        "meilisearch": Family("meilisearch", MEILI_CALLS, _meili, (MeilisearchApiError,)),
        "typesense": Family("typesense", TS_CALLS, _ts, (TypesenseClientError,)),
    }


@pytest.fixture(scope="module", params=["elasticsearch", "opensearch", "meilisearch", "typesense"])
def family(request: pytest.FixtureRequest, rules_dir: Path) -> Iterator[tuple[Family, ScriptedBackend, Any]]:
    chosen = _families()[request.param]
    for backend, base in _served(chosen.adapter, rules_dir):
        client = chosen.make(base)
        yield chosen, backend, client
        close = getattr(client, "close", None)
        if callable(close):
            close()


def _call(fam: Family, backend: ScriptedBackend, client: Any, answer: Answer, doc: Any, zipped: bool,
          chunked: bool = False) -> Any:
    """The client's result, or the exception it raised for an error status."""
    backend.script = Script(answer.encode(doc), answer.status, zipped, chunked)
    logging.disable(logging.ERROR)
    try:
        return fam.calls[answer.name](client)
    except fam.errors as exc:
        return exc
    finally:
        logging.disable(logging.NOTSET)


def test_each_clean_answer_reads_as_the_backend_sent_it(family: tuple[Family, ScriptedBackend, Any]) -> None:
    fam, backend, client = family
    for name in fam.calls:
        answer = BY_NAME[name]
        got = _call(fam, backend, client, answer, answer.doc, zipped=False)
        if answer.status >= 400:
            assert isinstance(got, fam.errors), name
            continue
        assert not isinstance(got, BaseException), (name, got)
        plain = _plain(got)
        if name == "ts export":  # the client returns the JSON lines as text
            assert [json.loads(line) for line in plain.splitlines()] == answer.doc
        elif isinstance(plain, dict) and isinstance(answer.doc, dict):
            assert {k: v for k, v in plain.items() if k in answer.doc} == answer.doc or fam.adapter == "meilisearch", name
        else:
            assert plain == answer.doc, name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data(), listed=LISTED, zipped=st.booleans(), chunked=st.booleans())
def test_a_client_never_reads_a_listed_string(family: tuple[Family, ScriptedBackend, Any], data: st.DataObject,
                                              listed: str, zipped: bool, chunked: bool) -> None:
    fam, backend, client = family
    answer = BY_NAME[data.draw(st.sampled_from(sorted(fam.calls)), label="answer")]
    path, how = data.draw(st.sampled_from(list(positions(answer.doc))), label="position")
    got = _call(fam, backend, client, answer, plant(answer.doc, path, how, listed), zipped, chunked)
    assert not _leaks(got if not isinstance(got, BaseException) else str(got)), (answer.name, path, how)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data(), zipped=st.booleans())
def test_a_clean_chunked_answer_reads_as_sent(family: tuple[Family, ScriptedBackend, Any], data: st.DataObject,
                                              zipped: bool) -> None:
    """A clean answer sent in chunks (and gzip-compressed) reads as the backend sent it."""
    fam, backend, client = family
    answer = BY_NAME[data.draw(st.sampled_from(sorted(n for n in fam.calls if BY_NAME[n].status == 200)))]
    got = _plain(_call(fam, backend, client, answer, answer.doc, zipped, chunked=True))
    assert not isinstance(got, BaseException)
    assert not _leaks(got)
    if isinstance(got, dict) and isinstance(answer.doc, dict) and fam.adapter != "meilisearch":
        assert {k: v for k, v in got.items() if k in answer.doc} == answer.doc
