"""Reading what the user asked for out of a request: query parameters, form bodies, JSON and NDJSON bodies.

Deny by default: ``request_strings`` reads *every* string the backend can read (parameter names and values,
every key and string of a body at any depth), not a list of known query keys; values that are only
options (``"and"``, a field name) are screened too, which costs nothing in matches. A body that cannot be
read raises AdapterError: a query we cannot screen must not reach the backend (the middleware answers it
with an error instead of passing it on).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from filter_proxy.adapters.base import AdapterError
from filter_proxy.adapters.dsl import TRIGGERS, DslError, dsl_readings
from filter_proxy.adapters.querysyntax import QueryPrefix, screened_texts
from filter_proxy.adapters.walk import collect as collect_strings

_KEY_TOKEN = re.compile(rb'"\s*:')
_VISIBLE_ASCII = bytes(range(0x21, 0x7F))


def _key_count(value: Any) -> int:
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        if type(item) is dict:
            count += len(item)
            stack.extend(v for v in item.values() if type(v) in (dict, list))
        elif type(item) is list:
            stack.extend(v for v in item if type(v) in (dict, list))
    return count


def _all_pairs(pairs: list[tuple[str, Any]]) -> Any:
    keys = [k for k, _ in pairs]
    return dict(pairs) if len(set(keys)) == len(keys) else [list(p) for p in pairs]


def loads_every_key(body: bytes) -> Any:
    """``orjson.loads``, except that an object with a duplicate key keeps every member: a backend may read
    the first duplicate where orjson keeps the last, so each must be screened. Such an object comes back
    as a list of ``[key, value]`` pairs. Cheap check first: every key is a string followed by ``:``, so
    when the body has no more ``"...":`` tokens than the parsed document has keys, no key was lost; only
    otherwise (duplicates, or ``":`` inside a string) is the body parsed again keeping every pair.
    Raises ``orjson.JSONDecodeError`` like ``orjson.loads``."""
    value = orjson.loads(body)
    if b":" in body and len(_KEY_TOKEN.findall(body)) > _key_count(value):
        # A ValueError here (orjson read it, json does not) propagates: the request is refused (400).
        value = json.loads(body, object_pairs_hook=_all_pairs)
    return value


def read_bodies(body: bytes, content_type: str) -> tuple[str, list[Any]]:
    """``read_body`` that also reads NDJSON (``_msearch``, ``_bulk``-style bodies: one JSON value per line):
    ("none", []), ("form", [pairs]) or ("json", [value, ...]). Raises AdapterError on an unreadable body."""
    ctype = content_type.split(";", 1)[0].strip().lower()
    if ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl") or (
        ctype != "application/x-www-form-urlencoded" and b"\n" in body.strip()
    ):
        try:
            return "json", [loads_every_key(body)]
        except orjson.JSONDecodeError:
            pass
        values = []
        for number, line in enumerate(body.splitlines(), 1):
            if line.strip():
                try:
                    values.append(loads_every_key(line))
                except orjson.JSONDecodeError as exc:
                    raise AdapterError(f"request body line {number} is not JSON") from exc
        return "json", values
    kind, data = read_body(body, content_type)
    return (kind, [] if data is None else [data])


def _json_param(value: str) -> Any:
    """A parameter value that is a JSON document (``source=``, ``json=``, ``json.query=``), else None."""
    head = value.lstrip()[:1]
    if head not in ("{", "["):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None  # read as text only, like any other value


def request_strings(params: Sequence[tuple[str, str]], body: bytes, content_type: str, *,
                    form_ok: bool = True) -> list[str]:
    """Every string the backend can read from this request (DESIGN §1 step 2, deny by default): every
    parameter name and value, every form field, every key and string value of a JSON or NDJSON body at
    any depth, and the same inside parameter values that are JSON documents. ``form_ok`` False refuses a
    form body (a backend that reads only JSON bodies)."""
    pairs = list(params)
    # No body (the usual GET): nothing to read, whatever the content type says.
    kind, values = read_bodies(body, content_type) if body else ("none", [])
    if kind == "form":
        if not form_ok:
            raise AdapterError("a search body must be JSON")
        pairs.extend(values[0])
    out: list[str] = []
    links: list[str] = []
    documents = list(values) if kind == "json" else []
    for name, value in pairs:
        out.append(name)
        out.append(value)
        parsed = _json_param(value)
        if parsed is not None:
            documents.append(parsed)
    for document in documents:
        collect_strings(document, out, links)
    if documents and _has_trigger(body, pairs):
        try:  # query objects whose key changes how their string is read (prefix, fuzzy, regexp, range)
            out.extend(dsl_readings(documents))
        except DslError as exc:
            raise AdapterError(str(exc)) from exc
    return [t for t in out if t and not t.isspace()]


def _has_trigger(body: bytes, pairs: Sequence[tuple[str, str]]) -> bool:
    """Whether the body or a JSON parameter value may hold a query object ``dsl_readings`` reads."""
    lowered = body.lower()
    if any(t in lowered for t in TRIGGERS):
        return True
    return any(t.decode() in value.lower() for _, value in pairs if "{" in value for t in TRIGGERS)


def path_texts(segments: Sequence[str]) -> list[str]:
    """Path segments (canonical: escapes of reserved characters kept, ``%2F`` inside an id) as the backend
    reads them once routed: percent-decoded, each with its query-syntax readings (``querysyntax``)."""
    decoded = [unquote(s) if "%" in s else s for s in segments]
    return screened_texts([t for t in decoded if t and not t.isspace()])


def top_values(params: Sequence[tuple[str, str]], body: bytes, content_type: str, names: Iterable[str]) -> list[str]:
    """String values of the named parameters and of the same top-level keys of a JSON body (or fields of a
    form body), in request order."""
    wanted = set(names)
    values = [v for k, v in params if k in wanted]
    kind, documents = read_bodies(body, content_type) if body else ("none", [])
    if kind == "form":
        values.extend(v for k, v in documents[0] if k in wanted)
    for document in documents if kind == "json" else ():
        if isinstance(document, dict):
            values.extend(v for k, v in document.items() if k in wanted and isinstance(v, str))
    return values


def typed_prefixes(values: Iterable[str]) -> list[str]:
    """Search-as-you-type backends (Meilisearch always, Typesense unless ``prefix=false``) read the last
    word of a query as a prefix: ``zqxbl`` finds ``zqxblocked``. Each query is therefore also read as a
    ``QueryPrefix`` (as ``zqxbl*`` is), unless it ends with a space (a finished word)."""
    return [QueryPrefix(v.strip()) for v in values if v.strip() and not v[-1:].isspace()]


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
        if body.strip().translate(None, _VISIBLE_ASCII):  # a BOM, UTF-16, raw bytes: each reader differs
            raise AdapterError("a form body that is not percent-encoded ASCII")
        if body.lstrip()[:1] in (b"{", b"["):
            try:  # JSON labelled as a form: a backend that sniffs would read its escapes, the form reading not
                orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
            else:
                raise AdapterError("a JSON request body labelled as a form")
        try:
            # Blank fields kept (a field with no "=" is still read: a JSON body sent as a form), and escapes
            # that are not UTF-8 refused (%F6 would be U+FFFD here and "ö" to a Latin-1 reader).
            return "form", parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError as exc:
            raise AdapterError("request form body is not UTF-8") from exc
    if ctype.startswith("multipart/"):
        raise AdapterError(f"request body type {ctype!r} is not screened")
    # JSON declared, or undeclared / text: backends such as Elasticsearch read these as JSON too.
    try:
        return "json", loads_every_key(body)
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
