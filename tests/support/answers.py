"""Whole answers as each backend sends them, for the response-side red team (tests/support/planting.py):
every answer kind of every adapter (search pages with highlights, inner hits, aggregations, suggesters,
facets, grouping; suggest and autocomplete; multi-search; scroll and async search; documents by id and in
lists; explain, term vectors, terms; rows; errors). Placeholder content only: nothing here is listed, so
each answer passes the filter unchanged (tests/test_attack_response_shapes.py checks that too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class Answer:
    name: str
    adapter: str
    request: tuple[str, str, str, bytes]  # method, path, query string, body
    doc: Any
    status: int = 200
    jsonl: bool = False  # the answer is JSON lines (Typesense export)
    options: dict[str, Any] = field(default_factory=dict)

    def encode(self, doc: Any) -> bytes:
        if self.jsonl and isinstance(doc, list):
            return b"\n".join(orjson.dumps(d) for d in doc)
        return orjson.dumps(doc)


def _es_hit(i: int, title: str) -> dict[str, Any]:
    return {"_index": "books", "_id": str(i), "_score": 1.0, "_source": {"title": title, "tags": ["a", "b"]},
            "highlight": {"title": [f"<em>{title}</em> and more"]}, "fields": {"title.kw": [title]},
            "sort": [1, "s"], "matched_queries": ["q1"],
            "inner_hits": {"parts": {"hits": {"total": {"value": 1, "relation": "eq"}, "max_score": 1.0, "hits": [
                {"_index": "books", "_id": str(i), "_nested": {"field": "parts", "offset": 0}, "_score": 1.0,
                 "_source": {"part": "leaf"}}]}}}}


ES_PAGE: dict[str, Any] = {
    "took": 3, "timed_out": False, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
    "hits": {"total": {"value": 2, "relation": "eq"}, "max_score": 1.0, "hits": [_es_hit(1, "Garden"), _es_hit(2, "Soup")]},
    "aggregations": {
        "genres": {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0,
                   "buckets": [{"key": "garden", "doc_count": 2}]},
        "sig": {"doc_count": 2, "bg_count": 9, "buckets": [{"key": "soup", "doc_count": 1, "score": 1.0, "bg_count": 2}]},
        "top": {"hits": {"total": {"value": 1, "relation": "eq"}, "max_score": 1.0, "hits": [
            {"_index": "books", "_id": "1", "_score": 1.0, "_source": {"title": "Garden"}}]}},
        "comp": {"after_key": {"g": "garden"}, "buckets": [{"key": {"g": "garden"}, "doc_count": 2}]},
        "nested": {"doc_count": 3, "inner": {"buckets": [{"key": "leaf", "doc_count": 3, "sub": {"value": 2.0}}]}},
    },
    "suggest": {
        "comp": [{"text": "gar", "offset": 0, "length": 3, "options": [
            {"text": "garden", "_index": "books", "_id": "1", "_score": 1.0, "_source": {"title": "Garden"}}]}],
        "term": [{"text": "gar", "offset": 0, "length": 3, "options": [{"text": "garden", "score": 0.8, "freq": 2}]}],
    },
}
ES_Q = b'{"query":{"match":{"title":"gar"}}}'

SOLR_DOCS = [{"id": "d1", "title": "Garden", "url": "https://ok.example.org/a"}, {"id": "d2", "title": "Soup"}]

MEILI_HITS = [{"id": 1, "title": "Garden", "_formatted": {"id": "1", "title": "<em>Garden</em>"},
               "_matchesPosition": {"title": [{"start": 0, "length": 6}]}, "_rankingScore": 0.9},
              {"id": 2, "title": "Soup"}]
MEILI_PAGE = {"hits": MEILI_HITS, "query": "garden", "processingTimeMs": 1, "limit": 20, "offset": 0,
              "estimatedTotalHits": 2, "facetDistribution": {"genre": {"garden": 1}}, "facetStats": {}}


def _ts_hit(i: int, title: str) -> dict[str, Any]:
    return {"document": {"id": str(i), "title": title}, "highlight": {"title": {"matched_tokens": [title], "snippet": f"<mark>{title}</mark>"}},
            "highlights": [{"field": "title", "matched_tokens": [title], "snippet": f"<mark>{title}</mark>"}],
            "text_match": 578730123365187705, "text_match_info": {"best_field_score": "1108091339008", "score": "578730123365187705"}}


TS_PAGE = {"facet_counts": [{"counts": [{"count": 1, "highlighted": "garden", "value": "garden"}], "field_name": "tags",
                             "stats": {"total_values": 1}}],
           "found": 2, "out_of": 10, "page": 1, "request_params": {"collection_name": "books", "per_page": 10, "q": "garden"},
           "search_cutoff": False, "search_time_ms": 1, "hits": [_ts_hit(1, "Garden"), _ts_hit(2, "Soup")]}

SEARX_PAGE = {"query": "garden", "number_of_results": 2,
              "results": [{"url": "https://ok.example.org/a", "title": "Garden", "content": "A garden", "engine": "x",
                           "parsed_url": ["https", "ok.example.org", "/a", "", "", ""], "engines": ["x"], "positions": [1],
                           "score": 1.0, "category": "general", "thumbnail": ""},
                          {"url": "https://ok.example.org/b", "title": "Soup", "content": "Soup", "engine": "x",
                           "engines": ["x"], "positions": [2], "score": 0.5, "category": "general"}],
              "answers": [], "corrections": [], "infoboxes": [], "suggestions": ["garden soup"],
              "unresponsive_engines": []}

ANSWERS: list[Answer] = [
    # Elasticsearch / OpenSearch
    Answer("es search", "elasticsearch", ("POST", "/books/_search", "", ES_Q), ES_PAGE),
    Answer("es scroll", "elasticsearch", ("POST", "/_search/scroll", "", b'{"scroll":"1m","scroll_id":"abc"}'),
           {"_scroll_id": "FGluY2x1ZGU", "took": 1, "timed_out": False, "hits": ES_PAGE["hits"]}),
    Answer("es msearch", "elasticsearch", ("POST", "/books/_msearch", "", b'{}\n' + ES_Q + b'\n{}\n' + ES_Q + b'\n'),
           {"took": 2, "responses": [dict(ES_PAGE, status=200), {"error": {"root_cause": [{"type": "x", "reason": "bad"}],
                                                                              "type": "x", "reason": "bad"}, "status": 400}]}),
    Answer("es async", "opensearch", ("POST", "/books/_async_search", "", ES_Q),
           {"id": "FmRldE8", "is_partial": False, "is_running": False, "start_time_in_millis": 1, "response": ES_PAGE}),
    Answer("es get", "elasticsearch", ("GET", "/books/_doc/1", "", b""),
           {"_index": "books", "_id": "1", "_version": 1, "_seq_no": 0, "_primary_term": 1, "found": True,
            "_source": {"title": "Garden", "tags": ["a"]}}),
    Answer("es mget", "elasticsearch", ("POST", "/books/_mget", "", b'{"ids":["1","3"]}'),
           {"docs": [{"_index": "books", "_id": "1", "_version": 1, "found": True, "_source": {"title": "Garden"}},
                     {"_index": "books", "_id": "3", "found": False}]}),
    Answer("es explain", "elasticsearch", ("POST", "/books/_explain/1", "", ES_Q),
           {"_index": "books", "_id": "1", "matched": True,
            "explanation": {"value": 1.0, "description": "weight(title:garden)", "details": []}}),
    Answer("es termvectors", "elasticsearch", ("GET", "/books/_termvectors/1", "", b""),
           {"_index": "books", "_id": "1", "_version": 1, "found": True, "took": 1, "term_vectors": {"title": {
               "field_statistics": {"sum_doc_freq": 1}, "terms": {"garden": {"term_freq": 1, "tokens": [{"position": 0}]}}}}}),
    Answer("es terms_enum", "elasticsearch", ("POST", "/books/_terms_enum", "", b'{"field":"title","string":"ga"}'),
           {"_shards": {"total": 1, "successful": 1, "failed": 0}, "terms": ["garden", "garlic"], "complete": True}),
    Answer("es count", "elasticsearch", ("POST", "/books/_count", "", ES_Q),
           {"count": 2, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}),
    Answer("es sql", "elasticsearch", ("POST", "/_sql", "", b'{"query":"SELECT title FROM books"}'),
           {"columns": [{"name": "title", "type": "text"}], "rows": [["Garden"], ["Soup"]], "cursor": "abc"}),
    Answer("es aggs only", "elasticsearch", ("POST", "/books/_search", "filter_path=aggregations", ES_Q),
           {"aggregations": ES_PAGE["aggregations"]}),
    Answer("es error", "elasticsearch", ("POST", "/books/_search", "", ES_Q),
           {"error": {"root_cause": [{"type": "query_shard_exception", "reason": "failed to create query", "index": "books"}],
                      "type": "search_phase_execution_exception", "reason": "all shards failed"}, "status": 400}, status=400),
    # Solr
    Answer("solr select", "solr", ("GET", "/solr/books/select", "q=garden", b""),
           {"responseHeader": {"status": 0, "QTime": 1, "params": {"q": "garden"}},
            "response": {"numFound": 2, "start": 0, "numFoundExact": True, "docs": SOLR_DOCS},
            "highlighting": {"d1": {"title": ["<em>Garden</em>"]}, "d2": {"title": ["Soup"]}},
            "facet_counts": {"facet_queries": {}, "facet_fields": {"tags": ["a", 1, "b", 1]}},
            "spellcheck": {"suggestions": [], "correctlySpelled": True},
            "moreLikeThis": {"d1": {"numFound": 1, "start": 0, "docs": [{"id": "d9", "title": "Garden two"}]}},
            "debug": {"explain": {"d1": "1.0 = weight(title:garden)"}}}),
    Answer("solr grouped", "solr", ("GET", "/solr/books/select", "q=garden&group=true&group.field=tags", b""),
           {"responseHeader": {"status": 0, "params": {"q": "garden"}}, "grouped": {"tags": {"matches": 2, "ngroups": 1, "groups": [
               {"groupValue": "a", "doclist": {"numFound": 1, "start": 0, "docs": [{"id": "d1", "title": "Garden"}]}}]}}}),
    Answer("solr suggest", "solr", ("GET", "/solr/books/suggest", "suggest.q=gar", b""),
           {"responseHeader": {"status": 0, "QTime": 1}, "suggest": {"mySuggester": {"gar": {"numFound": 2, "suggestions": [
               {"term": "garden", "weight": 5, "payload": ""}, {"term": "garlic", "weight": 3, "payload": "p"}]}}}}),
    Answer("solr terms", "solr", ("GET", "/solr/books/terms", "terms.fl=title&terms.prefix=ga", b""),
           {"responseHeader": {"status": 0, "QTime": 1}, "terms": {"title": ["garden", 3, "garlic", 1]}}),
    Answer("solr get", "solr", ("GET", "/solr/books/get", "id=d1", b""), {"doc": {"id": "d1", "title": "Garden"}}),
    Answer("solr get ids", "solr", ("GET", "/solr/books/get", "ids=d1,d2", b""),
           {"response": {"numFound": 2, "start": 0, "docs": SOLR_DOCS}}),
    Answer("solr error", "solr", ("GET", "/solr/books/select", "q=garden", b""),
           {"responseHeader": {"status": 400, "QTime": 1}, "error": {"metadata": ["error-class", "SolrException"],
                                                                      "msg": "undefined field", "code": 400}}, status=400),
    # Meilisearch
    Answer("meili search", "meilisearch", ("POST", "/indexes/books/search", "", b'{"q":"garden"}'), MEILI_PAGE),
    Answer("meili multi", "meilisearch", ("POST", "/multi-search", "", b'{"queries":[{"indexUid":"books","q":"garden"},{"indexUid":"books","q":"soup"}]}'),
           {"results": [dict(MEILI_PAGE, indexUid="books"), dict(MEILI_PAGE, indexUid="books", query="soup")]}),
    Answer("meili facet", "meilisearch", ("POST", "/indexes/books/facet-search", "", b'{"facetName":"genre","facetQuery":"gar"}'),
           {"facetHits": [{"value": "garden", "count": 1}, {"value": "garlic", "count": 2}], "facetQuery": "gar", "processingTimeMs": 1}),
    Answer("meili doc", "meilisearch", ("GET", "/indexes/books/documents/1", "", b""), {"id": 1, "title": "Garden"}),
    Answer("meili docs", "meilisearch", ("GET", "/indexes/books/documents", "limit=2", b""),
           {"results": [{"id": 1, "title": "Garden"}, {"id": 2, "title": "Soup"}], "offset": 0, "limit": 2, "total": 2}),
    Answer("meili error", "meilisearch", ("POST", "/indexes/books/search", "", b'{"q":"garden"}'),
           {"message": "Attribute `genre` is not filterable.", "code": "invalid_search_filter", "type": "invalid_request",
            "link": "https://docs.meilisearch.com/errors#invalid_search_filter"}, status=400),
    # Typesense
    Answer("ts search", "typesense", ("GET", "/collections/books/documents/search", "q=garden&query_by=title", b""), TS_PAGE),
    Answer("ts grouped", "typesense", ("GET", "/collections/books/documents/search", "q=garden&query_by=title&group_by=tags", b""),
           {"found": 1, "found_docs": 2, "out_of": 10, "page": 1, "request_params": {"q": "garden"}, "search_time_ms": 1,
            "grouped_hits": [{"found": 2, "group_key": ["garden"], "hits": [_ts_hit(1, "Garden"), _ts_hit(2, "Soup")]}]}),
    Answer("ts multi", "typesense", ("POST", "/multi_search", "", b'{"searches":[{"collection":"books","q":"garden","query_by":"title"},{"collection":"books","q":"soup","query_by":"title"}]}'),
           {"results": [TS_PAGE, {"code": 404, "error": "Not found."}]}),
    Answer("ts counts only", "typesense", ("GET", "/collections/books/documents/search", "q=garden&query_by=title&per_page=0", b""),
           {k: v for k, v in TS_PAGE.items() if k != "hits"}),
    Answer("ts doc", "typesense", ("GET", "/collections/books/documents/1", "", b""), {"id": "1", "title": "Garden"}),
    Answer("ts export", "typesense", ("GET", "/collections/books/documents/export", "", b""),
           [{"id": "1", "title": "Garden"}, {"id": "2", "title": "Soup"}], jsonl=True),
    Answer("ts error", "typesense", ("GET", "/collections/books/documents/search", "q=garden&query_by=title", b""),
           {"message": "Could not find a field named `genre` in the schema."}, status=404),
    # SearXNG
    Answer("searx search", "searxng", ("GET", "/search", "q=garden&format=json", b""), SEARX_PAGE),
    Answer("searx autocompleter", "searxng", ("GET", "/autocompleter", "q=gar", b""), ["gar", ["garden", "garlic"]]),
]

BY_NAME = {a.name: a for a in ANSWERS}
