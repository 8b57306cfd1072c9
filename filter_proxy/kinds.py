"""Screening the responses of screened routes that are not a search page or a suggest list.

The route table names each screened route's response kind (``adapters.routes``); search pages and
suggestions are screened by the middleware's ``_finish``, multi-search by ``multisearch``, and the rest here:

- ``document`` / ``documents``: the backend's documents as a page of its own search shape (``documents``),
  screened by ``Adapter.results``; a matching document is answered as the backend answers a missing one;
- ``async``: the search page inside ES ``_async_search``'s status object;
- ``terms``: each term is checked as text, a matching one removed;
- ``rows``: each row of SQL / ES|QL / PPL results, each Solr stream tuple and each EQL event or sequence is a
  result (every string in it, URLs as URLs);
- ``opaque``: every string and key anywhere; a match withholds the whole response (``Withheld``).

Unknown shapes raise AdapterError and the middleware answers 502: nothing unread is passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from filter_proxy.adapters.base import Adapter, AdapterError, ResultView
from filter_proxy.adapters.counts import lower
from filter_proxy.adapters.routes import ASYNC, CHANGE, COUNT, DOCUMENT, DOCUMENTS, OPAQUE, ROWS, TERMS
from filter_proxy.response_guard import listed_echo, listed_in_echo
from filter_proxy.screening import (
    ImageScreenerLike,
    Removal,
    screen_page,
    screen_results,
    screen_texts,
    screen_value,
)

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

ROW_KEYS = ("rows", "datarows", "values")  # ES SQL, OpenSearch SQL / PPL, ES|QL (Solr: result-set.docs)
# Where backends echo the request: Meilisearch "query" / "facetQuery", Typesense "request_params", Solr
# "responseHeader.params" (handled in _split_echo).
ECHO_KEYS = frozenset({"query", "facetQuery", "request_params", "responseHeader"})


class Withheld(Exception):  # noqa: N818 - a decision, not an error
    """The response holds listed content and has no smaller unit that could be removed from it. ``reason``
    says where (``events.WITHHELD_REASONS``: "echo" for the backend's echo of the request, else "content")."""

    def __init__(self, removal: Removal, reason: str = "content") -> None:
        super().__init__("withheld")
        self.removal = removal
        self.reason = reason


def raise_if_withheld(outcome: Any) -> None:
    """A page outcome that says the page must not be sent at all (a listed string outside any removable
    part, when the page screening reports one as ``withheld``) withholds the whole answer."""
    withheld = getattr(outcome, "withheld", None)
    if withheld is not None:
        raise Withheld(withheld)


def strings_view(index: int, value: Any) -> ResultView:
    """A view holding every string of ``value`` read as a result's are (``adapters.walk``: keys too,
    markup stripped beside the original, URL-shaped parts, also inside text, checked as URLs)."""
    return ResultView(index=index, nodes=(value,))


def parse(kind: str, body: bytes, adapter: Adapter) -> Any:
    """The response document; Typesense export (``documents``) is JSON lines."""
    shape = adapter.document_shape()
    if shape.jsonl and kind == DOCUMENTS:
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]
    return orjson.loads(body)


def encode(kind: str, doc: Any, adapter: Adapter) -> bytes:
    if adapter.document_shape().jsonl and kind == DOCUMENTS and isinstance(doc, list):
        return b"\n".join(orjson.dumps(d) for d in doc)
    return orjson.dumps(doc)


def screen_kind(kind: str, status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    """(status, document, removals) for one parsed response of ``kind``. Raises AdapterError on a shape
    that cannot be read, Withheld when an opaque response matched."""
    if kind in (DOCUMENT, DOCUMENTS):
        return _documents(kind, status, doc, adapter, rules)
    if kind == ASYNC:
        return _async(status, doc, adapter, rules)
    if kind == TERMS:
        return _terms(status, doc, adapter, rules)
    if kind == ROWS:
        return _rows(status, doc, rules)
    if kind == OPAQUE:
        return _opaque_parts(status, doc, adapter, rules)
    if kind in (COUNT, CHANGE):  # a write's answer (acknowledged, counts, task) is read whole
        return _opaque(status, doc, rules)
    raise AdapterError(f"unknown response kind {kind!r}")


def blocked(kind: str, adapter: Adapter) -> Any:
    """The answer to a blocked query on a route of ``kind`` (the backend's own empty shape)."""
    if kind == COUNT:
        return {"count": 0, "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}}
    if kind == ASYNC:  # the async wrapper around an empty page, finished (clients read "response")
        return {"is_partial": False, "is_running": False, "response": adapter.empty([])}
    return adapter.empty([])


def screen_error(doc: Any, rules: RuleSet) -> None:
    """A non-2xx JSON body of a screened route: errors may quote documents, so every string is checked."""
    _opaque(0, doc, rules)


async def screen_documents(kind: str, status: int, doc: Any, adapter: Adapter, rules: RuleSet,
                           image_screener: ImageScreenerLike) -> tuple[int, Any, list[Removal], bool]:
    """``document`` / ``documents`` with their pictures checked as on a search page (fetched, hashed,
    the unverified ones handled by policy). Returns (status, doc, removals, pictures changed)."""
    from filter_proxy.images_check import rewrite_urls
    from filter_proxy.screening import _screen_images

    page, owners = adapter.document_shape().page(kind, doc)
    views = adapter.results(page) if owners else []
    removals = screen_results(views, rules)
    hide: list[int] = []
    shown: dict[str, str] = {}
    if views:
        await _screen_images(views, rules, image_screener, removals, hide, shown)
    for index in hide:  # the page's hits hold the response's own objects: hidden in the response itself
        adapter.hide_image(page, index)
    if shown:
        doc = rewrite_urls(doc, shown)
    status, doc, removed = _drop(kind, status, doc, adapter, owners, views, removals)
    _withhold_rest(doc, views, removals, adapter, rules)
    return status, doc, removed, bool(hide or shown)


def _withhold_rest(doc: Any, views: list[ResultView], removals: dict[int, Removal], adapter: Adapter,
                   rules: RuleSet) -> None:
    """Everything of a documents answer but its kept documents (read as results already): totals, cursors,
    errors and any key beside the documents. A listed string there has nothing around it to remove, so the
    answer is withheld (before, only the documents were read and the rest went out as the backend sent it)."""
    kept = {id(node) for view in views if view.index not in removals for node in view.nodes
            if type(node) in (dict, list)}
    found = screen_value(doc, rules, kept)
    if found is not None:
        raise Withheld(found)


def _documents(kind: str, status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    page, owners = adapter.document_shape().page(kind, doc)
    views = adapter.results(page) if owners else []
    removals = screen_results(views, rules)
    status, doc, removed = _drop(kind, status, doc, adapter, owners, views, removals)
    _withhold_rest(doc, views, removals, adapter, rules)
    return status, doc, removed


def _rest(doc: Any, rules: RuleSet) -> None:
    """Deny by default: a terms answer as it will be sent, every string and key of it, read once more
    after its removals (shard failures, Solr terms' field names and counts, a key the backend added). A
    listed string there cannot be removed: the answer is withheld (``Withheld``)."""
    _opaque(0, doc, rules)


def _drop(kind: str, status: int, doc: Any, adapter: Adapter, owners: list[int], views: list[ResultView],
          removals: dict[int, Removal]) -> tuple[int, Any, list[Removal]]:
    shape = adapter.document_shape()
    if len(views) != len(owners):
        raise AdapterError("document views do not line up with the documents")
    if not removals:
        return status, doc, []
    drop = {owners[i] for i in removals}
    status, doc = shape.drop(kind, doc, drop, status)
    # One removal per document, however many of its views matched.
    by_doc: dict[int, Removal] = {}
    for i, removal in removals.items():
        by_doc.setdefault(owners[i], removal)
    return status, doc, list(by_doc.values())


def _async_page(doc: Any, rules: RuleSet) -> Any:
    """The search page inside an async search answer (ES ``_async_search``: ``response``, the rest ids,
    times and ``error``; OpenSearch's asynchronous search the same with ``state``), or None while it is
    still running. Everything around the page is read as opaque (a match withholds the answer)."""
    if not isinstance(doc, dict):
        raise AdapterError("async search response is not a JSON object")
    _opaque(0, {k: v for k, v in doc.items() if k != "response"}, rules)  # status, errors
    page = doc.get("response")
    if page is not None and not isinstance(page, dict):
        raise AdapterError("async search 'response' is not a search page")
    return page


def _async_done(doc: dict[str, Any], page: Any, outcome: Any, adapter: Adapter, rules: RuleSet) -> list[Removal]:
    raise_if_withheld(outcome)
    echo = listed_echo(page, adapter, rules)  # the page's echo (suggest text): only what the client sent
    if echo is not None:
        raise Withheld(echo, "echo")
    doc["response"] = page
    return list(outcome.removed)


def _async(status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    page = _async_page(doc, rules)
    if page is None:  # still running, nothing to show yet
        return status, doc, []
    page, outcome = screen_texts(page, adapter, rules, results=True)
    return status, doc, _async_done(doc, page, outcome, adapter, rules)


async def screen_async(status: int, doc: Any, adapter: Adapter, rules: RuleSet,
                       image_screener: ImageScreenerLike) -> tuple[int, Any, list[Removal]]:
    """``async`` with the page's pictures checked as on a ``_search`` page (fetched, hashed, unverified ones
    handled by policy). Before, an async page's thumbnails were never checked."""
    page = _async_page(doc, rules)
    if page is None:
        return status, doc, []
    page, outcome = await screen_page(page, adapter, rules, results=True, image_screener=image_screener)
    return status, doc, _async_done(doc, page, outcome, adapter, rules)


def _terms(status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    shape = adapter.document_shape()
    removals: list[Removal] = []
    drop: set[int] = set()
    terms = shape.terms(doc)
    for i, term in enumerate(terms):
        verdict = rules.check_text(term)
        if verdict.matched:
            drop.add(i)
            removals.append(Removal(verdict))
    if drop:
        doc = shape.drop_terms(doc, drop)
    _rest(doc, rules)  # shard failures, field names, counts, the kept terms as URLs too
    return status, doc, removals


def _rows(status: int, doc: Any, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    if not isinstance(doc, dict):
        raise AdapterError("tabular response is not a JSON object")
    if isinstance(doc.get("result-set"), dict):  # Solr streaming expressions / SQL: result-set.docs[] tuples
        inner, removals = _rows_of(doc["result-set"], ("docs",), rules)
        doc["result-set"] = inner
        _opaque(status, {k: v for k, v in doc.items() if k != "result-set"}, rules)
        return status, doc, removals
    hits = doc.get("hits")
    if isinstance(hits, dict) and ("events" in hits or "sequences" in hits):  # ES EQL: events and sequences
        inner, removals = _rows_of(hits, ("events", "sequences"), rules)
        lower(inner.get("total"), "value", len(removals))  # counts.py: in its own type
        doc["hits"] = inner
        _opaque(status, {k: v for k, v in doc.items() if k != "hits"}, rules)
        return status, doc, removals
    doc, removals = _rows_of(doc, ROW_KEYS, rules)
    return status, doc, removals


def _rows_of(doc: dict[str, Any], row_keys: tuple[str, ...], rules: RuleSet) -> tuple[dict[str, Any], list[Removal]]:
    """Drop the matching rows of the lists under ``row_keys``; everything else is checked as opaque."""
    keys = [k for k in row_keys if k in doc]
    others = {k: v for k, v in doc.items() if k not in row_keys}
    removals: list[Removal] = []
    # Column names, cursors and errors around the rows are checked as one opaque part.
    _opaque(0, others, rules)
    for key in keys:
        rows = doc[key]
        if not isinstance(rows, list):
            raise AdapterError(f"{key!r} is not a list of rows")
        found = screen_results([strings_view(i, row) for i, row in enumerate(rows)], rules)
        if found:
            doc[key] = [r for i, r in enumerate(rows) if i not in found]
            removals.extend(found.values())
    for count in ("total", "size"):  # OpenSearch SQL counts, in their own type (counts.py)
        lower(doc, count, len(removals))
    return doc, removals


def _split_echo(doc: Any) -> tuple[Any, list[Any]]:
    """(``doc`` without the backend's echo of the request, the echo's values). The echo is read apart
    (``response_guard.listed_in_echo``): a warned query echoed back must not withhold the answer, and
    nothing listed that the client did not send may leave in it. Solr's ``responseHeader`` is an echo
    only in its ``params``; the rest of it is read as content."""
    if not isinstance(doc, dict) or not ECHO_KEYS & doc.keys():
        return doc, []
    out: dict[Any, Any] = {}
    echoes: list[Any] = []
    for key, value in doc.items():
        if key == "responseHeader":
            if isinstance(value, dict) and "params" in value:
                echoes.append(value["params"])
                value = {k: v for k, v in value.items() if k != "params"}
            out[key] = value
        elif key in ECHO_KEYS:
            echoes.append(value)
        else:
            out[key] = value
    return out, echoes


def _opaque_parts(status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    """An opaque answer whose adapter names removable parts (``Adapter.opaque_sections``): a listed part
    goes, everything left is read as opaque."""
    removals: list[Removal] = []
    drop: dict[int, tuple[Any, set[Any]]] = {}
    for section in adapter.opaque_sections(doc):
        found = screen_value(section.owner[section.key], rules)
        if found is not None:
            removals.append(found)
            drop.setdefault(id(section.owner), (section.owner, set()))[1].add(section.key)
    for owner, keys in drop.values():
        if isinstance(owner, list):
            owner[:] = [item for i, item in enumerate(owner) if i not in keys]
        else:
            for key in keys:
                owner.pop(key, None)
    _opaque(status, doc, rules)
    return status, doc, removals


def _opaque(status: int, doc: Any, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    rest, echoes = _split_echo(doc)
    found = screen_results([strings_view(0, rest)], rules)
    if found:
        raise Withheld(found[0])
    echo = listed_in_echo(echoes, rules) if echoes else None
    if echo is not None:
        raise Withheld(echo, "echo")
    return status, doc, []
