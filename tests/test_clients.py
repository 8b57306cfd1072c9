"""The official clients (elasticsearch, opensearch-py, meilisearch, typesense) through `filter-proxy serve`
(build_app, served by uvicorn on loopback) in front of loopback backends that speak each server's HTTP API
(tests/support/backends.py): search, multi-search, scroll + clear_scroll, count, get and export work, and
what the rules list never comes back."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from filter_proxy.config import load_config
from filter_proxy.ops import build_app
from tests.support.backends import ElasticsearchBackend, MeilisearchBackend, TypesenseBackend
from tests.support.server import serve
from tests.test_middleware import build_rules

LISTED_IDS = {"2", "4"}  # a listed term in the title; a listed domain in the URL


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("client-rules")
    build_rules(directory)
    return directory


@contextmanager
def served_app(app: Any, adapter: str, rules_dir: Path) -> Iterator[str]:
    """The base URL of the whole filter-proxy stack (ops layer, middleware, proxy) in front of ``app``, both
    served over loopback HTTP."""
    with serve(app) as upstream:
        config = load_config(env={}, overrides={
            "upstream.url": upstream, "upstream.adapter": adapter, "rules.path": str(rules_dir),
            "rules.watch": False, "images.enabled": False, "report.enabled": False, "metrics.enabled": False,
            "admin.token_env": "",
        }, require_upstream=True)
        with serve(build_app(config)) as base:
            yield base


def served(backend: Any, adapter: str, rules_dir: Path) -> Iterator[tuple[Any, str]]:
    with served_app(backend.app, adapter, rules_dir) as base:
        yield backend, base


@pytest.fixture(params=["elasticsearch", "opensearch"])
def es(request: pytest.FixtureRequest, rules_dir: Path) -> Iterator[tuple[ElasticsearchBackend, Any]]:
    backend = ElasticsearchBackend()
    for _, base in served(backend, request.param, rules_dir):
        if request.param == "elasticsearch":
            from elasticsearch import Elasticsearch

            client: Any = Elasticsearch(base, request_timeout=10)
        else:
            from opensearchpy import OpenSearch

            client = OpenSearch([base], timeout=10)
        yield backend, client
        client.close()


def _ids(page: Any) -> set[str]:
    return {hit["_id"] for hit in page["hits"]["hits"]}


def test_es_search_count_get_and_terms(es: tuple[ElasticsearchBackend, Any]) -> None:
    backend, client = es
    page = client.search(index="books", body={"query": {"match": {"title": "bread"}}})
    assert "1" in _ids(page) and not _ids(page) & LISTED_IDS
    calls = len(backend.seen)
    blocked = client.search(index="books", body={"query": {"match": {"title": "zqxblocked"}}})
    assert blocked["hits"]["hits"] == [] and blocked["safety"]["action"] == "block"
    counted = client.count(index="books", body={"query": {"match": {"title": "zqxblocked"}}})
    assert counted["count"] == 0
    assert len(backend.seen) == calls  # neither blocked query reached the backend
    assert client.count(index="books", body={"query": {"match_all": {}}})["count"] == 4
    assert client.get(index="books", id="1")["_source"]["title"] == "Bread recipe"
    from elasticsearch import NotFoundError as EsNotFound
    from opensearchpy import NotFoundError as OsNotFound

    with pytest.raises((EsNotFound, OsNotFound)):
        client.get(index="books", id="2")  # a listed document is answered as missing
    docs = client.mget(index="books", body={"ids": ["1", "2"]})["docs"]
    assert [d["found"] for d in docs] == [True, False]


def test_es_msearch_screens_each_sub_query(es: tuple[ElasticsearchBackend, Any]) -> None:
    backend, client = es
    body = [{"index": "books"}, {"query": {"match": {"title": "bread"}}},
            {"index": "books"}, {"query": {"match": {"title": "zqxblocked"}}},
            {}, {"query": {"match_all": {}}}]
    answer = client.msearch(body=body)
    responses = answer["responses"]
    assert len(responses) == 3
    assert "1" in _ids(responses[0]) and not _ids(responses[0]) & LISTED_IDS
    assert responses[1]["hits"]["hits"] == [] and responses[1]["safety"]["action"] == "block"
    assert not _ids(responses[2]) & LISTED_IDS
    sent = backend.seen[-1][2]
    assert b"zqxblocked" not in sent and sent.count(b"\n") == 4  # the blocked pair was never forwarded


def test_es_scroll_scan_and_clear_scroll(es: tuple[ElasticsearchBackend, Any]) -> None:
    backend, client = es
    if type(client).__module__.startswith("elasticsearch"):
        from elasticsearch.helpers import scan
    else:
        from opensearchpy.helpers import scan
    found = {hit["_id"] for hit in scan(client, index="books", query={"query": {"match_all": {}}})}
    assert "1" in found and not found & LISTED_IDS
    assert any(m == "DELETE" and p == "/_search/scroll" for m, p, _ in backend.seen)  # scan cleared its scroll
    assert client.clear_scroll(scroll_id="scroll-1")["succeeded"] is True


def test_meilisearch_client(rules_dir: Path) -> None:
    import meilisearch
    from meilisearch.errors import MeilisearchApiError

    for backend, base in served(MeilisearchBackend(), "meilisearch", rules_dir):
        client = meilisearch.Client(base, "masterKey", timeout=10)
        index = client.index("books")
        hits = index.search("bread")["hits"]
        assert "1" in {h["id"] for h in hits} and not {h["id"] for h in hits} & LISTED_IDS
        blocked = index.search("zqxblocked")
        assert blocked["hits"] == [] and blocked["safety"]["action"] == "block"
        multi = client.multi_search([{"indexUid": "books", "q": "bread"}, {"indexUid": "books", "q": "zqxblocked"}])
        results = multi["results"]
        assert [r["indexUid"] for r in results] == ["books", "books"]
        assert not {h["id"] for h in results[0]["hits"]} & LISTED_IDS
        assert results[1]["hits"] == [] and results[1]["safety"]["action"] == "block"
        assert b"zqxblocked" not in backend.seen[-1][2]
        assert index.get_document("1").title == "Bread recipe"
        with pytest.raises(MeilisearchApiError):
            index.get_document("2")
        docs = index.get_documents()
        assert not {d.id for d in docs.results} & LISTED_IDS
        assert docs.total == len(docs.results)  # the total counts only what is shown


def test_typesense_client(rules_dir: Path) -> None:
    import typesense
    from typesense.exceptions import ObjectNotFound

    for backend, base in served(TypesenseBackend(), "typesense", rules_dir):
        host, port = base.removeprefix("http://").split(":")
        client = typesense.Client({"nodes": [{"host": host, "port": port, "protocol": "http"}], "api_key": "k",
                                   "connection_timeout_seconds": 10})
        books = client.collections["books"]
        page = books.documents.search({"q": "bread", "query_by": "title"})
        ids = {h["document"]["id"] for h in page["hits"]}
        assert "1" in ids and not ids & LISTED_IDS
        multi = client.multi_search.perform(
            {"searches": [{"collection": "books", "q": "bread"}, {"collection": "books", "q": "zqxblocked"}]},
            {"query_by": "title"},
        )
        results = multi["results"]
        assert len(results) == 2 and not {h["document"]["id"] for h in results[0]["hits"]} & LISTED_IDS
        assert results[1]["hits"] == [] and results[1]["safety"]["action"] == "block"
        assert b"zqxblocked" not in backend.seen[-1][2]
        assert books.documents["1"].retrieve()["title"] == "Bread recipe"
        with pytest.raises(ObjectNotFound):
            books.documents["2"].retrieve()
        exported = books.documents.export()
        assert '"id": "1"' in exported or '"id":"1"' in exported
        assert "zqxblocked listing" not in exported and "blocked.example.invalid" not in exported


def test_es_client_with_compressed_requests(rules_dir: Path) -> None:
    from elasticsearch import Elasticsearch

    for backend, base in served(ElasticsearchBackend(), "elasticsearch", rules_dir):
        client = Elasticsearch(base, request_timeout=10, http_compress=True)
        page = client.search(index="books", query={"match": {"title": "bread"}})
        assert "1" in _ids(page) and not _ids(page) & LISTED_IDS
        blocked = client.search(index="books", query={"match": {"title": "zqxblocked"}})
        assert blocked["safety"]["action"] == "block"
        assert all(b"zqxblocked" not in body for _, _, body in backend.seen)
        client.close()
