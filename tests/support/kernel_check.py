"""A check shared by the page-kernel and term-evasion tests (kept out of test_page_kernel.py, which is
skipped whole without the compiled kernel)."""

from __future__ import annotations

from typing import Any


def assert_match_many_as_match(index: Any, texts: list[str]) -> None:
    """``match_many`` gives ``match``'s answers one string at a time, with the kernel's matcher and without."""
    expected = [index.match(t) for t in texts]
    assert index.match_many(texts) == expected, texts
    matcher, index._matcher = index._matcher, None
    try:
        assert index.match_many(texts) == expected, texts
    finally:
        index._matcher = matcher
