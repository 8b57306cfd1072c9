"""Every string of a JSON subtree, for deny-by-default screening (DESIGN §1 step 5).

``collect(value, texts, links)`` walks ``value`` once, iteratively (deep nesting cannot exhaust the
stack), and appends every string it holds to ``texts``: object values, array items *and object keys*
(a key can be shown too: Solr highlighting is keyed by document id, a keyed aggregation by a term). A
string with markup also goes in without its tags (``<em>zqx</em>blocked``). Every URL-shaped part of a
string goes to ``links`` for ``check_url``: ``scheme://...``, ``//host/...``, ``www.host...``, a host-like
``name.tld/...`` inside text, or a whole string that is a bare host (``zqx-host.example.invalid``), a host
in prose, an IP literal; and the same in the string as a reader would type it (refanged, percent-decoded,
Unicode mapped: ``url_parts``). The URL-shape test is cheap on purpose (``may_hold_url``): a string without
``.``, ``//``, ``%``, ``dot`` or non-ASCII characters cannot hold a host and costs a few ``in`` tests.

A field mapping never limits what is screened; it only says which string is the title, link or thumbnail.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

_TAG = re.compile(r"<[^>]{0,200}>")
_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,62})"
_TLD = r"[a-zA-Z][a-zA-Z0-9-]{1,62}"
_IPV4_PART = r"(?:0[xX][0-9a-fA-F]{1,8}|[0-9]{1,10})"
# A URL inside text: with a scheme, protocol-relative, www., or host-like followed by a path. The host part
# needs a dot and a letter TLD, so "3.14" or "e.g." are not URLs.
_URL_IN_TEXT = re.compile(
    r"(?P<url>(?:[a-zA-Z][a-zA-Z0-9+.-]{0,15}:)?//[^\s\"'<>]+"
    # a web scheme with any number of slashes or backslashes (or none) after it: browsers read
    # "http:/host", "http:host" and "https:\\host" as "http://host"
    r"|(?<![\w.+-])(?i:https?|ftp|wss?):[/\\]*(?=[\w%\[])[^\s\"'<>]+)"
    r"|(?P<www>(?<![\w.-])www\.[^\s\"'<>]+)"
    # host/path, also after "@" ("ok.example.invalid@host/x" is userinfo and host without a scheme)
    r"|(?P<path>(?<![\w.-])(?:" + _LABEL + r"\.)+" + _TLD + r"(?::\d{1,5})?[/\\][^\s\"'<>]*)"
    # a bare host name in prose ("mirror at blocked.example.invalid today", an e-mail's domain): listed
    # domains are listed whole, so the host alone is a URL to check
    r"|(?P<host>(?<![\w.-])(?:" + _LABEL + r"\.)+" + _TLD + r"(?::\d{1,5})?(?![\w/\\-]))"
    # a dotted IPv4 address (any radix per part, as browsers read them): four parts, so "3.14" or a
    # "1.2.3" version number are not addresses
    r"|(?P<ip>(?<![\w.-])" + _IPV4_PART + r"(?:\." + _IPV4_PART + r"){3}(?::\d{1,5})?(?![\w-]|\.\w))"
    # an IPv6 literal as a browser takes it without a scheme ("[2001:db8::1]/x"): brackets, two colons
    r"|(?P<ip6>(?<![\w.-])\[[0-9a-fA-F]*:[0-9a-fA-F.]*:[0-9a-fA-F:.]*\](?::\d{1,5})?(?:[/\\][^\s\"'<>]*)?)"
)
# The same for a token that is not ASCII: a host name's labels may be any letters or digits (an
# internationalised name written in its own script, "bücher.example.invalid", as a browser's address bar
# takes it); the ASCII pattern is read too, so this only adds parts.
_LABEL_U = r"[^\W_](?:[\w-]{0,62})"
_TLD_U = r"[^\W\d_][\w-]{1,62}"
_HOST_IN_TEXT_U = re.compile(
    r"(?P<path>(?<![\w.-])(?:" + _LABEL_U + r"\.)+" + _TLD_U + r"(?::\d{1,5})?[/\\][^\s\"'<>]*)"
    r"|(?P<host>(?<![\w.-])(?:" + _LABEL_U + r"\.)+" + _TLD_U + r"(?::\d{1,5})?(?![\w/\\-]))"
)
# Prose can hold a host name only where a dot is followed by a letter or digit ("end. Next" cannot), in any
# script (ASCII: the same as [a-zA-Z0-9]).
_DOT_BEFORE_NAME = re.compile(r"\.[^\W_]")
# A whole string that is a bare host name (a "domain" field), optionally with a port.
_BARE_HOST = re.compile(r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,62})\.)+[a-zA-Z][a-zA-Z0-9-]{1,62}\.?(?::\d{1,5})?")
_URL_STARTS = ("http://", "https://", "HTTP://", "HTTPS://", "//", "www.", "WWW.")
_MAX_URL_SCAN = 100_000  # a longer string is still screened as text; URL parts are looked for in its start
# Defanged addresses as security write-ups and evaders write them ("blocked[.]example[.]invalid",
# "blocked(dot)example", "blocked dot example dot invalid", "blocked . example . invalid", "hxxp[://]"):
# each is read again with the dots (and ":", "/", "@") put back. A refanged host only matters when it is
# listed, so prose that merely says "dot" costs a regex pass and matches nothing.
_DEFANG = re.compile(r"\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*|(?<=\w) +(?:\.|dot) +(?=\w)"
                     r"|\[(?::|://|/|@|at)\]|\((?:at)\)", re.IGNORECASE)
# The bracketed defangs alone, led by one character class (the regex engine skips to those characters).
_BRACKET_DEFANG = re.compile(r"[\[({<]\s*(?:[.:/@]|[dD][oO][tT]|[aA][tT]\s*[\])}>])")
_DEFANG_HINT = re.compile(r"[\[({<]\s*(?:\.|dot|:|/|@|at)|\w \. \w| dot ", re.IGNORECASE)
_REFANG = {".": ".", "dot": ".", ":": ":", "://": "://", "/": "/", "@": "@", "at": "@"}
# Characters a reader does not see (or sees as a dot) inside a host written in prose: zero-width and other
# format characters, soft hyphens, and full stops that UTS #46 maps to "."; with NFKC (full-width and
# mathematical letters) they give the host a browser reaches.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062"
                               "\u2063\u2064\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_INVISIBLE.update({0x3002: ".", 0xFF0E: ".", 0xFF61: "."})
# Where those are, with the letters and dots NFKC maps to ASCII (full-width and small forms, styled
# mathematical letters, enclosed and circled letters, letter-like symbols, super/subscripts, one-dot leader).
_UNICODE_HOST = re.compile("[\u00ad\u034f\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u3002\uff01-\uff5e\uff61"
                           "\u2024\ufe50-\ufe6b\u2070-\u209f\u2100-\u214f\u2460-\u24ff\u3200-\u33ff"
                           "\U0001d400-\U0001d7ff\U0001f100-\U0001f1ff]")
# What a reader's copy of a one-token string would change: a defanging bracket, an HTML entity.
_NEEDS_READING = re.compile(r"[\[({<][.:/@]|[\[({<](?i:dot|at)[\])}>]|&(?:#\w{1,8}|[a-zA-Z]{2,8});")
# A capitalised word glued to the end of a URL by a full stop (the next sentence): "/page.html.Then".
_GLUED_WORD = re.compile(r"(?<=[\w/])\.[A-Z][a-z]{0,15}$")
# The last label of a host that may be the next sentence's first word: capitalised, or three or more
# lower-case letters (a country code, two letters, is a real last label: "example.com.au").
_GLUED_LABEL = re.compile(r"[A-Z][a-z]+|[a-z]{3,}")
_TRAILING = ".,;:!?)]}'\"\u00bb\u2019\u201d\u203a\u300b\u300d\u300f\u3011\uff09"  # closing quotes too

# Keys that are the backends' own response format, never document content: not checked as text when
# they are keys (their values still are). Document field names (title, url, ...) are not in here.
FORMAT_KEYS = frozenset({
    # Elasticsearch / OpenSearch
    "took", "timed_out", "_shards", "total", "successful", "skipped", "failed", "hits", "value", "relation",
    "max_score", "_index", "_id", "_score", "_source", "_routing", "_ignored", "_version", "_seq_no",
    "_primary_term", "fields", "highlight", "inner_hits", "matched_queries", "sort", "_nested", "offset",
    "aggregations", "buckets", "key", "key_as_string", "doc_count", "doc_count_error_upper_bound",
    "sum_other_doc_count", "suggest", "options", "text", "length", "_scroll_id", "pit_id", "_explanation",
    # Solr
    "responseHeader", "status", "QTime", "params", "response", "numFound", "start", "numFoundExact", "docs",
    "highlighting", "spellcheck", "suggestions", "collations", "grouped", "groups", "groupValue", "doclist",
    "matches", "ngroups", "expanded", "facet_counts", "facet_fields", "facet_queries", "moreLikeThis",
    # Meilisearch
    "processingTimeMs", "query", "limit", "estimatedTotalHits", "totalHits", "totalPages", "hitsPerPage",
    "page", "_formatted", "_matchesPosition", "_rankingScore", "facetDistribution", "facetStats",
    # Typesense
    "found", "out_of", "search_time_ms", "document", "highlights", "snippet", "snippets", "matched_tokens",
    "text_match", "text_match_info", "request_params", "grouped_hits", "group_key", "found_docs", "counts",
    "field_name", "stats", "search_cutoff",
    # SearXNG
    "number_of_results", "results", "answers", "corrections", "infoboxes", "unresponsive_engines", "engine",
    "engines", "positions", "score", "category", "parsed_url", "template",
})


def strip_tags(text: str) -> str:
    return _TAG.sub("", text) if "<" in text else text


def url_parts(text: str) -> list[str]:
    """The URL-shaped parts of ``text`` (empty for ordinary words). Trailing sentence punctuation is
    dropped from a URL found inside text. Besides the text as written, the same text read as a reader
    would type it is searched too: refanged (``blocked[.]example[.]invalid``), percent-decoded, and with
    invisible characters, Unicode full stops and full-width letters mapped (``may_hold_url`` says which
    strings can hold any of this)."""
    # One token, the usual URL field: itself, unless a reader would read it otherwise (``reads_as_is``)
    # or it ends in a glued sentence (``glued``); both tests written out for the common URL.
    if " " not in text and text.isprintable() and text.isascii() and (
            ("&" not in text or ";" not in text) and "[" not in text and "(" not in text and "{" not in text
            and "<" not in text or reads_as_is(text)):
        if text.startswith(_URL_STARTS) or _BARE_HOST.fullmatch(text):
            dot = text.rfind(".")
            return [text] if not text[dot + 1:dot + 2].isupper() or not glued(text) else [text, text[:dot]]
        slash = text.find("/")
        if slash > 0 and _BARE_HOST.fullmatch(text, 0, slash):
            return [text] if not glued(text) else [text, text[:text.rfind(".")]]
    text = text[:_MAX_URL_SCAN]
    found = _scan(text) if "." in text or "//" in text or "]" in text else []
    # The reader's copy (``reader_copy``), only for a string that holds something it would change.
    if (not text.isascii() or "<" in text or "&#" in text or "&period;" in text or "%" in text
            or " . " in text or " dot " in text or " DOT " in text
            or (("[" in text or "(" in text or "{" in text) and _BRACKET_DEFANG.search(text) is not None)):
        read = reader_copy(text)
        if read != text:
            found += _scan(read)
    return list(dict.fromkeys(found)) if found else []


def reader_copy(text: str) -> str:
    """``text`` as a reader sees and would type it: what is shown (tags dropped, HTML entities read),
    Unicode as a browser maps it in a host (invisible characters dropped, full stops, NFKC),
    percent-decoded (up to three times), refanged. Each step only where the string can need it."""
    read = strip_tags(text) if "<" in text else text
    if "&" in read and ";" in read:
        read = html.unescape(read)
    if not read.isascii() and _UNICODE_HOST.search(read):
        read = unicodedata.normalize("NFKC", read.translate(_INVISIBLE))
    if "%" in read:
        for _ in range(3):  # an encoded escape is still an escape to a second decoder
            again = unquote(read, errors="replace")
            if again == read:
                break
            read = again
    if _DEFANG_HINT.search(read):
        read = _DEFANG.sub(lambda m: _REFANG[m.group().strip(" \t\n[](){}<>").lower()], read)
    return read


def reads_as_is(text: str) -> bool:
    """Whether a one-token ASCII string reads the same to a reader: no defanging bracket, no HTML entity
    (its reader's copy would be the text itself, so a URL-shaped one is its own URL part)."""
    if ("&" not in text or ";" not in text) and "[" not in text and "(" not in text and "{" not in text \
            and "<" not in text:
        return True
    return _NEEDS_READING.search(text) is None


def glued(text: str) -> bool:
    """Whether ``text`` ends in a capitalised word glued on by a full stop (``.../page.html.Then``): a cheap
    test first (the character after the last dot is upper case), the exact one only then."""
    dot = text.rfind(".")
    return dot > 0 and text[dot + 1:dot + 2].isupper() and _GLUED_WORD.search(text) is not None


def _scan(text: str) -> list[str]:
    # A URL or host name needs a slash, "www." or a dot before a name (a token with punctuation round a
    # host, "(blocked.example.invalid)," or "me@blocked.example.invalid", is scanned too).
    if "/" not in text and "www." not in text and "]" not in text and _DOT_BEFORE_NAME.search(text) is None:
        return []
    out: list[str] = []
    # A URL part never holds white space: only the tokens that can hold one go through the regex (its
    # look-behinds would otherwise be tried at every position of the prose).
    tokens = [text] if " " not in text else [t for t in text.split() if "." in t or "/" in t or "]" in t]
    for token in tokens:
        _scan_token(token, out)
    return out


def _scan_token(text: str, out: list[str]) -> None:
    _scan_with(_URL_IN_TEXT, text, out)
    if not text.isascii():
        _scan_with(_HOST_IN_TEXT_U, text, out)


def _scan_with(pattern: re.Pattern[str], text: str, out: list[str]) -> None:
    for match in pattern.finditer(text):
        whole = match.group()
        part = whole.rstrip(_TRAILING)
        if "[" in part and part.count("[") > part.count("]") and whole[len(part):len(part) + 1] == "]":
            part += "]"  # the end of an IPv6 literal ("https://[2001:db8::1]"), not a closing bracket
        out.append(part)
        if match.lastgroup == "host" or (match.lastgroup == "www" and "/" not in part):
            if part.count(".") >= 2:
                # A host glued to the next sentence ("blocked.example.invalid.Then", ".then"): a reader
                # stops at the listed host, so the host without its last label is checked too. Not after
                # a two-letter label: "example.com.au" is a country's domain, not "example.com" glued.
                host, _, last = part.rsplit(":", 1)[0].rpartition(".")
                if _GLUED_LABEL.fullmatch(last):
                    out.append(host)
        elif (glued := _GLUED_WORD.search(part)) is not None:
            out.append(part[:glued.start()])  # ".../page.html.Then": the page without the next sentence


def may_hold_url(text: str) -> bool:
    """Whether ``url_parts(text)`` can find anything: a cheap test for the hot loops (a string without a
    dot, ``//``, ``%``, ``dot``, ``]`` with ``:`` or non-ASCII characters holds no URL or host in any
    spelling)."""
    return "." in text or "//" in text or _MAYBE_URL(text)


def _other_url_signs(text: str) -> bool:
    """``may_hold_url`` for a string without "." or "//" (the hot loops test those two inline)."""
    return ("%" in text or not text.isascii() or "dot" in text or "DOT" in text or "Dot" in text
            or ("]" in text and ":" in text) or "&#" in text or "&period;" in text  # an IPv6 literal ("[2001:db8::1]") has no dot
            or "<" in text)  # a tag can split "//" ("/<b></b>/3232235777": a decimal IPv4): url_parts reads it dropped


_MAYBE_URL = _other_url_signs


def collect(value: Any, texts: list[str], links: list[str]) -> None:
    """Append every string in ``value`` (keys included, except ``FORMAT_KEYS``) to ``texts`` and its
    URL-shaped parts to ``links``."""
    # The hot loop of every screened page (each result's strings go through here once). Written out by
    # hand, without a per-member tuple or helper call: the order of ``texts`` is the order of the old
    # generic loop (a key before its value; nested containers after their parent's members, last pushed
    # first), which tests/test_walk_fast.py checks against a plain reference walk.
    stack = [value]
    pop, push = stack.pop, stack.append
    add_text, add_links = texts.append, links.extend
    format_keys = FORMAT_KEYS
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if key and key not in format_keys:
                    add_text(key)
                    if "<" in key and (plain := strip_tags(key)) != key:
                        add_text(plain)
                    if "." in key or "//" in key or _MAYBE_URL(key):
                        add_links(url_parts(key))
                kind = type(child)
                if kind is str:
                    if child:
                        add_text(child)
                        if "<" in child and (plain := strip_tags(child)) != child:
                            add_text(plain)
                        if "." in child or "//" in child or _MAYBE_URL(child):
                            add_links(url_parts(child))
                elif kind is dict or kind is list:
                    push(child)
        elif kind is list or kind is tuple:
            for child in item:
                kind = type(child)
                if kind is str:
                    if child:
                        add_text(child)
                        if "<" in child and (plain := strip_tags(child)) != child:
                            add_text(plain)
                        if "." in child or "//" in child or _MAYBE_URL(child):
                            add_links(url_parts(child))
                elif kind is dict or kind is list or kind is tuple:
                    push(child)
        elif kind is str and item:
            add_text(item)
            if "<" in item and (plain := strip_tags(item)) != item:
                add_text(plain)
            add_links(url_parts(item))
        # Numbers, booleans and null carry no text.


def raw_strings_py(value: Any, out: list[str]) -> None:
    """The strings ``collect`` reads in ``value``, in its order, as they are: without the copies without
    markup and without URL parts, which a caller derives once per distinct string (``page_results``).
    The definition; ``raw_strings`` is the compiled copy when it is built (``_walk_kernel.pyx``)."""
    stack = [value]
    pop, push = stack.pop, stack.append
    add = out.append
    format_keys = FORMAT_KEYS
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key, child in item.items():
                if key and key not in format_keys:
                    add(key)
                kind = type(child)
                if kind is str:
                    if child:
                        add(child)
                elif kind is dict or kind is list:
                    push(child)
        elif kind is list or kind is tuple:
            for child in item:
                kind = type(child)
                if kind is str:
                    if child:
                        add(child)
                elif kind is dict or kind is list or kind is tuple:
                    push(child)
        elif kind is str and item:
            add(item)



try:  # the compiled copy (setup.py builds it when it can; tests/test_walk_kernel.py compares the two)
    from filter_proxy.adapters import _walk_kernel  # type: ignore[attr-defined]
except ImportError:  # no compiler at install time: the definition itself
    _walk_kernel = None
if _walk_kernel is not None:
    _walk_kernel.set_format_keys(FORMAT_KEYS)
    raw_strings: Callable[[Any, list[str]], None] = _walk_kernel.raw_strings
else:
    raw_strings = raw_strings_py

def strings(value: Any) -> tuple[list[str], list[str]]:
    """``(texts, links)`` of ``value`` (see ``collect``)."""
    texts: list[str] = []
    links: list[str] = []
    collect(value, texts, links)
    return texts, links


def _add_string(text: str, texts: list[str], links: list[str]) -> None:
    """``collect`` of one string (a non-empty one: its text, without markup, and its URL parts)."""
    texts.append(text)
    if "<" in text and (plain := strip_tags(text)) != text:
        texts.append(plain)
    if "." in text or "//" in text or _MAYBE_URL(text):
        links.extend(url_parts(text))


def collect_except(value: Any, texts: list[str], links: list[str], skip: set[int],
                   skip_keys: set[tuple[int, Any]]) -> None:
    """``collect`` that does not enter the containers whose ``id`` is in ``skip`` (already screened and
    kept) nor the members in ``skip_keys`` (a backend's echo of the request): ``(id(object), key)`` or
    ``(id(array), index)``."""
    # As collect(), a key or string read here is read as ``collect(key)`` reads it: a key that is not a
    # string (only possible in a document built in process) carries no text.
    stack = [value]
    pop, push = stack.pop, stack.append
    format_keys = FORMAT_KEYS
    while stack:
        item = pop()
        if id(item) in skip:
            continue
        kind = type(item)
        if kind is dict:
            here = id(item)
            for key, child in item.items():
                if skip_keys and (here, key) in skip_keys:
                    continue
                if type(key) is str and key and key not in format_keys:
                    _add_string(key, texts, links)
                kind = type(child)
                if kind is str:
                    if child:
                        _add_string(child, texts, links)
                elif (kind is dict or kind is list) and id(child) not in skip:
                    push(child)
        elif kind is list:
            here = id(item)
            for index, child in enumerate(item):
                if skip_keys and (here, index) in skip_keys:
                    continue
                kind = type(child)
                if kind is str:
                    if child:
                        _add_string(child, texts, links)
                elif (kind is dict or kind is list) and id(child) not in skip:  # a kept result: not entered
                    push(child)
        elif kind is str and item:
            _add_string(item, texts, links)
