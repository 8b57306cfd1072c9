"""How a person writes a listed address so that a reader still reaches it: the evader's generators of the URL
red-team pass (tests/test_url_evasion.py), written independently of tests/test_urls_fail_closed.py.

A ``Target`` is one listed entry (a domain, a path prefix, an exact page, an IPv4 address, an IPv6 prefix);
``spelling(target)`` draws one class of disguise (``CLASSES``) and returns ``(class, text)``: a string that
holds the address so that a browser, or a reader who types what they see, reaches the listed page. Some
classes are prose (``in_prose``: a defanged host, a host glued to the next sentence), the others are a URL
that may stand alone in a URL field. ``neighbour(target)`` draws the same disguises of an address next to
the listed one that is not listed (another host, another path): nothing may match it.

Only ``*.example.invalid`` hosts and documentation addresses (192.0.2.0/24, 2001:db8::/32).
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from urllib.parse import quote

from hypothesis import strategies as st

WORDS = st.sampled_from(["see", "mirror", "at", "the", "notes", "visit", "archive", "posted", "link", "here"])
PROSE = st.lists(WORDS, max_size=4).map(" ".join)
SUBS = st.sampled_from(["cdn", "m", "img2", "www", "a-b"])
SEGS = st.sampled_from(["x", "photo", "v2", "index.html", "a_b", "Page-7"])
INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u00ad", "\u2060", "\ufeff"])
WIDE_DOTS = st.sampled_from(["\u3002", "\uff0e", "\uff61"])


@dataclass(frozen=True)
class Target:
    kind: str  # "domain", "prefix", "exact", "ipv4", "ipv6"
    host: str
    path: str = ""  # "/gallery" for a prefix, "/item/page.html" for a page

    @property
    def entry(self) -> str:
        if self.kind == "domain":
            return self.host
        if self.kind == "ipv4":
            return self.host
        if self.kind == "ipv6":
            return f"http://[{self.host}]/*"
        return f"https://{self.host}{self.path}" + ("/*" if self.kind == "prefix" else "")


TARGETS = [
    Target("domain", "blocked.example.invalid"),
    Target("domain", "bad.example.invalid"),
    Target("prefix", "host.example.invalid", "/gallery"),
    Target("exact", "pages.example.invalid", "/item/page.html"),
    Target("ipv4", "192.0.2.66"),
    Target("ipv6", "2001:db8::66"),
    Target("domain", "bücher.example.invalid"),  # an internationalised name (IDN_CLASSES)
]
# Addresses next to the listed ones: another label, another path, another address.
NEIGHBOURS = [
    Target("domain", "notblocked.example.invalid"),
    Target("domain", "bad-example.invalid"),
    Target("prefix", "host.example.invalid", "/galleryx"),
    Target("prefix", "other.example.invalid", "/gallery"),
    Target("exact", "pages.example.invalid", "/item/other.html"),
    Target("ipv4", "192.0.2.67"),
    Target("ipv6", "2001:db8::67"),
    Target("domain", "büchers.example.invalid"),
]

URL_CLASSES = ["plain", "case", "trailing dot", "default port", "userinfo", "backslashes", "no scheme",
               "scheme-relative", "hxxp", "slashes", "percent host", "percent path", "double percent",
               "unicode dots", "full-width", "invisible", "ip forms", "redirect", "nested redirect",
               "path forms", "base64 redirect", "base64 path", "base64 bare", "hex encoded", "percent segment",
               "path redirect", "decoys", "punycode"]
PROSE_CLASSES = ["glued", "wrapped", "markdown", "html", "e-mail", "defanged", "spaced dots", "prose invisible",
                 "prose unicode", "entities", "tags inside", "math letters"]
CLASSES = URL_CLASSES + PROSE_CLASSES
# The classes drawn for an internationalised name: a URL that holds it (as written, in punycode, carried by
# a redirector in any encoding), and an HTML link to it. Not yet: the name without a scheme in prose
# ("userinfo", "markdown", "wrapped" draw that too): walk.url_parts reads ASCII host names only there.
IDN_CLASSES = ["plain", "case", "trailing dot", "default port", "scheme-relative", "redirect", "base64 redirect",
               "nested redirect", "base64 path", "base64 bare", "hex encoded", "percent segment", "path redirect",
               "decoys", "punycode", "html"]


def in_prose(kind: str) -> bool:
    return kind in PROSE_CLASSES


def _case(draw: st.DrawFn, text: str) -> str:
    return "".join(c.upper() if c.isalpha() and draw(st.booleans()) else c for c in text)


def _pct(draw: st.DrawFn, text: str, keep: str = "") -> str:
    """Some characters of ``text`` percent-encoded (in either hex case); those in ``keep`` never."""
    out = []
    for c in text:
        if c not in keep and draw(st.booleans()):
            code = f"%{ord(c):02X}"
            out.append(code.lower() if draw(st.booleans()) else code)
        else:
            out.append(c)
    return "".join(out)


def _ipv4_form(draw: st.DrawFn, address: str) -> str:
    """One of the spellings browsers read as the same IPv4 address."""
    value = int(ipaddress.IPv4Address(address))
    parts = [int(p) for p in address.split(".")]
    form = draw(st.sampled_from(["dotted", "decimal", "hex", "octal", "mixed", "three parts", "two parts"]))
    if form == "decimal":
        return str(value)
    if form == "hex":
        return hex(value)
    if form == "octal":
        return ".".join(f"0{p:o}" for p in parts)
    if form == "mixed":
        return ".".join(draw(st.sampled_from([str(p), hex(p), f"0{p:o}"])) for p in parts)
    if form == "three parts":
        return f"{parts[0]}.{parts[1]}.{parts[2] * 256 + parts[3]}"
    if form == "two parts":
        return f"{parts[0]}.{value & 0xFFFFFF}"
    return address


def _host_and_path(draw: st.DrawFn, target: Target) -> tuple[str, str]:
    """The host (maybe a sub-domain of a listed domain) and a path that the entry covers."""
    host, path = target.host, target.path
    if target.kind == "domain" and draw(st.booleans()):
        host = draw(SUBS) + "." + host
    if target.kind == "ipv6":
        host = "[" + draw(st.sampled_from([host, host.upper(), ipaddress.IPv6Address(host).exploded])) + "]"
    if target.kind in ("prefix", "domain", "ipv4", "ipv6") and draw(st.booleans()):
        path += "/" + "/".join(draw(st.lists(SEGS, min_size=1, max_size=2)))
    return host, path


@st.composite
def spelling(draw: st.DrawFn, target: Target, kinds: list[str] | None = None) -> tuple[str, str]:
    """``(class, text)``: the address of ``target`` in one disguise (see the module docstring)."""
    usable = [k for k in (kinds or CLASSES) if _fits(k, target)]
    kind = draw(st.sampled_from(usable))
    host, path = _host_and_path(draw, target)
    url = "https://" + host + path
    # What stands for the address without a scheme: a listed host alone, else the host and the path.
    tail = "" if target.kind in ("domain", "ipv4") else path

    if kind == "plain":
        text = url
    elif kind == "case":
        text = _case(draw, "http://" + host) + (path if target.kind in ("domain", "ipv4") else path)
    elif kind == "trailing dot":
        text = "http://" + host + "." + path
    elif kind == "default port":
        text = draw(st.sampled_from(["http://", "https://"])) + host + draw(st.sampled_from([":80", ":443"])) + path
    elif kind == "userinfo":
        who = draw(st.sampled_from(["ok.example.invalid@", "user:pw@", "safe.example.invalid:80@", "a%40b@"]))
        text = draw(st.sampled_from(["https://", ""])) + who + host + (path or "/")
    elif kind == "backslashes":
        text = draw(st.sampled_from(["https:\\\\", "http:\\/", "https:/\\"])) + host + path.replace("/", "\\")
    elif kind == "no scheme":
        text = host + (path or "/" + draw(SEGS))
    elif kind == "scheme-relative":
        text = "//" + host + path
    elif kind == "hxxp":
        text = draw(st.sampled_from(["hxxp://", "hxxps://", "hXXp://", "h**p://", "ttps://", "h__ps://"])) + host + path
    elif kind == "slashes":
        text = draw(st.sampled_from(["http:/", "http:///", "https:////", "http:"])) + host + (path or "/")
    elif kind == "percent host":
        text = "http://" + _pct(draw, host, keep="[]:") + path
    elif kind == "percent path":
        text = "https://" + host + path[:1] + _pct(draw, path[1:])
    elif kind == "double percent":
        text = "http://" + _pct(draw, host, keep="[]:").replace("%", "%25") + path
    elif kind == "unicode dots":
        dot = draw(WIDE_DOTS)
        text = draw(st.sampled_from(["https://", ""])) + host.replace(".", dot) + (path or "/")
    elif kind == "full-width":
        wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() and draw(st.booleans()) else c for c in host)
        text = draw(st.sampled_from(["https://", ""])) + wide + (path or "/")
    elif kind == "invisible":
        text = "https://" + _invisible(draw, host) + path
    elif kind == "ip forms":
        text = draw(st.sampled_from(["http://", "https://", "//"])) + _ipv4_form(draw, host) + path
    elif kind == "redirect":
        inner = draw(st.sampled_from([url, "//" + host + path, host + path]))
        encoded = quote(inner, safe="") if draw(st.booleans()) else inner
        if draw(st.booleans()):
            encoded = quote(encoded, safe="")
        name = draw(st.sampled_from(["url", "u", "to", "target", "dest", "r"]))
        text = f"https://r.example.invalid/out?{name}={encoded}" + draw(st.sampled_from(["", "&x=1", "#top"]))
    elif kind == "base64 redirect":  # the target encoded whole: standard or URL-safe, padded or not
        inner = draw(st.sampled_from([url, "//" + host + path, host + path])).encode()
        encoded = (base64.urlsafe_b64encode(inner) if draw(st.booleans()) else base64.b64encode(inner)).decode()
        if draw(st.booleans()):
            encoded = encoded.rstrip("=")
        if draw(st.booleans()):
            encoded = quote(encoded, safe="")
        name = draw(st.sampled_from(["url", "u", "to", "target", "dest", "r", "q"]))
        text = f"https://r.example.invalid/out?{name}={encoded}" + draw(st.sampled_from(["", "&x=1", "#top"]))
    elif kind == "base64 path":  # the target in base64 as a path segment (a redirector's /out/<token>)
        text = "https://r.example.invalid/" + draw(st.sampled_from(["out/", "r/", "go/", "l/x/", ""]))
        inner = draw(st.sampled_from([url, "//" + host + path, host + path]))
        text += _base64_segment(draw, inner + draw(st.sampled_from(["", "", "\n"])))  # "\n": echo URL | base64
        text += draw(st.sampled_from(["", "/", "?s=1", "#top", "/x.html", ".html", ".jpg"]))
    elif kind == "base64 bare":  # the whole query or fragment is the target in base64, no name
        inner = draw(st.sampled_from([url, "//" + host + path, host + path])).encode()
        encoded = (base64.urlsafe_b64encode(inner) if draw(st.booleans()) else base64.b64encode(inner)).decode()
        encoded = encoded.rstrip("=") if draw(st.booleans()) else encoded
        text = "https://r.example.invalid/out" + draw(st.sampled_from(["?", "#", "/?", "/#"])) + encoded
    elif kind == "hex encoded":  # the target's bytes in hexadecimal, as a query value or a path segment
        inner = draw(st.sampled_from([url, "//" + host + path, host + path])).encode().hex()
        inner = inner.upper() if draw(st.booleans()) else inner
        if draw(st.booleans()):
            name = draw(st.sampled_from(["url", "u", "to", "r", "h"]))
            text = f"https://r.example.invalid/out?{name}={inner}" + draw(st.sampled_from(["", "&x=1", "#top"]))
        else:
            text = "https://r.example.invalid/" + draw(st.sampled_from(["out/", "r/", "h/x/", ""])) + inner
            text += draw(st.sampled_from(["", "/", "?s=1"]))
    elif kind == "percent segment":  # the target percent-encoded once to three times as one path segment
        inner = draw(st.sampled_from([url, "//" + host + path, host + path]))
        for _ in range(draw(st.integers(1, 3))):
            inner = quote(inner, safe="")
        text = "https://r.example.invalid/" + draw(st.sampled_from(["out/", "r/", "go/x/"])) + inner
        text += draw(st.sampled_from(["", "/", "?s=1", "#top"]))
    elif kind == "path redirect":  # the target's host (and path) as path segments, no scheme, or "https:/"
        at = draw(st.sampled_from(["https://r.example.invalid/go/", "https://r.example.invalid/out/x/",
                                   "https://web.example.invalid/", "https://app.example.invalid/#/go/"]))
        scheme = draw(st.sampled_from(["", "", "https:/", "http:"])) + draw(st.sampled_from(["", "", "", "me@", "a:b@"]))
        text = at + scheme + host + (path or draw(st.sampled_from(["", "/", "/" + draw(SEGS)])))
    elif kind == "decoys":  # the target among many host or URL values (more than a reader may bound its reading)
        decoys = [f"d{k}.example.invalid" for k in range(draw(st.integers(12, 40)))]
        inner = draw(st.sampled_from([url, "//" + host + path, host + path]))
        form = draw(st.sampled_from(["plain", "base64", "hex", "path"]))
        if form == "path":  # a redirector reading the rest of the path from where its target starts
            text = "https://r.example.invalid/go/" + "/".join(decoys + [host + path])
        else:
            if form == "base64":
                inner = base64.urlsafe_b64encode(inner.encode()).decode().rstrip("=")
            elif form == "hex":
                inner = inner.encode().hex()
            values = [f"a{k}={d}" for k, d in enumerate(decoys)]
            values.insert(draw(st.integers(0, len(values))), "url=" + inner)
            text = "https://r.example.invalid/out?" + "&".join(values)
    elif kind == "punycode":  # an internationalised name as its ASCII form, alone or carried by a redirector
        ascii_url = "https://" + host.encode("idna").decode() + path
        form = draw(st.sampled_from(["plain", "path", "base64", "query"]))
        if form == "plain":
            text = ascii_url
        elif form == "path":
            text = "https://r.example.invalid/go/" + ascii_url.split("://", 1)[1]
        elif form == "base64":
            text = "https://r.example.invalid/out/" + base64.urlsafe_b64encode(ascii_url.encode()).decode()
        else:
            text = "https://r.example.invalid/out?to=" + ascii_url.split("://", 1)[1]
    elif kind == "nested redirect":
        first = "https://s.example.invalid/go?to=" + quote(url, safe="")
        text = "https://r.example.invalid/out?url=" + quote(first, safe="")
        if draw(st.booleans()):
            text = "https://web.example.invalid/save/" + url  # an archive-style proxy: the URL in the path
    elif kind == "path forms":
        text = "https://" + host + _path_form(draw, path)
    elif kind == "glued":
        # the next sentence starts right after the dot: any word after a host, a capitalised one after a
        # path (".../page.html.then" cannot be told from a file name)
        words = ["Then", "It", "Next"] + (["then", "and"] if not tail and "/" not in path else [])
        text = host + path + "." + draw(st.sampled_from(words)) + " " + draw(WORDS)
    elif kind == "wrapped":
        left, right = draw(st.sampled_from(["()", "[]", "{}", "<>", "\"\"", "''", "\u201c\u201d", "\u00ab\u00bb"]))
        text = left + draw(st.sampled_from([url, host + path, host + tail])) + right + draw(st.sampled_from(["", ".", ",", ";"]))
    elif kind == "markdown":
        text = f"[{draw(WORDS)}]({draw(st.sampled_from([url, host + path, host + tail]))})"
    elif kind == "html":
        text = f"<a href=\"{draw(st.sampled_from([url, '//' + host + path]))}\">{draw(WORDS)}</a>"
    elif kind == "e-mail":
        text = draw(st.sampled_from(["me", "a.b", "x+y"])) + "@" + _case(draw, host)
    elif kind == "defanged":
        dot = draw(st.sampled_from(["[.]", "(.)", "{.}", "[dot]", "(dot)", "[DOT]", " [.] ", " dot ", " DOT "]))
        scheme = draw(st.sampled_from(["", "hxxp://", "hxxps[://]", "https[:]//"]))
        text = scheme + host.replace(".", dot) + (path if scheme else tail)
    elif kind == "spaced dots":
        text = host.replace(".", " . ") + tail
    elif kind == "prose invisible":
        text = _invisible(draw, host) + tail
    elif kind == "entities":  # shown as dots by whatever renders the snippet as HTML
        dot = draw(st.sampled_from(["&#46;", "&#x2e;", "&#X2E;", "&period;", "&#046;"]))
        text = draw(st.sampled_from(["", "https://"])) + host.replace(".", dot) + tail
    elif kind == "tags inside":  # markup that shows nothing inside the host
        tag = draw(st.sampled_from(["<wbr>", "<b></b>", "<span>", "</em>", "<!-- -->"]))
        at = draw(st.integers(1, len(host) - 1))
        text = host[:at] + tag + host[at:] + tail
    elif kind == "math letters":  # styled letters (bold, double-struck, circled) that NFKC and UTS #46 map
        base = draw(st.sampled_from([0x1D41A, 0x1D552, 0x24D0]))  # a in each alphabet
        text = "".join(chr(base + ord(c) - 97) if "a" <= c <= "z" and draw(st.booleans()) else c for c in host)
        text = draw(st.sampled_from(["", "https://"])) + text + tail
    else:  # "prose unicode": full stops and full-width letters in a host written in prose
        text = "".join(draw(WIDE_DOTS) if c == "." and draw(st.booleans())
                       else chr(ord(c) + 0xFEE0) if c.isalpha() and draw(st.booleans()) else c for c in host) + tail
    return kind, text


def _base64_segment(draw: st.DrawFn, inner: str) -> str:
    """``inner`` in base64 as written in a path: URL-safe (padded or not), or standard with its ``/`` kept
    (the redirector reads the rest of the path) or percent-encoded, maybe all of it percent-encoded."""
    form = draw(st.sampled_from(["url-safe", "standard", "standard %2F"]))
    if form == "url-safe":
        encoded = base64.urlsafe_b64encode(inner.encode()).decode()
    else:
        encoded = base64.b64encode(inner.encode()).decode()
    if draw(st.booleans()):
        encoded = encoded.rstrip("=")
    if form == "standard %2F":
        encoded = encoded.replace("/", draw(st.sampled_from(["%2F", "%2f"])))
    if draw(st.booleans()):
        encoded = quote(encoded, safe="/" if form == "standard" else "")
    return encoded


def _invisible(draw: st.DrawFn, host: str) -> str:
    """An invisible character inside the host's longest label."""
    longest = max(host.split("."), key=len)
    at = host.index(longest) + draw(st.integers(1, len(longest) - 1))
    return host[:at] + draw(INVISIBLE) + host[at:]


def _fits(kind: str, target: Target) -> bool:
    if not target.host.isascii() or kind == "punycode":
        return not target.host.isascii() and kind in IDN_CLASSES
    if kind == "ip forms":
        return target.kind == "ipv4"
    if target.kind == "ipv6":  # an IPv6 literal is written in a URL with a scheme
        return kind in ("plain", "case", "default port", "userinfo", "scheme-relative", "redirect", "path forms",
                        "nested redirect", "base64 redirect", "markdown", "html", "wrapped", "base64 path",
                        "base64 bare", "hex encoded", "percent segment", "path redirect", "decoys")
    if target.kind == "ipv4":
        return kind not in ("full-width", "invisible", "unicode dots", "prose invisible", "prose unicode", "math letters",
                            "e-mail", "percent host", "double percent", "glued")
    if kind == "path forms":
        return target.kind in ("prefix", "exact")
    if kind == "e-mail":  # an address's domain: a listed host, never a path
        return target.kind == "domain"
    return True


def _path_form(draw: st.DrawFn, path: str) -> str:
    """``path`` as servers still read it: other case, dot segments, duplicate slashes, ``;params``,
    encoded slashes, and for a page any query or fragment."""
    segments = path.strip("/").split("/")
    form = draw(st.sampled_from(["case", "dot segments", "double slashes", "params", "encoded slash", "query"]))
    if form == "case":
        return "/" + _case(draw, "/".join(segments))
    if form == "dot segments":
        return "/" + draw(st.sampled_from(["./", "x/../", "a/b/../../", "./x/../"])) + "/".join(segments)
    if form == "double slashes":
        return "/" + "//".join(segments) + draw(st.sampled_from(["", "/"]))
    if form == "params":
        at = draw(st.integers(0, len(segments) - 1))
        segments[at] += draw(st.sampled_from([";jsessionid=1", ";v=2", ";"]))
        return "/" + "/".join(segments)
    if form == "encoded slash":
        return "/" + draw(st.sampled_from(["%2F", "%2f", "%5C"])).join(segments)
    return "/" + "/".join(segments) + draw(st.sampled_from(["?b=2&a=1", "?a=1#x", "#frag", "?utm_source=x"]))


@st.composite
def sentence(draw: st.DrawFn, text: str) -> str:
    """``text`` inside a sentence of ordinary words."""
    return f"{draw(PROSE)} {text} {draw(PROSE)}".strip()
