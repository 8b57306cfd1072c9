"""Reading what the user asked for out of a request: query parameters, form bodies and JSON bodies.

A body that cannot be read raises AdapterError: a query we cannot screen must not reach the backend
(the middleware answers it with an error instead of passing it on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from filter_proxy.adapters.base import AdapterError

# Keys of a query DSL whose values are options, field names or code, never the user's search text.
DSL_OPTION_KEYS = frozenset(
    {
        "_name", "_source", "analyzer", "boost", "boost_mode", "collapse", "default_field", "default_operator",
        "distance_type", "docvalue_fields", "execution", "field", "fields", "format", "fuzziness",
        "fuzzy_rewrite", "highlight", "ignore_unmapped", "indices_boost", "lenient", "minimum_should_match",
        "missing", "mode", "modifier", "operator", "order", "path", "pit", "quote_analyzer",
        "quote_field_suffix", "relation", "rewrite", "routing", "runtime_mappings", "score_mode", "script",
        "script_fields", "scroll", "scroll_id", "search_after", "search_analyzer", "shape_relation", "sort",
        "stored_fields", "tie_breaker", "time_zone", "type", "unit", "validation_method", "zero_terms_query",
    }
)


def param_values(params: Sequence[tuple[str, str]], names: Iterable[str]) -> list[str]:
    """Non-empty values of the named parameters, in request order (a repeated parameter counts every time)."""
    wanted = set(names)
    return [v for k, v in params if k in wanted and v]


def read_body(body: bytes, content_type: str) -> tuple[str, Any]:
    """("none", None), ("form", [(k, v), ...]) or ("json", value). Raises AdapterError on an unreadable body."""
    if not body or not body.strip():
        return "none", None
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        try:
            return "form", parse_qsl(body.decode("utf-8"), keep_blank_values=False)
        except UnicodeDecodeError as exc:
            raise AdapterError("request form body is not UTF-8") from exc
    if ctype.startswith("multipart/"):
        raise AdapterError(f"request body type {ctype!r} is not screened")
    # JSON declared, or undeclared / text: backends such as Elasticsearch read these as JSON too.
    try:
        return "json", orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AdapterError(f"request body ({ctype or 'no content type'}) is not JSON") from exc


def string_leaves(value: Any, skip_keys: frozenset[str] = frozenset()) -> list[str]:
    """Every non-empty string inside ``value`` (dict values and list items, not dict keys), skipping the
    subtrees under ``skip_keys``. Iterative, so deeply nested input cannot exhaust the stack."""
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if item.strip():
                out.append(item)
        elif isinstance(item, dict):
            stack.extend(v for k, v in reversed(item.items()) if k not in skip_keys)
        elif isinstance(item, list):
            stack.extend(reversed(item))
    return out


def dsl_texts(value: Any) -> list[str]:
    """The text leaves of a search DSL (Elasticsearch / OpenSearch query DSL, Solr JSON request API):
    every string except those under option keys. Walking generically means a new query type, nesting
    (bool, dis_max, nested, function_score, ...) or the shorthand ``{"match": {"title": "text"}}`` is
    covered without a list of query types to keep up to date."""
    return string_leaves(value, DSL_OPTION_KEYS)


def unique(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def param_form_or_json(name: str, params: Sequence[tuple[str, str]], body: bytes, content_type: str) -> list[str]:
    """The query as most simple search APIs take it: parameter ``name`` in the query string, the same field
    in a form body, or the same key (a string) in a JSON object body."""
    texts = param_values(params, [name])
    kind, data = read_body(body, content_type)
    if kind == "form":
        texts.extend(param_values(data, [name]))
    elif kind == "json" and isinstance(data, dict) and isinstance(data.get(name), str):
        texts.append(data[name])
    return unique(texts)


def parse_query(query: str) -> list[tuple[str, str]]:
    """``parse_qsl(query, keep_blank_values=True)``, step for step, without unquoting a name or value that
    has nothing to unquote (the usual query: plain words joined by "+")."""
    out: list[tuple[str, str]] = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "+" in name or "%" in name:
            name = unquote(name.replace("+", " "), encoding="utf-8", errors="replace")
        if "+" in value or "%" in value:
            value = unquote(value.replace("+", " "), encoding="utf-8", errors="replace")
        out.append((name, value))
    return out
