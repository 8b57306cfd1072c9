"""Undoing a search backend's own query syntax before a query is screened (DESIGN §1 step 2).

Pure functions. A query string is screened as written *and* as the backend reads it, so syntax cannot
split or hide a listed term:

- ``unescape``: Lucene / Solr backslash escapes (``zqx\\blocked`` is the term ``zqxblocked``).
- ``plain``: local params (``{!lucene df=x}``) dropped, field prefixes (``title:``), boosts and fuzziness
  (``^3``, ``~2``), boolean operators (``AND``, ``&&``, ``+``, ``-``, ``!``), grouping and quotes removed,
  so ``title:forbidden^2 AND title:phrase ...`` reads as the phrase it asks for.
- Wildcards: ``*`` also matches nothing, so ``zqx*blocked`` is read as ``zqxblocked``; a ``?`` (one
  character) is tried as every letter and digit (at most ``MAX_EXPANSIONS`` variants per query string);
  a term ending in ``*`` (or with ``*``/``?`` after its first letters) is a *prefix*: ``QueryPrefix`` holds
  the text before the wildcard, checked with ``RuleSet.check_prefix`` (a listed term that starts with at
  least five letters of it counts as asked for).
- Solr parameter dereferencing: ``${name}`` macros and ``$name`` local-param references are replaced by
  the named parameter's value (``${name:default}`` too), nested up to ``MAX_DEREF_DEPTH``.

- Elasticsearch / OpenSearch search templates: ``{{name}}`` placeholders replaced by the template's
  ``params`` (``expand_mustache``).

``query_variants(text)`` gives every variant of one string; ``expand_macros(text, params)`` the Solr
dereferencing. Lucene regular expressions are read as wildcard terms (``/zqx.locked/`` as ``zqx?locked``,
``/(zqx|abc)blocked/`` as ``zqxblocked`` and ``abcblocked``; counted repeats dropped).
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping, Sequence

__all__ = ["QueryPrefix", "MAX_EXPANSIONS", "MAX_DEREF_DEPTH", "unescape", "plain", "query_variants",
           "expand_macros", "expand_mustache", "wildcard_prefixes", "screened_texts"]

MAX_EXPANSIONS = 1296  # 36 ** 2: two "?" in one string are expanded in full
MAX_DEREF_DEPTH = 16
_ALPHABET = string.ascii_lowercase + string.digits
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_LOCAL_PARAMS = re.compile(r"\{![^}]*\}")
_FIELD_PREFIX = re.compile(r"(?:(?<=^)|(?<=[\s(+\-!]))[A-Za-z_][\w.@-]*:(?!//)")
_BOOST_FUZZ = re.compile(r"[~^](?:\d+(?:\.\d+)?)?")
_OPERATORS = re.compile(r"(?:(?<=^)|(?<=\s))(?:AND|OR|NOT|TO)(?=\s|$)|&&|\|\||[()\[\]{}\"+!]|(?:(?<=^)|(?<=\s))-")
_SPACES = re.compile(r"\s+")
# A term with a wildcard: letters/digits (and escapes undone) with at least one * or ? in it.
_REGEX = re.compile(r"(?<![\w\\/.])/((?:[^/\\\s]|\\.)+)/(?!\w)")
_REGEX_GROUP = re.compile(r"\(([^()]*)\)")
_REGEX_COUNT = re.compile(r"\{\d+(?:,\d*)?\}")
_REGEX_CLASS = re.compile(r"\[\^?[^\]]*\](?:[*+?])?")
_WILD_TERM = re.compile(r"[^\s*?]*[*?][^\s]*")
# Any character or word of query syntax: strings without one (most of them) have no other reading.
_SYNTAX = re.compile(r"[\\:{}^~*?()\[\]\"+\-!&|$/]|\b(?:AND|OR|NOT|TO)\b")
_MACRO = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
_REFERENCE = re.compile(r"(?<![\w$])\$([A-Za-z_][\w.]*)")
# Elasticsearch / OpenSearch search templates (mustache): {{name}}, {{{name}}}, {{#toJson}}name{{/toJson}}.
_MUSTACHE = re.compile(r"\{\{\{?\s*(?:#(?:toJson|join)\}\}\s*)?([\w.]+)\s*(?:\{\{/(?:toJson|join))?\}?\}\}")


class QueryPrefix(str):
    """The text before a trailing wildcard (``"forbidden phrase alp"`` for ``forbidden phrase alp*``): a
    listed phrase that starts with it counts as asked for (``RuleSet.check_prefix``)."""

    __slots__ = ()


def unescape(text: str) -> str:
    """Lucene / Solr backslash escapes undone: ``\\X`` is ``X``."""
    return _ESCAPE.sub(r"\1", text) if "\\" in text else text


def plain(text: str) -> str:
    """The words of a Lucene-syntax query without its syntax (escapes undone first; wildcards kept)."""
    text = _LOCAL_PARAMS.sub(" ", unescape(text))
    text = _FIELD_PREFIX.sub("", text)
    text = _BOOST_FUZZ.sub(" ", text)
    text = _OPERATORS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def wildcard_prefixes(text: str) -> list[QueryPrefix]:
    """For each wildcard term of a plain query, the query text up to that term's first wildcard:
    ``forbidden phrase alp*`` -> ``forbidden phrase alp``; ``zqx?locked`` -> ``zqx``."""
    out: list[QueryPrefix] = []
    for found in _WILD_TERM.finditer(text):
        term = found.group()
        cut = min(i for i in (term.find("*"), term.find("?")) if i >= 0)
        head = text[: found.start()].replace("*", "").replace("?", "") + term[:cut]
        if head.strip():
            out.append(QueryPrefix(head))
    return out


def _expand_single(text: str) -> list[str]:
    """``?`` tried as every letter and digit (bounded); ``*`` as nothing."""
    base = text.replace("*", "")
    count = base.count("?")
    if count == 0:
        return [base]
    if len(_ALPHABET) ** count > MAX_EXPANSIONS:
        return [base.replace("?", "")]
    variants = [base]
    for _ in range(count):
        variants = [v.replace("?", c, 1) for v in variants for c in _ALPHABET]
    return variants


def _regex_wildcards(body: str) -> str:
    """One alternative of a regular expression as wildcards: ``zqx.locked`` -> ``zqx?locked``,
    ``zqxbl.*`` -> ``zqxbl*``, ``zqx[a-z]locked`` -> ``zqx?locked``."""
    body = _REGEX_CLASS.sub("?", body).replace(".*", "*").replace(".+", "?*").replace(".", "?")
    return unescape(body.replace("^", "").replace("$", "").replace("+", "").replace("*?", "*"))


def regex_readings(body: str) -> list[str]:
    """The readings of a Lucene regular expression's body as wildcard terms: groups and ``|`` expanded
    into their alternatives (at most 64), counted repeats (``{2}``) dropped."""
    body = _REGEX_COUNT.sub("", body)
    readings = [body]
    for _ in range(8):  # innermost groups first, a few levels deep
        nxt: list[str] = []
        for reading in readings:
            group = _REGEX_GROUP.search(reading)
            if group is None:
                nxt.append(reading)
                continue
            nxt.extend(reading[: group.start()] + alt + reading[group.end():] for alt in group.group(1).split("|"))
        if nxt == readings:
            break
        readings = nxt[:64]
    alternatives = [alt for reading in readings for alt in reading.split("|")][:64]
    return [_regex_wildcards(alt.replace("(", "").replace(")", "")) for alt in alternatives]


def _regex_readings(text: str) -> list[str]:
    """``text`` with each of its regular expressions (``/.../``) read as wildcard terms."""
    readings = [text]
    for _ in range(4):  # at most four regular expressions in one string are read
        nxt: list[str] = []
        for reading in readings:
            found = _REGEX.search(reading)
            if found is None:
                nxt.append(reading)
                continue
            nxt.extend(reading[: found.start()] + alt + reading[found.end():] for alt in regex_readings(found.group(1)))
        if nxt == readings:
            break
        readings = nxt[:MAX_EXPANSIONS]
    return readings


def query_variants(text: str) -> list[str]:
    """``text`` as written and as the backend reads it: unescaped, without syntax, wildcards expanded,
    plus a ``QueryPrefix`` per wildcard term. Without repeats, the original first."""
    out = [text]
    if not text:
        return out
    if "/" in text and _REGEX.search(text):  # Lucene regular expressions, read as wildcard terms
        seen: dict[tuple[bool, str], str] = {(False, text): text}
        for reading in _regex_readings(text):
            for variant in query_variants(reading):
                seen.setdefault((type(variant) is QueryPrefix, variant), variant)
        return list(seen.values())  # the text as written first; a prefix kept beside an equal text
    unescaped = unescape(text)
    words = plain(text)
    out.extend((unescaped, words))
    if "*" in words or "?" in words:
        out.extend(_expand_single(words))
        prefixes = wildcard_prefixes(words)
        return [*dict.fromkeys(out), *dict.fromkeys(prefixes)]  # a prefix stays beside an equal text
    return list(dict.fromkeys(out))


def expand_macros(text: str, params: Mapping[str, Sequence[str]], depth: int = MAX_DEREF_DEPTH) -> list[str]:
    """Every reading of ``text`` with Solr's ``${name}`` macros and ``$name`` references replaced by the
    named parameters' values (each value of a repeated parameter; ``${name:default}`` falls back to the
    default). ``text`` itself comes first; nested references are followed ``depth`` levels."""
    out = [text]
    frontier = [text]
    for _ in range(depth):
        nxt: list[str] = []
        for item in frontier:
            if "$" not in item:
                continue
            for expanded in _expand_once(item, params):
                if expanded not in out and len(out) < MAX_EXPANSIONS:
                    out.append(expanded)
                    nxt.append(expanded)
        if not nxt:
            break
        frontier = nxt
    return out


def expand_mustache(text: str, params: Mapping[str, Sequence[str]]) -> list[str]:
    """Every reading of a search template with its ``{{name}}`` placeholders replaced by the template
    parameters' values (``text`` itself first): ``zqx{{a}}`` with ``a=blocked`` reads ``zqxblocked``."""
    out = [text]
    frontier = [text]
    for _ in range(MAX_DEREF_DEPTH):
        nxt: list[str] = []
        for item in frontier:
            found = next((m for m in _MUSTACHE.finditer(item) if m.group(1) in params), None)
            if found is None:
                continue
            for value in list(params[found.group(1)])[:8]:
                expanded = item[: found.start()] + value + item[found.end():]
                if expanded not in out and len(out) < MAX_EXPANSIONS:
                    out.append(expanded)
                    nxt.append(expanded)
        if not nxt:
            break
        frontier = nxt
    return out


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


def screened_texts(texts: Iterable[str]) -> list[str]:
    """Every reading of every request string (``query_variants``), without repeats; a ``QueryPrefix``
    is kept beside an equal plain text (they are checked differently)."""
    seen: set[tuple[bool, str]] = set()
    out: list[str] = []
    for text in texts:
        for variant in query_variants(text) if _SYNTAX.search(text) else (text,):
            key = (type(variant) is QueryPrefix, variant)
            if key not in seen:
                seen.add(key)
                out.append(variant)
    return out
