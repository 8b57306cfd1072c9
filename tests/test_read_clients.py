"""The official clients (elasticsearch-py, opensearch-py, meilisearch, typesense) on read routes through
`filter-proxy serve`, in front of loopback backends whose stored strings (settings, synonyms, alias filters,
stored scripts, task descriptions, ``_cat`` tables, a deleted document) hold a listed term or not.

The stored state is generated: which placeholder term (listed for the run of the example), and which stored
object holds it. A clean answer reaches the client as the backend sent it; a listed one is refused (502: the
client raises), never returned. Before the fix every one of these answers was passed unread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.test_clients import served_app
from tests.test_middleware import build_rules

SETTINGS = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
LETTERS = "abcdefghijklmnopqrstuvwy"
TERM = st.text(alphabet=LETTERS, min_size=3, max_size=8).map(lambda s: "zqx" + s)
WORD = st.text(alphabet=LETTERS, min_size=3, max_size=10)
ES_HEADERS = {"x-elastic-product": "Elasticsearch"}


class Stored:
    """A backend's stored strings: ``value`` is put where the test says (the rest is ordinary)."""

    def __init__(self) -> None:
        self.where = ""
        self.value = "bread"

    def at(self, name: str) -> str:
        return self.value if self.where == name else "bread"


def es_app(stored: Stored) -> Starlette:
    def respond(doc: Any) -> Response:
        return JSONResponse(doc, headers=ES_HEADERS)

    async def info(request: Request) -> Response:
        return respond({"name": "n", "cluster_name": "c", "cluster_uuid": "u", "tagline": "You Know, for Search",
                        "version": {"number": "9.0.0", "build_flavor": "default", "distribution": None}})

    async def index(request: Request) -> Response:
        return respond({"books": {"aliases": {}, "mappings": {}, "settings": {"index": {"uuid": "u"}}}})

    async def settings_(request: Request) -> Response:
        return respond({"books": {"settings": {"index": {"analysis": {"filter": {"syn": {
            "type": "synonym", "synonyms": [f"loaf, {stored.at('settings')}"]}}}}}}})

    async def alias(request: Request) -> Response:
        return respond({"books": {"aliases": {"recent": {"filter": {"term": {"title": stored.at("alias")}}}}}})

    async def script(request: Request) -> Response:
        return respond({"_id": "find", "found": True, "script": {
            "lang": "mustache", "source": '{"query":{"match":{"title":"' + stored.at("script") + '"}}}'}})

    async def tasks(request: Request) -> Response:
        return respond({"nodes": {"n1": {"name": "n1", "tasks": {"n1:7": {
            "node": "n1", "id": 7, "type": "transport", "action": "indices:data/write/delete/byquery",
            "description": f"delete-by-query [books] {stored.at('tasks')}", "running_time_in_nanos": 1,
            "cancellable": True}}}}})

    async def cat(request: Request) -> Response:
        return PlainTextResponse(f"green open books u 1 1 4 0 1kb 1kb\ngreen open {stored.at('cat')} v 1 1 2 0 1kb 1kb\n",
                                 headers=ES_HEADERS)

    return Starlette(routes=[
        Route("/", info), Route("/books", index), Route("/books/_settings", settings_),
        Route("/_alias/recent", alias), Route("/_scripts/find", script), Route("/_tasks", tasks),
        Route("/_cat/indices", cat),
    ])


def meili_app(stored: Stored) -> Starlette:
    async def settings_(request: Request) -> Response:
        return JSONResponse({"synonyms": {"loaf": [stored.at("settings")]}, "stopWords": ["the"], "dictionary": []})

    async def tasks(request: Request) -> Response:
        return JSONResponse({"results": [{"uid": 3, "indexUid": "books", "status": "succeeded",
                                          "type": "documentDeletion", "canceledBy": None, "error": None,
                                          "duration": "PT0.1S", "enqueuedAt": "2026-01-01T00:00:00.000000Z",
                                          "startedAt": "2026-01-01T00:00:00.000000Z", "finishedAt": "2026-01-01T00:00:01.000000Z",
                                          "details": {"originalFilter": f"title = {stored.at('tasks')}"}}],
                             "total": 1, "limit": 20, "from": 3, "next": None})

    return Starlette(routes=[Route("/indexes/books/settings", settings_), Route("/tasks", tasks)])


def typesense_app(stored: Stored) -> Starlette:
    async def collection(request: Request) -> Response:
        return JSONResponse({"name": "books", "num_documents": 1, "fields": [{"name": stored.at("collection"),
                                                                            "type": "string"}]})

    async def document(request: Request) -> Response:  # DELETE answers the stored document
        return JSONResponse({"id": "1", "title": stored.at("document")})

    return Starlette(routes=[Route("/collections/books", collection),
                             Route("/collections/books/documents/1", document, methods=["DELETE"])])


@pytest.fixture(scope="module")
def rules_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("read-client-rules")


def _rules_dir(base: Path, term: str) -> Path:
    directory = base / term
    if not directory.exists():
        build_rules(directory, extra_terms=[term])
    return directory


ES_CALLS = {
    "settings": lambda es: es.indices.get_settings(index="books"),
    "alias": lambda es: es.indices.get_alias(name="recent"),
    "script": lambda es: es.get_script(id="find"),
    "tasks": lambda es: es.tasks.list(),
    "cat": lambda es: es.cat.indices(),
}


@SETTINGS
@given(term=TERM, word=WORD, where=st.sampled_from(sorted(ES_CALLS)), flavour=st.sampled_from(["es", "os"]))
def test_es_clients_never_get_a_listed_stored_string(rules_base: Path, term: str, word: str, where: str,
                                                      flavour: str) -> None:
    stored = Stored()
    stored.where, stored.value = where, f"{word} {term}"
    with served_app(es_app(stored), "elasticsearch" if flavour == "es" else "opensearch",
                _rules_dir(rules_base, term)) as base:
        if flavour == "es":
            from elasticsearch import ApiError, Elasticsearch

            client: Any = Elasticsearch(base, request_timeout=10, max_retries=0)
            errors: tuple[type[Exception], ...] = (ApiError,)
        else:
            from opensearchpy import OpenSearch
            from opensearchpy.exceptions import TransportError

            client = OpenSearch([base], timeout=10, max_retries=0)
            errors = (TransportError,)
        try:
            assert client.indices.exists(index="books")  # HEAD on a read route: the GET answer, read
            for name, call in ES_CALLS.items():
                if name == where:
                    with pytest.raises(errors) as raised:
                        call(client)
                    assert term not in str(raised.value)
                else:
                    assert "bread" in str(call(client))
        finally:
            client.close()


@SETTINGS
@given(term=TERM, word=WORD, where=st.sampled_from(["settings", "tasks", ""]))
def test_meilisearch_client_never_gets_a_listed_stored_string(rules_base: Path, term: str, word: str,
                                                               where: str) -> None:
    import meilisearch
    from meilisearch.errors import MeilisearchApiError, MeilisearchCommunicationError

    stored = Stored()
    stored.where, stored.value = where, f"{word} {term}"
    with served_app(meili_app(stored), "meilisearch", _rules_dir(rules_base, term)) as base:
        client = meilisearch.Client(base, "masterKey", timeout=10)
        calls = {"settings": lambda: client.index("books").get_settings(), "tasks": lambda: client.get_tasks()}
        for name, call in calls.items():
            if name == where:
                with pytest.raises((MeilisearchApiError, MeilisearchCommunicationError)) as raised:
                    call()
                assert term not in str(raised.value)
            else:
                assert "bread" in str(call())


@SETTINGS
@given(term=TERM, word=WORD, where=st.sampled_from(["collection", "document", ""]))
def test_typesense_client_never_gets_a_listed_stored_string(rules_base: Path, term: str, word: str,
                                                             where: str) -> None:
    import typesense
    from typesense.exceptions import TypesenseClientError

    stored = Stored()
    stored.where, stored.value = where, f"{word} {term}"
    with served_app(typesense_app(stored), "typesense", _rules_dir(rules_base, term)) as base:
        host, port = base.removeprefix("http://").split(":")
        client = typesense.Client({"nodes": [{"host": host, "port": port, "protocol": "http"}], "api_key": "k",
                                   "connection_timeout_seconds": 10, "num_retries": 0})
        books = client.collections["books"]
        calls = {"collection": lambda: books.retrieve(), "document": lambda: books.documents["1"].delete()}
        for name, call in calls.items():
            if name == where:
                with pytest.raises(TypesenseClientError) as raised:
                    call()
                assert term not in str(raised.value)
            else:
                assert "bread" in str(call())
