"""A listed host name written in prose (no scheme, no slash, no ``www.``) is a URL to check: a snippet
saying "mirror at blocked.example.invalid" removes its result, in every adapter, wherever the sentence is,
whatever the case, port, trailing punctuation or e-mail form. Prose whose dots end sentences, and host
names that are not listed, remove nothing."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.adapters import get_adapter
from filter_proxy.adapters.walk import url_parts
from filter_proxy.screening import screen_texts
from tests.test_screen_every_string import ADAPTERS, page, plant, result, rules

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
WORD = st.text(alphabet="abcdefghkmnoprstuvwy", min_size=1, max_size=9)
PROSE = st.lists(WORD, max_size=6).map(" ".join)
LISTED_HOSTS = ["blocked.example.invalid", "bad.example.invalid"]  # tests.test_middleware.build_rules


@st.composite
def listed_host(draw: st.DrawFn) -> str:
    """A listed host as prose writes it: any case, maybe a sub-domain, a port, an e-mail's user part."""
    host = draw(st.sampled_from(LISTED_HOSTS))
    host = "".join(c.upper() if draw(st.booleans()) else c for c in host)
    if draw(st.booleans()):
        host = draw(WORD) + "." + host
    if draw(st.booleans()):
        host += f":{draw(st.integers(1, 65535))}"
    elif draw(st.booleans()):
        host = draw(WORD) + "@" + host
    return host


@st.composite
def sentence_with(draw: st.DrawFn, host: st.SearchStrategy[str]) -> str:
    before, after = draw(PROSE), draw(PROSE)
    opening = draw(st.sampled_from(["", "(", "\"", "'", "<"]))
    closing = draw(st.sampled_from(["", ".", ",", ";", ":", "!", "?", ")", "\"", "'", "...", ">"]))
    return f"{before} {opening}{draw(host)}{closing} {after}".strip()


@SETTINGS
@given(data=st.data(), shape=st.sampled_from(sorted(ADAPTERS)))
def test_a_listed_host_in_prose_removes_its_result(data: st.DataObject, shape: str) -> None:
    count = data.draw(st.integers(1, 3), label="results")
    items = [result(data, k, shape) for k in range(count)]
    target = data.draw(st.integers(0, count - 1), label="target")
    plant(data, items[target], data.draw(sentence_with(listed_host()), label="sentence"))
    screened, outcome = screen_texts(orjson.loads(orjson.dumps(page(shape, items))), get_adapter(ADAPTERS[shape]),
                                     rules(), results=True)
    sent = orjson.dumps(screened).decode()
    assert outcome.withheld is None
    assert f"rmark{target}\"" not in sent
    assert all(f"rmark{k}\"" in sent for k in range(count) if k != target)


def other_host(draw: st.DrawFn) -> str:
    return draw(WORD) + "." + draw(st.sampled_from(["example.org", "example.invalid", "test"]))


@SETTINGS
@given(data=st.data(), shape=st.sampled_from(sorted(ADAPTERS)))
def test_prose_with_sentence_dots_and_unlisted_hosts_removes_nothing(data: st.DataObject, shape: str) -> None:
    count = data.draw(st.integers(1, 3), label="results")
    items = [result(data, k, shape) for k in range(count)]
    for item in items:
        text = data.draw(sentence_with(st.composite(other_host)()), label="sentence")
        text += ". " + data.draw(PROSE).capitalize() + "."
        plant(data, item, text)
    _, outcome = screen_texts(orjson.loads(orjson.dumps(page(shape, items))), get_adapter(ADAPTERS[shape]), rules(),
                              results=True)
    assert not outcome.removed and outcome.withheld is None


@SETTINGS
@given(words=st.lists(WORD, min_size=1, max_size=8), stops=st.lists(st.sampled_from([". ", ", ", "? ", " "]),
                                                                      min_size=8, max_size=8))
def test_sentence_dots_are_not_host_names(words: list[str], stops: list[str]) -> None:
    text = "".join(w + s for w, s in zip(words, stops, strict=False)).strip()
    assert url_parts(text) == []
