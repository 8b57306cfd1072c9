"""Every documented endpoint that returns documents, terms or rows, or takes a query, is screened (or, for
the rarer ones, refused): never passed.

The lists are curated from each server's API reference:
- Elasticsearch: ``rest-api-spec/src/main/resources/rest-api-spec/api/*.json`` in elastic/elasticsearch
  (the spec file is named beside each entry; ``{index}`` etc. replaced by sample values); OpenSearch's
  SQL/PPL and point-in-time routes from its documentation;
- Solr: the request handlers of the ``_default`` configset and the Reference Guide's search components;
- Meilisearch and Typesense: their API references (search, multi-search, documents, similar, facets,
  chat / conversation routes, keys).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.routes import (
    ASYNC,
    CHANGE,
    COUNT,
    DOCUMENT,
    DOCUMENTS,
    MULTI,
    OPAQUE,
    PASS,
    READ,
    REFUSE,
    ROWS,
    SCREEN,
    SEARCH,
    SUGGEST,
    TERMS,
    build_table,
)
from filter_proxy.routing import canonical_path

ES_SCREENED = [  # (spec, method, path, kind)
    ("search", "GET", "/_search", SEARCH), ("search", "POST", "/books/_search", SEARCH),
    ("search", "POST", "/a,b/_search", SEARCH), ("search", "POST", "/_all/_search", SEARCH),
    ("msearch", "POST", "/_msearch", MULTI), ("msearch", "GET", "/books/_msearch", MULTI),
    ("search_template", "POST", "/_search/template", SEARCH), ("search_template", "GET", "/books/_search/template", SEARCH),
    ("msearch_template", "POST", "/_msearch/template", MULTI), ("msearch_template", "POST", "/books/_msearch/template", MULTI),
    ("scroll", "GET", "/_search/scroll", SEARCH), ("scroll", "POST", "/_search/scroll/abc", SEARCH),
    ("async_search.submit", "POST", "/_async_search", ASYNC), ("async_search.submit", "POST", "/books/_async_search", ASYNC),
    ("async_search.get", "GET", "/_async_search/abc", ASYNC),
    ("knn_search", "POST", "/books/_knn_search", SEARCH), ("knn_search", "GET", "/books/_knn_search", SEARCH),
    ("terms_enum", "POST", "/books/_terms_enum", TERMS), ("terms_enum", "GET", "/books/_terms_enum", TERMS),
    ("count", "GET", "/_count", COUNT), ("count", "POST", "/books/_count", COUNT),
    ("get", "GET", "/books/_doc/1", DOCUMENT), ("get_source", "GET", "/books/_source/1", DOCUMENT),
    ("mget", "POST", "/_mget", DOCUMENTS), ("mget", "GET", "/books/_mget", DOCUMENTS),
    ("explain", "POST", "/books/_explain/1", OPAQUE),
    ("eql.search", "POST", "/books/_eql/search", ROWS), ("eql.get", "GET", "/_eql/search/abc", ROWS),
    ("sql.query", "POST", "/_sql", ROWS), ("sql.query", "GET", "/_sql", ROWS),
    ("sql.get_async", "GET", "/_sql/async/abc", ROWS), ("sql.translate", "POST", "/_sql/translate", OPAQUE),
    ("esql.query", "POST", "/_query", ROWS), ("esql.async_query", "POST", "/_query/async", ROWS),
    ("esql.async_query_get", "GET", "/_query/async/abc", ROWS),
    ("esql.async_query_stop", "POST", "/_query/async/abc/stop", ROWS),
    # status answers: no documents, but shard failure reasons carry error text (read as opaque, not passed)
    ("async_search.status", "GET", "/_async_search/status/abc", OPAQUE),
    ("eql.get_status", "GET", "/_eql/search/status/abc", OPAQUE),
    ("sql.get_async_status", "GET", "/_sql/async/status/abc", OPAQUE),
    ("field_caps", "GET", "/_field_caps", OPAQUE), ("field_caps", "POST", "/books/_field_caps", OPAQUE),
    ("termvectors", "GET", "/books/_termvectors/1", OPAQUE), ("termvectors", "POST", "/books/_termvectors", OPAQUE),
    ("mtermvectors", "POST", "/_mtermvectors", OPAQUE), ("mtermvectors", "POST", "/books/_mtermvectors", OPAQUE),
    ("rank_eval", "POST", "/_rank_eval", OPAQUE), ("rank_eval", "GET", "/books/_rank_eval", OPAQUE),
    ("indices.validate_query", "POST", "/books/_validate/query", OPAQUE),
    ("open_point_in_time", "POST", "/books/_pit", OPAQUE),
    ("opensearch sql", "POST", "/_plugins/_sql", ROWS), ("opensearch ppl", "POST", "/_plugins/_ppl", ROWS),
    ("opensearch pit", "POST", "/books/_search/point_in_time", OPAQUE),
    ("opensearch async", "POST", "/_plugins/_asynchronous_search", ASYNC),
    ("opensearch async", "GET", "/_plugins/_asynchronous_search/abc", ASYNC),
]
ES_REFUSED = [  # document-returning endpoints the filter cannot read (binary tiles) or that are rarely needed
    ("search_mvt", "POST", "/books/_mvt/geo/1/2/3"), ("fleet.search", "POST", "/books/_fleet/_fleet_search"),
    ("fleet.msearch", "POST", "/_fleet/_fleet_msearch"), ("rollup.rollup_search", "POST", "/books/_rollup_search"),
    ("graph.explore", "POST", "/books/_graph/explore"), ("render_search_template", "POST", "/_render/template"),
    ("search_application.search", "POST", "/_application/search_application/app/_search"),
    ("search", "PUT", "/books/_search"), ("get", "GET", "/_doc/1"), ("security.get_user", "GET", "/_security/user"),
    ("transform.preview_transform", "POST", "/_transform/_preview"),
    ("ml.preview_datafeed", "GET", "/_ml/datafeeds/feed/_preview"),
    ("ml.get_records", "GET", "/_ml/anomaly_detectors/job/results/records"),
    ("ingest.simulate", "POST", "/_ingest/pipeline/_simulate"), ("indices.analyze", "POST", "/books/_analyze"),
    ("indices.analyze", "GET", "/_analyze"), ("reindex", "POST", "/_reindex"),
    ("search_shards", "GET", "/books/_search_shards"),
]
# Clients need these (info, ping, writes, closing scrolls); their answers hold stored strings (names,
# settings, a write's document), so they are read whole (outcome read), no longer passed unread.
ES_READ = [
    ("info", "GET", "/"), ("ping", "HEAD", "/"), ("cluster.health", "GET", "/_cluster/health"),
    ("clear_scroll", "DELETE", "/_search/scroll"), ("clear_scroll", "DELETE", "/_search/scroll/abc"),
    ("close_point_in_time", "DELETE", "/_pit"), ("async_search.delete", "DELETE", "/_async_search/abc"),
    ("esql.async_query_delete", "DELETE", "/_query/async/abc"), ("sql.delete_async", "DELETE", "/_sql/async/delete/abc"),
    ("bulk", "POST", "/_bulk"),
    ("index", "PUT", "/books/_doc/1"), ("delete", "DELETE", "/books/_doc/1"), ("indices.delete", "DELETE", "/books"),
    ("indices.refresh", "POST", "/books/_refresh"), ("tasks.get", "GET", "/_tasks/abc"),
    ("get_script", "GET", "/_scripts/s"), ("indices.get_mapping", "GET", "/books/_mapping"),
    ("indices.get_settings", "GET", "/books/_settings"), ("cat.indices", "GET", "/_cat/indices"),
    ("indices.get_alias", "GET", "/_alias/a"), ("indices.get_index_template", "GET", "/_index_template/t"),
    ("update", "POST", "/books/_update/1"), ("nodes.hot_threads", "GET", "/_nodes/hot_threads"),
]

SOLR_SCREENED = [(h, k) for h, k in [
    ("select", SEARCH), ("query", SEARCH), ("browse", SEARCH), ("mlt", SEARCH), ("clustering", SEARCH),
    ("spell", SEARCH), ("tvrh", SEARCH), ("elevate", SEARCH), ("debug", SEARCH), ("suggest", SUGGEST),
    ("get", DOCUMENT), ("terms", TERMS), ("export", SEARCH), ("stream", ROWS), ("sql", ROWS), ("graph", OPAQUE),
]]
SOLR_REFUSED = ["/solr/books/admin/luke", "/solr/books/replication", "/api/collections/books/select",
                "/solr/books/debug/dump", "/solr/books/anything"]

MEILI_SCREENED = [
    ("POST", "/indexes/books/search", SEARCH), ("GET", "/indexes/books/search", SEARCH),
    ("POST", "/multi-search", MULTI), ("GET", "/indexes/books/documents", DOCUMENTS),
    ("POST", "/indexes/books/documents/fetch", DOCUMENTS), ("GET", "/indexes/books/documents/1", DOCUMENT),
    ("POST", "/indexes/books/similar", SEARCH), ("GET", "/indexes/books/similar", SEARCH),
    ("POST", "/indexes/books/facet-search", OPAQUE),
]
MEILI_REFUSED = [("GET", "/keys"), ("POST", "/chats/main/chat/completions"), ("GET", "/dumps"), ("POST", "/snapshots")]

TYPESENSE_SCREENED = [
    ("GET", "/collections/books/documents/search", SEARCH), ("POST", "/multi_search", MULTI),
    ("GET", "/collections/books/documents/1", DOCUMENT), ("GET", "/collections/books/documents/export", DOCUMENTS),
]
TYPESENSE_REFUSED = [("GET", "/keys"), ("POST", "/conversations/models")]


def decide(adapter: str, method: str, path: str) -> tuple[str, str]:
    table = build_table(get_adapter(adapter).default_routes())
    decision = table.decide(method, canonical_path(path.encode()).segments)
    return decision.outcome, decision.kind


@pytest.mark.parametrize("adapter", ["elasticsearch", "opensearch"])
@pytest.mark.parametrize(("spec", "method", "path", "kind"), ES_SCREENED)
def test_elasticsearch_document_endpoints_are_screened(adapter: str, spec: str, method: str, path: str,
                                                       kind: str) -> None:
    assert decide(adapter, method, path) == (SCREEN, kind), spec


@pytest.mark.parametrize(("spec", "method", "path"), ES_REFUSED)
def test_elasticsearch_unread_endpoints_are_refused(spec: str, method: str, path: str) -> None:
    assert decide("elasticsearch", method, path)[0] == REFUSE, spec


@pytest.mark.parametrize(("spec", "method", "path"), ES_READ)
def test_elasticsearch_clients_housekeeping_is_read(spec: str, method: str, path: str) -> None:
    assert decide("elasticsearch", method, path)[0] == READ, spec


@pytest.mark.parametrize(("handler", "kind"), SOLR_SCREENED)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_solr_handlers_returning_documents_are_screened(handler: str, kind: str, method: str) -> None:
    assert decide("solr", method, f"/solr/books/{handler}") == (SCREEN, kind)


@pytest.mark.parametrize("path", SOLR_REFUSED)
def test_solr_other_handlers_are_refused(path: str) -> None:
    assert decide("solr", "GET", path)[0] == REFUSE


@pytest.mark.parametrize(("method", "path", "kind"), MEILI_SCREENED)
def test_meilisearch_document_routes_are_screened(method: str, path: str, kind: str) -> None:
    assert decide("meilisearch", method, path) == (SCREEN, kind)


@pytest.mark.parametrize(("method", "path"), MEILI_REFUSED)
def test_meilisearch_other_routes_are_refused(method: str, path: str) -> None:
    assert decide("meilisearch", method, path)[0] == REFUSE


@pytest.mark.parametrize(("method", "path", "kind"), TYPESENSE_SCREENED)
def test_typesense_document_routes_are_screened(method: str, path: str, kind: str) -> None:
    assert decide("typesense", method, path) == (SCREEN, kind)


@pytest.mark.parametrize(("method", "path"), TYPESENSE_REFUSED)
def test_typesense_other_routes_are_refused(method: str, path: str) -> None:
    assert decide("typesense", method, path)[0] == REFUSE


def test_searxng_and_suggestions_tables() -> None:
    assert decide("searxng", "GET", "/search") == (SCREEN, SEARCH)
    assert decide("searxng", "GET", "/autocompleter") == (SCREEN, SUGGEST)
    assert decide("searxng", "GET", "/image_proxy")[0] == REFUSE
    assert decide("searxng", "GET", "/static/themes/simple/css/x.css")[0] == PASS
    assert decide("opensearch-suggestions", "GET", "/complete/search") == (SCREEN, SUGGEST)
    assert decide("generic", "GET", "/search")[0] == REFUSE  # the generic adapter screens what it is told


def test_every_screened_kind_has_a_reader() -> None:
    """Each kind a table names is handled by the middleware (search/suggest), multisearch or kinds."""
    from filter_proxy import multisearch
    from filter_proxy.adapters.route_tables import TABLES

    for name, routes in TABLES.items():
        for r in routes:
            if r.outcome != SCREEN:
                continue
            if r.kind == MULTI:
                assert name in multisearch.SHAPES
            elif r.kind in (DOCUMENT, DOCUMENTS, TERMS):
                shape = get_adapter(name).document_shape()
                assert type(shape).__name__ != "DocumentShape", (name, r.kind)  # not the refusing default
            else:
                assert r.kind in (SEARCH, SUGGEST, ASYNC, ROWS, OPAQUE, COUNT, CHANGE)


@pytest.mark.parametrize(("spec", "outcome"), [("GET /books/_search", PASS), ("POST /x/find documents", SCREEN)])
def test_operator_routes_win_over_the_adapter(spec: str, outcome: str) -> None:
    table = build_table(get_adapter("elasticsearch").default_routes(),
                        pass_=[spec] if outcome == PASS else [], screen=[spec] if outcome == SCREEN else [])
    method, path = spec.split(" ")[:2]
    assert table.decide(method, canonical_path(path.encode()).segments).outcome == outcome
    refused = build_table(get_adapter("elasticsearch").default_routes(), refuse=["GET /_cluster/health"])
    assert refused.decide("GET", ("_cluster", "health")).outcome == REFUSE


def test_routes_config_section(tmp_path: Path) -> None:
    from filter_proxy.config import ConfigError, load_config

    toml = tmp_path / "f.toml"
    toml.write_text('[routes]\npass = ["GET,HEAD /x/**"]\nscreen = ["POST /find documents"]\n'
                    'refuse = ["GET /_cat/**"]\n', encoding="utf-8")
    config = load_config(toml, env={})
    assert config.routes.pass_ == ["GET,HEAD /x/**"] and config.routes.screen == ["POST /find documents"]
    config = load_config(env={"FILTER_PROXY_ROUTES_PASS": "GET,POST /a; PUT /b"})
    assert config.routes.pass_ == ["GET,POST /a", "PUT /b"]
    from filter_proxy.config import to_env  # how `serve --workers N` hands settings to its workers

    env = to_env({"routes.pass": ["GET,POST /a", "PUT /b"], "routes.screen": ["POST /x documents"]})
    config = load_config(env=env)
    assert config.routes.pass_ == ["GET,POST /a", "PUT /b"] and config.routes.screen == ["POST /x documents"]
    for bad, key in [('pass = ["FETCH /x"]', "routes.pass"), ('screen = ["GET /x nonsense"]', "routes.screen"),
                     ('refuse = ["x"]', "routes.refuse"), ('pass = ["GET /x documents"]', "routes.pass")]:
        toml.write_text(f"[routes]\n{bad}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=key):
            load_config(toml, env={})


def test_print_routes(capsys: pytest.CaptureFixture[str]) -> None:
    from filter_proxy.cli import main

    assert main(["serve", "--adapter", "meilisearch", "--print-routes"]) == 0
    out = capsys.readouterr().out
    assert "/multi-search" in out and "multi" in out and "every other method and path is refused" in out


SEGMENTS = st.sampled_from(["_search", "books", "_doc", "1", "_msearch", "x", "*", "_cat", "health"])


@settings(max_examples=150, deadline=None)
@given(path=st.lists(SEGMENTS, max_size=4), method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]),
       extra=st.lists(st.tuples(st.sampled_from(["pass", "screen", "refuse"]), st.lists(SEGMENTS, min_size=1, max_size=4)),
                      max_size=3))
def test_an_operators_refusal_always_wins_and_decisions_never_fail(path: list[str], method: str,
                                                                   extra: list[tuple[str, list[str]]]) -> None:
    routes = {"pass": [], "screen": [], "refuse": []}
    for outcome, segs in extra:
        routes[outcome].append("/" + "/".join(segs))
    table = build_table(get_adapter("elasticsearch").default_routes(), pass_=routes["pass"],
                        screen=routes["screen"], refuse=routes["refuse"])
    segments = tuple(s for s in path if s != "*")
    decision = table.decide(method, segments)
    assert decision.outcome in (PASS, READ, SCREEN, REFUSE)
    exact = "/" + "/".join(segments)
    if exact in routes["refuse"] and segments:
        assert decision.outcome == REFUSE
    if decision.outcome == SCREEN:
        assert decision.kind
