"""Counts stay consistent for the official clients when results are removed, whatever JSON type the backend
(or something between it and the filter) sent them as: an int stays an int, a float a float, a numeric
string a numeric string, each lowered by the number of results removed (filter_proxy/adapters/counts.py).
Before: only JSON integers were lowered, so ``"found": "2"`` still said 2 with one result left; a
``top_hits`` total and a Solr group's ``numFound`` were not lowered at all when one of their documents went.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters.counts import lowered
from tests.support.answers import BY_NAME
from tests.support.planting import plant
from tests.test_attack_response_shapes import run

# answer, where its count is, where the first result's title is (a listed term there removes it)
CASES: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {
    "es search": (("hits", "total", "value"), ("hits", "hits", 0, "_source", "title")),
    "es scroll": (("hits", "total", "value"), ("hits", "hits", 0, "_source", "title")),
    "meili search": (("estimatedTotalHits",), ("hits", 0, "title")),
    "ts search": (("found",), ("hits", 0, "document", "title")),
    "solr select": (("response", "numFound"), ("response", "docs", 0, "title")),
    "searx search": (("number_of_results",), ("results", 0, "title")),
    "meili docs": (("total",), ("results", 0, "title")),
    "solr get ids": (("response", "numFound"), ("response", "docs", 0, "title")),
    # parts removed beside the results: a top_hits document, a Solr group's document
    "es search/top_hits": (("aggregations", "top", "hits", "total", "value"),
                           ("aggregations", "top", "hits", "hits", 0, "_source", "title")),
    "solr grouped": (("grouped", "tags", "groups", 0, "doclist", "numFound"),
                     ("grouped", "tags", "groups", 0, "doclist", "docs", 0, "title")),
}
TYPES = st.sampled_from([int, float, str])


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        doc = doc[step]
    return doc


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(CASES)), kind=TYPES, extra=st.integers(0, 500),
       listed=st.sampled_from(["zqxblocked", "https://blocked.example.invalid/x", "Forbidden Phrase Alpha"]))
def test_a_count_is_lowered_in_its_own_type(name: str, kind: type, extra: int, listed: str) -> None:
    answer = BY_NAME[name.split("/")[0]]
    count_at, title_at = CASES[name]
    count = _at(answer.doc, count_at) + extra
    doc = plant(answer.doc, count_at, "value", kind(count), append=False)
    status, body = run(answer, plant(doc, title_at, "value", listed))
    assert status == 200
    sent = _at(orjson.loads(body), count_at)
    assert type(sent) is kind and sent == kind(count - 1)


@given(value=st.one_of(st.none(), st.booleans(), st.text(max_size=5), st.dictionaries(st.text(max_size=2), st.none())),
       by=st.integers(0, 9))
def test_what_is_no_count_is_left_as_it_is(value: Any, by: int) -> None:
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        assert lowered(value, by) == str(max(0, int(value) - by))
    else:
        assert lowered(value, by) is value
