# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled first pass of ``term_page.clean`` (issue 14, item 2): which ASCII strings of a page are
certainly clean, in one C loop per string, with no Python object per token.

``screen(texts, classes, chunks, pairs, fold, chain_classes, chunk_classes)`` marks a string 1 only when
``term_page``'s pure-Python path would call it ``CLEAN`` for the same reasons: ASCII, none of ``@ | ! # $``,
NUL or ``\\``; ``()`` read as ``map_digraphs`` reads it; no chain of single characters that ``join_chains``
would change; every compound chunk known
not to glue into a word that passes the first stage, every token's class known, and a class sequence
without a ``K`` or a spelled-out run, and every first piece before a possible next piece known (per pair
of tokens) not to glue into a word that passes the first stage, nor into one that a third piece could
extend. A string of the lane that the tables say may match is 2 (its words are read in Python); anything
else is 0: the caller reads it with the pure-Python path, which also fills the three tables that this pass
reads (so they only ever hold answers that path computed; a miss costs speed, never a verdict).

``Table`` is an open-addressing hash table from bytes to one byte, keys kept in an arena and compared
whole (a hash collision can only cost a probe, never a wrong answer). Filled from Python (``add``),
cleared whole with the Python dict it mirrors (or, for pairs, when full).
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy, memset


cdef extern from "Python.h":
    bint PyUnicode_Check(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


cdef struct Slot:
    uint64_t hash
    uint32_t offset
    uint32_t length  # 0: an empty slot (keys are never empty)
    uint8_t value


cdef inline uint64_t _hash(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef uint64_t h = 14695981039346656037ULL  # FNV-1a
    cdef Py_ssize_t i
    for i in range(n):
        h = (h ^ p[i]) * 1099511628211ULL
    return h


cdef class Table:
    """bytes -> one byte, at most ``capacity // 2`` keys (``add`` refuses beyond: a miss, not an error)."""

    cdef Slot* slots
    cdef Py_ssize_t mask
    cdef Py_ssize_t count
    cdef unsigned char* arena
    cdef Py_ssize_t used
    cdef Py_ssize_t size

    def __cinit__(self, int bits=17):
        self.slots = <Slot*>calloc(<size_t>1 << bits, sizeof(Slot))
        self.size = 1 << 20
        self.arena = <unsigned char*>malloc(self.size)
        if self.slots == NULL or self.arena == NULL:
            raise MemoryError()
        self.mask = (1 << bits) - 1
        self.count = 0
        self.used = 0

    def __dealloc__(self):
        free(self.slots)
        free(self.arena)

    def __len__(self):
        return self.count

    def clear(self):
        memset(self.slots, 0, (self.mask + 1) * sizeof(Slot))
        self.count = 0
        self.used = 0

    def add(self, bytes key, int value):
        """Store ``key -> value``; False when the table is full (the key then stays a miss)."""
        cdef Py_ssize_t n = len(key)
        cdef const unsigned char* p = key
        cdef uint64_t h
        cdef Py_ssize_t i
        cdef unsigned char* grown
        if n == 0 or n > 0xFFFF:
            return False
        h = _hash(p, n)
        i = <Py_ssize_t>(h & <uint64_t>self.mask)
        while self.slots[i].length:
            if self.slots[i].hash == h and self.slots[i].length == n and \
                    memcmp(self.arena + self.slots[i].offset, p, n) == 0:
                self.slots[i].value = <uint8_t>value
                return True
            i = (i + 1) & self.mask
        if self.count * 2 >= self.mask + 1 or self.used + n > 0xFFFFFFFF:
            return False
        if self.used + n > self.size:
            grown = <unsigned char*>realloc(self.arena, (self.size + n) * 2)
            if grown == NULL:
                return False
            self.arena = grown
            self.size = (self.size + n) * 2
        memcpy(self.arena + self.used, p, n)
        self.slots[i].hash = h
        self.slots[i].offset = <uint32_t>self.used
        self.slots[i].length = <uint32_t>n
        self.slots[i].value = <uint8_t>value
        self.used += n
        self.count += 1
        return True

    def get(self, bytes key):
        """The value of ``key``, or None (for tests)."""
        cdef int found = self.find(key, len(key))
        return None if found < 0 else found

    cdef inline int find(self, const unsigned char* p, Py_ssize_t n) noexcept:
        cdef uint64_t h = _hash(p, n)
        cdef Py_ssize_t i = <Py_ssize_t>(h & <uint64_t>self.mask)
        while self.slots[i].length:
            if self.slots[i].hash == h and self.slots[i].length == n and \
                    memcmp(self.arena + self.slots[i].offset, p, n) == 0:
                return self.slots[i].value
            i = (i + 1) & self.mask
        return -1


# Class bytes (term_page.KEY ... END): only these matter here.
cdef enum:
    K = 75  # "K"
    P = 80  # "P"
    O = 79  # "O"
    L = 76  # "L"
    N = 78  # "N"
    ONE = 49  # "1"
    DIGIT = 68  # "D"


# What ``screen`` says of a string (term_page.clean reads the same numbers).
cdef enum:
    UNKNOWN = 0  # not decided here: the pure-Python path reads it (and fills the tables)
    CLEAN = 1  # certainly matches nothing
    WORDS = 2  # read as its words and glued words (no ``@ | ! #``); a listed word may be among them


cdef inline bint _after_piece(int first, int nxt) noexcept:
    """``P[KPOLN]`` / ``O[KPN]``: a first piece before a word that may be the next piece."""
    if first == P:
        return nxt == K or nxt == P or nxt == O or nxt == L or nxt == N
    if first == O:
        return nxt == K or nxt == P or nxt == N
    return False


cdef inline bint _alnum(unsigned char c) noexcept:
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122)


cdef Py_ssize_t _digraphs(const unsigned char* s, Py_ssize_t n, unsigned char* out) noexcept:
    """One ``re.sub`` pass of ``normalize._DIGRAPH`` over ``s`` where ``()`` is the only digraph possible
    (the others hold ``|`` or ``\\``, which keep a string out of this pass): ``()`` touching a letter or
    digit before or after it (in ``s``, as the pattern's lookarounds see it) becomes ``o``."""
    cdef Py_ssize_t i = 0, size = 0
    while i < n:
        if s[i] == 40 and i + 1 < n and s[i + 1] == 41 and \
                ((i > 0 and _alnum(s[i - 1])) or (i + 2 < n and _alnum(s[i + 2]))):
            out[size] = 111  # "o"
            i += 2
        else:
            out[size] = s[i]
            i += 1
        size += 1
    return size


cdef Py_ssize_t _map_parens(const unsigned char* raw, Py_ssize_t n, unsigned char* mapped,
                            unsigned char* spare) noexcept:
    """``map_digraphs`` of ``raw`` into ``mapped`` (its length returned): at most three passes, until one
    changes nothing (``spare``: the other buffer; both hold ``n`` bytes)."""
    cdef Py_ssize_t m = _digraphs(raw, n, mapped), j, rounds = 1
    while rounds < 3:
        j = _digraphs(mapped, m, spare)
        if j == m:  # a pass that maps nothing keeps the length; one that maps shortens it
            break
        memcpy(mapped, spare, j)
        m = j
        rounds += 1
    return m


def map_parens(str text):
    """``_map_parens`` of an ASCII text without ``|`` or ``\\`` (for tests: ``normalize.map_digraphs``)."""
    cdef bytes raw = text.encode("ascii")
    cdef Py_ssize_t n = len(raw)
    cdef bytearray mapped = bytearray(n + 1), spare = bytearray(n + 1)
    return bytes(mapped[:_map_parens(raw, n, mapped, spare)]).decode("ascii")


cdef int _clean(const unsigned char* raw, Py_ssize_t n, Table classes, Table chunks, Table pairs,
                 const unsigned char* fold, const unsigned char* chain, const unsigned char* cut,
                 unsigned char* buf, unsigned char* pair, unsigned char* mapped, unsigned char* spare) noexcept:
    cdef Py_ssize_t i, j, start, end, done, last = 0, size = 0, m = n
    cdef const unsigned char* s = raw
    cdef unsigned char c
    cdef int code, prev, run, ones, found
    cdef bint paren = False, chained = False
    for i in range(n):
        c = raw[i]
        if c == 64 or c == 124 or c == 33 or c == 35 or c == 36 or c == 0 or c == 92:  # @ | ! # $ NUL \
            return UNKNOWN
        if c == 40 and i + 1 < n and raw[i + 1] == 41:  # "()"
            paren = True
    # Compound chunks of the string as written (term_page._COMPOUND_SEAM): each must be known not to pass.
    done = -1
    for i in range(1, n):
        if i < done or cut[raw[i]] != 45 or cut[raw[i - 1]] != 97:
            continue
        j = i
        while j < n and cut[raw[j]] == 45:
            j += 1
        if j >= n or cut[raw[j]] != 97:
            continue
        start = i
        while start > 0 and cut[raw[start - 1]] != 32:
            start -= 1
        end = i
        while end < n and cut[raw[end]] != 32:
            end += 1
        done = end
        found = chunks.find(raw + start, end - start)
        if found != 0:
            return UNKNOWN if found < 0 else WORDS
    if paren:
        m = _map_parens(raw, n, mapped, spare)
        s = mapped
    # A chain (term_page._CHAIN_BYTES: a lone member, separators, a lone last member). ``join_chains``
    # changes nothing when no lone letter touches a chain separator (every chain member is a lone letter or
    # digit, and a chain of digits alone stays as written); else the pure-Python path joins it.
    for i in range(1, m):
        if chain[s[i]] == 46 and chain[s[i - 1]] == 97 and (i < 2 or chain[s[i - 2]] != 97):
            j = i
            while j < m and chain[s[j]] == 46:
                j += 1
            if j < m and chain[s[j]] == 97 and (j + 1 >= m or chain[s[j + 1]] != 97):
                chained = True
                break
    if chained:
        for i in range(m):
            c = s[i]
            if ((65 <= c <= 90) or (97 <= c <= 122)) and (i == 0 or not _alnum(s[i - 1])) and \
                    (i + 1 >= m or not _alnum(s[i + 1])) and \
                    ((i > 0 and chain[s[i - 1]] == 46) or (i + 1 < m and chain[s[i + 1]] == 46)):
                return UNKNOWN
    # Tokens (``words``' table) and their classes, read as term_page._UNCLEAN reads them.
    prev = 0
    run = 0
    ones = 0
    i = 0
    while i < m:
        if fold[s[i]] == 32:
            i += 1
            continue
        j = i
        while j < m and fold[s[j]] != 32:
            buf[j] = fold[s[j]]
            j += 1
        code = classes.find(buf + i, j - i)
        if code < 0:
            return UNKNOWN
        if code == K:
            return WORDS
        if _after_piece(prev, code):  # a split pair: known not to glue into anything that passes?
            memcpy(pair, buf + last, size)
            pair[size] = 32
            memcpy(pair + size + 1, buf + i, j - i)
            found = pairs.find(pair, size + 1 + j - i)
            if found != 0:
                return UNKNOWN if found < 0 else WORDS
        if code == ONE or code == DIGIT:
            run += 1
            ones += code == ONE
            if run >= 3 and ones >= 2:
                return WORDS
        else:
            run = 0
            ones = 0
        prev = code
        last = i
        size = j - i
        i = j
    return CLEAN


def screen(list texts, Table classes, Table chunks, Table pairs, bytes fold, bytes chain, bytes cut):
    """A bytearray: per string 1 (certainly clean), 2 (an ASCII string without ``@ | ! # $ \\``, all of
    whose parts the tables knew, that may match: ``term_page.WORDS``) or 0 (not decided here)."""
    cdef Py_ssize_t count = len(texts), k, n, longest = 0
    cdef bytearray out = bytearray(count)
    cdef unsigned char* marks = out
    cdef unsigned char* buf
    cdef unsigned char* pair
    cdef unsigned char* mapped
    cdef unsigned char* spare
    if len(fold) != 256 or len(chain) != 256 or len(cut) != 256:
        raise ValueError("translation tables must have 256 entries")
    for k in range(count):
        text = texts[k]
        if PyUnicode_Check(text) and PyUnicode_IS_ASCII(text):
            n = PyUnicode_GET_LENGTH(text)
            if n > longest:
                longest = n
    buf = <unsigned char*>malloc(longest + 1)
    pair = <unsigned char*>malloc(longest + 2)
    mapped = <unsigned char*>malloc(longest + 1)
    spare = <unsigned char*>malloc(longest + 1)
    if buf == NULL or pair == NULL or mapped == NULL or spare == NULL:
        free(buf)
        free(pair)
        free(mapped)
        free(spare)
        raise MemoryError()
    try:
        for k in range(count):
            text = texts[k]
            if type(text) is str and PyUnicode_IS_ASCII(text):
                marks[k] = _clean(<const unsigned char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                                  classes, chunks, pairs, fold, chain, cut, buf, pair, mapped, spare)
    finally:
        free(buf)
        free(pair)
        free(mapped)
        free(spare)
    return out
