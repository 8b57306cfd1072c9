"""Other readings of a response string that a client gets without the filter's help (DESIGN §1 step 5, deny
by default): what a browser or an app shows or follows is not always the string as it sits in the JSON.

- HTML character references (``zqx&#98;locked``, ``&lt;``): a page that renders a snippet as HTML shows
  them decoded;
- percent-encoding (``zqx%62locked``, ``https%3A%2F%2Fhost%2F``, a link wrapped in a redirect's query
  string): a browser shows and follows it decoded; the decoded string is also cut at ``?``, ``&`` and
  ``=`` so a URL inside a query string is a URL of its own;
- base64 (a whole string, or the payload of a ``data:`` URI): an app that decodes it gets the text.
  Only a decoding that is UTF-8 text of at least four printable characters is a reading (random ids and
  hashes decode to bytes that are not);
- a JSON string literal's escapes written into a string (``zqx\\u0062locked``), as a client that parses a
  JSON document held in a string reads them.

``readings(text)`` returns the readings that differ from ``text`` (usually none: each step is gated by a
cheap test, and most strings fail all of them). ``page_readings(texts)`` maps each string of a page that
has any to them, with one C-level gate over the page's text first.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Collection
from urllib.parse import unquote

import orjson

from filter_proxy.adapters.walk import strip_tags, url_parts

__all__ = ["add_readings", "page_readings", "readings", "url_pieces"]

_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")
_WHOLE_B64 = re.compile(r"\x00([A-Za-z0-9+/_-]{8,}={0,2}|[A-Za-z0-9+/_-]{6,7}={1,2})(?=\x00)")  # a literal first: a fast scan
# Literal first characters: the regex engine scans for them at C speed.
_ENTITY = re.compile(r"&(?:#|[A-Za-z]{2,8};)")
_DATA_B64 = re.compile(r";base64,", re.IGNORECASE)
_PAD_END = re.compile(r"=[=\x00\s\"'<>),.;:!?]")
_PADDED = re.compile(r"[A-Za-z0-9+/_-]{6}={1,2}(?![\w=])")
_B64 = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}|[A-Za-z0-9+/_-]{6,7}={1,2}")
_PADDED_TOKEN = re.compile(r"(?<![\w+/-])[A-Za-z0-9+/_-]{6,}={1,2}(?![\w=])")
_DATA_URI = re.compile(r"data:[^,;]{0,64}(?:;[^,;]{1,64}){0,4};base64,([A-Za-z0-9+/_=-]{4,})", re.IGNORECASE)
_QUERY_CUT = re.compile(r"[?&=]")
_MAX_DEPTH = 3  # readings of readings (a percent-encoded entity, base64 of a percent-encoded URL)
# A longer string is read as it is only (the filter reads its text and URL parts): a response's size is
# bounded by max_response_bytes anyway, this bounds the copies made per string.
_MAX_LEN = 4_000_000
_MAX_B64 = 262_144  # a longer base64 token is binary (a picture): pictures are the image screener's


def _b64_text(token: str) -> str | None:
    """The UTF-8 text ``token`` encodes as base64 (standard or URL-safe, padding optional), or None."""
    if len(token) > _MAX_B64:
        return None
    padded = token + "=" * (-len(token) % 4)
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if ("-" in token or "_" in token) else None, validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if len(text) < 4 or not all(c.isprintable() or c.isspace() for c in text):
        return None
    return text


def _entities(text: str) -> bool:
    return "&#" in text or ("&" in text and ";" in text)


def _one_step(text: str) -> list[str]:
    out: list[str] = []
    if "&" in text and _entities(text):
        decoded = html.unescape(text)
        if decoded != text:
            out.append(decoded)
    if "%" in text and _PERCENT.search(text):
        decoded = unquote(text, errors="replace")
        if decoded != text:
            out.append(decoded)
    if "\\" in text and ("\\u" in text or "\\x" in text):
        try:
            decoded = orjson.loads('"' + text.replace('"', '\\"') + '"')
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, str) and decoded != text:
            out.append(decoded)
    if "base64," in text or "BASE64," in text:
        for payload in _DATA_URI.findall(text):
            found = _b64_text(payload)
            if found is not None:
                out.append(found)
    if " " not in text:
        tokens = [text] if _B64.fullmatch(text) else []
    else:  # padded base64 inside prose ("see enF4YmxvY2tlZA== here")
        tokens = _PADDED_TOKEN.findall(text) if "=" in text else []
    for token in tokens:
        found = _b64_text(token.rstrip("="))
        if found is not None:
            out.append(found)
    return out


def readings(text: str) -> list[str]:
    """Every reading of ``text`` a client can get by decoding it (module docstring), not ``text`` itself."""
    if len(text) > _MAX_LEN:
        return []
    seen: dict[str, None] = {}
    todo = [(text, 0)]
    while todo:
        current, depth = todo.pop()
        if depth >= _MAX_DEPTH:
            continue
        for found in _one_step(current):
            if found != text and found not in seen:
                seen[found] = None
                todo.append((found, depth + 1))
                if "<" in found and (plain := strip_tags(found)) != found:  # decoded markup, read without it
                    seen[plain] = None
    return list(seen)


def url_pieces(reading: str) -> list[str]:
    """A decoded reading cut at query-string punctuation: ``https://a/r?u=https://b/x`` holds the URL
    ``https://b/x`` too (the cut pieces are checked as URLs beside the whole)."""
    return [p for p in _QUERY_CUT.split(reading) if "." in p] if _QUERY_CUT.search(reading) else []


def page_readings(texts: Collection[str], joined: str | None = None) -> dict[str, list[str]]:
    """``{text: readings}`` for the strings of ``texts`` that have any (most pages: none). Single-character
    searches over the page's text (C speed) say which steps can find anything at all; only the strings
    holding that character are read one by one."""
    try:
        if joined is None:  # ``joined``: the caller's "\x00".join(texts), wrapped in "\x00" (page_results)
            joined = "\x00" + "\x00".join(texts) + "\x00"
        strings: Collection[str] = texts
    except TypeError:  # a string that is not a str (a document built in process)
        strings = [t for t in texts if type(t) is str]
        joined = "\x00" + "\x00".join(strings) + "\x00"
    todo: set[str] = set()
    for mark in ("%", "\\"):
        if mark in joined:
            todo.update(t for t in strings if mark in t)
    if "&" in joined and _ENTITY.search(joined):
        todo.update(t for t in strings if "&" in t and _entities(t))
    if _DATA_B64.search(joined):
        todo.update(t for t in strings if "base64," in t or "BASE64," in t)
    if "=" in joined and _PAD_END.search(joined):  # padded base64 in prose ("see enF4YmxvY2tlZA== here")
        todo.update(t for t in strings if "=" in t and (t[-1] == "=" or "= " in t or "==" in t)
                    and _PADDED.search(t))
    todo.update(_WHOLE_B64.findall(joined))  # a whole string in the base64 alphabet
    out: dict[str, list[str]] = {}
    for text in todo:
        found = readings(text)
        if found:
            out[text] = found
    return out


def add_readings(texts: list[str], links: list[str]) -> None:
    """Append the readings of ``texts`` (a walk's strings, ``walk.collect``) to ``texts`` and their URL
    parts to ``links``: what ``screen_value`` and the last walk of a page read beside the strings."""
    found = page_readings(texts)
    for decoded in found.values():
        for reading in decoded:
            texts.append(reading)
            links.extend(url_parts(reading))
            links.extend(url_pieces(reading))
