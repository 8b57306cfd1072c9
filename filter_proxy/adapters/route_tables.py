"""Each backend's route table: which routes are screened (and how), which are read, which pass, the rest is
refused.

Sources, as each server documents its HTTP API:
- Elasticsearch / OpenSearch: the REST API reference (rest-api-spec), every endpoint that takes a query or
  returns stored documents, terms or rows is screened; cluster/info, index information (mappings, settings,
  aliases, templates, stored scripts, ``_cat`` tables), tasks, writes, scroll and PIT deletion are read
  (``read``: forwarded as sent, the whole answer read, ``read_answers.py``); async search / EQL / SQL status
  answers are read as opaque (their shard failures carry error text). OpenSearch's SQL/PPL plugin routes are
  in the same table (harmless on Elasticsearch).
- Solr: the request handlers of the default configset under ``/solr/<core>/`` (and their usual
  additions): every handler that returns documents, suggestions or terms is screened; updates, core lists,
  schema and config reads are read; ping passes.
- Meilisearch: the API reference (search, multi-search, similar, facet search, documents); index and
  settings management, tasks and batches are read; health and version pass. ``/keys`` (API keys) is refused.
- Typesense: the API reference (search, multi_search, documents by id and export); collection management,
  synonyms, overrides, presets, stop words and writes are read; health passes.
- SearXNG: its Flask routes; the HTML pages and JSON built from the instance's state are read, static files
  pass; ``/image_proxy`` (images that were never screened) is refused unless the operator passes it.
"""

from __future__ import annotations

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
    ROWS,
    SCREEN,
    SEARCH,
    SUGGEST,
    TERMS,
    Route,
    route,
)


def _screen(kind: str, *specs: str) -> list[Route]:
    return [route(s, SCREEN, kind) for s in specs]


def _pass(*specs: str) -> list[Route]:
    return [route(s, PASS) for s in specs]


def _read(*specs: str) -> list[Route]:
    return [route(s, READ) for s in specs]


ELASTICSEARCH: tuple[Route, ...] = (
    *_screen(
        SEARCH,
        "GET,POST /_search", "GET,POST /*/_search",
        "GET,POST /_search/template", "GET,POST /*/_search/template",
        "GET,POST /_search/scroll", "GET,POST /_search/scroll/*",
        "GET,POST /*/_knn_search",
    ),
    *_screen(MULTI, "GET,POST /_msearch", "GET,POST /*/_msearch",
             "GET,POST /_msearch/template", "GET,POST /*/_msearch/template"),
    *_screen(ASYNC, "POST /_async_search", "POST /*/_async_search", "GET /_async_search/*",
             # OpenSearch's asynchronous search plugin answers {"id", "state", "response": <search page>}
             "POST /_plugins/_asynchronous_search", "GET /_plugins/_asynchronous_search/*"),
    # {id}: a document id, the one segment that may hold an encoded "/" (routing.py: ES routes on the raw path)
    *_screen(DOCUMENT, "GET /*/_doc/{id}", "GET /*/_source/{id}"),
    *_screen(DOCUMENTS, "GET,POST /_mget", "GET,POST /*/_mget"),
    *_screen(TERMS, "GET,POST /*/_terms_enum"),
    *_screen(
        ROWS,
        "GET,POST /_sql", "GET /_sql/async/*", "POST /_query", "POST /_query/async", "GET /_query/async/*",
        "POST /_query/async/*/stop",  # ES|QL stop: answers the rows found so far
        "POST /_plugins/_sql", "POST /_plugins/_ppl", "POST /_opendistro/_sql", "POST /_opendistro/_ppl",
        "GET,POST /*/_eql/search", "GET /_eql/search/*",  # EQL: hits.events[] and hits.sequences[]
    ),
    *_screen(COUNT, "GET,POST /_count", "GET,POST /*/_count"),
    *_screen(
        OPAQUE,
        "GET,POST /*/_explain/{id}",
        "GET,POST /_field_caps", "GET,POST /*/_field_caps",
        "GET,POST /_validate/query", "GET,POST /*/_validate/query",
        "GET,POST /*/_termvectors", "GET,POST /*/_termvectors/{id}", "GET,POST /_mtermvectors",
        "GET,POST /*/_mtermvectors",
        "GET,POST /_rank_eval", "GET,POST /*/_rank_eval",
        "POST /_sql/translate", "POST /*/_pit", "POST /*/_search/point_in_time",
        # async status answers (rest-api-spec StatusResponseBase: ids, times, _shards / _clusters, whose
        # failures carry error reasons): nothing to remove, so every string is read and a match withholds
        "GET /_async_search/status/*", "GET /_eql/search/status/*", "GET /_sql/async/status/*",
    ),
    # Writes that run a query (by-query) or store one (alias filters, index creation with aliases or
    # settings, synonyms in settings, runtime-field scripts in mappings): screened, a listed one refused.
    *_screen(CHANGE, "POST /*/_delete_by_query", "POST /*/_update_by_query", "PUT,POST /*/_alias/*",
             "POST /_aliases", "PUT /{index}", "PUT /*/_settings", "PUT,POST /*/_mapping"),
    *_read(
        # cluster, node and index information: names, mappings, settings (synonyms, stop words), alias
        # filters (queries), templates, stored scripts (search templates), _cat text tables, hot threads
        "GET /", "GET /_cluster/health", "GET /_cluster/health/*", "GET /_cat", "GET /_cat/**",
        "GET /_nodes", "GET /_nodes/**", "GET /_license", "GET /_xpack",
        "GET /{index}", "GET /*/_mapping", "GET /_mapping", "GET /*/_settings", "GET /_settings",
        "GET /*/_stats", "GET /_stats", "GET /*/_mapping/field/*", "GET /_mapping/field/*",
        "GET /_alias", "GET /_alias/*", "GET /*/_alias", "GET /*/_alias/*", "GET /_aliases", "GET /*/_aliases",
        "GET /_index_template", "GET /_index_template/*", "GET /_component_template",
        "GET /_component_template/*", "GET /_template", "GET /_template/*", "GET /_scripts/*",
        "GET /_data_stream", "GET /_data_stream/*", "GET /_ingest/pipeline", "GET /_ingest/pipeline/*",
        "GET /_synonyms", "GET /_synonyms/*", "GET /_synonyms/*/*", "GET /_cluster/settings", "GET /_cluster/stats",
        # query rules (their criteria hold query strings) and search applications (a stored search template)
        "GET /_query_rules", "GET /_query_rules/*", "GET /_query_rules/*/_rule/*",
        "GET /_application/search_application", "GET /_application/search_application/*",
        "GET /_search/point_in_time/_all",
        # tasks: a running task's description quotes its request (a by-query's query)
        "GET /_tasks", "GET /_tasks/*",
        # writes: their answers may carry documents (_update's "get._source", _bulk update items)
        "POST,PUT /_bulk", "POST,PUT /*/_bulk", "PUT,POST,DELETE /*/_doc/{id}", "POST /*/_doc",
        "PUT,POST /*/_create/{id}", "POST /*/_update/{id}", "DELETE /{index}",
        "POST /_refresh", "POST /*/_refresh", "POST /_flush", "POST /*/_flush",
        "POST /*/_forcemerge", "DELETE /*/_alias/*",
        # closing scrolls, point-in-time readers and searches (clear_scroll(), helpers.scan())
        "DELETE /_search/scroll", "DELETE /_search/scroll/*", "DELETE /_pit",
        "DELETE /_search/point_in_time", "DELETE /_async_search/*", "DELETE /_eql/search/*",
        "DELETE /_plugins/_asynchronous_search/*", "DELETE /_query/async/*", "DELETE /_sql/async/delete/*",
        "POST /_sql/close",
    ),
)

SOLR_SEARCH_HANDLERS = ("select", "query", "browse", "mlt", "clustering", "spell", "tvrh", "elevate", "debug",
                        "export")  # /export answers the select shape (response.docs), sorted and streamed
SOLR: tuple[Route, ...] = (
    *_screen(SEARCH, *(f"GET,POST /solr/*/{h}" for h in SOLR_SEARCH_HANDLERS)),
    *_screen(SUGGEST, "GET,POST /solr/*/suggest"),
    *_screen(DOCUMENT, "GET,POST /solr/*/get"),
    *_screen(TERMS, "GET,POST /solr/*/terms"),
    *_screen(ROWS, "GET,POST /solr/*/stream", "GET,POST /solr/*/sql"),  # result-set.docs tuples
    *_screen(OPAQUE, "GET,POST /solr/*/graph", "GET,POST /solr/*/analysis/field", "GET,POST /solr/*/analysis/document"),
    *_pass("GET /solr/*/admin/ping"),
    *_read(  # core and collection lists, schema (managed synonyms / stop words under schema/analysis), config
        "GET /solr/admin/cores", "GET /solr/admin/info/**", "GET /solr/admin/collections",
        "GET /solr/*/schema", "GET /solr/*/schema/**", "GET /solr/*/config", "GET /solr/*/config/**",
        "POST /solr/*/update", "POST /solr/*/update/**", "POST /solr/*/schema",
    ),
)

MEILISEARCH: tuple[Route, ...] = (
    *_screen(SEARCH, "GET,POST /indexes/*/search", "GET,POST /indexes/*/similar"),
    *_screen(MULTI, "POST /multi-search"),
    *_screen(DOCUMENT, "GET /indexes/*/documents/*"),
    *_screen(DOCUMENTS, "GET /indexes/*/documents", "POST /indexes/*/documents/fetch"),
    *_screen(OPAQUE, "POST /indexes/*/facet-search"),
    # delete by filter, and settings (synonyms, stop words, ranking rules ...) that change what a query finds
    *_screen(CHANGE, "POST /indexes/*/documents/delete", "PATCH /indexes/*/settings", "PUT,PATCH /indexes/*/settings/*"),
    *_pass("GET /health", "GET /version"),
    *_read(  # index info, settings (synonyms, stop words, dictionary), tasks and batches (their details
        # carry filters and settings), and write answers
        "GET /stats", "GET /indexes", "GET /indexes/*", "GET /indexes/*/stats",
        "POST /indexes", "PATCH,DELETE /indexes/*", "POST /swap-indexes",
        "POST,PUT,DELETE /indexes/*/documents", "DELETE /indexes/*/documents/*",
        "POST /indexes/*/documents/delete-batch",
        "GET,DELETE /indexes/*/settings", "GET,DELETE /indexes/*/settings/*",
        "GET /tasks", "GET /tasks/*", "POST /tasks/cancel", "DELETE /tasks", "GET /batches", "GET /batches/*",
    ),
)

TYPESENSE: tuple[Route, ...] = (
    *_screen(SEARCH, "GET,POST /collections/*/documents/search"),
    *_screen(MULTI, "POST /multi_search"),
    *_screen(DOCUMENT, "GET /collections/*/documents/*"),
    *_screen(DOCUMENTS, "GET /collections/*/documents/export"),
    *_screen(CHANGE, "PATCH,DELETE /collections/*/documents"),  # update / delete by filter_by
    *_pass("GET /health"),
    *_read(  # collection schemas, aliases, synonyms, overrides, presets, stop words; document writes by id
        # answer the document itself (DELETE answers the stored one), import with return_doc the documents
        "GET /collections", "GET /collections/*", "POST /collections", "PATCH,DELETE /collections/*",
        "POST /collections/*/documents", "POST /collections/*/documents/import",
        "PATCH,DELETE /collections/*/documents/*",
        "GET /aliases", "GET,PUT,DELETE /aliases/*", "GET /metrics.json", "GET /stats.json",
        "GET /collections/*/synonyms", "GET /collections/*/synonyms/*", "GET /collections/*/overrides",
        "GET /collections/*/overrides/*", "GET /presets", "GET /presets/*", "GET /stopwords", "GET /stopwords/*",
        "GET /synonym_sets", "GET /synonym_sets/*", "GET /synonym_sets/*/items", "GET /synonym_sets/*/items/*",
        "GET /curation_sets", "GET /curation_sets/*", "GET /curation_sets/*/items", "GET /curation_sets/*/items/*",
    ),
)

SEARXNG: tuple[Route, ...] = (
    *_screen(SEARCH, "GET,POST /search"),
    *_screen(SUGGEST, "GET,POST /autocompleter"),
    *_pass("GET /static/**", "GET /healthz", "GET /favicon.ico", "GET /robots.txt"),
    *_read(  # pages and JSON built from the instance's settings and state (engines, stats, preferences)
        "GET /", "GET /config", "GET,POST /preferences", "GET /about", "GET /info/**", "GET /stats",
        "GET /stats/**", "GET /opensearch.xml", "GET /clear_cookies",
    ),
)

OPENSEARCH_SUGGESTIONS: tuple[Route, ...] = (
    *_screen(SUGGEST, "GET,POST /suggest", "GET,POST /autocomplete", "GET,POST /complete/search"),
)

# Request parameters that make the backend run another handler than the path names (Solr's ``qt`` with
# handleSelect): refused on screened routes, since the response would not have the routed kind's shape.
ROUTING_PARAMS: dict[str, frozenset[str]] = {"solr": frozenset({"qt"})}
# Parameters that make the backend read query content from somewhere the filter never sees (Solr's remote
# and local content streams: a JSON request or form fetched from a URL or a file): refused on screened routes.
CONTENT_PARAMS: dict[str, frozenset[str]] = {"solr": frozenset({"stream.url", "stream.file"})}

# Parameters that choose the response format, and the values the filter can read (an empty set: the
# parameter is refused whatever its value). Anything else would be answered in a format the filter cannot
# screen (Elasticsearch's global ``format=yaml|cbor|smile``, ``_sql``'s ``txt|csv|tsv``; Solr's ``wt=xml|
# csv|javabin|php|python|ruby|velocity|xslt|geojson|smile`` and JSONP ``json.wrf=callback``, which wraps
# the JSON in a call). Refused on screened routes (request_guard.screened_refusal) before anything is sent.
# ``source_content_type`` says how Elasticsearch parses the ``source`` parameter (the body sent as a
# parameter): as YAML it undoes escapes (``\x7a``) the filter, reading JSON or text, does not.
_ES_FORMATS = {"format": frozenset({"json"}), "source_content_type": frozenset({"application/json"})}
FORMAT_PARAMS: dict[str, dict[str, frozenset[str]]] = {
    "elasticsearch": _ES_FORMATS,
    "opensearch": _ES_FORMATS,
    "solr": {"wt": frozenset({"json"}), "json.wrf": frozenset()},
    "searxng": {"format": frozenset({"json"})},  # html, csv, rss: pages the adapter cannot read
}
# Media types in ``Accept`` that make the backend answer in a format the filter cannot read (Elasticsearch
# and OpenSearch honour Accept for YAML, CBOR, Smile, and text tables on ``_sql`` / ``_cat``).
_ES_ACCEPT = ("yaml", "cbor", "smile", "text/plain", "text/csv", "text/tab-separated-values")
FORMAT_ACCEPT: dict[str, tuple[str, ...]] = {"elasticsearch": _ES_ACCEPT, "opensearch": _ES_ACCEPT}

TABLES: dict[str, tuple[Route, ...]] = {
    "elasticsearch": ELASTICSEARCH,
    "opensearch": ELASTICSEARCH,
    "solr": SOLR,
    "meilisearch": MEILISEARCH,
    "typesense": TYPESENSE,
    "searxng": SEARXNG,
    "opensearch-suggestions": OPENSEARCH_SUGGESTIONS,
    "generic": (),  # the operator lists the routes (routes.search_paths / screen / pass)
}
