"""Response side, deny by default: a backend that answers a listed placeholder anywhere its API allows.

Each answer of tests/support/answers.py (every kind of every adapter, as the backend sends it) goes through
FilterMiddleware in process; hypothesis plants a listed value at any position of it (a value, a key's
name, a new key in any object, a new item in any array) and checks that nothing listed reaches the client
(the answer is withheld, 502, or the part holding it is gone), and that the clean answer passes unchanged.

Before this file: a listed string beside the documents of a ``document`` / ``documents`` / ``terms``
answer passed unread (ES ``_mget`` / ``_doc`` "not found" entries kept ``_id`` / ``_index``; Solr
``/get?ids`` ``numFound`` and Solr terms' field names and counts; Meilisearch documents ``total`` /
``limit``; any key the backend added), as did anything beside a multi-search answer's sub-responses (ES
``took``, a new key); and a non-2xx JSON error body on a Meilisearch or Typesense search route raised in
the middleware (``adapter.echoes`` on an error shape) instead of being screened and passed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import tempfile
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.answers import ANSWERS, BY_NAME, Answer
from tests.support.planting import exchange, leaks, plant, positions
from tests.test_middleware import build_rules

LISTED = st.sampled_from(["zqxblocked", "ZQXBLOCKED", "Forbidden Phrase Alpha", "https://blocked.example.invalid/p",
                          "blocked.example.invalid", "see www.blocked.example.invalid today",
                          "<em>zqx</em>blocked", '{"title": "zqxblocked"}'])
# How the listed string sits in the answer: as it is, in an object, in a list.
WRAPS = st.sampled_from([lambda s: s, lambda s: {"value": s}, lambda s: [s], lambda s: [{"text": s}]])


@functools.cache
def rules() -> Any:
    return build_rules(Path(tempfile.mkdtemp(prefix="fp-shapes-")) / "rules")


def run(answer: Answer, doc: Any) -> tuple[int, bytes]:
    logging.disable(logging.ERROR)  # the middleware logs each 502 (never content): quiet here
    try:
        status, _, body = asyncio.run(exchange(rules(), answer.adapter, answer.request, answer.encode(doc), answer.status,
                                               **answer.options))
    finally:
        logging.disable(logging.NOTSET)
    return status, body


def parsed(answer: Answer, body: bytes) -> Any:
    if answer.jsonl:
        return [orjson.loads(line) for line in body.splitlines() if line.strip()]
    return orjson.loads(body)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_a_clean_answer_passes_with_its_meaning(name: str) -> None:
    answer = BY_NAME[name]
    status, body = run(answer, answer.doc)
    assert status == answer.status
    assert parsed(answer, body) == answer.doc


def _check_planted(data: st.DataObject, answers: list[Answer]) -> None:
    answer = data.draw(st.sampled_from(answers), label="answer")
    path, how = data.draw(st.sampled_from(list(positions(answer.doc))), label="position")
    listed = data.draw(LISTED, label="listed")
    value = listed if how == "key" else data.draw(WRAPS, label="wrap")(listed)
    status, body = run(answer, plant(answer.doc, path, how, value))
    assert status == 502 or not leaks(body), (answer.name, path, how, status, body[:300])
    if status != 502:
        parsed(answer, body)  # what is sent stays valid for the client: it parses


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_nothing_listed_reaches_the_client_from_any_answer(data: st.DataObject) -> None:
    _check_planted(data, ANSWERS)


AROUND = [BY_NAME[n] for n in ("es get", "es mget", "solr get", "solr get ids", "solr terms", "meili docs",
                               "ts doc", "es msearch", "meili multi", "ts multi", "es terms_enum")]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_nothing_listed_beside_documents_terms_or_sub_responses(data: st.DataObject) -> None:
    """Documents, terms and multi-search answers: the parts beside the documents are read too."""
    _check_planted(data, AROUND)


ERRORS = [a for a in ANSWERS if a.status >= 400]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=st.sampled_from(ERRORS), message=st.text(alphabet="abcdefgh `", max_size=40))
def test_a_clean_error_body_reaches_the_client_as_sent(answer: Answer, message: str) -> None:
    """An error answer in no page shape is screened whole and passed with its status (the official clients
    raise their own error from it), whatever its message says."""
    doc = plant(answer.doc, (None,), "newkey", message)
    status, body = run(answer, doc)
    assert status == answer.status
    assert parsed(answer, body) == doc


MULTI_SLOTS = {"es msearch": "responses", "ts multi": "results"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(MULTI_SLOTS)), listed=LISTED)
def test_a_withheld_sub_response_becomes_an_error_item_and_the_others_stay(data: st.DataObject, name: str,
                                                                          listed: str) -> None:
    """ES ``_msearch`` and Typesense ``multi_search`` have per-item errors: a sub-response that holds listed
    content it cannot lose (an error that quotes it, an echo, a bucket's name) becomes such an error, the
    other sub-responses are kept (before: the whole multi-search answer was withheld)."""
    answer = BY_NAME[name]
    key = MULTI_SLOTS[name]
    slot = data.draw(st.integers(0, len(answer.doc[key]) - 1), label="slot")
    inside = [(p, h) for p, h in positions(answer.doc[key][slot]) if h != "append"]
    path, how = data.draw(st.sampled_from(inside), label="position")
    status, body = run(answer, plant(answer.doc, (key, slot, *path), how, listed))
    assert status == 200 and not leaks(body)
    items = orjson.loads(body)[key]
    assert len(items) == len(answer.doc[key])
    other = 1 - slot
    assert items[other] == answer.doc[key][other]  # the other sub-response, as the backend sent it


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED)
def test_a_listed_meilisearch_facet_hit_is_removed_and_the_others_stay(data: st.DataObject, listed: str) -> None:
    """Meilisearch facet search (an autocomplete of facet values): a listed facet hit goes, the others
    stay (before: the whole answer was withheld)."""
    answer = BY_NAME["meili facet"]
    hits = answer.doc["facetHits"]
    target = data.draw(st.integers(0, len(hits) - 1), label="hit")
    inside = [(p, h) for p, h in positions(hits[target]) if h != "append"]
    path, how = data.draw(st.sampled_from(inside), label="position")
    status, body = run(answer, plant(answer.doc, ("facetHits", target, *path), how, listed))
    assert status == 200 and not leaks(body)
    assert orjson.loads(body)["facetHits"] == [h for i, h in enumerate(hits) if i != target]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(listed=LISTED, table=st.sampled_from(["highlighting", "explain"]), target=st.sampled_from(["d1", "d2"]))
def test_solr_keyed_tables_go_with_their_document(listed: str, table: str, target: str) -> None:
    """A listed string in a Solr document's highlighting or ``debug.explain`` entry removes that document
    (and its entries), the other stays (before: a listed explanation withheld the whole page)."""
    answer = BY_NAME["solr select"]
    doc = orjson.loads(orjson.dumps(answer.doc))
    doc["debug"]["explain"] = {"d1": "1.0 = weight(title:garden)", "d2": "0.5 = weight(title:soup)"}
    where = ("highlighting", target, "title", 0) if table == "highlighting" else ("debug", "explain", target)
    status, body = run(answer, plant(doc, where, "value", listed))
    assert status == 200 and not leaks(body)
    sent = orjson.loads(body)
    other = "d2" if target == "d1" else "d1"
    assert [d["id"] for d in sent["response"]["docs"]] == [other]
    assert set(sent["debug"]["explain"]) == {other} and set(sent["highlighting"]) == {other}


FRAGMENTS = {  # answer: where a hit's highlight fragments of a field sit
    "es search": ("hits", "hits", 0, "highlight", "title"),
    "solr select": ("highlighting", "d1", "title"),
    "ts search": ("hits", 0, "highlights", 0, "matched_tokens"),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(sorted(FRAGMENTS)),
       listed=st.sampled_from(["zqxblocked", "forbidden phrase alpha", "Forbidden Phrase Alpha"]))
def test_a_listed_string_cut_across_highlight_fragments_removes_its_result(data: st.DataObject, name: str,
                                                                            listed: str) -> None:
    """A highlighter's fragments are shown side by side: a listed term or phrase cut across them removes
    the result (before: each fragment was read alone and the result passed)."""
    answer = BY_NAME[name]
    cut = data.draw(st.integers(1, len(listed) - 1), label="cut")
    pieces = [listed[:cut].strip() or listed[:cut], listed[cut:].strip() or listed[cut:]]
    status, body = run(answer, plant(answer.doc, FRAGMENTS[name], "value", pieces, append=False))
    assert status == 200
    sent = parsed(answer, body)
    kept = {"es search": lambda: [h["_id"] for h in sent["hits"]["hits"]],
            "solr select": lambda: [d["id"] for d in sent["response"]["docs"]],
            "ts search": lambda: [h["document"]["id"] for h in sent["hits"]]}[name]()
    assert kept == (["d2"] if name == "solr select" else ["2"])  # the first result went, the second stayed
