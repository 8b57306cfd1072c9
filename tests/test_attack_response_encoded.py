"""Response side: a listed string sent encoded, as a client decodes it (filter_proxy/encoded.py).

A backend can answer a listed term or URL as HTML character references (a page that renders the snippet
shows it decoded), percent-encoded (a browser shows and follows it decoded, also inside a redirect's query
string), base64 (a whole string, padded in prose, a ``data:`` URI) or with JSON escapes written into the
string. Whatever answer and position (tests/support/answers.py), the encoded string never reaches the
client: the result holding it is removed or the answer withheld. Encoded benign text passes unchanged.

Before encoded.py every one of these reached the client from every position of every answer.
"""

from __future__ import annotations

import base64
import html
from typing import Any
from urllib.parse import quote

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.encoded import readings
from tests.support.answers import ANSWERS, Answer
from tests.support.planting import plant, positions
from tests.test_attack_response_shapes import parsed, run

LISTED = st.sampled_from(["zqxblocked", "ZqxBlocked", "forbidden phrase alpha", "https://blocked.example.invalid/p",
                          "www.blocked.example.invalid", "a page about zqxblocked things"])
BENIGN = st.text(alphabet="abcdefgh ", min_size=4, max_size=24).filter(lambda t: t.strip() != "")


@st.composite
def entity(draw: st.DrawFn, text: str) -> str:
    """Some characters as decimal or hex character references (at least one)."""
    picks = draw(st.lists(st.booleans(), min_size=len(text), max_size=len(text)))
    picks[draw(st.integers(0, len(text) - 1))] = True
    hexa = draw(st.booleans())
    return "".join((f"&#x{ord(c):x};" if hexa else f"&#{ord(c)};") if p else html.escape(c)
                   for c, p in zip(text, picks, strict=True))


@st.composite
def percent(draw: st.DrawFn, text: str) -> str:
    if draw(st.booleans()):
        return quote(text, safe="")
    i = draw(st.integers(0, len(text) - 1))
    return text[:i] + f"%{ord(text[i]):02X}" + text[i + 1 :]


@st.composite
def b64(draw: st.DrawFn, text: str) -> str:
    raw = text.encode()
    coded = (base64.urlsafe_b64encode(raw) if draw(st.booleans()) else base64.b64encode(raw)).decode()
    form = draw(st.sampled_from(["whole", "unpadded", "data"]))
    if form == "unpadded":
        return coded.rstrip("=")
    if form == "data":
        return "data:text/plain;base64," + base64.b64encode(raw).decode()
    return coded


@st.composite
def escaped(draw: st.DrawFn, text: str) -> str:
    i = draw(st.integers(0, len(text) - 1))
    return text[:i] + f"\\u{ord(text[i]):04x}" + text[i + 1 :]


ENCODINGS = [entity, percent, b64, escaped]


@st.composite
def encoded(draw: st.DrawFn, text: str) -> str:
    return draw(draw(st.sampled_from(ENCODINGS))(text))


def _sent_strings(answer: Answer, body: bytes) -> list[str]:
    out: list[str] = []
    stack: list[Any] = [parsed(answer, body)]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            out.extend(k for k in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            out.append(item)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED)
def test_an_encoded_listed_string_never_reaches_the_client(data: st.DataObject, listed: str) -> None:
    value = data.draw(encoded(listed), label="encoded")
    answer = data.draw(st.sampled_from(ANSWERS), label="answer")
    path, how = data.draw(st.sampled_from([p for p in positions(answer.doc) if p[1] != "key"]), label="position")
    status, body = run(answer, plant(answer.doc, path, how, value, append=False))
    if status != 502:
        assert not any(value in s for s in _sent_strings(answer, body)), (answer.name, path, how, value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), listed=LISTED)
def test_padded_base64_inside_prose_is_read(data: st.DataObject, listed: str) -> None:
    coded = base64.b64encode(listed.encode() + b"!").decode()  # 1 or 2 padding characters
    coded = coded if coded.endswith("=") else base64.b64encode(listed.encode() + b"!!").decode()
    answer = data.draw(st.sampled_from(ANSWERS), label="answer")
    path, how = data.draw(st.sampled_from([p for p in positions(answer.doc) if p[1] != "key"]), label="position")
    status, body = run(answer, plant(answer.doc, path, how, f"see {coded} for more"))
    assert status == 502 or coded not in body.decode()


@settings(max_examples=100, deadline=None)
@given(data=st.data(), text=st.text(alphabet="abcdefgh zqxblock", min_size=6, max_size=30))
def test_each_encoding_is_read_back(data: st.DataObject, text: str) -> None:
    """Each encoding of a text of 6 characters or more reads back to it (a shorter base64 token is not
    read: 8 characters, or 6 with padding, is the least a token needs)."""
    value = data.draw(encoded(text))
    assert value == text or text in readings(value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), text=BENIGN)
def test_encoded_benign_text_passes_unchanged(data: st.DataObject, text: str) -> None:
    value = data.draw(encoded(text), label="encoded")
    answer = data.draw(st.sampled_from([a for a in ANSWERS if a.status == 200]), label="answer")
    path, how = data.draw(st.sampled_from([p for p in positions(answer.doc) if p[1] == "value"]), label="position")
    doc = plant(answer.doc, path, how, value, append=False)
    status, body = run(answer, doc)
    assert status == 200
    assert parsed(answer, body) == orjson.loads(orjson.dumps(doc)) if not answer.jsonl else True
