# cython: language_level=3
"""XXH64 in C, as the ``xxhash`` package computes it, for the compiled kernels (``matchers/_page_kernel.pyx``:
the term index's keys, seed 0; ``signals/_url_kernel.pyx``: the URL index's seeded keys). Inline, so each
kernel compiles its own copy from this one source. Little-endian hosts only: each kernel checks its
answers against ``xxhash`` at import and its caller falls back to Python otherwise."""

from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy

# The five XXH64 primes as C constants (a .pxd holds no module variables of its own).
cdef extern from *:
    """
    #define FP_XXH64_P1 0x9E3779B185EBCA87ULL
    #define FP_XXH64_P2 0xC2B2AE3D27D4EB4FULL
    #define FP_XXH64_P3 0x165667B19E3779F9ULL
    #define FP_XXH64_P4 0x85EBCA77C2B2AE63ULL
    #define FP_XXH64_P5 0x27D4EB2F165667C5ULL
    """
    const uint64_t P1 "FP_XXH64_P1"
    const uint64_t P2 "FP_XXH64_P2"
    const uint64_t P3 "FP_XXH64_P3"
    const uint64_t P4 "FP_XXH64_P4"
    const uint64_t P5 "FP_XXH64_P5"


cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _read64(const unsigned char* p) noexcept nogil:
    cdef uint64_t v
    memcpy(&v, p, 8)
    return v


cdef inline uint32_t _read32(const unsigned char* p) noexcept nogil:
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


cdef inline uint64_t xxh64(const unsigned char* p, Py_ssize_t n, uint64_t seed) noexcept nogil:
    cdef const unsigned char* end = p + n
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
