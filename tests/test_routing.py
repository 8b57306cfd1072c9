"""The canonical request path (filter_proxy/routing.py) and route-table decisions on disguised paths."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.routes import READ, REFUSE, SCREEN, build_table
from filter_proxy.routing import PathError, canonical_path, request_path

UNRESERVED = string.ascii_letters + string.digits + "-._~"
SEGMENT = st.text(alphabet=UNRESERVED + "!$&'()*+,=:@", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


@st.composite
def disguised(draw: st.DrawFn, path: str) -> bytes:
    """``path`` spelt another way a server reads as the same path: percent-encoded unreserved characters,
    any letter case, dot segments, repeated slashes, ``;`` parameters, a trailing slash."""
    out = []
    for seg in path.strip("/").split("/"):
        if draw(st.booleans()):  # a detour: /junk/../ or /./
            junk = draw(SEGMENT)
            out.append(draw(st.sampled_from([f"{junk}/..", ".", f"{junk};x=1/..", f"{junk}/..;"])))
        chars = []
        for ch in seg:
            how = draw(st.integers(0, 3))
            if how == 0:
                chars.append(f"%{ord(ch):02{draw(st.sampled_from(['X', 'x']))}}")
            elif how == 1:
                chars.append(ch.swapcase())
            else:
                chars.append(ch)
        text = "".join(chars)
        if draw(st.booleans()):
            text += ";" + draw(SEGMENT)
        out.append(text)
    sep = draw(st.sampled_from(["/", "//", "///"]))
    tail = draw(st.sampled_from(["", "/", "//"]))
    return (sep + sep.join(out) + tail).encode()


@given(st.lists(SEGMENT, max_size=6), st.data())
def test_canonical_path_is_idempotent_and_forwardable(segments: list[str], data: st.DataObject) -> None:
    raw = data.draw(disguised("/" + "/".join(segments)))
    try:
        canon = canonical_path(raw)
    except PathError:
        return
    assert canonical_path(canon.raw) == canon  # routing twice gives the same answer
    assert canon.raw.startswith(b"/") and b"//" not in canon.raw and b"\\" not in canon.raw
    assert all(seg not in (".", "..") for seg in canon.segments)


SCREENED = {
    "elasticsearch": [("GET", "/_search"), ("POST", "/books/_search"), ("POST", "/_msearch"),
                      ("GET", "/books/_doc/1"), ("POST", "/_count"), ("POST", "/books/_terms_enum"),
                      ("POST", "/_search/scroll"), ("POST", "/_sql")],
    "solr": [("GET", "/solr/books/select"), ("GET", "/solr/books/get"), ("GET", "/solr/books/terms")],
    "meilisearch": [("POST", "/indexes/books/search"), ("POST", "/multi-search"),
                    ("GET", "/indexes/books/documents")],
    "typesense": [("GET", "/collections/books/documents/search"), ("POST", "/multi_search"),
                  ("GET", "/collections/books/documents/export")],
    "searxng": [("GET", "/search"), ("GET", "/autocompleter")],
}
CASES = [(name, method, path) for name, routes in SCREENED.items() for method, path in routes]


@pytest.mark.parametrize(("adapter", "method", "path"), CASES)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_a_disguised_screened_path_is_screened_or_refused(adapter: str, method: str, path: str,
                                                          data: st.DataObject) -> None:
    made = get_adapter(adapter)
    table = build_table(made.default_routes())
    plain = table.decide(method, canonical_path(path.encode()).segments)
    assert plain.outcome == SCREEN
    raw = data.draw(disguised(path))
    try:
        canon = canonical_path(raw)
    except PathError:
        return  # refused with 400
    decision = table.decide(method, canon.segments)
    assert decision.outcome in (SCREEN, REFUSE)
    if decision.outcome == SCREEN and canon.segments == tuple(s for s in path.split("/") if s):
        assert decision.kind == plain.kind


@pytest.mark.parametrize(
    "raw",
    [b"/a%2Fb/_search", b"/a%2f_search", b"/x/%2e%2e/_search", b"/x/.%2E/_search", b"/%2e/_search",
     b"/a\\..\\_search", b"/a%5c_search", b"/_search%00", b"/_se\x00arch", b"/a%252e%252e/_search", b"/a%",
     b"/a%g0", b"_search"],
)
def test_ambiguous_paths_are_refused(raw: bytes) -> None:
    with pytest.raises(PathError):
        canonical_path(raw)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(b"/x/../_search", b"/_search"), (b"/x/..;/_search", b"/_search"), (b"/_search;x=1", b"/_search"),
     (b"//books///_search/", b"/books/_search"), (b"/%5Fsearch", b"/_search"), (b"/_s%65arch", b"/_search"),
     (b"/../../_search", b"/_search"), (b"/caf\xc3\xa9/_doc/1", b"/caf%C3%A9/_doc/1"),
     (b"/a%2a/_doc/x%3ay", b"/a%2A/_doc/x%3Ay"), (b"/./books/./_search", b"/books/_search"), (b"", b"/")],
)
def test_canonical_forms(raw: bytes, expected: bytes) -> None:
    assert canonical_path(raw).raw == expected


def test_request_path_prefers_raw_path() -> None:
    scope = {"path": "/a/b", "raw_path": b"/x/../_search"}
    assert request_path(scope).raw == b"/_search"
    assert request_path({"path": "/books/_search"}).raw == b"/books/_search"
    assert request_path({"path": "/", "raw_path": b"/_search?q=x"}).raw == b"/_search"


def test_case_variants_of_pass_routes_are_refused_on_case_sensitive_backends() -> None:
    table = build_table(get_adapter("elasticsearch").default_routes())
    assert table.decide("GET", ("_cluster", "health")).outcome == READ  # read whole (read_answers.py)
    assert table.decide("GET", ("_CLUSTER", "health")).outcome == REFUSE
    assert table.decide("GET", ("_SEARCH",)).outcome == SCREEN  # a screened route in any case is screened
    assert table.decide("GET", ("_unknown_endpoint",)).outcome == REFUSE  # {index} never matches "_..."
    assert table.decide("GET", ("books",)).outcome == READ


@given(st.lists(st.sampled_from(["a", "b", "_search", ".", "..", "", "c-d", "~x"]), max_size=10))
def test_dot_segments_resolve_as_rfc_3986_says(segments: list[str]) -> None:
    """The documented reading, written out plainly: empty segments collapse, then RFC 3986 §5.2.4 removes
    dot segments (``..`` above the root stays at the root). The backend gets the result, never the dots."""
    stack: list[str] = []
    for seg in segments:
        if seg == "..":
            if stack:
                stack.pop()
        elif seg not in (".", ""):
            stack.append(seg)
    raw = ("/" + "/".join(segments)).encode()
    assert canonical_path(raw).raw == ("/" + "/".join(stack)).encode()


def _spelt(draw: st.DrawFn, text: str) -> str:
    """``text`` with each character either as written or percent-encoded (any hex case)."""
    out = []
    for ch in text:
        if draw(st.booleans()):
            code = f"%{ord(ch):02X}"
            out.append(code.lower() if draw(st.booleans()) else code)
        else:
            out.append(ch)
    return "".join(out)


@given(data=st.data(), hexes=st.text(alphabet="0123456789abcdefABCDEF", min_size=2, max_size=2),
       before=st.text(alphabet=string.ascii_letters, max_size=3), after=st.text(alphabet=string.ascii_letters,
                                                                                max_size=3),
       slash_ids=st.booleans())
@settings(max_examples=150, deadline=None)
def test_a_double_encoding_is_refused_however_its_hex_digits_are_spelt(
        data: st.DataObject, hexes: str, before: str, after: str, slash_ids: bool) -> None:
    # "%25" then two hex digits, raw or themselves escaped ("%25%37%37"): one more decoding by a proxy in
    # between reads another character, so the path is ambiguous whatever the digits' spelling.
    segment = f"{before}%25{_spelt(data.draw, hexes)}{after}"
    with pytest.raises(PathError):
        canonical_path(f"/idx/_doc/{segment}".encode(), slash_ids)


@given(segment=st.text(alphabet=UNRESERVED, min_size=1, max_size=10).filter(lambda s: s not in (".", "..")))
@settings(max_examples=100, deadline=None)
def test_a_lone_escaped_percent_is_kept(segment: str) -> None:
    # "%25" not followed by hex digits is an ordinary "%" in a name: kept, not refused.
    canon = canonical_path(f"/idx/_doc/{segment}%25".encode())
    assert canon.segments[-1] == f"{segment}%25"
