"""The proxy's one-pass header copies give exactly what the two-pass reading (Connection's names first)
gives, for any headers, with or without a Connection header."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from filter_proxy.proxy import (
    HOP_BY_HOP,
    _connection_tokens,
    _request_headers,
    _request_headers_named,
    _response_headers,
)

# Names the proxy treats specially, in mixed case, beside arbitrary token names.
_SPECIAL = sorted(HOP_BY_HOP | {b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host",
                                b"content-length", b"content-type", b"proxy-x", b"accept"})
_names = st.one_of(
    st.sampled_from(_SPECIAL).flatmap(lambda n: st.sampled_from([n, n.upper(), n.title()])),
    st.from_regex(rb"\A[A-Za-z][A-Za-z0-9-]{0,12}\Z"),
)
_values = st.one_of(st.sampled_from([b"0", b"12", b"close", b"keep-alive", b"x-a, Content-Type", b"chunked",
                                     b"accept , X-Custom"]), st.binary(max_size=12))
_headers = st.lists(st.tuples(_names, _values), max_size=10)


def _scope(headers: list[tuple[bytes, bytes]], client: Any, scheme: str) -> dict[str, Any]:
    return {"type": "http", "headers": headers, "client": client, "scheme": scheme}


@given(_headers, st.sampled_from([None, ("127.0.0.1", 5), ("::1", 9)]), st.sampled_from(["http", "https"]))
def test_request_headers_one_pass_equals_two_pass(headers: list[tuple[bytes, bytes]], client: Any,
                                                  scheme: str) -> None:
    scope = _scope(headers, client, scheme)
    assert _request_headers(scope) == _request_headers_named(scope)


@given(_headers)
def test_response_headers_drop_hop_by_hop_and_named(headers: list[tuple[bytes, bytes]]) -> None:
    named = _connection_tokens(headers)
    expected = [(n.lower(), v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]
    assert _response_headers(headers) == expected


def test_connection_named_header_is_not_forwarded() -> None:
    headers, has_body = _request_headers(_scope([(b"x-secret", b"1"), (b"connection", b"X-Secret"),
                                                 (b"accept", b"*/*")], None, "http"))
    assert headers == [(b"accept", b"*/*"), (b"x-forwarded-proto", b"http")]
    assert not has_body
