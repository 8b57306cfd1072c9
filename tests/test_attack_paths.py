"""Document ids holding "/" (sent as ``%2F``, any case) on Elasticsearch / OpenSearch routes, through
``filter-proxy serve`` over real HTTP against a loopback backend that records what it receives.

Elasticsearch routes on the raw path: ``RestController`` splits ``rawPath`` at "/", compares literal
segments as sent and decodes each path parameter afterwards, so ``GET /idx/_doc/a%2Fb`` reads the document
``a/b`` (elastic/elasticsearch ``RestController.tryAllHandlers`` -> ``getAllHandlers(params, rawPath)``).
Before: every ``%2F`` was refused (400), so such documents could not be read or written through the filter.
Now an encoded slash is kept inside its segment where a route names an ``{id}``, and the route the filter
picks is the route Elasticsearch picks for the bytes it receives. A piece between encoded slashes that is
empty, ``.`` or ``..`` (however encoded) is still refused, so a proxy in between that decodes ``%2F``
cannot resolve the id into another path (``/idx/_doc/..%2F_search`` is never a search), and ``%2F``
anywhere else (an index name, an endpoint) stays a 400."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from filter_proxy.proxy import create_proxy_app
from filter_proxy.routing import PathError, canonical_path
from tests.support.hostile import HostileBackend, hostile_backend, ok_json, send_raw, status_of
from tests.support.server import serve
from tests.test_middleware import build_rules

# Elasticsearch's endpoints with a document id (rest-api-spec): method -> endpoint literal -> API name.
ES_ID_ROUTES = {
    ("GET", "_doc"): "get", ("GET", "_source"): "get_source", ("PUT", "_doc"): "index", ("POST", "_doc"): "index",
    ("DELETE", "_doc"): "delete", ("PUT", "_create"): "create", ("POST", "_create"): "create",
    ("POST", "_update"): "update", ("GET", "_explain"): "explain", ("POST", "_termvectors"): "termvectors",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HostileBackend, str]]:
    rules = build_rules(tmp_path_factory.mktemp("rules"))
    with hostile_backend() as backend:
        app = create_proxy_app(backend.url, rules, "elasticsearch", deadline=5.0)
        with serve(app) as base:
            yield backend, base


def es_route(method: str, raw_path: bytes) -> tuple[str, str, str] | None:
    """What Elasticsearch reads from the path it receives: (API, index, id) for the id routes above, the
    raw path split at "/", literals compared as sent, parameters percent-decoded after matching."""
    parts = raw_path.decode("ascii").split("/")[1:]
    if len(parts) != 3:
        return None
    api = ES_ID_ROUTES.get((method, parts[1]))
    return None if api is None else (api, unquote(parts[0]), unquote(parts[2], errors="strict"))


_UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")


@st.composite
def encoded_ids(draw: st.DrawFn) -> tuple[str, bytes]:
    """A document id holding "/" and dots, and one of its spellings on the wire: each "/" as %2F or %2f,
    each dot raw or %2e/%2E, unreserved characters raw or escaped (either hex case), the rest escaped."""
    pieces = draw(st.lists(st.text(st.sampled_from("ab7.-_~é %:"), max_size=4), min_size=2, max_size=4))
    doc_id = "/".join(pieces)
    out = []
    for char in doc_id:
        if char == "/":
            out.append(draw(st.sampled_from(["%2F", "%2f"])))
        elif _UNRESERVED.fullmatch(char) and draw(st.booleans()):
            out.append(char)
        else:
            hexes = "".join(f"%{b:02X}" for b in char.encode())
            out.append(hexes.lower() if draw(st.booleans()) else hexes)
    return doc_id, "".join(out).encode()


def _ok_document(request: bytes) -> bytes:
    return ok_json(json.dumps({"_index": "idx", "_id": "x", "found": True, "_source": {"title": "Bread"}}).encode())


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=encoded_ids(), route=st.sampled_from(sorted(ES_ID_ROUTES)))
def test_an_id_with_a_slash_reaches_the_route_elasticsearch_picks(stack: tuple[HostileBackend, str],
                                                                  ids: tuple[str, bytes], route: tuple[str, str]) -> None:
    backend, base = stack
    backend.answer = _ok_document
    doc_id, wire = ids
    method, endpoint = route
    before = len(backend.requests)
    body = b"{}" if method in ("PUT", "POST") else b""
    head = f"{method} /idx/{endpoint}/".encode() + wire + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    response = send_raw(base, head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    status = status_of(response)
    sent = backend.requests[before:]
    pieces = doc_id.split("/")
    ambiguous = any(p in ("", ".", "..") for p in pieces)
    double = re.search(r"%[0-9A-Fa-f]{2}", doc_id) is not None  # "%" + hex in the id: %25XX is refused
    event("refused" if ambiguous or double else "routed")
    if ambiguous or double:
        assert status == 400 and sent == [], (doc_id, wire, response[:200])
        return
    assert status == 200, (doc_id, wire, response[:300])
    (request,) = sent
    line = request.split(b"\r\n", 1)[0].split(b" ")
    assert line[0].decode() == method
    assert es_route(method, line[1]) == (ES_ID_ROUTES[route], "idx", doc_id)
    # A reader that decodes %2F before routing sees more segments, never another index or endpoint.
    decoded = canonical_path(unquote(line[1].decode()).encode("utf-8").replace(b"%", b"%25"))
    assert decoded.segments[:2] == ("idx", endpoint) and len(decoded.segments) == 2 + len(pieces)


SLASHED = st.builds(lambda a, b, sep: f"{a}{sep}{b}", st.sampled_from(["a", "idx", "_search", "x.y", "é"]),
                    st.sampled_from(["b", "_search", "_doc", "c"]), st.sampled_from(["%2F", "%2f"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), slashed=SLASHED, method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]))
def test_an_encoded_slash_outside_an_id_is_refused(stack: tuple[HostileBackend, str], data: st.DataObject,
                                                    slashed: str, method: str) -> None:
    """In an index name, an endpoint, a scroll or async id, a Solr-style path, or behind ``/_doc`` with a
    trailing segment: no ``{id}`` takes it, so it is as ambiguous as before (400, nothing forwarded)."""
    backend, base = stack
    template = data.draw(st.sampled_from(["/{s}/_search", "/{s}", "/idx/{s}", "/idx/{s}/1", "/_search/scroll/{s}",
                                          "/_async_search/{s}", "/idx/_doc/{s}/x", "/{s}/_doc/1", "/_cat/{s}",
                                          "/idx/_doc/1/{s}", "/idx/_mget/{s}"]))
    before = len(backend.requests)
    path = template.format(s=slashed).encode()
    response = send_raw(base, f"{method} ".encode() + path + b"?q=zqxblocked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status_of(response) in (400, 403), response[:200]
    assert backend.requests[before:] == []


@pytest.mark.parametrize("wire", [b"..%2F_search", b"a%2F..%2F..%2F_search", b"%2e%2e%2F_search", b"%2E.%2f_search",
                                  b".%2F_search", b"a%2F%2F_search", b"%2Fa", b"a%2F", b"a%2F.%2Fb", b"a%252Fb"])
def test_dot_and_empty_pieces_beside_an_encoded_slash_are_refused(wire: bytes) -> None:
    """Read by a proxy that decodes %2F, these would leave the id (``/idx/_doc/../_search``)."""
    with pytest.raises(PathError):
        canonical_path(b"/idx/_doc/" + wire, True)


def test_without_a_raw_path_forwarder_an_encoded_slash_stays_refused(tmp_path: Any) -> None:
    """An app in process routes on the decoded ASGI ``path``, where %2F is a separator: still 400."""
    import anyio

    from filter_proxy.middleware import FilterMiddleware
    from tests.support.hostile import asgi_scope, call_asgi

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("must not be reached")

    mw = FilterMiddleware(app, rules=build_rules(tmp_path / "r"), adapter="elasticsearch")
    status, _, _ = anyio.run(call_asgi, mw, asgi_scope("GET", b"/idx/_doc/a%2Fb"))
    assert status == 400
    with pytest.raises(PathError):
        canonical_path(b"/idx/_doc/a%2Fb")
