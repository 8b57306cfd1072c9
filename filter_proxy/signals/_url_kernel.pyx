# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled URL check (issue 14, item 2): the common result URL read and probed in one C pass.

``plain(url, clean_query)`` is ``url_canon.canonicalize_url`` for exactly the URLs its ``_PLAIN_URL`` fast
path takes (http(s), lower-case ASCII host of two or more labels, optional ``www.``, plain path segments,
optional query of plain characters, no fragment, last label not starting with a digit); None for any other
URL (the caller then runs the general canonicaliser). A non-empty query is cleaned as ``_clean_query``
cleans it (tracking parameters dropped, the rest sorted), with the tracking names and prefixes read from
``clean_query.tracking`` / ``.prefixes`` so there is one list of them.

``probe(canonical, bits, mask, has_prefix, has_domain)`` is ``urls._probe_python``: the candidate keys of a
canonical URL (the page, the page without its query, the path prefixes on a host whose ``scheme://netloc``
is in the bitmap, the host and its parent domains), each xxh64 with its kind's seed, in that order, keeping
those that pass the two-probe bitmap. ``xxh64`` here is the reference algorithm (XXH64), checked against
the ``xxhash`` package. None for a non-ASCII canonical (the Python path reads it).

tests/test_url_kernel.py compares both with the pure-Python definitions on generated URLs.
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef extern from "Python.h":
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    object PyUnicode_FromKindAndData(int kind, const void* buffer, Py_ssize_t size)
    char* PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)


cdef uint64_t P1 = 0x9E3779B185EBCA87ULL
cdef uint64_t P2 = 0xC2B2AE3D27D4EB4FULL
cdef uint64_t P3 = 0x165667B19E3779F9ULL
cdef uint64_t P4 = 0x85EBCA77C2B2AE63ULL
cdef uint64_t P5 = 0x27D4EB2F165667C5ULL

# Seeds of url_table (SEEDS, ROOT_SEED); urls.py checks at import that they agree.
EXACT_SEED = 0x5EED0E1AC7
PREFIX_SEED = 0x5EED0F1FE7
DOMAIN_SEED = 0x5EED0D0A17
ROOT_SEED = 0x5EED020075
cdef uint64_t _EXACT = EXACT_SEED
cdef uint64_t _PREFIX = PREFIX_SEED
cdef uint64_t _DOMAIN = DOMAIN_SEED
cdef uint64_t _ROOT = ROOT_SEED


cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _read64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)  # little-endian hosts (x86-64, aarch64); _selftest at import refuses others
    return v


cdef inline uint32_t _read32(const uint8_t* p) noexcept nogil:
    cdef uint32_t v
    memcpy(&v, p, 4)
    return v


cdef inline uint64_t _round(uint64_t acc, uint64_t value) noexcept nogil:
    acc += value * P2
    acc = _rotl(acc, 31)
    return acc * P1


cdef inline uint64_t _merge(uint64_t acc, uint64_t value) noexcept nogil:
    acc ^= _round(0, value)
    return acc * P1 + P4


cdef uint64_t _xxh64(const uint8_t* p, Py_ssize_t n, uint64_t seed) noexcept nogil:
    cdef const uint8_t* end = p + n
    cdef uint64_t h, v1, v2, v3, v4
    if n >= 32:
        v1 = seed + P1 + P2
        v2 = seed + P2
        v3 = seed
        v4 = seed - P1
        while p + 32 <= end:
            v1 = _round(v1, _read64(p))
            v2 = _round(v2, _read64(p + 8))
            v3 = _round(v3, _read64(p + 16))
            v4 = _round(v4, _read64(p + 24))
            p += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge(h, v1)
        h = _merge(h, v2)
        h = _merge(h, v3)
        h = _merge(h, v4)
    else:
        h = seed + P5
    h += <uint64_t>n
    while p + 8 <= end:
        h ^= _round(0, _read64(p))
        h = _rotl(h, 27) * P1 + P4
        p += 8
    if p + 4 <= end:
        h ^= <uint64_t>_read32(p) * P1
        h = _rotl(h, 23) * P2 + P3
        p += 4
    while p < end:
        h ^= <uint64_t>p[0] * P5
        h = _rotl(h, 11) * P1
        p += 1
    h ^= h >> 33
    h *= P2
    h ^= h >> 29
    h *= P3
    h ^= h >> 32
    return h


def xxh64(bytes data, uint64_t seed):
    """XXH64 of ``data`` (the same as ``xxhash.xxh64_intdigest``)."""
    return _xxh64(<const uint8_t*>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), seed)


# -- the plain URL shape -------------------------------------------------------------------------------

cdef inline bint _host_char(uint8_t c) noexcept nogil:  # [a-z0-9-]
    return (97 <= c <= 122) or (48 <= c <= 57) or c == 45


cdef inline bint _seg_char(uint8_t c) noexcept nogil:  # [A-Za-z0-9._~-]
    return (97 <= c <= 122) or (65 <= c <= 90) or (48 <= c <= 57) or c == 45 or c == 46 or c == 95 \
        or c == 126


cdef inline bint _query_char(uint8_t c) noexcept nogil:  # [A-Za-z0-9._~=&-]
    return _seg_char(c) or c == 61 or c == 38


cpdef object plain(object url, object clean_query):
    """``canonicalize_url(url)`` when ``url`` has the plain shape (see the module docstring), else None."""
    if not PyUnicode_CheckExact(url) or not PyUnicode_IS_ASCII(url):
        return None
    cdef const uint8_t* s = <const uint8_t*>PyUnicode_DATA(url)
    cdef Py_ssize_t n = PyUnicode_GET_LENGTH(url)
    cdef Py_ssize_t i, j, host_start, host_end, path_end, last_dot, seg_start, labels
    cdef uint8_t c
    # "http://" or "https://"
    if n < 8 or s[0] != 104 or s[1] != 116 or s[2] != 116 or s[3] != 112:
        return None
    i = 4
    if s[i] == 115:  # "s"
        i += 1
    if i + 3 > n or s[i] != 58 or s[i + 1] != 47 or s[i + 2] != 47:
        return None
    i += 3
    # (?:www\.)?(?!www\.): one "www." dropped; a host still starting "www." is not plain
    if i + 4 <= n and s[i] == 119 and s[i + 1] == 119 and s[i + 2] == 119 and s[i + 3] == 46:
        i += 4
        if i + 4 <= n and s[i] == 119 and s[i + 1] == 119 and s[i + 2] == 119 and s[i + 3] == 46:
            return None
    # host: [a-z0-9-]+(?:\.[a-z0-9-]+)+
    host_start = i
    last_dot = -1
    labels = 1
    while i < n:
        c = s[i]
        if c == 46:
            if i == host_start or s[i - 1] == 46:
                return None
            last_dot = i
            labels += 1
        elif not _host_char(c):
            break
        i += 1
    host_end = i
    if labels < 2 or host_end == host_start or s[host_end - 1] == 46:
        return None
    if 48 <= s[last_dot + 1] <= 57:  # may be a numeric IPv4 form: the general path reads it
        return None
    # path: (?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)* then /?
    path_end = i
    while i < n and s[i] == 47:
        seg_start = i + 1
        if seg_start == n or s[seg_start] == 63:  # the trailing slash
            i = seg_start
            break
        c = s[seg_start]
        if c == 46 or not _seg_char(c):
            return None
        i = seg_start + 1
        while i < n and _seg_char(s[i]):
            i += 1
        path_end = i
    if i < n:
        if s[i] != 63:  # "?"
            return None
        for j in range(i + 1, n):
            if not _query_char(s[j]):
                return None
    head = PyUnicode_FromKindAndData(1, s + host_start, path_end - host_start)
    if i + 1 < n:
        query = _plain_query(url, s, i + 1, n, clean_query)
        if query:
            return "http://" + head + "?" + query
    return "http://" + head


cdef object _plain_query(object url, const uint8_t* s, Py_ssize_t start, Py_ssize_t n, object clean_query):
    """``_clean_query`` of a plain query (no escapes, every character safe, so each kept part is itself):
    parts without a tracking name, sorted. ``clean_query`` holds the tracking names and prefixes."""
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


def plain_probe(object url, object clean_query, bytes bits, uint64_t mask, bint has_prefix, bint has_domain):
    """``probe(plain(url))`` in one call; None when ``url`` is not of the plain shape."""
    canonical = plain(url, clean_query)
    if canonical is None:
        return None
    return probe(canonical, bits, mask, has_prefix, has_domain)
