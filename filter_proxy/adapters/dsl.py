"""Readings of a JSON query DSL's structure: what a query *object* asks for beyond its strings.

``request.request_strings`` reads every string of a JSON body as written; ``querysyntax`` reads wildcards,
regular expressions, fuzziness and ranges *inside* a string. The same operations written as JSON objects
(Elasticsearch / OpenSearch query DSL, Solr's JSON query DSL) carry their meaning in the key around the
string, which the string alone does not show: ``{"prefix": {"t": "zqxblock"}}`` asks for every word that
starts with ``zqxblock``, ``{"fuzzy": {"t": "zqxblocke"}}`` for the words an edit or two away,
``{"range": {"t": {"gt": "zqxblockec", "lt": "zqxblockee"}}}`` for the words between. Each is read here as
the string form ``querysyntax`` already reads (``QueryPrefix``, ``/regex/``, ``term~``), so the same
rules decide them.

Also refused (``DslError``, the request is answered 400): a terms lookup (``{"terms": {"t": {"index":
..., "id": ..., "path": ...}}}``), whose words come from a stored document the filter never sees, and a
script whose source builds text (a string literal that is not a field name, characters from numbers,
``reverse``): the filter cannot run it to know what it searches for. A script's string parameters are read
joined too (``params.a + params.b``).
"""

from __future__ import annotations

import os
import re
from typing import Any

from filter_proxy.adapters.querysyntax import QueryPrefix, query_variants

__all__ = ["DslError", "dsl_readings", "TRIGGERS"]

# Keys that change how a string is read (a body without any of them has no reading here).
_PREFIX_KEYS = frozenset({"prefix", "match_phrase_prefix", "match_bool_prefix"})
_REGEX_KEYS = frozenset({"regexp", "regex"})
_FUZZY_KEYS = frozenset({"fuzzy"})
_RANGE_KEYS = frozenset({"range"})
_LOW = ("gt", "gte", "from")
_HIGH = ("lt", "lte", "to")
# Where an operation object keeps its string: ES ``value`` / ``query`` / intervals' ``prefix``, ``term``,
# ``pattern``; Solr's JSON DSL ``v`` / ``query``.
_VALUE_KEYS = ("value", "query", "prefix", "term", "pattern", "v")
# Bytes that must appear in a body for any reading here (a cheap test before walking it).
TRIGGERS = (b"prefix", b"regex", b"fuzz", b"range", b'"path"', b"script")
# Painless (and expression) scripts: a string literal is accepted only as a field or parameter name
# (doc['f'], params['p'], ctx._source['f'], field('f'), $('f', 0), containsKey('f')); text built any other
# way (literals joined, reversed, characters from numbers) is what a script would search for, and the
# filter cannot run the script to know it.
_LITERAL = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NAME_BEFORE = re.compile(r"(?:(?:\bdoc|\bparams|_source|\bfields?)\s*\[|\b(?:containsKey|field|get)\s*\(|\$\s*\()\s*$")
_NAME_AFTER = re.compile(r"^\s*[\]),]")
_BUILDS_TEXT = re.compile(r"\bchar\b|Character|fromCharCode|toChars|codePoint|reverse|toString\s*\([^)]*,"
                          r"|toUnsignedString|BigInteger|\\u[0-9A-Fa-f]{4}|decode|Base64|=~")


class DslError(ValueError):
    """A query object whose meaning cannot be read from the request."""


def _script_readings(value: Any) -> list[str]:
    """A script object (``{"source": ..., "params": {...}}`` or a bare source string): its string
    parameters joined (``params.a + params.b``), with and without spaces. Raises DslError when its source
    builds text the filter cannot read (module constants above)."""
    if isinstance(value, str):
        source, params = value, None
    elif isinstance(value, dict):
        source = value.get("source", value.get("inline"))
        params = value.get("params")
    else:
        return []
    if isinstance(source, str):
        if _BUILDS_TEXT.search(source):
            raise DslError("a script that builds text cannot be screened")
        for found in _LITERAL.finditer(source):
            if not (_NAME_BEFORE.search(source[: found.start()]) and _NAME_AFTER.match(source[found.end():])):
                raise DslError("a script with a string literal that is not a field name cannot be screened")
    strings = [v for v in params.values() if isinstance(v, str)] if isinstance(params, dict) else []
    return ["".join(strings), " ".join(strings)] if len(strings) > 1 else []


def _strings(value: Any) -> list[str]:
    """The string an operation applies to: the value itself, or the one under its value keys, for each
    field of ``{"field": value}``."""
    out: list[str] = []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, str):  # {"field": "text"} (or Solr's {"f": ..., "v": ...}: both read)
                out.append(item)
            elif isinstance(item, dict):  # {"field": {"value": "text", "boost": 2}}
                out.extend(s for k in _VALUE_KEYS if isinstance(s := item.get(k), str))
    return out


def range_prefix(low: str, high: str) -> QueryPrefix | None:
    """The words between two bounds all start with their common beginning: read as a prefix (the same
    rule as a trailing wildcard decides it)."""
    common = os.path.commonprefix([low.casefold(), high.casefold()]).strip()
    return QueryPrefix(common) if common else None


def _ranges(value: Any, out: list[str]) -> None:
    if not isinstance(value, dict):
        return
    for bounds in value.values():
        if not isinstance(bounds, dict):
            continue
        low = next((b for k in _LOW if isinstance(b := bounds.get(k), str)), None)
        high = next((b for k in _HIGH if isinstance(b := bounds.get(k), str)), None)
        if low is not None and high is not None:
            found = range_prefix(low, high)
            if found is not None:
                out.append(found)


def _lookup(value: Any) -> bool:
    """``{"field": {"index": ..., "id": ..., "path": ...}}``: a terms lookup."""
    return isinstance(value, dict) and any(
        isinstance(v, dict) and "id" in v and "path" in v for v in value.values())


def dsl_readings(documents: list[Any]) -> list[str]:
    """The readings of every query object in ``documents`` (parsed JSON bodies or parameter values).
    Iterative (deeply nested input cannot exhaust the stack). Raises DslError on a terms lookup."""
    out: list[str] = []
    stack: list[Any] = list(documents)
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            if isinstance(value, (dict, list)):
                stack.append(value)
            if type(key) is not str:
                continue
            lowered = key.lower()
            if lowered in _PREFIX_KEYS:
                out.extend(QueryPrefix(s.strip()) for s in _strings(value) if s.strip())
            elif lowered in _REGEX_KEYS:
                out.extend(r for s in _strings(value) for r in query_variants("/" + s.replace("/", "\\/") + "/"))
            elif lowered in _FUZZY_KEYS:
                out.extend(r for s in _strings(value) for r in query_variants(f"{s}~"))
            elif lowered in _RANGE_KEYS:
                _ranges(value, out)
            elif lowered == "fuzziness" and isinstance(item.get("query"), str):
                # match / multi_match / query_string with fuzziness: every word of the query is fuzzy
                out.extend(r for word in item["query"].split() for r in query_variants(f"{word}~"))
            elif lowered == "script" and (isinstance(value, str) or isinstance(value, dict)
                                          and ("source" in value or "inline" in value or "params" in value)):
                out.extend(_script_readings(value))
            elif lowered == "terms" and _lookup(value):
                raise DslError("a terms lookup reads its words from a stored document the filter never sees")
    return out
