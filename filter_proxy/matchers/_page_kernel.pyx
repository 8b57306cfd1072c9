# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled first pass of ``term_page.clean`` (issue 14, item 2): which ASCII strings of a page are
certainly clean, and (with a ``Matcher``) what the others of the lane match, in one C loop per string, with
no Python object per token.

``screen(texts, classes, chunks, pairs, fold, chain_classes, chunk_classes, matcher=None, found=None)``
marks a string 1 only when ``term_page``'s pure-Python path would call it ``CLEAN`` for the same reasons:
ASCII, none of ``@ | ! $`` or NUL, no ``#`` that may start a hashtag, no ``\\`` beside ``/``; ``()`` read
as ``map_digraphs`` reads it; chains of single characters joined as ``join_chains`` joins them (and letters
spelled out with spaces before a digraph or chain left to Python, as ``glued_words`` reads those from the string as
written); every compound chunk known not to glue into a word that passes the first stage, every token's
class known, and a class sequence without a ``K`` or a spelled-out run, and every first piece before a
possible next piece known (per pair of tokens) not to glue into a word that passes the first stage, nor
into one that a third piece could extend. 3: ``@ | !`` or a hashtag ``#`` (read whole). A string of the lane
that the tables say may match is 2 (its words are read in Python); anything else is 0: the caller reads it
with the pure-Python path, which also fills the three tables that this pass reads (so they only ever hold
answers that path computed; a miss costs speed, never a verdict).

With a ``Matcher`` (the index's bitmaps, sorted keys and longest phrase), a lane string whose tokens the
table knows and which holds a ``K`` word or a first piece before a possible next piece is matched here:
its tokens finished as ``normalize._finish`` finishes them, then ``TermIndex._match_plain`` and ``_match_splits`` in C (xxh64 keys,
the two-probe bitmaps, glued pieces, binary search of the exact keys): 4 with its (start, end, row) list
appended to ``found``, or 1 when nothing is found; a spelled-out run (``join_spelled``) stays 2. Pure
functions of the index's bytes, checked against the Python ones by property tests (``xxh64``, ``finish``,
``join_chains``, ``spelled``; ``match_many`` with and without the matcher).

``Table`` is an open-addressing hash table from bytes to one byte, keys kept in an arena and compared
whole (a hash collision can only cost a probe, never a wrong answer). Filled from Python (``add``),
cleared whole with the Python dict it mirrors (or, for pairs, when full). A ``K`` token's class carries
``ORDINARY_FLAG`` when its finished word is an ordinary word (split pieces need it).
"""

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free, malloc, realloc
from filter_proxy._xxh64 cimport xxh64 as xxh64_seeded
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
    STEM = 88  # "X": a listed word with a plural ending (term_page.STEM): the string is read in Python
    ORDINARY_FLAG = 128  # on a K token's class in the table: its finished word is an ordinary word
    CODE_MASK = 127


# What ``screen`` says of a string (term_page.clean reads the same numbers).
cdef enum:
    UNKNOWN = 0  # not decided here: the pure-Python path reads it (and fills the tables)
    CLEAN = 1  # certainly matches nothing
    WORDS = 2  # read as its words and glued words (no ``@ | ! #``); a listed word may be among them
    FULL = 3  # ASCII with ``@ | ! #``: read whole (alternate reading, hashtag words)
    MATCHED = 4  # matched here (``Matcher``): its rows are in the ``found`` list


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
    (the others hold ``|``, or ``\\`` beside ``/``, which keep a string out of this pass): ``()`` touching a letter or
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



# -- xxh64 (seed 0, ``filter_proxy/_xxh64.pxd``), as the ``xxhash`` package computes it: the term index's keys --

cdef enum:
    MIN_PIECE = 2  # term_forms.MIN_PIECE
    MAX_CUTS = 3  # term_forms.MAX_CUTS: cut words glued back inside one phrase


cdef inline uint64_t _xxh64(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    return xxh64_seeded(p, n, 0)


def xxh64(bytes data):
    """``xxhash.xxh64_intdigest(data)`` (for tests)."""
    return _xxh64(data, len(data))


cdef unsigned char* _LEET = b"oizeasgtbg"  # 0-9 as ``normalize._LEET`` reads them


def finish(bytes token):
    """``normalize._finish`` of a token of the lane (``[a-z0-9]+``, for tests)."""
    cdef bytearray out = bytearray(len(token) + 1)
    return bytes(out[:_finish(token, len(token), out)])


cdef inline Py_ssize_t _finish(const unsigned char* t, Py_ssize_t n, unsigned char* out) noexcept:
    """``normalize._finish`` (``map_leet`` then ``collapse_repeats``) of a token of ``[a-z0-9]`` into ``out``:
    digits become letters in a token with a letter; a run of one letter becomes that letter (digits kept)."""
    cdef Py_ssize_t i, size = 0
    cdef bint letters = False
    cdef unsigned char c
    for i in range(n):
        if t[i] >= 97:
            letters = True
            break
    for i in range(n):
        c = t[i]
        if letters and c < 97:
            c = _LEET[c - 48]
        if size and c >= 97 and out[size - 1] == c:
            continue
        out[size] = c
        size += 1
    return size


cdef class Matcher:
    """What ``TermIndex._found`` reads for a string of the lane (its words and nothing else): the first-stage
    bitmap, the piece bitmap, the sorted exact keys and the longest phrase. ``screen`` with a ``Matcher``
    matches the strings whose tokens the class table knows in C (``MATCHED`` with their rows, or clean when
    nothing is found) instead of leaving them to Python."""

    cdef const uint8_t[::1] bitmap
    cdef uint64_t mask
    cdef const uint8_t[::1] pieces
    cdef uint64_t piece_mask
    cdef const uint64_t[::1] keys
    cdef Py_ssize_t max_words

    def __init__(self, bitmap, uint64_t mask, pieces, uint64_t piece_mask, keys, Py_ssize_t max_words):
        self.bitmap = bitmap
        self.mask = mask
        self.pieces = pieces
        self.piece_mask = piece_mask
        self.keys = keys
        self.max_words = max_words

    cdef inline bint probe(self, uint64_t key) noexcept:
        cdef uint64_t p = key & self.mask, q = (key >> 32) & self.mask
        return (self.bitmap[p >> 3] >> (p & 7)) & (self.bitmap[q >> 3] >> (q & 7)) & 1

    cdef inline bint piece(self, const unsigned char* word, Py_ssize_t n, unsigned char* spare) noexcept:
        """``TermIndex._piece``: maybe a proper prefix of a listed single word (``spare``: n + 1 bytes)."""
        cdef uint64_t key, p, q
        if n < MIN_PIECE:
            return False
        spare[0] = 1
        memcpy(spare + 1, word, n)
        key = _xxh64(spare, n + 1)
        p = key & self.piece_mask
        q = (key >> 32) & self.piece_mask
        return (self.pieces[p >> 3] >> (p & 7)) & (self.pieces[q >> 3] >> (q & 7)) & 1

    cdef int look(self, uint64_t key, Py_ssize_t i, Py_ssize_t j, list rows) except -1:
        """Append (i, j, row) for every row of ``key`` (``TermIndex._rows``)."""
        cdef Py_ssize_t lo = 0, hi = self.keys.shape[0], mid
        while lo < hi:
            mid = (lo + hi) >> 1
            if self.keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        while lo < self.keys.shape[0] and self.keys[lo] == key:
            rows.append((i, j, lo))
            lo += 1
        return 0


cdef int _match(Matcher mt, const unsigned char* w, Py_ssize_t* starts, Py_ssize_t* ends, unsigned char* code,
                Py_ssize_t count, unsigned char* spare, list rows) except -2:
    """``TermIndex._match_plain`` + ``_match_splits`` over finished words (``w[starts[k]:ends[k]]``, one space
    apart) whose classes ``code`` the table gave: rows appended in the order ``_found`` finds them. -1:
    leave it to Python (a K word that fails the bitmap: the tables and the index disagree)."""
    cdef Py_ssize_t i, j, last = count - 1, top, n, m
    cdef uint64_t key
    cdef int first, cls
    cdef unsigned char* glued
    cdef unsigned char* piece = spare  # ends[last] + 2 bytes, then the glued words
    # Plain phrases: each K word and its n-grams while the bitmap says "maybe a prefix".
    # (A phrase with one word cut in two is glued into ``glued``: at most the words' bytes.)
    glued = spare + (ends[last] + 2 if count else 2)
    for i in range(count):
        if code[i] & CODE_MASK != K:
            continue
        key = _xxh64(w + starts[i], ends[i] - starts[i])
        if not mt.probe(key):
            return -1
        mt.look(key, i, i + 1, rows)
        top = i + mt.max_words if i + mt.max_words < count else count
        for j in range(i + 2, top + 1):
            key = _xxh64(w + starts[i], ends[j - 1] - starts[i])
            if not mt.probe(key):
                # A later word of a phrase cut in two: it and the next glued (``TermIndex._match_plain``).
                if j < count and _gluable(w, starts, ends, code, j - 1, j):
                    n = ends[j - 1] - starts[i]
                    memcpy(glued, w + starts[i], n)
                    n = _glue(glued, n, w + starts[j], ends[j] - starts[j], glued)
                    _extend(mt, glued, n, w, starts, ends, code, count, i, j + 1, True, 1, rows)
                # The phrase's last word with an inflection ending (``TermIndex._ended``).
                n = ends[j - 2] - starts[i] + 1
                memcpy(glued, w + starts[i], n)
                _ended(mt, glued, n, w + starts[j - 1], ends[j - 1] - starts[j - 1], i, j, rows)
                break
            mt.look(key, i, j, rows)
    # Split words: a first piece glued to the next word, and to the one after while it may be extended.
    for i in range(last):
        cls = code[i] & CODE_MASK
        if cls == K:
            if not mt.piece(w + starts[i], ends[i] - starts[i], piece):
                continue
            first = O if code[i] & ORDINARY_FLAG else P
        elif cls == P or cls == O:
            first = cls
        else:
            continue
        n = ends[i + 1] - starts[i + 1]
        if n < MIN_PIECE:
            continue
        if first == O:  # an ordinary first piece glues only onto a word that is no ordinary word
            cls = code[i + 1] & CODE_MASK
            if cls == L or cls == O or (cls == K and code[i + 1] & ORDINARY_FLAG):
                continue
        m = _glue(w + starts[i], ends[i] - starts[i], w + starts[i + 1], n, glued)
        key = _xxh64(glued, m)
        if mt.probe(key):
            mt.look(key, i, i + 2, rows)
            if mt.max_words > 1:  # the first word of a phrase cut in two
                _extend(mt, glued, m, w, starts, ends, code, count, i, i + 2, False, 1, rows)  # (past m only)
        elif _stem_passes(mt, glued, m):
            return -1  # a listed word cut and inflected: its dictionary guard is read in Python
        if i + 2 <= last and ends[i + 2] - starts[i + 2] >= MIN_PIECE and mt.piece(glued, m, piece):
            m = _glue(glued, m, w + starts[i + 2], ends[i + 2] - starts[i + 2], glued)
            key = _xxh64(glued, m)
            if mt.probe(key):
                mt.look(key, i, i + 3, rows)
            elif _stem_passes(mt, glued, m):
                return -1
    return 0


cdef inline bint _gluable(const unsigned char* w, Py_ssize_t* starts, Py_ssize_t* ends, unsigned char* code,
                          Py_ssize_t a, Py_ssize_t b) noexcept:
    """``TermIndex._gluable``: both of ``MIN_PIECE`` letters or more, not both ordinary words."""
    if ends[a] - starts[a] < MIN_PIECE or ends[b] - starts[b] < MIN_PIECE:
        return False
    return not (_ordinary(code[a]) and _ordinary(code[b]))


cdef inline bint _ordinary(unsigned char flags) noexcept:
    cdef int cls = flags & CODE_MASK
    return cls == L or cls == O or (cls == K and flags & ORDINARY_FLAG)


cdef int _extend(Matcher mt, unsigned char* gram, Py_ssize_t n, const unsigned char* w, Py_ssize_t* starts,
                 Py_ssize_t* ends, unsigned char* code, Py_ssize_t count, Py_ssize_t start, Py_ssize_t end,
                 bint probe, int cuts, list rows) except -1:
    """``TermIndex._extend``: ``gram`` (words ``start:end``, ``cuts`` cut words glued back) looked up (``probe``:
    its key first through the bitmap), then extended word by word (in place) while the bitmap passes; where it
    stops, the word and the next glued back (in place) and extended again, up to ``MAX_CUTS`` cuts."""
    cdef uint64_t key = _xxh64(gram, n)
    cdef Py_ssize_t k, top = start + mt.max_words + cuts, size, head
    if probe:
        if not mt.probe(key):
            return 0
        mt.look(key, start, end, rows)
    if top > count:
        top = count
    for k in range(end + 1, top + 1):
        size = ends[k - 1] - starts[k - 1]
        gram[n] = 32
        memcpy(gram + n + 1, w + starts[k - 1], size)
        n += 1 + size
        key = _xxh64(gram, n)
        if not mt.probe(key):
            head = n - size  # the word's first byte
            if cuts < MAX_CUTS and k < count and _gluable(w, starts, ends, code, k - 1, k):
                n = head + _glue(gram + head, size, w + starts[k], ends[k] - starts[k], gram + head)  # glued there
                _extend(mt, gram, n, w, starts, ends, code, count, start, k + 1, True, cuts + 1, rows)
            # (the glue wrote only past the phrase's words before this one: ``_ended`` rewrites from there)
            _ended(mt, gram, head, w + starts[k - 1], size, start, k, rows)
            break
        mt.look(key, start, k, rows)
    return 0


# ``term_forms._ENDINGS`` / ``_Y_ENDINGS`` / ``ENDING_LAST`` / ``STEM_MIN``, in their order.
cdef const char* _ENDS[9]
_ENDS[:] = [b"s", b"z", b"es", b"ing", b"in", b"ings", b"ed", b"er", b"ers"]
cdef const char* _Y_ENDS[4]
_Y_ENDS[:] = [b"ies", b"ied", b"ier", b"iers"]
cdef enum:
    STEM_MIN = 5
    PHRASE_STEM_MIN = 3  # term_forms.PHRASE_STEM_MIN: ``_ended``
    MAX_STEMS = 24


cdef inline bint _ends_with(const unsigned char* word, Py_ssize_t size, const char* ending, Py_ssize_t k) noexcept:
    return size >= k and memcmp(word + size - k, ending, k) == 0


cdef inline bint _vowel(unsigned char c) noexcept:
    return c == 97 or c == 101 or c == 105 or c == 111 or c == 117


cdef inline unsigned char _at(const unsigned char* word, Py_ssize_t cut, unsigned char extra, Py_ssize_t t) noexcept:
    return word[t] if t < cut else extra


cdef Py_ssize_t _stems(const unsigned char* word, Py_ssize_t size, Py_ssize_t* cuts, unsigned char* extras,
                       Py_ssize_t minimum) noexcept:
    """``term_forms.stem_candidates``: each stem as ``word[:cuts[s]]`` + ``extras[s]`` (0: nothing), in its
    order, without repeats, each of >= ``minimum`` letters; how many."""
    cdef Py_ssize_t found = 0, e, k, t, c, s, m, total
    cdef Py_ssize_t cand[4]
    cdef unsigned char add[4]
    cdef unsigned char last
    cdef bint same
    if size <= minimum:
        return 0
    last = word[size - 1]
    if not (last == 115 or last == 103 or last == 110 or last == 100 or last == 114 or last == 122):  # "sgndrz"
        return 0
    for t in range(size):
        if not (97 <= word[t] <= 122):
            return 0
    for e in range(13):
        m = 0
        if e < 9:
            k = len(_ENDS[e])
            if not _ends_with(word, size, _ENDS[e], k):
                continue
            cand[m] = size - k
            add[m] = 0
            m += 1
            if k > 1:
                cand[m] = size - k + 1
                add[m] = 0
                m += 1
                if _vowel(<unsigned char>_ENDS[e][0]) and word[size - k - 1] != 101:
                    cand[m] = size - k
                    add[m] = 101  # "e"
                    m += 1
                    if word[size - k] != 101:
                        cand[m] = size - k + 1
                        add[m] = 101
                        m += 1
        else:
            k = len(_Y_ENDS[e - 9])
            if not _ends_with(word, size, _Y_ENDS[e - 9], k):
                continue
            cand[m] = size - k
            add[m] = 121  # "y"
            m += 1
        for c in range(m):
            total = cand[c] + (1 if add[c] else 0)
            same = False
            for s in range(found):
                if cuts[s] + (1 if extras[s] else 0) != total:
                    continue
                same = True
                for t in range(total):
                    if _at(word, cand[c], add[c], t) != _at(word, cuts[s], extras[s], t):
                        same = False
                        break
                if same:
                    break
            if not same and found < MAX_STEMS:
                cuts[found] = cand[c]
                extras[found] = add[c]
                found += 1
    m = 0
    for s in range(found):  # (the length filter last, as the Python keeps first and filters after)
        if cuts[s] + (1 if extras[s] else 0) >= minimum:
            cuts[m] = cuts[s]
            extras[m] = extras[s]
            m += 1
    return m


def stems(str word, Py_ssize_t minimum=STEM_MIN):
    """``_stems`` as strings (tests: the same list as ``term_forms.stem_candidates``)."""
    cdef bytes raw = word.encode("ascii")
    cdef Py_ssize_t cuts[MAX_STEMS]
    cdef unsigned char extras[MAX_STEMS]
    cdef Py_ssize_t n = _stems(raw, len(raw), cuts, extras, minimum), s
    return [word[:cuts[s]] + (chr(extras[s]) if extras[s] else "") for s in range(n)]


cdef bint _stem_passes(Matcher mt, const unsigned char* word, Py_ssize_t size) noexcept:
    """Whether a stem of ``word`` (``_stems``) passes the first-stage bitmap (``TermIndex._glue_answer``
    then reads it with the dictionary guard); a word too long for the scratch buffer with any stem: True."""
    cdef Py_ssize_t cuts[MAX_STEMS]
    cdef unsigned char extras[MAX_STEMS]
    cdef unsigned char scratch[64]
    cdef Py_ssize_t count = _stems(word, size, cuts, extras, STEM_MIN), s
    if count and size >= 64:
        return True
    for s in range(count):
        memcpy(scratch, word, cuts[s])
        scratch[cuts[s]] = extras[s]
        if mt.probe(_xxh64(scratch, cuts[s] + (1 if extras[s] else 0))):
            return True
    return False


cdef int _ended(Matcher mt, unsigned char* gram, Py_ssize_t n, const unsigned char* word, Py_ssize_t size,
                Py_ssize_t start, Py_ssize_t end, list rows) except -1:
    """``TermIndex._ended``: ``gram[:n]`` (a phrase's words so far and a space) + each stem of ``word``
    (``_stems``) through the bitmap, then looked up (each stem is no longer than ``word``: it fits)."""
    cdef Py_ssize_t cuts[MAX_STEMS]
    cdef unsigned char extras[MAX_STEMS]
    cdef Py_ssize_t count = _stems(word, size, cuts, extras, PHRASE_STEM_MIN), s, m
    cdef uint64_t key
    for s in range(count):
        memcpy(gram + n, word, cuts[s])
        m = n + cuts[s]
        if extras[s]:
            gram[m] = extras[s]
            m += 1
        key = _xxh64(gram, m)
        if mt.probe(key):
            mt.look(key, start, end, rows)
    return 0


cdef inline Py_ssize_t _glue(const unsigned char* a, Py_ssize_t n, const unsigned char* b, Py_ssize_t m,
                             unsigned char* out) noexcept:
    """``term_forms.glue`` into ``out`` (which may be ``a`` itself): a letter doubled across the seam once."""
    if a != out:
        memcpy(out, a, n)
    if n and m and a[n - 1] == b[0] and not (48 <= b[0] <= 57):
        memcpy(out + n, b + 1, m - 1)
        return n + m - 1
    memcpy(out + n, b, m)
    return n + m


cdef Py_ssize_t _join_chains(const unsigned char* s, Py_ssize_t m, const unsigned char* chain,
                             unsigned char* out) noexcept:
    """``normalize.join_chains`` of a string of the lane (no ``@ $ ! |``, ASCII) into ``out``: a lone
    letter or digit, then runs of separators each followed by one, the last not followed by a letter or
    digit (``_CHAIN``: every member but the last is followed by a separator), is one word: separators
    dropped, digits read as letters, when it holds a letter and two members that are not digits; else it
    stays as written. The length of ``out``; ``m`` when nothing was joined (``out`` then unwritten: a
    joined chain drops a separator, so the length tells)."""
    cdef Py_ssize_t p = 0, size = 0, x, j, end, k, nondigit
    cdef bint alpha
    cdef unsigned char c
    for p in range(1, m):  # most strings hold no lone member before a separator: nothing to copy
        if chain[s[p]] == 46 and chain[s[p - 1]] == 97 and (p < 2 or chain[s[p - 2]] != 97):
            break
    else:
        return m
    p = p - 1  # the first lone member before a separator: no chain starts before it
    memcpy(out, s, p)
    size = p
    while p < m:
        if chain[s[p]] != 97 or (p > 0 and chain[s[p - 1]] == 97):
            out[size] = s[p]
            size += 1
            p += 1
            continue
        x = p
        end = -1
        while True:  # the members: the last one that no letter or digit follows ends the chain
            j = x + 1
            if j >= m or chain[s[j]] != 46:
                break
            while j < m and chain[s[j]] == 46:
                j += 1
            if j >= m or chain[s[j]] != 97 or (j + 1 < m and chain[s[j + 1]] == 97):
                break
            end = j
            x = j
        if end < 0:
            out[size] = s[p]
            size += 1
            p += 1
            continue
        alpha = False
        nondigit = 0
        for k in range(p, end + 1):
            c = s[k]
            if chain[c] == 97:
                if not (48 <= c <= 57):
                    nondigit += 1
                    alpha = True
        for k in range(p, end + 1):
            c = s[k]
            if not alpha or nondigit < 2:
                out[size] = c
                size += 1
            elif chain[c] == 97:
                out[size] = _LEET[c - 48] if 48 <= c <= 57 else c
                size += 1
        p = end + 1
    return size


def join_chains(str text):
    """``_join_chains`` of an ASCII text without ``@ $ ! |`` (for tests: ``normalize.join_chains``)."""
    cdef bytes raw = text.encode("ascii")
    cdef bytearray out = bytearray(len(raw) + 1)
    from filter_proxy.matchers.term_page import _CHAIN_CLASSES  # the table ``clean`` passes (no cycle: a call)
    cdef bytes table = _CHAIN_CLASSES
    cdef Py_ssize_t size = _join_chains(raw, len(raw), table, out)
    return text if size == len(raw) else bytes(out[:size]).decode("ascii")  # same length: nothing joined


cdef inline bint _letter(unsigned char c) noexcept:
    return (65 <= c <= 90) or (97 <= c <= 122)


cdef bint _spelled_raw(const unsigned char* s, Py_ssize_t n, const unsigned char* cut) noexcept:
    """``reading._SPELLED`` finds something in ``s`` (ASCII): three or more one-letter words apart by
    whitespace, the first after whitespace or at the start, the last before no letter, digit or ``_``
    (letters spelled out, which ``glued_words`` reads from the string as written)."""
    cdef Py_ssize_t i, j, count
    for i in range(n):
        if not _letter(s[i]) or (i > 0 and cut[s[i - 1]] != 32) or i + 1 >= n or cut[s[i + 1]] != 32:
            continue
        j = i
        count = 1
        while True:
            j += 1
            while j < n and cut[s[j]] == 32:
                j += 1
            if j >= n or not _letter(s[j]):
                break
            count += 1
            if count >= 3 and (j + 1 >= n or not (_alnum(s[j + 1]) or s[j + 1] == 95)):
                return True
            if j + 1 >= n or cut[s[j + 1]] != 32:
                break
    return False


def spelled(str text):
    """``_spelled_raw`` of an ASCII text (for tests: ``reading._SPELLED.search``)."""
    cdef bytes raw = text.encode("ascii")
    cdef bytes cut = bytes(32 if chr(b).isspace() else 97 for b in range(256))
    return _spelled_raw(raw, len(raw), cut)


# Per byte: 1 ``@ | !``, 2 ``$``, NUL, 3 ``(``, 4 ``#``, 5 ``\\``, 6 ``&``, else 0 (``_clean``'s first pass).
cdef unsigned char _SPECIAL[256]
memset(_SPECIAL, 0, 256)
_SPECIAL[64] = _SPECIAL[124] = _SPECIAL[33] = 1  # @ | !
_SPECIAL[35] = 4  # "#": a hashtag may start here (term_page._TAGGED)
_SPECIAL[36] = _SPECIAL[0] = 2  # $ NUL
_SPECIAL[92] = 5  # "\\": a digraph ("/\\", "/-\\", "\\^/"...), read in Python
_SPECIAL[40] = 3
_SPECIAL[38] = 6  # "&": a named character reference ("&shy;") is read by ``normalize.decode_references``
# The wider leet table's symbols (``normalize.WIDE_SYMBOLS``): 7, or 3 / 6 above.
for _b in bytearray(b")[]{}<>+^"):
    _SPECIAL[_b] = 7
cdef unsigned char _WIDE_SIDE[256]  # a symbol that may stand beside another inside a multi-symbol letter
memset(_WIDE_SIDE, 0, 256)
for _b in bytearray(b"()[]{}<>+^&-_"):
    _WIDE_SIDE[_b] = 1


cdef inline bint _touch_left(const unsigned char* raw, Py_ssize_t i) noexcept:
    """A letter or digit before ``raw[i]``, or the "o" of a ``()`` digraph."""
    return i > 0 and (_alnum(raw[i - 1]) or (raw[i - 1] == 41 and i > 1 and raw[i - 2] == 40))


cdef inline bint _touch_right(const unsigned char* raw, Py_ssize_t n, Py_ssize_t i) noexcept:
    return i + 1 < n and (_alnum(raw[i + 1]) or (raw[i + 1] == 40 and i + 2 < n and raw[i + 2] == 41))


cdef bint _wide_at(const unsigned char* raw, Py_ssize_t n, Py_ssize_t i) noexcept:
    """A superset of ``normalize.has_wide`` at the symbol ``raw[i]`` (the string has no ``| @ ! $ \\``; a
    ``()`` counts as the letter ``map_digraphs`` makes of it): after a letter or digit, ``+ ^``, an ``&`` but
    before a query's "name=", a multi-symbol letter's first symbol, or a single ``( [ { <`` with no closing
    bracket after it in the string; before one, the last symbol of a multi-symbol letter (the symbol before it
    its own)."""
    cdef unsigned char c = raw[i]
    cdef unsigned char nx = raw[i + 1] if i + 1 < n else 0
    cdef Py_ssize_t j
    if _touch_left(raw, i):
        if c == 43 or c == 94:  # + ^
            return True
        if c == 38:  # "&" before a query's "name=": [A-Za-z0-9_.%-]* then "="
            j = i + 1
            while j < n and (_alnum(raw[j]) or raw[j] == 95 or raw[j] == 46 or raw[j] == 37 or raw[j] == 45):
                j += 1
            return not (j < n and raw[j] == 61)
        if (c == 40 and (nx == 118 or nx == 86 or nx == 45 or nx == 95) and i + 2 < n and raw[i + 2] == 41) \
                or (c == 91 and (nx == 93 or nx == 41)) \
                or (c == 60 and nx == 62) or (c == 41 and (nx == 40 or nx == 45)) or (c == 93 and nx == 45) \
                or (c == 125 and (nx == 123 or nx == 45)) or (c == 62 and nx == 60):
            return True  # (v) (-) (_) [] [) <> )( )-( ]-[ }{ }-{ ><
        if c == 40 or c == 91 or c == 123 or c == 60:  # ( [ { <
            j = i + 1
            while j < n:
                if raw[j] == 40 and j + 1 < n and raw[j + 1] == 41:
                    j += 2  # "()" may be read as "o" first
                    continue
                if raw[j] == 41 or raw[j] == 93 or raw[j] == 125 or raw[j] == 62:
                    return False  # "f(x)", "open(file, 'r')", "x[0]", "x</b>": code, tags
                j += 1
            return True
        return False
    if i == 0 or not _touch_right(raw, n, i):
        return False
    nx = raw[i - 1]  # the symbol before: a multi-symbol letter may end here
    if c == 41:  # (v) (V) (-) (_) [)
        return nx == 118 or nx == 86 or nx == 45 or nx == 95 or nx == 91
    if c == 40:  # )( )-(
        return nx == 41 or nx == 45
    if c == 91:  # ]-[
        return nx == 45
    if c == 123:  # }{ }-{
        return nx == 125 or nx == 45
    if c == 60:  # ><
        return nx == 62
    if c == 62:  # <>
        return nx == 60
    if c == 93:  # []
        return nx == 91
    return False


cdef int _clean(const unsigned char* raw, Py_ssize_t n, Table classes, Table chunks, Table pairs,
                 const unsigned char* fold, const unsigned char* chain, const unsigned char* cut,
                 unsigned char* buf, unsigned char* pair, unsigned char* mapped, unsigned char* spare,
                 unsigned char* joined,
                 Matcher mt, Py_ssize_t* starts, Py_ssize_t* ends, unsigned char* codes, unsigned char* words,
                 list rows) except -1:
    cdef Py_ssize_t i, j, start, end, done, last = 0, size = 0, m = n, count = 0, at = 0
    cdef const unsigned char* s = raw
    cdef unsigned char c
    cdef int code, prev, run, ones, found, flags
    cdef bint paren = False, odd = False, hard = False
    for i in range(n):
        c = _SPECIAL[raw[i]]
        if c:  # one table load per character; the rare ones decided here
            if c == 1:  # @ | ! #: an alternate reading, hashtag words
                return FULL
            if c == 2:  # $ NUL \
                odd = True
            elif c == 5:  # "\\" in a digraph ("/\\", "\\/", "/-\\", "/_\\", "/v\\", "\\^/"): read in Python
                if (i > 0 and raw[i - 1] == 47) or (i + 1 < n and raw[i + 1] == 47) or (i > 1 and raw[i - 2] == 47) \
                        or (i + 2 < n and raw[i + 1] == 94 and raw[i + 2] == 47):
                    odd = True
            elif c == 7:  # the wider leet table: Python reads it (``term_page.clean``: FULL)
                if _wide_at(raw, n, i):
                    odd = True
            elif c == 6:  # "&", letters or digits (the first a letter), ";": term_page._TAGGED, read whole
                if _wide_at(raw, n, i):
                    odd = True
                j = i + 1
                if j < n and _alnum(raw[j]) and raw[j] > 57:
                    while j < n and j - i <= 32 and _alnum(raw[j]):
                        j += 1
                    if j < n and raw[j] == 59:
                        return FULL
            elif c == 4:  # "#" after no letter, digit or "_", before a character that is not whitespace
                if (i == 0 or not (_alnum(raw[i - 1]) or raw[i - 1] == 95)) and i + 1 < n and cut[raw[i + 1]] != 32:
                    return FULL
            else:  # "("
                if i + 1 < n and raw[i + 1] == 41:  # "()"
                    paren = True
                if _wide_at(raw, n, i):
                    odd = True
    if odd:
        return UNKNOWN
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
        # A digraph may merge the last of letters spelled out with spaces into a longer token ("z q x()"),
        # whose spelled reading ``glued_words`` finds on the string as written: the Python path reads it.
        if m != n and _spelled_raw(raw, n, cut):
            return UNKNOWN
    # Chains of single characters joined as ``normalize.join_chains`` joins them (``_join_chains``).
    j = _join_chains(s, m, chain, joined)
    if j != m:
        if _spelled_raw(raw, n, cut):  # as after a digraph: letters spelled out, the last one chained
            return UNKNOWN
        s = joined
        m = j
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
        flags = code
        code = code & CODE_MASK
        if code == STEM:
            return WORDS
        if mt is not None:
            # Matched here: every token's finished word, one space apart, for ``_match`` below.
            # Only a K word or a first piece before a possible next piece (``_after_piece``: what
            # ``_match_splits`` would glue) can match; a string with neither is clean, nothing finished.
            if code == K or _after_piece(prev, code):
                hard = True
            starts[count] = i  # the token in ``buf`` (finished below, only if a word may match)
            ends[count] = j
            codes[count] = flags
            count += 1
        elif code == K:
            return WORDS
        elif _after_piece(prev, code):  # a split pair: known not to glue into anything that passes?
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
    if not hard:
        return CLEAN
    for i in range(count):  # every token's finished word, one space after each, for ``_match``
        j = starts[i]
        starts[i] = at
        at += _finish(buf + j, ends[i] - j, words + at)
        ends[i] = at
        words[at] = 32
        at += 1
    # ``join_spelled`` (finished words of one character, three or more in a row, two letters) is Python's.
    run = 0
    ones = 0
    for i in range(count):
        if ends[i] - starts[i] == 1:
            run += 1
            ones += words[starts[i]] >= 97
            if run >= 3 and ones >= 2:
                return WORDS
        else:
            run = 0
            ones = 0
    found = len(rows)
    if _match(mt, words, starts, ends, codes, count, spare, rows) < 0:
        del rows[found:]
        return WORDS
    return CLEAN if len(rows) == found else MATCHED


def screen(list texts, Table classes, Table chunks, Table pairs, bytes fold, bytes chain, bytes cut,
           Matcher matcher=None, list found=None):
    """A bytearray: per string 1 (certainly clean), 2 (an ASCII string without ``@ | ! # $ \\``, all of
    whose parts the tables knew, that may match: ``term_page.WORDS``), 3 (ASCII with ``@ | ! #``: read
    whole), 4 (matched here by ``matcher``: ``found`` gets (string, [(start, end, row), ...])) or 0 (not
    decided here). Without a matcher, 2 as soon as a word passes the first stage."""
    cdef Py_ssize_t count = len(texts), k, n, longest = 0, before
    cdef bytearray out = bytearray(count)
    cdef unsigned char* marks = out
    cdef unsigned char* buf
    cdef unsigned char* pair
    cdef unsigned char* mapped
    cdef unsigned char* spare
    cdef unsigned char* joined
    cdef unsigned char* words = NULL
    cdef unsigned char* codes = NULL
    cdef Py_ssize_t* starts = NULL
    cdef Py_ssize_t* ends = NULL
    cdef list rows = []
    if len(fold) != 256 or len(chain) != 256 or len(cut) != 256:
        raise ValueError("translation tables must have 256 entries")
    if matcher is not None and found is None:
        raise ValueError("a matcher needs a found list")
    for k in range(count):
        text = texts[k]
        if PyUnicode_Check(text) and PyUnicode_IS_ASCII(text):
            n = PyUnicode_GET_LENGTH(text)
            if n > longest:
                longest = n
    buf = <unsigned char*>malloc(longest + 1)
    pair = <unsigned char*>malloc(longest + 2)
    mapped = <unsigned char*>malloc(longest + 1)
    # _map_parens' other buffer; with a matcher also a piece (a word and one byte) and a glued word
    spare = <unsigned char*>malloc(2 * longest + 8)
    joined = <unsigned char*>malloc(longest + 1)
    if matcher is not None:
        words = <unsigned char*>malloc(2 * longest + 2)  # finished words, one space after each
        codes = <unsigned char*>malloc(longest + 1)
        starts = <Py_ssize_t*>malloc((longest + 1) * sizeof(Py_ssize_t))
        ends = <Py_ssize_t*>malloc((longest + 1) * sizeof(Py_ssize_t))
    try:  # every buffer is freed below, also when one could not be had (free(NULL) does nothing)
        if buf == NULL or pair == NULL or mapped == NULL or spare == NULL or joined == NULL or \
                (matcher is not None and (words == NULL or codes == NULL or starts == NULL or ends == NULL)):
            raise MemoryError()
        for k in range(count):
            text = texts[k]
            if type(text) is str and PyUnicode_IS_ASCII(text):
                marks[k] = _clean(<const unsigned char*>PyUnicode_DATA(text), PyUnicode_GET_LENGTH(text),
                                  classes, chunks, pairs, fold, chain, cut, buf, pair, mapped, spare,
                                  joined, matcher, starts, ends, codes, words, rows)
                if rows:
                    found.append((k, rows))
                    rows = []
    finally:
        free(buf)
        free(pair)
        free(mapped)
        free(spare)
        free(joined)
        free(words)
        free(codes)
        free(starts)
        free(ends)
    return out
