# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled URL check (issue 14, item 2): the common result URL read and probed in one C pass.

``plain(url, clean_query)`` is ``url_canon.canonicalize_url`` for the URLs of the plain shape (see its
docstring: the regex fast path's shape and a little more: any case in scheme and host, a port, ``#``...,
path and query characters that the general path leaves as they are); None for any other URL (the caller
then runs the general canonicaliser). A non-empty query is cleaned as ``_clean_query`` cleans it (tracking
parameters dropped, the rest sorted), with the tracking names and prefixes read from
``clean_query.tracking`` / ``.prefixes`` so there is one list of them.

``probe(canonical, bits, mask, has_prefix, has_domain)`` is ``urls._probe_python``: the candidate keys of a
canonical URL (the page, the page without its query, the path prefixes on a host whose ``scheme://netloc``
is in the bitmap, the host and its parent domains), each xxh64 with its kind's seed, in that order, keeping
those that pass the two-probe bitmap. ``xxh64`` here is the reference algorithm (XXH64), checked against
the ``xxhash`` package. None for a non-ASCII canonical (the Python path reads it).

tests/test_url_kernel.py compares both with the pure-Python definitions on generated URLs.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from filter_proxy._xxh64 cimport xxh64 as xxh64_seeded
from libc.string cimport memcpy, memmove


cdef extern from "Python.h":
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)



# Seeds of url_table (SEEDS, ROOT_SEED); urls.py checks at import that they agree.
EXACT_SEED = 0x5EED0E1AC7
PREFIX_SEED = 0x5EED0F1FE7
DOMAIN_SEED = 0x5EED0D0A17
ROOT_SEED = 0x5EED020075
cdef uint64_t _EXACT = EXACT_SEED
cdef uint64_t _PREFIX = PREFIX_SEED
cdef uint64_t _DOMAIN = DOMAIN_SEED
cdef uint64_t _ROOT = ROOT_SEED


cdef inline uint64_t _xxh64(const uint8_t* p, Py_ssize_t n, uint64_t seed) noexcept nogil:
    return xxh64_seeded(p, n, seed)


def xxh64(bytes data, uint64_t seed):
    """XXH64 of ``data`` (the same as ``xxhash.xxh64_intdigest``)."""
    return _xxh64(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), seed)


# -- the plain URL shape -------------------------------------------------------------------------------

# Character classes (ASCII): 1 host ([A-Za-z0-9._-]), 2 path (left as is by _norm_component with
# _PATH_SAFE, "%" aside: unreserved and "!$&'()*+,;=:@"), 4 query (the same with "?" and "/" but not "&").
cdef uint8_t _CLASS[128]


cdef void _init_classes() noexcept:
    cdef int c
    for c in range(128):
        _CLASS[c] = 0
    for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~":
        _CLASS[c] = 2 | 4
    for c in b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._":
        _CLASS[c] |= 1
    for c in b"!$'()*+,;=:@":
        _CLASS[c] |= 2 | 4
    _CLASS[38] |= 2  # "&": a path character, the query's separator
    _CLASS[63] |= 4  # "?" within the query
    _CLASS[47] |= 4  # "/" within the query


_init_classes()


cpdef object plain(object url, object clean_query):
    """``canonicalize_url(url)`` when ``url`` has the plain shape, else None (the caller then runs the
    general canonicaliser). The shape: ``http``/``https`` (any case) and ``://``; a host of ASCII letters,
    digits, ``-``, ``_`` and dots (any case; no empty label; trailing dots dropped; the last label not
    starting with a digit, as it may be a numeric IPv4 form); an optional port of 1-5 digits; a path of
    segments that ``_norm_component`` keeps as they are (no ``%``) and that are neither ``.`` nor ``..``
    (empty segments dropped); an optional query of characters the same function keeps; anything after
    ``#`` ignored. Every other URL, and every non-ASCII one, is None."""
    if not PyUnicode_CheckExact(url) or not PyUnicode_IS_ASCII(url):
        return None
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(url)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(url)
    cdef Py_ssize_t i, k, host_start, host_end, auth_end, seg, out_n, last_dot, h0, h1, dots
    cdef Py_ssize_t query_start = -1, query_end = -1
    cdef uint8_t c
    cdef long port = -1
    cdef char buf[512]
    if n < 8 or n > 480:  # a longer URL takes the general path (buf holds the canonical form)
        return None
    if (s[0] | 32) != 104 or (s[1] | 32) != 116 or (s[2] | 32) != 116 or (s[3] | 32) != 112:  # "http"
        return None
    i = 4
    if (s[i] | 32) == 115:  # "s"
        i += 1
    if i + 3 > n or s[i] != 58 or s[i + 1] != 47 or s[i + 2] != 47:
        return None
    i += 3
    # authority: host, optional ":port"; up to "/", "?", "#" or the end
    host_start = i
    while i < n and s[i] < 128 and _CLASS[s[i]] & 1:
        i += 1
    host_end = i
    if i < n and s[i] == 58:  # ":" port
        i += 1
        k = i
        port = 0
        while i < n and 48 <= s[i] <= 57:
            port = port * 10 + (s[i] - 48)
            i += 1
        if i == k or i - k > 5 or port > 65535:
            return None
        if port == 80 or port == 443:
            port = -1
    auth_end = i
    if i < n and s[i] != 47 and s[i] != 63 and s[i] != 35:  # "@", "%", "\\", "[", a space...: general path
        return None
    # the host, lower-cased, trailing dots dropped
    while host_end > host_start and s[host_end - 1] == 46:
        host_end -= 1
    if host_end == host_start or s[host_start] == 46:
        return None
    memcpy(buf, "http://", 7)
    out_n = 7
    h0 = out_n
    last_dot = -1
    dots = 0
    for k in range(host_start, host_end):
        c = s[k]
        if c == 46:
            if s[k - 1] == 46:
                return None
            last_dot = k
            dots += 1
        elif 65 <= c <= 90:
            c += 32
        buf[out_n] = c
        out_n += 1
    h1 = out_n
    if 48 <= s[last_dot + 1 if last_dot >= 0 else host_start] <= 57:  # may be an IPv4 form: general path
        return None
    # "www." dropped when two more dots remain... as canonical_host does: the host keeps two labels
    if dots >= 2 and buf[h0] == 119 and buf[h0 + 1] == 119 and buf[h0 + 2] == 119 and buf[h0 + 3] == 46:
        memmove(buf + h0, buf + h0 + 4, h1 - h0 - 4)
        out_n -= 4
    if port >= 0:
        out_n += _write_port(buf + out_n, port)
    # path: segments, empty ones dropped, "." and ".." to the general path
    i = auth_end
    if i < n and s[i] == 47:
        while i < n and s[i] == 47:
            seg = i + 1
            k = seg
            while k < n and s[k] != 47 and s[k] != 63 and s[k] != 35:
                c = s[k]
                if c >= 128 or not _CLASS[c] & 2:
                    return None
                k += 1
            if k > seg:
                if s[seg] == 46 and (k == seg + 1 or (k == seg + 2 and s[seg + 1] == 46)):
                    return None
                buf[out_n] = 47
                memcpy(buf + out_n + 1, s + seg, k - seg)
                out_n += 1 + k - seg
            i = k
    if i < n and s[i] == 63:  # "?": the query, up to "#"
        query_start = i + 1
        k = query_start
        while k < n and s[k] != 35:
            c = s[k]
            if c != 38 and (c >= 128 or not _CLASS[c] & 4):
                return None
            k += 1
        query_end = k
    head = PyUnicode_FromKindAndData(1, buf, out_n)
    if query_end > query_start:
        query = _plain_query(url, s, query_start, query_end, clean_query)
        if query:
            return head + "?" + query
    return head


cdef object _plain_query(object url, const uint8_t* s, Py_ssize_t start, Py_ssize_t n, object clean_query):
    """``_clean_query`` of a plain query (no escapes, every character one it keeps, so each kept part is
    itself): parts without a tracking name, sorted. ``clean_query`` holds the tracking names and prefixes."""
    cdef Py_ssize_t a = start, b, eq
    tracking, prefixes = clean_query.tracking, clean_query.prefixes
    kept = []
    while a <= n:
        b = a
        eq = -1
        while b < n and s[b] != 38:  # "&"
            if eq < 0 and s[b] == 61:  # "="
                eq = b
            b += 1
        if b > a:
            name = url[a:eq if eq >= 0 else b].lower()
            if not (name in tracking or name.startswith(prefixes)):
                kept.append(url[a:b])
        a = b + 1
    kept.sort()
    return "&".join(kept)


cdef Py_ssize_t _write_port(char* out, long port) noexcept:
    """":" and the port in decimal (``f":{port}"``); the count of characters written."""
    cdef char digits[8]
    cdef int count = 0, k
    while True:
        digits[count] = 48 + port % 10
        count += 1
        port //= 10
        if port == 0:
            break
    out[0] = 58
    for k in range(count):
        out[1 + k] = digits[count - 1 - k]
    return count + 1


# -- the keys of a canonical URL -----------------------------------------------------------------------

cdef inline bint _maybe(const uint8_t* bits, uint64_t mask, uint64_t key) noexcept nogil:
    cdef uint64_t at = key & mask
    if not (bits[at >> 3] >> (at & 7)) & 1:
        return False
    at = (key >> 32) & mask
    return (bits[at >> 3] >> (at & 7)) & 1


cpdef object probe(object canonical, bytes bits, uint64_t mask, bint has_prefix, bint has_domain):
    """The candidate keys of ``canonical`` that pass the bitmap, in ``urls._probe_python``'s order; None
    when it is not an ASCII str."""
    if not PyUnicode_CheckExact(canonical) or not PyUnicode_IS_ASCII(canonical):
        return None
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(canonical)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(canonical)
    cdef const uint8_t* b = <const uint8_t*>PyBytes_AS_STRING(bits)
    cdef Py_ssize_t start, base, end, netloc_end, k, dot, after, hend
    cdef uint64_t key
    out = []
    key = _xxh64(s, n, _EXACT)
    if _maybe(b, mask, key):
        out.append(key)
    # base: up to the first "?"
    base = n
    for k in range(n):
        if s[k] == 63:
            base = k
            break
    if base < n:
        key = _xxh64(s, base, _EXACT)
        if _maybe(b, mask, key):
            out.append(key)
    # start: after the first "://" (canonical.find("://") + 3; -1 + 3 = 2 when absent, as in Python)
    start = 2
    for k in range(n - 2):
        if s[k] == 58 and s[k + 1] == 47 and s[k + 2] == 47:
            start = k + 3
            break
    end = base
    for k in range(start, base):
        if s[k] == 47:
            end = k
            break
    netloc_end = end
    if has_prefix:
        key = _xxh64(s, end, _ROOT)
        if _maybe(b, mask, key):
            while True:
                key = _xxh64(s, end, _PREFIX)
                if _maybe(b, mask, key):
                    out.append(key)
                if end >= base:
                    break
                k = end + 1
                end = base
                while k < base:
                    if s[k] == 47:
                        end = k
                        break
                    k += 1
    if has_domain:
        # the host without a port (host.rsplit(":", 1)[0]), then each parent that still has a dot
        hend = netloc_end
        for k in range(netloc_end - 1, start - 1, -1):
            if s[k] == 58:
                hend = k
                break
        key = _xxh64(s + start, hend - start if hend > start else 0, _DOMAIN)
        if _maybe(b, mask, key):
            out.append(key)
        dot = -1
        for k in range(start, hend):
            if s[k] == 46:
                dot = k
                break
        while dot != -1:
            after = -1
            for k in range(dot + 1, hend):
                if s[k] == 46:
                    after = k
                    break
            if after == -1:
                break
            key = _xxh64(s + dot + 1, hend - dot - 1, _DOMAIN)
            if _maybe(b, mask, key):
                out.append(key)
            dot = after
    return out


def plain_probe(object url, object clean_query, bytes bits, uint64_t mask, bint has_prefix, bint has_domain,
                object form):
    """``probe(form(plain(url)))`` in one call; None when ``url`` is not of the plain shape. ``form`` is
    ``url_canon.match_form``, called only when the path holds an upper-case letter or ``;`` (it returns
    any other plain canonical URL unchanged)."""
    canonical = plain(url, clean_query)
    if canonical is None:
        return None
    if _needs_form(canonical):
        canonical = form(canonical)
    return probe(canonical, bits, mask, has_prefix, has_domain)


cdef bint _needs_form(object canonical):
    """Whether ``match_form`` may change the ASCII canonical URL: its path (after "://host", before "?")
    holds an upper-case letter, ";" or "%"."""
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(canonical)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(canonical)
    cdef Py_ssize_t k = 0, start = n
    cdef uint8_t c
    for k in range(n - 2):
        if s[k] == 58 and s[k + 1] == 47 and s[k + 2] == 47:
            start = k + 3
            break
    k = start
    while k < n and s[k] != 47 and s[k] != 63:
        k += 1
    while k < n:
        c = s[k]
        if c == 63:
            return False
        if (65 <= c <= 90) or c == 59 or c == 37:
            return True
        k += 1
    return False


# -- the nested-URL pre-test ---------------------------------------------------------------------------

cdef inline bint _b64(uint8_t c) noexcept:
    """A character of base64 (either alphabet, "=" aside) or hexadecimal: ASCII letters, digits, + _ -."""
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 43 or c == 95 or c == 45


def may_carry(object url, object fallback):
    """``url_nested.may_carry(url)`` in one C pass over an ASCII ``str``; ``fallback(url)`` (that function)
    for any other. True after a ``%`` or a ``:`` at index 6 or later; else, from where the host ends
    (the first ``/ ? # \\`` after the ``//`` among the first 20 characters, or from the start): a dot, or
    an ``=`` followed by 12 characters of base64 or ``/``, or ``/ ? #`` followed by 12 of base64."""
    if not PyUnicode_CheckExact(url) or not PyUnicode_IS_ASCII(url):
        return fallback(url)
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(url)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(url)
    cdef Py_ssize_t i, k, start = 0, at = -1
    cdef uint8_t c
    for i in range(n):
        c = s[i]
        if c == 37 or (c == 58 and i >= 6):
            return True
    for i in range(n - 1):
        if s[i] == 47 and s[i + 1] == 47:
            if i < 20:
                start = i + 2
            break
    for i in range(start, n):
        c = s[i]
        if c == 47 or c == 63 or c == 35 or c == 92:
            at = i
            break
    if at < 0:
        return False
    for i in range(at, n):
        c = s[i]
        if c == 46:
            return True
        if (c == 61 or c == 47 or c == 63 or c == 35) and i + 12 < n:
            for k in range(i + 1, i + 13):
                if not (_b64(s[k]) or (c == 61 and s[k] == 47)):
                    break
            else:
                return True
    return False
