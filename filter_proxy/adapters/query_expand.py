"""What a backend (or an app in front of it) substitutes or decodes in a query string before its query
parser reads it, for ``querysyntax`` to screen each reading:

- Solr parameter dereferencing: ``${name}`` macros and ``$name`` local-param references replaced by the
  named parameter's value (``${name:default}`` too), nested up to ``MAX_DEREF_DEPTH`` (``expand_macros``);
- Elasticsearch / OpenSearch search templates: ``{{name}}`` placeholders replaced by the template's
  ``params`` (``expand_mustache``);
- percent escapes decoded once or twice more, and XML read as Solr's ``{!xmlparser}`` reads it
  (``decoded_readings``; ``DECODABLE`` says whether a string has anything to decode).

Pure functions; split from ``querysyntax`` (which re-exports them) to keep that module to the backends'
query syntax itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import unquote

__all__ = ["DECODABLE", "MAX_DEREF_DEPTH", "MAX_READINGS", "decoded_readings", "expand_macros", "expand_mustache"]

MAX_DEREF_DEPTH = 16
MAX_READINGS = 1296  # readings of one string at most (36 ** 2: also querysyntax's wildcard bound)

_MACRO = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
_REFERENCE = re.compile(r"(?<![\w$])\$([A-Za-z_][\w.]*)")
# Elasticsearch / OpenSearch search templates (mustache): {{name}}, {{{name}}}, {{#toJson}}name{{/toJson}}.
_MUSTACHE = re.compile(r"\{\{\{?\s*(?:#(?:toJson|join)\}\}\s*)?([\w.]+)\s*(?:\{\{/(?:toJson|join))?\}?\}\}")
# What a backend or an app in front of it decodes before its query parser reads a string: percent escapes
# (decoded once more by some proxies and apps), XML markup (Solr's xmlparser: character references,
# comments and CDATA sections inside a term).
DECODABLE = re.compile(r"%[0-9A-Fa-f]{2}|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);|<!")
_XML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)
_TAG = re.compile(r"<[^<>]*>")


def decoded_readings(text: str) -> list[str]:
    """``text`` as a reader that decodes it once more reads it (only readings that differ): percent escapes
    undone (twice at most: an app or proxy that decodes what the backend already decoded), and XML read as
    a parser reads it (comments dropped, CDATA sections opened, tags as spaces, character references and
    entities undone: Solr's ``{!xmlparser}``)."""
    out: list[str] = []
    current = text
    for _ in range(2):
        if "%" not in current:
            break
        decoded = unquote(current, errors="replace")
        if decoded == current:
            break
        out.append(decoded)
        current = decoded
    if "&" in text or "<!" in text:
        markup = _CDATA.sub(lambda m: m.group(1), _XML_COMMENT.sub("", text))
        read = html.unescape(_TAG.sub(" ", markup))
        if read != text:
            out.append(read)
    return out


def _expand(text: str, step: Callable[[str], Iterable[str]], depth: int) -> list[str]:
    """``text`` and every reading ``step`` gives of it, breadth first, ``depth`` levels deep, without
    repeats and at most ``MAX_READINGS`` in all."""
    out = [text]
    frontier = [text]
    for _ in range(depth):
        nxt: list[str] = []
        for item in frontier:
            for expanded in step(item):
                if expanded not in out and len(out) < MAX_READINGS:
                    out.append(expanded)
                    nxt.append(expanded)
        if not nxt:
            break
        frontier = nxt
    return out


def expand_macros(text: str, params: Mapping[str, Sequence[str]], depth: int = MAX_DEREF_DEPTH) -> list[str]:
    """Every reading of ``text`` with Solr's ``${name}`` macros and ``$name`` references replaced by the
    named parameters' values (each value of a repeated parameter; ``${name:default}`` falls back to the
    default). ``text`` itself comes first; nested references are followed ``depth`` levels."""
    return _expand(text, lambda item: _expand_once(item, params) if "$" in item else (), depth)


def expand_mustache(text: str, params: Mapping[str, Sequence[str]]) -> list[str]:
    """Every reading of a search template with its ``{{name}}`` placeholders replaced by the template
    parameters' values (``text`` itself first): ``zqx{{a}}`` with ``a=blocked`` reads ``zqxblocked``."""

    def step(item: str) -> list[str]:
        found = next((m for m in _MUSTACHE.finditer(item) if m.group(1) in params), None)
        if found is None:
            return []
        return [item[: found.start()] + value + item[found.end():] for value in list(params[found.group(1)])[:8]]

    return _expand(text, step, MAX_DEREF_DEPTH)


def _expand_once(text: str, params: Mapping[str, Sequence[str]]) -> list[str]:
    """Each reading of ``text`` with its first resolvable macro, then its first resolvable reference,
    replaced (one per repeated-parameter value)."""
    readings = [text]
    for pattern in (_MACRO, _REFERENCE):
        nxt: list[str] = []
        for reading in readings:
            for found in pattern.finditer(reading):
                values = list(params.get(found.group(1), ()))[:8]
                if pattern is _MACRO and (not values or found.group(2)):
                    values.append(found.group(2) or "")  # the default is read too: screening more is safe
                if values:
                    nxt.extend(reading[: found.start()] + v + reading[found.end():] for v in values)
                    break
            else:
                nxt.append(reading)
        readings = nxt
    return readings
