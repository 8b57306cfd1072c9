"""Issue 14 (the middleware's own cost): ``request_guard.query_refusal`` decodes the query's escapes only
when one of them is a byte >= 0x80, and ``screened_refusal`` reads the parameters the middleware parsed once.
Both must refuse exactly what the plain code before them refused."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.adapters.request import parse_query
from filter_proxy.request_guard import query_refusal, screened_refusal

_VISIBLE = bytes(range(0x21, 0x7F))
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")


def old_query_refusal(query: bytes) -> str | None:
    """query_refusal before the shortcut (verbatim)."""
    if not query:
        return None
    if query.translate(None, _VISIBLE):
        return "the query string has bytes that are not visible ASCII (percent-encode them as UTF-8)"
    if b"%" in query:
        if _BAD_ESCAPE.search(query):
            return "the query string has a malformed percent escape"
        try:
            unquote_to_bytes(query).decode("utf-8")
        except UnicodeDecodeError:
            return "the query string's escapes are not UTF-8"
    return None


# Escapes of every kind: ASCII, valid and broken UTF-8 sequences, malformed ones, raw bytes.
ESCAPE = st.builds(lambda b: f"%{b:02X}".encode(), st.integers(0, 255)) | st.builds(
    lambda b: f"%{b:02x}".encode(), st.integers(0, 255))
PIECE = st.one_of(ESCAPE, st.sampled_from([b"q=", b"&", b"+", b"format=json", b"%", b"%z", b"%e2%80", b"\xc3\xa9",
                                           b"%C3%A9", b"%E2%82%AC", b"wt=xml", b"qt=x", b"a", b"=", b" "]),
                  st.binary(max_size=3))
QUERY = st.lists(PIECE, max_size=8).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(query=QUERY)
def test_query_refusal_refuses_what_it_refused_before(query: bytes) -> None:
    assert query_refusal(query) == old_query_refusal(query)


@settings(max_examples=200, deadline=None)
@given(query=QUERY, adapter=st.sampled_from(["searxng", "solr", "elasticsearch", "meilisearch", "generic"]),
       accept=st.sampled_from([b"application/json", b"application/yaml", b"text/html"]))
def test_screened_refusal_with_parsed_params_is_the_same(query: bytes, adapter: str, accept: bytes) -> None:
    scope = {"query_string": query, "headers": [(b"accept", accept)]}
    params = parse_query(query.decode("latin-1")) if query else []
    assert screened_refusal(adapter, scope, params) == screened_refusal(adapter, scope)
