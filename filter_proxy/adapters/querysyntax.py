"""Undoing a search backend's own query syntax before a query is screened (DESIGN §1 step 2).

Pure functions. A query string is screened as written *and* as the backend reads it, so syntax cannot
split or hide a listed term:

- ``unescape``: Lucene / Solr backslash escapes (``zqx\\blocked`` is the term ``zqxblocked``).
- ``plain``: local params (``{!lucene df=x}``) dropped, field prefixes (``title:``), boosts and fuzziness
  (``^3``, ``~2``), boolean operators (``AND``, ``&&``, ``+``, ``-``, ``!``), grouping and quotes removed,
  so ``title:forbidden^2 AND title:phrase ...`` reads as the phrase it asks for.
- Wildcards (``wildcard_readings``): ``*`` also matches nothing, so ``zqx*blocked`` is read as
  ``zqxblocked``; a ``?`` (one character) is tried as every letter and digit (at most ``MAX_EXPANSIONS``
  variants per query string); a term ending in a wildcard (or with one after its first letters) is a
  *prefix*: ``QueryPrefix`` holds the text before the wildcard, checked with ``RuleSet.check_prefix`` (a
  listed one-word term that starts with at least five letters of it counts as asked for); a term
  starting with one is a *suffix*, ``QuerySuffix``, checked with ``RuleSet.check_suffix`` (the same rule
  at the other end: ``*xblocked``); a term with one on both sides is also a ``QueryInfix``, its core inside
  a listed word (``fuzzy_query.infix_verdict``). Wildcards at a term's edge that read as punctuation are not syntax: a
  ``?`` after or before ordinary words (``is it?``) and a pair of ``*`` around ordinary words (``*never*``);
  without this, questions in ordinary prose matched listed terms one letter longer than their last word.
- Solr parameter dereferencing (``expand_macros``), search templates (``expand_mustache``) and strings
  decoded once more (``decoded_readings``) live in ``query_expand`` and are re-exported here.

``query_variants(text)`` gives every variant of one string; ``expand_macros(text, params)`` the Solr
dereferencing. Lucene regular expressions are read as wildcard terms (``/zqx.locked/`` as ``zqx?locked``,
``/(zqx|abc)blocked/`` as ``zqxblocked`` and ``abcblocked``; counted repeats dropped).
"""

from __future__ import annotations

import os
import re
import string
from collections.abc import Iterable

from filter_proxy.adapters.query_expand import (
    DECODABLE,
    MAX_DEREF_DEPTH,
    MAX_READINGS,
    decoded_readings,
    expand_macros,
    expand_mustache,
)
from filter_proxy.adapters.query_terms import (
    MAX_FUZZY_TERMS,
    QueryFuzzy,
    QueryInfix,
    QueryPrefix,
    QuerySuffix,
    _latin,
    _ordinary,
    fuzzy_readings,
)

__all__ = ["QueryFuzzy", "QueryInfix", "QueryPrefix", "QuerySuffix", "MAX_EXPANSIONS", "MAX_DEREF_DEPTH", "unescape", "plain", "query_variants",
           "expand_macros", "expand_mustache", "fuzzy_readings", "wildcard_prefixes", "wildcard_readings",
           "screened_texts", "decoded_readings", "local_param_readings", "range_readings"]

MAX_EXPANSIONS = MAX_READINGS  # 36 ** 2: two "?" in one string are expanded in full
_ALPHABET = string.ascii_lowercase + string.digits
# Lucene's query parser reads "\\uXXXX" as that character (zqx\\u0062locked is zqxblocked), any other
# backslash as escaping the next character.
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|(.))", re.DOTALL)
_LOCAL_PARAMS = re.compile(r"\{![^}]*\}")
_FIELD_PREFIX = re.compile(r"(?:(?<=^)|(?<=[\s(+\-!]))[A-Za-z_][\w.@-]*:(?!//)")
_BOOST_FUZZ = re.compile(r"[~^](?:\d+(?:\.\d+)?)?")
_OPERATORS = re.compile(r"(?:(?<=^)|(?<=\s))(?:AND|OR|NOT|TO)(?=\s|$)|&&|\|\||[()\[\]{}\"+!]|(?:(?<=^)|(?<=\s))-")
_SPACES = re.compile(r"\s+")
_REGEX = re.compile(r"(?<![\w\\/.])/((?:[^/\\\s]|\\.)+)/(?!\w)")
_REGEX_GROUP = re.compile(r"\(([^()]*)\)")
_REGEX_COUNT = re.compile(r"\{\d+(?:,\d*)?\}")
_REGEX_CLASS = re.compile(r"\[\^?[^\]]*\](?:[*+?])?")
# A term with a wildcard: word characters (escapes undone) and at least one * or ? in it.
_WILD_TERM = re.compile(r"[\w*?@$|<>]*[*?][\w*?@$|<>]*")  # leet symbols belong to the term: "qv|<@i?"
# The same on the text with its operators kept (leet written with them: "p()mp4*", "vy|)ou?"): any
# character but spaces and sentence punctuation, brackets and "!" cut from the term's edges.
_WILD_TERM_RAW = re.compile(r"[^\s,;:\"']*[*?][^\s,;:\"']*")
MAX_INFIX_TERMS = 4  # contains-wildcards probed per request (~5 ms each); the rest: ends only
# A fuzzy term: word characters (leet digits too) right before "~", not a quoted phrase's slop.
_RAW_LEET = re.compile(r"[()!/\\\[\]{}€]")
_WILDCARD = re.compile(r"[*?]")
# Any character or word of query syntax: strings without one (most of them) have no other reading.
_SYNTAX = re.compile(r"[\\:{}^~*?()\[\]\"+\-!&|$/]|\b(?:AND|OR|NOT|TO)\b")
# Lucene ranges ([a TO b], {a TO b}): every word between the bounds starts with their common beginning.
_RANGE = re.compile(r"[\[{]\s*([^\s\[\]{}]+)\s+TO\s+([^\s\[\]{}]+)\s*[\]}]")
# Solr local params with their parser type: {!prefix f=t}body, {!terms separator=| f=t}a|b, {!type=x v=...}.
_LOCAL_TYPED = re.compile(r"\{!([^}]*)\}")
_LOCAL_PARAM = re.compile(r"""([\w.]+)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s}]+)""")


def _unescaped(match: re.Match[str]) -> str:
    code = match.group(1)
    return chr(int(code, 16)) if code is not None else match.group(2)


def unescape(text: str) -> str:
    """Lucene / Solr backslash escapes undone: ``\\X`` is ``X``, ``\\u0062`` is ``b``."""
    return _ESCAPE.sub(_unescaped, text) if "\\" in text else text


def plain(text: str) -> str:
    """The words of a Lucene-syntax query without its syntax (escapes undone first; wildcards kept)."""
    text = _LOCAL_PARAMS.sub(" ", unescape(text))
    text = _FIELD_PREFIX.sub("", text)
    text = _BOOST_FUZZ.sub(" ", text)
    text = _OPERATORS.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


class _WildTerm:
    """One term of a plain query holding a wildcard: ``lead`` + ``core`` + ``trail`` = text[start:end];
    ``lead_wild`` / ``trail_wild``: that edge's wildcards are syntax (not punctuation)."""

    __slots__ = ("start", "end", "lead", "core", "trail", "lead_wild", "trail_wild")

    def __init__(self, start: int, end: int, lead: str, core: str, trail: str) -> None:
        self.start, self.end, self.lead, self.core, self.trail = start, end, lead, core, trail
        self.lead_wild, self.trail_wild = bool(lead), bool(trail)


def _wild_terms(text: str, raw: bool = False) -> list[_WildTerm]:
    """The terms of a plain query that hold a wildcard, each with how its edges read.

    Inside a term (``zqx?locked``, ``zqx*ed``) a wildcard is always syntax. At an edge it is syntax unless
    it reads as punctuation: a ``?`` after ordinary words is a question mark (``is it?``; one before a word
    is not: prose does not write ``??nod``), and
    a pair of ``*`` around ordinary words is emphasis (``*never*``, ``*for free*``). A lone ``*`` at an
    edge is always a wildcard (``*locked``, ``zqxblo*``): prose rarely writes one, an evader does."""
    terms: list[_WildTerm] = []
    for found in (_WILD_TERM_RAW if raw else _WILD_TERM).finditer(text):
        start, end = found.span()
        if raw:  # "(is it?)" and "it?!" end at the "?"
            start += len(found.group()) - len(found.group().lstrip("([{"))
            end -= len(found.group()) - len(found.group().rstrip(")]}!."))
        term = text[start:end]
        core = term.strip("*?")
        if not core:  # wildcards alone ("*", "??"): nothing to read but the words around them
            continue
        lead = term[: len(term) - len(term.lstrip("*?"))]
        trail = term[len(term.rstrip("*?")):]
        terms.append(_WildTerm(start, end, lead, core, trail))
    for i, term in enumerate(terms):
        if "*" not in term.lead:
            continue
        for j in range(i, len(terms)):  # the closing star: on this term or a later one
            if "*" in terms[j].trail:
                span = text[term.start:terms[j].end]
                if not any(_WILDCARD.search(t.core) for t in terms[i:j + 1]) and _ordinary(_no_wildcards(span)):
                    term.lead_wild = terms[j].trail_wild = False
                break
            if j > i and "*" in terms[j].lead + terms[j].core:
                break
    for term in terms:  # a question mark ends a word; one before a word ("??nod") is syntax
        if (term.trail and "*" not in term.trail and term.trail_wild and not _WILDCARD.search(term.core)
                and _ordinary(term.core)):
            term.trail_wild = False
    return terms


def _no_wildcards(text: str) -> str:
    return text.replace("*", "").replace("?", "")


def wildcard_readings(text: str, raw: bool = False) -> list[str]:
    """A plain query (``plain``) as the backend reads its wildcards: every wildcard as nothing; each ``?``
    that is syntax (on a term with Latin letters) tried as every letter and digit (at most
    ``MAX_EXPANSIONS`` variants; beyond, read as nothing); a ``QueryPrefix`` per term with a trailing or
    inner wildcard and a ``QuerySuffix`` per term with a leading one. Edge wildcards that read as
    punctuation (``_wild_terms``) give only the first reading. ``raw``: ``text`` still has its operators
    (terms are then cut at spaces and sentence punctuation only)."""
    terms = _wild_terms(text, raw)
    syntax = [t for t in terms if t.lead_wild or t.trail_wild or _WILDCARD.search(t.core)]
    # As written, only when some wildcard is syntax: removing a question mark there would put a "!" at a
    # word's edge, where it reads as a letter ("RED?!" is not "REDI").
    out: list[str] = [_no_wildcards(text)] if syntax or not raw else []
    spots: list[int] = []  # positions of the "?" that are syntax
    for term in terms:
        if "?" not in text[term.start:term.end] or not _latin(term.core):
            continue
        inner_end = term.end - len(term.trail)
        for position in range(term.start, term.end):
            if text[position] != "?":
                continue
            lead = position < term.start + len(term.lead)
            trail = position >= inner_end
            if (lead and term.lead_wild) or (trail and term.trail_wild) or not (lead or trail):
                spots.append(position)
    while len(_ALPHABET) ** len(spots) > MAX_EXPANSIONS:
        # Too many to try each: a "?" ending a run at a term's end reads as a question mark first
        # ("depf??" + "?"), then the expansion gives up (every wildcard read as nothing).
        ends = [p for p in spots if p + 1 == len(text) or text[p + 1] not in "?*" and not text[p + 1].isalnum()]
        if not ends:
            spots = []
            break
        spots.remove(ends[-1])
    if spots:
        variants = [text]
        for position in spots:  # one character for one: positions stay valid
            variants = [v[:position] + c + v[position + 1:] for v in variants for c in _ALPHABET]
        out.extend(_no_wildcards(v) for v in variants)
    marked: list[str] = []
    infixes = 0
    for term in terms:
        inner = _WILDCARD.search(term.core)
        if term.trail_wild or (inner and not term.lead):  # "*zqxblock*" reads both ways
            head = term.core[: inner.start()] if inner else term.core
            marked.append(QueryPrefix(_no_wildcards(text[: term.start]) + head))
        if term.lead_wild:
            tail = term.core[max(term.core.rfind("*"), term.core.rfind("?")) + 1:]
            marked.append(QuerySuffix(tail + _no_wildcards(text[term.end:])))
            if term.trail_wild and not inner and "*" in term.lead + term.trail and infixes < MAX_INFIX_TERMS:
                infixes += 1  # "*qxblocke*": a word with the core inside (fuzzy_query.infix_verdict, ~5 ms)
                marked.append(QueryInfix(term.core))
    kinds = {(type(m), str(m)): m for m in marked}  # "zqxblock" may be both a prefix and a suffix
    return [*dict.fromkeys(out), *kinds.values()]


def wildcard_prefixes(text: str) -> list[str]:
    """The ``QueryPrefix`` / ``QuerySuffix`` readings of a plain query's wildcard terms:
    ``forbidden phrase alp*`` -> ``forbidden phrase alp``; ``zqx?locked`` -> ``zqx``; ``*locked`` ->
    ``locked`` (a suffix)."""
    return [v for v in wildcard_readings(text) if type(v) is not str]


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
    plus a ``QueryPrefix`` per wildcard term and the ``fuzzy_readings`` of fuzzy terms, the readings of
    typed local params (``local_param_readings``) and of ranges (``range_readings``). Without repeats, the
    original first."""
    out = _variants(text)
    extra: list[str] = []
    if "~" in text:
        extra += fuzzy_readings(unescape(text))
    if "{!" in text:
        extra += local_param_readings(text)
    if " TO " in text:
        extra += range_readings(unescape(text))
    if not extra:
        return out
    seen = {(type(v), str(v)) for v in out}
    for reading in extra:
        key = (type(reading), str(reading))
        if key not in seen:
            seen.add(key)
            out.append(reading)
    return out


def range_readings(text: str) -> list[str]:
    """A ``QueryPrefix`` per Lucene range (``{zqxblockec TO zqxblockee}``): the words between two bounds
    start with the bounds' common beginning (quotes and case aside); a range open at one end (``*``) or
    with nothing in common reads as nothing."""
    out: list[str] = []
    for found in _RANGE.finditer(text):
        low, high = (b.strip("\"'").casefold() for b in found.groups())
        if "*" in (low, high):
            continue
        common = os.path.commonprefix([low, high]).strip()
        if common:
            out.append(QueryPrefix(common))
    return out


def _local_value(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return unescape(raw[1:-1])
    return raw


def local_param_readings(text: str) -> list[str]:
    """What Solr's typed query parsers read in their body (after ``{!type ...}`` or in ``v=``), where it
    differs from the body as written: ``prefix`` -> a ``QueryPrefix``; ``regexp`` -> the body as a regular
    expression (``/.../``); ``terms`` -> the body cut at its ``separator`` (default ","), each piece and
    all of them joined by spaces."""
    out: list[str] = []
    for found in _LOCAL_TYPED.finditer(text):
        inner = found.group(1).strip()
        params = {k.lower(): _local_value(v) for k, v in _LOCAL_PARAM.findall(inner)}
        head = inner.split(None, 1)[0] if inner else ""
        kind = (params.get("type") or ("" if "=" in head else head)).lower()
        body = params.get("v")
        if body is None:
            rest = text[found.end():]
            cut = rest.find("{!")
            body = rest if cut < 0 else rest[:cut]
        body = body.strip()
        if not body:
            continue
        if kind == "prefix":
            out.append(QueryPrefix(unescape(body)))
        elif kind == "regexp":
            out.extend(query_variants("/" + body.replace("/", "\\/") + "/"))
        elif kind == "terms":
            pieces = [p.strip() for p in body.split(params.get("separator") or ",")]
            out.extend(p for p in pieces if p)
            out.append(" ".join(pieces))
    return out


def _variants(text: str) -> list[str]:
    out = [text]
    if not text:
        return out
    if "/" in text and _REGEX.search(text):  # Lucene regular expressions, read as wildcard terms
        seen: dict[tuple[type, str], str] = {(str, text): text}
        for reading in _regex_readings(text):
            for variant in query_variants(reading):
                seen.setdefault((type(variant), variant), variant)
        return list(seen.values())  # the text as written first; a prefix kept beside an equal text
    unescaped = unescape(text)
    words = plain(text)
    out.extend((unescaped, words))
    if "*" in words or "?" in words:
        readings = wildcard_readings(words)
        if _RAW_LEET.search(text):  # leet written with operator characters ("/\\" is "a"), as written
            readings += wildcard_readings(text, raw=True)
            readings = list({(type(r), str(r)): r for r in readings}.values())
        marked = [r for r in readings if type(r) is not str]  # prefixes and suffixes stay beside an equal text
        return [*dict.fromkeys([*out, *(r for r in readings if type(r) is str)]), *marked]
    return list(dict.fromkeys(out))


def screened_texts(texts: Iterable[str]) -> list[str]:
    """Every reading of every request string (``query_variants``), without repeats; a ``QueryPrefix``
    is kept beside an equal plain text (they are checked differently). At most ``MAX_FUZZY_TERMS``
    ``QueryFuzzy`` and ``MAX_INFIX_TERMS`` ``QueryInfix`` readings in all (the rest of those terms is read at
    its ends only), so the lookups one request costs are bounded whatever its number of strings."""
    if type(texts) is list:
        search = _SYNTAX.search
        decodable = DECODABLE.search
        for text in texts:
            if type(text) is not str or search(text) or ("%" in text or "<" in text) and decodable(text):
                break
        else:  # the usual request: plain strings without query syntax, each its only reading
            return list(dict.fromkeys(texts))
    seen: set[tuple[type, str]] = set()
    out: list[str] = []
    probes = {QueryFuzzy: MAX_FUZZY_TERMS, QueryInfix: MAX_INFIX_TERMS}  # per request, not only per string
    for text in _with_decoded(texts):
        for variant in query_variants(text) if _SYNTAX.search(text) else (text,):
            key = (type(variant), variant)
            if key not in seen:
                seen.add(key)
                left = probes.get(type(variant))
                if left is not None:  # each costs lookups (fuzzy_query.py): a body of many strings is bounded
                    if left <= 0:
                        continue
                    probes[type(variant)] = left - 1
                out.append(variant)
    return out


def _with_decoded(texts: Iterable[str]) -> Iterable[str]:
    """Each text, then its ``decoded_readings`` (plain strings only: a ``QueryPrefix`` stays as it is)."""
    for text in texts:
        yield text
        if type(text) is str and ("%" in text or "&" in text or "<" in text) and DECODABLE.search(text):
            yield from decoded_readings(text)
