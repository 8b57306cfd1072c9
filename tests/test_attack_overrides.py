"""Requests that tell the app behind the filter to be another request: a path or method override the filter
did not route on (``X-Original-URL`` / ``X-Rewrite-URL`` read as the path by Symfony and IIS, ``X-Original-
Method``, a ``_method`` query parameter read by Rails / Laravel / Express's method-override), and Solr
parameters that make it read the query from somewhere the filter never sees (``stream.url``,
``stream.file``). Generated spellings (header-name case, percent-encoded parameter names) on pass and
screened routes of every adapter.

Before: all of them were forwarded (a ``POST`` that passes, e.g. Meilisearch's document upload, could be
read as the ``GET`` that lists documents unscreened; ``stream.url`` could fetch a query from a URL).
Now: 400 before anything is forwarded.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from tests.support.hostile import asgi_scope, call_asgi
from tests.test_attack_request import Recorder
from tests.test_middleware import build_rules

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ROUTES = [("elasticsearch", "POST", "/b/_search"), ("elasticsearch", "POST", "/b/_doc"),
          ("meilisearch", "POST", "/indexes/b/documents"), ("meilisearch", "POST", "/indexes/b/search"),
          ("typesense", "POST", "/collections/b/documents"), ("solr", "POST", "/solr/c/update"),
          ("searxng", "GET", "/search"), ("searxng", "GET", "/")]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return build_rules(tmp_path_factory.mktemp("rules"))


@st.composite
def any_case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.upper() if draw(st.booleans()) else c for c in text)


@st.composite
def escaped(draw: st.DrawFn, text: str) -> str:
    return "".join("%" + format(ord(c), "02X") if draw(st.booleans()) else c for c in text)


def _run(rules: Any, adapter: str, method: str, path: str, query: bytes,
         headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter=adapter)
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope(method, path.encode(), query, headers))
    return status, len(app.calls)


@SETTINGS
@given(route=st.sampled_from(ROUTES), data=st.data(),
       name=st.sampled_from(["x-original-url", "x-rewrite-url", "x-original-method"]),
       value=st.sampled_from(["/indexes/b/documents", "/_search?q=zqxblocked", "GET", "/search"]))
def test_path_and_method_override_headers_are_refused(rules: Any, route: tuple[str, str, str], data: st.DataObject,
                                                      name: str, value: str) -> None:
    adapter, method, path = route
    # ASGI servers give header names lower-cased; the middleware may also be mounted behind one that does not
    header = data.draw(any_case(name)).encode().lower()
    status, calls = _run(rules, adapter, method, path, b"", [(header, value.encode())])
    assert (status, calls) == (400, 0)


@SETTINGS
@given(route=st.sampled_from(ROUTES), data=st.data(), name=st.sampled_from(["_method", "_httpmethod"]),
       value=st.sampled_from(["GET", "get", "PUT", "DELETE"]))
def test_a_method_override_parameter_is_refused(rules: Any, route: tuple[str, str, str], data: st.DataObject,
                                                name: str, value: str) -> None:
    adapter, method, path = route
    written = data.draw(escaped(data.draw(any_case(name))))
    status, calls = _run(rules, adapter, method, path, f"{written}={value}".encode(), [])
    assert (status, calls) == (400, 0)


@SETTINGS
@given(param=st.sampled_from(["stream.url", "stream.file"]), handler=st.sampled_from(["select", "query", "get", "terms"]),
       value=st.sampled_from(["http://127.0.0.1:1/q.json", "/tmp/q.json", "x"]), data=st.data())
def test_solr_content_streams_are_refused(rules: Any, param: str, handler: str, value: str, data: st.DataObject) -> None:
    name = data.draw(escaped(param))
    query = f"q=bread&{name}={quote(value, safe='')}".encode()
    status, calls = _run(rules, "solr", "GET", f"/solr/c/{handler}", query, [])
    assert (status, calls) == (400, 0)


@SETTINGS
@given(route=st.sampled_from(ROUTES), word=st.text(alphabet="abcdefghijklmnoprstuvwy", min_size=3, max_size=8))
def test_ordinary_parameters_named_like_methods_pass(rules: Any, route: tuple[str, str, str], word: str) -> None:
    adapter, method, path = route
    status, calls = _run(rules, adapter, method, path, f"method={word}".encode(), [])
    assert status != 400


@SETTINGS
@given(param=st.sampled_from(["stream.url", "stream.file", "qt"]), handler=st.sampled_from(["select", "query", "get"]),
       value=st.sampled_from(["http://127.0.0.1:1/q.json", "/tmp/q.json", "/terms"]), form=st.booleans())
def test_solr_content_streams_and_handlers_in_a_body_are_refused(rules: Any, param: str, handler: str, value: str,
                                                                 form: bool) -> None:
    if form:
        body, content_type = f"q=bread&{quote(param)}={quote(value, safe='')}".encode(), b"application/x-www-form-urlencoded"
    else:
        body, content_type = json.dumps({"query": "bread", "params": {param: value}}).encode(), b"application/json"
    app = Recorder()
    mw = FilterMiddleware(app, rules=rules, adapter="solr")
    headers = [(b"content-type", content_type)]
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope("POST", f"/solr/c/{handler}".encode(), b"", headers, body), body)
    assert (status, len(app.calls)) == (400, 0)
