"""URL canonicalisation as browsers read URLs (WHATWG URL Standard), and the text a fallback match reads.

Canonical form (``canonicalize_url``): ``http`` and ``https`` are one scheme (written ``http``); in the
special schemes (http, https, ws, wss, ftp) a backslash is a slash, as browsers treat it, and any number of
slashes may follow the scheme (``https:\\\\host\\x``, ``http:host``); tab and newline characters anywhere are
dropped and edge spaces/control characters stripped; userinfo and fragment dropped. The host is
percent-decoded, mapped and IDNA-encoded (UTS #46, as browsers do: a Unicode host and its punycode are one
host), lower-cased, trailing dots and ``www.`` dropped; a host that ends in a number is an IPv4 address in
any of the forms browsers accept (``3232235777``, ``0xC0A80101``, ``0300.0250.1.1``, ``127.1``) and is
written dotted-decimal; an IPv4-mapped or NAT64 (``64:ff9b::/96``) IPv6 address is written as the IPv4
address it reaches. Default port dropped;
percent-encoding normalised (unreserved characters decoded, hex upper-cased, other non-ASCII encoded);
``.``/``..`` segments resolved and duplicate ``/`` collapsed; trailing slash dropped; tracking parameters
(``utm_*``, ``gclid``, ``fbclid``, ...) removed, the rest sorted. What cannot be read this way gives None,
and ``filter_proxy.signals.urls`` then matches it on ``fallback_text`` instead: never "allowed because
unparsable".

Speed: most result URLs are already canonical but for the scheme, ``www.``, a trailing slash and the query's
order and tracking parameters; one regex (``_PLAIN_URL``) recognises exactly those and skips the general
parser (on the speed suite's pool, a quarter with ``?utm_source=..``, half with ``www.``: ~1.9 µs per URL
instead of ~8). Anything else takes the full path; a property test checks both agree. Ahead of all this,
``UrlIndex.match`` tries the compiled reader (``signals/_url_kernel.pyx`` ``plain``), which answers as this
function does for a somewhat wider plain shape (tests/test_url_kernel.py) and reads the tracking names
from ``_clean_query.tracking`` / ``.prefixes``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import quote, unquote_to_bytes

import idna

__all__ = ["canonicalize_url", "canonical_host", "fallback_text", "host_spans", "match_form"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
_SPECIAL = frozenset(_DEFAULT_PORTS)  # WHATWG special schemes with a host (file: has none worth matching)
_WEB = {"http", "https"}
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_")
_TRACKING = frozenset({"gclid", "dclid", "gclsrc", "gbraid", "wbraid", "fbclid", "msclkid", "yclid", "twclid",
                       "ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_ga", "_gl", "ref_src", "spm",
                       "_hsenc", "_hsmi", "mkt_tok", "vero_id", "oly_anon_id", "oly_enc_id", "rb_clickid"})
_HOST_OK = re.compile(r"[a-z0-9.\-_]+")
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_QUERY_SAFE = "/:@!$'()*+,;=-._~%?"
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# WHATWG strips leading and trailing C0 controls and spaces, and removes tab and newline anywhere.
_EDGE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_HEX = frozenset("0123456789abcdefABCDEF")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are the IPv4 address
# A URL the full path below would only change in scheme, ``www.``, trailing slash and query order: http(s),
# a lower-case ASCII host (``www.`` dropped when two labels remain, as ``canonical_host`` does) without
# port, userinfo or trailing dot, path segments of unreserved characters that are neither empty nor dot
# segments, an optional query of unreserved characters, ``=`` and ``&`` (tracking parameters still go),
# no fragment. One regex instead of the general parser.
_PLAIN_URL = re.compile(r"https?://(?:www\.)?((?!www\.)[a-z0-9-]+(?:\.[a-z0-9-]+)+)"
                        r"((?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*)/?(?:\?([A-Za-z0-9._~=&-]*))?")


def _pct(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _norm_component(text: str, safe: str) -> str:
    """Decode unreserved escapes, upper-case the rest, and percent-encode anything unsafe or non-ASCII."""
    if "%" in text:
        text = _PCT.sub(_pct, text)
    return quote(text, safe=safe) if not text.isascii() or not _SAFE_RE[safe].fullmatch(text) else text


_SAFE_RE = {safe: re.compile("[A-Za-z0-9" + re.escape(safe) + "]*") for safe in (_PATH_SAFE, _QUERY_SAFE)}


def _idna(host: str) -> str | None:
    """UTS #46 mapping (case, width, compatibility forms, ideographic full stops) and punycode per label,
    as browsers do it (no STD3 rules: ``_`` stays); None when a code point is disallowed."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        if "\u200c" in mapped or "\u200d" in mapped:
            # Joiners are kept by the mapping but refused by browsers outside the scripts that need them
            # (CONTEXTJ): not a host to reach as written; the fallback reads the text without them.
            return None
        return ".".join(label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
                        for label in mapped.split("."))
    except (idna.IDNAError, UnicodeError, ValueError):
        return None


def _ipv4_number(part: str) -> int | None:
    if part[:2] in ("0x", "0X"):
        digits, radix = part[2:], 16
        if digits and not set(digits) <= _HEX:
            return None
        return int(digits, 16) if digits else 0
    digits, radix = (part[1:], 8) if len(part) > 1 and part[0] == "0" else (part, 10)
    if not digits.isascii() or not digits.isdigit() or (radix == 8 and not set(digits) <= set("01234567")):
        return None
    return int(digits, radix)


def _ipv4(host: str) -> str | None | bool:
    """WHATWG IPv4 parser: the dotted form, False when the host is not IPv4-shaped (its last label is not a
    number), None when it ends in a number but is no valid address (browsers refuse such a host)."""
    parts = host.split(".")
    last = parts[-1]
    if not last or not (last.isdigit() or (last[:2] == "0x" and set(last[2:]) <= _HEX)):
        return False
    if len(parts) > 4:
        return None
    numbers = [_ipv4_number(p) if p else None for p in parts]
    if any(n is None for n in numbers):
        return None
    *head, tail = numbers
    if any(n > 255 for n in head) or tail >= 256 ** (5 - len(numbers)):  # type: ignore[operator]
        return None
    value = tail + sum(n << (8 * (3 - i)) for i, n in enumerate(head))  # type: ignore[operator]
    return str(ipaddress.IPv4Address(value))


def canonical_host(host: str) -> str | None:
    """Percent-decoded, IDNA-encoded, lower-cased host without trailing dots or ``www.``; IPv4 forms
    dotted-decimal; IPv6 in brackets, compressed. None when browsers would not accept it as a host."""
    try:
        return _canonical_host(host.strip())
    except (ValueError, UnicodeError):
        return None


def _canonical_host(host: str) -> str | None:
    if not host:
        return None
    if host[0] == "[":
        if host[-1] != "]":
            return None
        address = ipaddress.IPv6Address(host[1:-1])  # ValueError on zone ids and garbage
        mapped = address.ipv4_mapped
        if mapped is None and address in _NAT64:  # the well-known NAT64 prefix reaches that IPv4 host
            mapped = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        return str(mapped) if mapped is not None else f"[{address.compressed}]"
    if "%" in host:
        host = unquote_to_bytes(host).decode("utf-8")  # UnicodeDecodeError on bytes that are not UTF-8
    if not host.isascii():
        host = _idna(host) or ""
    host = host.lower().rstrip(".")
    if not host or not _HOST_OK.fullmatch(host) or ".." in host or host[0] == ".":
        return None
    ipv4 = _ipv4(host)
    if ipv4 is not False:
        return ipv4 or None
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


def _clean_path(path: str) -> str:
    if not path:
        return ""
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    return "/" + "/".join(out) if out else ""


def _clean_query(query: str) -> str:
    kept = []
    for part in query.split("&"):
        if not part:
            continue
        name = part.split("=", 1)[0].lower()
        if name in _TRACKING or name.startswith(_TRACKING_PREFIXES):
            continue
        kept.append(_norm_component(part, _QUERY_SAFE))
    kept.sort()
    return "&".join(kept)


# What the compiled plain-URL reader (signals/_url_kernel.pyx) reads the tracking names from: one list.
_clean_query.tracking = _TRACKING  # type: ignore[attr-defined]
_clean_query.prefixes = _TRACKING_PREFIXES  # type: ignore[attr-defined]


def canonicalize_url(url: str) -> str | None:
    """The canonical form of ``url`` (see module docstring), or None when it cannot be read. Never raises."""
    try:
        if not isinstance(url, str):
            return None
        plain = _PLAIN_URL.fullmatch(url)
        # (A host whose last label starts with a digit may be a numeric IPv4 form: the full path reads it.)
        if plain is not None and not plain[1][plain[1].rfind(".") + 1].isdigit():
            # already canonical but for scheme, www., slash, query order: most result URLs
            query = plain[3]
            if query and (query := _clean_query(query)):
                return "http://" + plain[1] + plain[2] + "?" + query
            return "http://" + plain[1] + plain[2]
        return _canonicalize(url.strip(_EDGE))
    except (ValueError, UnicodeError, TypeError):
        return None


def _canonicalize(url: str) -> str | None:
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.translate(_TAB_NEWLINE)
    url = url.partition("#")[0]
    found = _SCHEME.match(url)
    scheme, rest = "http", url  # no scheme: a bare host or //host, read as http
    if found is not None:
        name, after = found[1].lower(), url[found.end():]
        if name in _SPECIAL or after.startswith("//"):
            scheme, rest = name, after
        # else "host:8080/x": a host and port, not a scheme
    rest, mark, query = rest.partition("?")
    if scheme in _SPECIAL:
        rest = rest.replace("\\", "/").lstrip("/")  # browsers: "\" is "/", any number of slashes after the scheme
    elif rest.startswith("//"):
        rest = rest[2:]
    else:
        return None  # mailto:, javascript:, data:...: no host to canonicalise
    authority, slash, path = rest.partition("/")
    authority = authority.rpartition("@")[2]  # userinfo is ignored (browsers use the last "@")
    if authority.startswith("["):
        end = authority.find("]") + 1
        hostname, port_text = authority[:end], authority[end:]
        if port_text and port_text[0] != ":":
            return None
        port_text = port_text[1:]
    else:
        hostname, _, port_text = authority.partition(":")
    host = canonical_host(hostname)
    if host is None:
        return None
    port: int | None = None
    if port_text:
        if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
            return None
        port = int(port_text)
    if scheme in _WEB:
        scheme = "http"
        default = port in (80, 443)
    else:
        default = port == _DEFAULT_PORTS.get(scheme)
    netloc = host if port is None or default else f"{host}:{port}"
    path = _clean_path(_norm_component(slash + path, _PATH_SAFE))
    query = _clean_query(query) if mark and query else ""
    return f"{scheme}://{netloc}{path}" + (f"?{query}" if query else "")


def match_form(canonical: str) -> str:
    """The form a canonical URL is matched in (entries and URLs alike): a scheme that is not a special one
    (a defanged ``hxxp``) written ``http``, its path lower-cased, ``;params``
    dropped from each segment, encoded slashes (``%2F``, ``%5C``) read as slashes and the path cleaned
    again. Many servers answer a path in any case, drop ``;jsessionid=...`` and decode ``%2F``, so a listed
    page or prefix is matched in every such spelling (this can only over-block another page that differs
    from a listed one in exactly these ways). The query is kept as it is. ``canonicalize_url`` itself
    keeps the path as browsers send it (the image hash cache keys on it)."""
    if not canonical.startswith("http://"):
        scheme, sep, rest = canonical.partition("://")
        # "hxxp://", "hxxps://", "ttps://", "h**p://" (read from its "p"): a scheme no browser has, over a
        # host and path, is http defanged in a write-up
        if sep and scheme not in _SPECIAL:
            canonical = "http://" + rest
    base, mark, query = canonical.partition("?")
    slash = base.find("/", base.find("://") + 3)
    if slash < 0:
        return canonical
    path = base[slash:]
    new = path.lower()
    if "%" in new:
        new = new.replace("%2f", "/").replace("%5c", "/")
        new = _PCT.sub(lambda m: "%" + m.group(1).upper(), new)
    if ";" in new:
        new = "/".join(segment.partition(";")[0] for segment in new.split("/"))
    if new == path:
        return canonical
    return base[:slash] + _clean_path(new) + mark + query


# -- fallback: what an unparsable URL is matched on ---------------------------------------------------------

# Runs of characters a host can be made of (non-ASCII included, for Unicode hosts); everything else
# (separators, quotes, spaces, "@", ":" ...) splits the text.
_HOST_RUN = re.compile(r"[0-9a-z\-_.\u00a0-\U0010ffff]+")
# Full stops that UTS #46 maps to "." (ideographic, full-width, half-width ideographic).
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": ".",
                       # and characters a reader does not see inside a host (zero-width, joiners, soft hyphen)
                       **dict.fromkeys("\u00ad\u034f\u180e\u200b\u200c\u200d\u200e\u200f\u2060\ufeff", "")})


def fallback_text(url: str) -> str:
    """The text an unparsable URL is matched on: lower-cased, tab/newline removed, backslashes as slashes,
    percent-decoded (repeatedly, as an encoded escape is still an escape to a second decoder)."""
    text = url.translate(_TAB_NEWLINE).lower()
    for _ in range(3):
        if "%" not in text:
            break
        # surrogatepass: a lone surrogate (JSON allows "\ud800") must not make the fallback raise.
        decoded = unquote_to_bytes(text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace").lower()
        if decoded == text:
            break
        text = decoded
    return text.replace("\\", "/").translate(_DOTS)


def host_spans(text: str, max_labels: int) -> set[str]:
    """Every run of at most ``max_labels`` whole host labels in ``text``: for ``x.blocked.example.invalid/p``
    and 3 that is ``x``, ``x.blocked``, ``x.blocked.example``, ``blocked``, ... ``invalid``. A non-ASCII label
    is also tried in its IDNA form, and a numeric run as an IPv4 address. The work is linear in the text
    (at most ``max_labels`` spans per label, the longest label run of any listed host), so a long hostile
    string costs no more than its length."""
    out: set[str] = set()
    for run in _HOST_RUN.finditer(text):
        token = run.group()
        raw = token.split(".")
        forms = [raw]
        if not token.isascii():
            forms.append([label if label.isascii() else (_idna(label) or label) for label in raw])
        for labels in forms:
            count = len(labels)
            for i in range(count):
                if not labels[i]:
                    continue
                for j in range(i + 1, min(count, i + max_labels) + 1):
                    if not labels[j - 1]:
                        break
                    out.add(".".join(labels[i:j]))
            if count <= 5 and labels[-1][:1].isdigit():  # numeric forms of an IPv4 address have <= 4 parts
                ipv4 = _ipv4(".".join(labels).strip("."))
                if isinstance(ipv4, str):
                    out.add(ipv4)
    return out
