"""Screening the responses of screened routes that are not a search page or a suggest list.

The route table names each screened route's response kind (``adapters.routes``); search pages and
suggestions are screened by the middleware's ``_finish``, multi-search by ``multisearch``, and the rest here:

- ``document`` / ``documents``: the backend's documents as a page of its own search shape (``documents``),
  screened by ``Adapter.results``; a matching document is answered as the backend answers a missing one;
- ``async``: the search page inside ES ``_async_search``'s status object;
- ``terms``: each term is checked as text, a matching one removed;
- ``rows``: each row of SQL / ES|QL / PPL results is a result (every string in it, URLs as URLs);
- ``opaque``: every string and key anywhere; a match withholds the whole response (``Withheld``).

Unknown shapes raise AdapterError and the middleware answers 502: nothing unread is passed on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from filter_proxy.adapters.base import Adapter, AdapterError, ResultView
from filter_proxy.adapters.routes import ASYNC, COUNT, DOCUMENT, DOCUMENTS, OPAQUE, ROWS, TERMS
from filter_proxy.screening import Removal, screen_results, screen_texts

if TYPE_CHECKING:
    from filter_proxy.rules.ruleset import RuleSet

ROW_KEYS = ("rows", "datarows", "values")  # ES SQL, OpenSearch SQL / PPL, ES|QL
_URL_PREFIXES = ("http://", "https://", "//", "www.")


class Withheld(Exception):  # noqa: N818 - a decision, not an error
    """The response holds listed content and has no smaller unit that could be removed from it."""

    def __init__(self, removal: Removal) -> None:
        super().__init__("withheld")
        self.removal = removal


def all_strings(value: Any) -> list[str]:
    """Every string in ``value``, keys included, iteratively (deep input cannot exhaust the stack)."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                out.append(item)
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and key.strip():
                    out.append(key)
                stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return out


def strings_view(index: int, value: Any) -> ResultView:
    """A view holding every string of ``value``: URL-shaped ones are checked as URLs too."""
    texts = all_strings(value)
    urls = [t.strip() for t in texts if t.lstrip().lower().startswith(_URL_PREFIXES)]
    return ResultView(index=index, extra_text=texts, extra_urls=urls)


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
    if kind in (OPAQUE, COUNT):
        return _opaque(status, doc, rules)
    raise AdapterError(f"unknown response kind {kind!r}")


def blocked(kind: str, adapter: Adapter) -> Any:
    """The answer to a blocked query on a route of ``kind`` (the backend's own empty shape)."""
    if kind == COUNT:
        return {"count": 0, "_shards": {"total": 0, "successful": 0, "skipped": 0, "failed": 0}}
    return adapter.empty([])


def screen_error(doc: Any, rules: RuleSet) -> None:
    """A non-2xx JSON body of a screened route: errors may quote documents, so every string is checked."""
    _opaque(0, doc, rules)


def _documents(kind: str, status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    shape = adapter.document_shape()
    page, owners = shape.page(kind, doc)
    views = adapter.results(page) if owners else []
    if len(views) != len(owners):
        raise AdapterError("document views do not line up with the documents")
    removals = screen_results(views, rules)
    if not removals:
        return status, doc, []
    drop = {owners[i] for i in removals}
    status, doc = shape.drop(kind, doc, drop, status)
    # One removal per document, however many of its views matched.
    by_doc: dict[int, Removal] = {}
    for i, removal in removals.items():
        by_doc.setdefault(owners[i], removal)
    return status, doc, list(by_doc.values())


def _async(status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    if not isinstance(doc, dict):
        raise AdapterError("async search response is not a JSON object")
    page = doc.get("response")
    if page is None:  # still running, nothing to show yet
        return status, doc, []
    page, outcome = screen_texts(page, adapter, rules, results=True)
    doc["response"] = page
    return status, doc, list(outcome.removed)


def _terms(status: int, doc: Any, adapter: Adapter, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    shape = adapter.document_shape()
    removals: list[Removal] = []
    drop: set[int] = set()
    for i, term in enumerate(shape.terms(doc)):
        verdict = rules.check_text(term)
        if verdict.matched:
            drop.add(i)
            removals.append(Removal(verdict))
    if drop:
        doc = shape.drop_terms(doc, drop)
    return status, doc, removals


def _rows(status: int, doc: Any, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    if not isinstance(doc, dict):
        raise AdapterError("tabular response is not a JSON object")
    keys = [k for k in ROW_KEYS if k in doc]
    others = {k: v for k, v in doc.items() if k not in ROW_KEYS}
    removals: list[Removal] = []
    # Column names, cursors and errors around the rows are checked as one opaque part.
    _opaque(status, others, rules)
    for key in keys:
        rows = doc[key]
        if not isinstance(rows, list):
            raise AdapterError(f"{key!r} is not a list of rows")
        found = screen_results([strings_view(i, row) for i, row in enumerate(rows)], rules)
        if found:
            doc[key] = [r for i, r in enumerate(rows) if i not in found]
            removals.extend(found.values())
    for count in ("total", "size"):  # OpenSearch SQL counts
        if removals and isinstance(doc.get(count), int) and not isinstance(doc.get(count), bool):
            doc[count] = max(0, doc[count] - len(removals))
    return status, doc, removals


def _opaque(status: int, doc: Any, rules: RuleSet) -> tuple[int, Any, list[Removal]]:
    found = screen_results([strings_view(0, doc)], rules)
    if found:
        raise Withheld(found[0])
    return status, doc, []
