"""The peers benchmark's helpers: e2guardian configuration edits, squidGuard list conversion and lookups
(when squidGuard is installed), and the static backend's framing."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import peers_backend, peers_e2g, peers_squidguard

KEYS = st.from_regex(r"[a-z]{3,12}", fullmatch=True)
VALUES = st.from_regex(r"[a-z0-9']{1,12}", fullmatch=True)


@given(KEYS, VALUES, st.sampled_from(["present", "commented", "missing"]))
def test_set_leaves_exactly_one_active_line(key: str, value: str, state: str) -> None:
    before = {"present": f"{key} = old\n", "commented": f"#{key} = old\n", "missing": ""}[state]
    text = peers_e2g._set(f"other = 1\n{before}tail = 2\n", key, value)
    active = [line for line in text.splitlines() if line.startswith(f"{key} =")]
    assert active == [f"{key} = {value}"]
    assert "other = 1" in text and "tail = 2" in text


@given(st.binary(min_size=0, max_size=200))
def test_backend_response_length_matches_its_body(body: bytes) -> None:
    head, _, rest = peers_backend.response_bytes(body).partition(b"\r\n\r\n")
    assert rest == body and f"content-length: {len(body)}".encode() in head


def test_squidguard_lists_split_domains_from_urls() -> None:
    domains, urls = peers_squidguard._split(["Bad.example.invalid", "https://www.x.example.invalid/a/*",
                                             "https://y.example.invalid/p/q.html"])
    assert domains == ["bad.example.invalid"]
    assert urls == ["x.example.invalid/a", "y.example.invalid/p/q.html"]


@pytest.mark.skipif(peers_squidguard.available() is not None, reason="squidGuard not installed")
def test_squidguard_blocks_listed_urls_only() -> None:
    entries = ["blocked.example.invalid", "https://pages.example.invalid/dir/*"]
    with tempfile.TemporaryDirectory() as tmp:
        conf = peers_squidguard.configure(Path(tmp), entries)
        peers_squidguard.compile_lists(conf)
        stream = ["http://sub.blocked.example.invalid/x", "http://pages.example.invalid/dir/page",
                  "http://fine.example.invalid/", "http://pages.example.invalid/other"]
        _, blocked, peak_kib = peers_squidguard.lookups(conf, stream)
    assert blocked == 2 and peak_kib > 0
