"""Text normalisation and tokenising shared by rule entries and screened text (DESIGN §4).

Rule entries and screened text go through the *same* function, so a disguise is undone identically on both
sides and matching is a plain comparison of normalised words. Steps, one small pure function each:

0. ``map_digraphs``: multi-symbol leetspeak letters touching a letter or another leet symbol (``|)`` d,
   ``|<`` k, ``()`` o, ``/\\`` a, ``\\/`` v), so ``zqxblocke|)`` ends in a d.
1. ``fold_unicode``: NFKC (full-width and mathematical letters become ASCII), strip accents (NFD, drop
   combining marks) and Latin letters' strokes and hooks (``ø``, ``ł``, ``đ``: base letter from the Unicode
   name), drop format characters (category Cf: zero-width space/joiners, word joiner, BOM, soft hyphen,
   tag characters) and variation selectors; fold look-alikes from Unicode's UTS #39 data
   (``confusables.fold``: a token mixing scripts always, a whole text only when every non-Latin letter in
   it has a Latin look-alike, so ``Собака ест мясо``, ``как``, ``кто`` stay Cyrillic); then case-fold.
   Look-alikes are decided before case folding because the data is case-specific. Symbols that look like
   letters (``∪``, ``⊤``) count as letters where they touch one and no digit. A text whose only genuine
   letters joining (step 6) folded away is folded whole, so that a second pass decides alike.
2. ``map_confusables``: ``l`` and ``i`` are *one* letter (both become ``i``): ``1``, ``|`` and ``!`` stand
   for either, and a skeleton that merges them is the only way to undo that disguise deterministically.
3. ``tokens``: split on everything that is neither alphanumeric nor a leetspeak symbol (``@ $ ! | €``).
   A leading ``@``/``|`` and a trailing ``!``/``|`` are punctuation, not letters (``@name``, ``wow!``,
   ``|x|``); a token of digits and symbols only keeps its digits (``$100`` -> ``100``). So a term that
   *starts* with ``i``/``l`` disguised as ``|``, or *ends* with ``i``/``l`` disguised as ``!``/``|``, is
   read as punctuation there: a known limit, accepted so that ordinary punctuation never glues letters on.
   ``reading.reading`` gives the matcher the second reading, with those edge symbols as letters.
4. ``map_leet``: *only inside a token that has a Latin letter* digits and symbols become letters
   (``0 o, 1 i, 2 z, 3 e, 4 a, 5 s, 6 g, 7 t, 8 b, 9 g, @ a, $ s, ! i, | i, € e``). Numbers in ordinary
   text ("2024", "10 000") stay numbers, so benign numbers never turn into listed words.
5. ``collapse_repeats``: runs of the same letter become one (``fooo`` -> ``fo``); digits are not collapsed.
6. Spelled-out words. ``join_chains`` (before step 3): single characters chained by punctuation
   (``. - _ * · • ' / \\`` and any other punctuation or symbol but leet symbols and whitespace) are one word: ``f.o.o``, ``f-o-o``, ``f_o_o`` -> ``foo`` (also "U.S.A." ->
   "usa"). Leet symbols and digits are chain members and the joined chain is leet-mapped at once
   (``r.3.b.@`` -> ``reba``, a leading ``@`` included), but only if the chain has a letter and two
   members that are not digits: "1.2.3" and "v1.2.3" stay numbers. A chain never ends in ``!``/``|``
   ("U.S.A.!"). ``join_spelled`` (after step 5): a maximal run of >= 3 one-character tokens,
   at least two of them letters, is one word: ``f o o`` -> ``foo``. Runs of two are left alone, so "plan
   b c" or "I am" is untouched; "vitamin a b c" becomes "vitamin abc" on both sides, which only matters if
   "abc" were listed. Known limit: a word spelled out with *spaces* right after a one-letter word is glued
   to it ("a f o o" -> "afo"; ``reading.reading`` also offers the run alone); spelled out with punctuation
   it is not ("a f.o.o" -> "a fo"). Joined words then go through steps 4 and 5 again, and a joined word of
   two scripts is folded like a mixed-script token.

The wider leetspeak table (``WIDE_LEET``: ``><`` x, ``[]`` o, ``|2`` r, ``]-[`` h, ``/\\/\\`` m ...; single
``( < [ { + ^ &`` after a letter; and chains of single characters with those symbols among the members,
``x::z::7:o::p:&``) is not a step: ``map_wide`` / ``has_wide`` give ``reading.reading`` an alternate reading, so
code and prose ("q=a+b", "R&D", "f(x)") keep their words here.

``own_words`` and ``skeleton_words`` are the two other forms a listed term is indexed under (its own script
as in genuine text; every look-alike folded).

``normalize`` never raises on any ``str`` and is idempotent. Only fixed translate tables and compiled
patterns are kept, plus a bounded dict (65536 entries, cleared whole when full) of the per-token
leet/collapse step.

Speed (``words`` is on the hot path of every screened field; measured on the demo corpus, ~14 words and
~100 characters per field, 2-core box): 8.2 -> 4.3 µs per field. ASCII text (most result text) skips
steps 1-3 as separate passes: a chain pre-check led by the separator class (0.7 µs, exact, vs 2.6 µs for
the full chain scan), then one bytes ``translate`` that lower-cases, maps ``l`` to ``i`` and blanks
separators before ``split``. Finished tokens come from the dict by ``map(dict.get)``; ``join_spelled`` runs
only when three one-character words are adjacent (otherwise it, and the idempotent re-finish, change
nothing). The test suite checks the fast paths against the step-by-step pipeline.
"""

from __future__ import annotations

import html
import re
import unicodedata

from filter_proxy import confusables

__all__ = ["normalize", "words", "map_digraphs", "map_wide", "has_wide", "skeleton_words", "own_words", "fold_unicode", "map_confusables", "join_chains", "tokens", "join_spelled", "map_leet",
           "collapse_repeats"]


_LATIN_WITH = re.compile(r"LATIN (?:SMALL|CAPITAL) LETTER ([A-Z]) WITH ")
# Latin blocks (and IPA Extensions: "ɗ", "ɓ", small letters of Latin capitals "Ɗ", "Ɓ") that hold letters with
# a stroke, hook or bar (no canonical decomposition: NFD keeps them).
_LATIN_BLOCKS = ((0x80, 0x2B0), (0x1D00, 0x1F00), (0x2C60, 0x2C80), (0xA720, 0xA800), (0xAB30, 0xAB70))


def _build_drop_table() -> dict[int, str | None]:
    """After NFD: combining marks (Mn, Me) and format characters (Cf) are removed, and Latin letters "with"
    a stroke, hook or bar that do not decompose (``ø``, ``ł``, ``đ``, ``ħ``, ``ŧ``) become their base letter,
    read from their Unicode names: accents of another kind."""
    drop: dict[int, str | None] = {}
    # Scanning the BMP and the supplementary planes that hold marks/format chars keeps import fast.
    ranges = (range(0x80, 0x30000), range(0xE0000, 0xE1000))
    for block in ranges:
        for cp in block:
            if unicodedata.category(chr(cp)) in ("Mn", "Me", "Cf"):
                drop[cp] = None
    for start, end in _LATIN_BLOCKS:
        for cp in range(start, end):
            char = chr(cp)
            found = _LATIN_WITH.match(unicodedata.name(char, ""))
            # UTS #39 knows better where it lists the letter ("ᶌ", v with a hook, looks like "y").
            if found and unicodedata.normalize("NFD", char) == char and char not in confusables.EXTENDED:
                drop[cp] = found.group(1).lower()
    # A letter whose name does not say its letter reads as its other case does ("LATIN CAPITAL LETTER SMALL Q
    # WITH HOOK TAIL", Ɋ, as ɋ; "LATIN SMALL LETTER BARRED O", ɵ, as Ɵ): case folding runs after this table,
    # so a second pass would read the capital's small letter, and a listed word matches in either case.
    for start, end in _LATIN_BLOCKS:
        for cp in range(start, end):
            char = chr(cp)
            for other in (char.casefold(), char.upper()):
                if cp not in drop and len(other) == 1 and drop.get(ord(other)) and char not in confusables.EXTENDED \
                        and unicodedata.normalize("NFD", char) == char:
                    drop[cp] = drop[ord(other)]
    return drop


_DROP = _build_drop_table()
# Default-ignorable letters (category Lo, so not dropped above) that render as nothing: Hangul fillers
# (U+115F, U+1160, U+3164, U+FFA0) put inside a word ("zqxㅤblocked") must not cut it.
_DROP.update(dict.fromkeys((0x115F, 0x1160, 0x3164, 0xFFA0), None))


def _build_letter_forms() -> dict[int, str]:
    """Letter-shaped characters that NFKC and the UTS #39 data leave alone, read as the Latin letter they
    show: negative circled and squared capitals (🅐, 🅰), regional indicator symbols (🇦: a flag's
    letters), parenthesized small letters (⒜: NFKC would make "(a)", punctuation around the letter), and
    small capitals (ᴀ ʙ ᴅ ᴇ ɢ ʜ ᴊ ᴋ ʟ ᴍ ɴ ᴘ ꞯ ʀ ᴛ ᴜ, and the rest: the UTS #39 data lists only some)."""
    forms: dict[int, str] = {}
    for start in (0x1F150, 0x1F170, 0x1F1E6):
        forms.update({start + i: c for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZ")})
    forms.update({0x249C + i: c for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")})
    small_caps = dict(zip("ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡʏᴢ", "abcdefghijklmnopqrstuvwyz", strict=True))
    forms.update({ord(k): v for k, v in small_caps.items()})
    # Characters NFKC turns into one of these (modifier letters "𐞄" ʙ, "ᶰ" ɴ): read before NFKC runs, so
    # mapped here too, or a second pass over the output would read a letter the first one left.
    for cp in range(0x80, 0x30000):
        compat = unicodedata.normalize("NFKC", chr(cp))
        if cp not in forms and len(compat) == 1 and ord(compat) in forms:
            forms[cp] = forms[ord(compat)]
    return forms


_LETTER_FORMS = _build_letter_forms()
_LETTER_FORM_CHARS = frozenset(map(chr, _LETTER_FORMS))

# With the spacing marks that look like a letter (the anusvaras "ం ං ಂ ം", o): inside a token they are no
# punctuation, and one between a digit and a letter ("z9ංx") is read with the digits.
_LEET = str.maketrans({"0": "o", "1": "i", "2": "z", "3": "e", "4": "a", "5": "s", "6": "g", "7": "t",
                       "8": "b", "9": "g", "@": "a", "$": "s", "!": "i", "|": "i", "€": "e",
                       **confusables.MARK_LOOKALIKES})
# Symbols that are punctuation at a token's edge (@name, wow!, |x|); elsewhere they are letters.
_LEADING_PUNCT = "@|"
_TRAILING_PUNCT = "!|"


# Spacing combining marks (Mc, e.g. Indic vowel signs) belong inside words, but are not ``\\w``.
_MC = confusables.SPACING_MARKS
# "_" is turned into a space first, so \w here means letters and digits (one char class: fast).
_TOKEN = re.compile(r"[\w@$!|€]+")
_TOKEN_MC = re.compile(r"[\w@$!|€" + _MC + "]+")  # 4x slower; spacing marks start at U+0903
# Single letters/digits/leet symbols chained by punctuation ("f.o.o", "f-o-o", "r.3.b.@") are one word.
# A chain starts where no letter, digit or symbol precedes it and ends before no letter/digit; its last member
# is not "!" or "|" (an exclamation or bar after an abbreviation, "U.S.A.!", is punctuation as in tokens).
# Any punctuation or symbol chains (a reader skips "z?q%x", "z(q)x", "z·q–x" as readily as "z.q.x"), but not
# the leet symbols (members) nor whitespace. (The typographic quotes and dashes are separators here as their
# ASCII stand-ins, ``_TYPOGRAPHIC``, are on the ASCII path: both paths read alike.)
# Spacing marks (``_MC``) are inside words as ``tokens`` reads them: neither separators nor chain edges.
_NOT_SEP = "\\w\\s@$!|€\x00" + _MC
_SEP = rf"(?:[^{_NOT_SEP}]|_)"
_MEMBER = r"(?:[^\W_]|[@$!|€])"
_LAST = r"(?:[^\W_]|[@$€])"
_CHAIN = re.compile(rf"(?<![^\W_])(?<![@$!|€{_MC}]){_MEMBER}(?:{_SEP}+{_MEMBER})*{_SEP}+{_LAST}(?![^\W_])(?![{_MC}])")
# Exactly "some chain exists", but led by the separator class so the regex engine skips ahead in C
# (~0.7 µs on a 100-character snippet instead of ~2.6 µs for ``_CHAIN.search``): a separator preceded by
# a lone member, then more separators and a last member (the final pair of any chain has this shape).
_CHAIN_HINT = re.compile(rf"{_SEP}(?<=(?<![^\W_])(?<![@$!|€{_MC}]){_MEMBER}.){_SEP}*{_LAST}(?![^\W_])(?![{_MC}])")
# Text with no character from U+0903 on holds no spacing mark: the same two without them (half the cost).
_SEP_PLAIN = "(?:[^\\w\\s@$!|€\x00]|_)"
_CHAIN_PLAIN = re.compile(rf"(?<![^\W_])(?<![@$!|€]){_MEMBER}(?:{_SEP_PLAIN}+{_MEMBER})*{_SEP_PLAIN}+{_LAST}(?![^\W_])")
_CHAIN_HINT_PLAIN = re.compile(rf"{_SEP_PLAIN}(?<=(?<![^\W_])(?<![@$!|€]){_MEMBER}.){_SEP_PLAIN}*{_LAST}(?![^\W_])")
# ASCII text (nearly all of it): the same hint with the separators as one positive class, which the engine
# scans for in C (the negated class above costs ~3.5x on ordinary text).
_ASCII_SEP = "[" + "".join(re.escape(chr(b)) for b in range(128) if re.fullmatch(_SEP, chr(b))) + "]"
_CHAIN_HINT_ASCII = re.compile(rf"{_ASCII_SEP}(?<=(?<![^\W_])(?<![@$!|€]){_MEMBER}.){_ASCII_SEP}*{_LAST}(?![^\W_])")
_CHAIN_DROP = re.compile(rf"{_SEP}+")
_SYMBOL = re.compile(r"[@$!|€]")
_HAS_ALPHA = re.compile(r"[^\W\d_]")
# Leetspeak is a disguise of the Latin alphabet: digits become letters only next to a Latin letter, so
# "10кг" or "5ος" keep their numbers (and a digit never turns a genuine token into a mixed-script one).
_HAS_LATIN = re.compile(r"[A-Za-z]")
_NON_DIGIT = re.compile(r"\D+")
_REPEAT = re.compile(r"(\w)\1+")
_SPELLED_RUN = re.compile(r"(?<!\S)\S \S \S(?!\S)")  # three one-character words in a row


def _casefold_marks() -> frozenset[str]:
    """The combining marks that case folding itself can produce (``İ``, ``ΐ``, ``ǰ``...)."""
    return frozenset(c for cp in range(0x80, 0x20000) for c in chr(cp).casefold()
                     if unicodedata.category(c) in ("Mn", "Me"))


_CASEFOLD_MARKS = _casefold_marks()


def _strip(text: str) -> str:
    """NFKC, then accents and format characters off (NFD, drop, NFC)."""
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text)).translate(_DROP)
    return unicodedata.normalize("NFC", text)


def fold_unicode(text: str, *, skeleton: bool = False, whole: bool | None = None) -> str:
    """NFKC, strip accents and format characters, fold look-alikes (``confusables.fold``: mixed-script tokens,
    or a whole text of look-alikes; ``whole`` True forces the latter), case-fold. ASCII takes a fast path.
    ``skeleton`` folds every look-alike regardless of context (the second form a listed term is indexed
    under)."""
    return _fold_unicode(text, skeleton, whole)[0]


def _fold_unicode(text: str, skeleton: bool, whole: bool | None) -> tuple[str, bool]:
    if text.isascii():
        return text.lower(), True
    # Look-alikes are decided before case folding: UTS #39 data is case-specific (``К`` looks Latin, ``к`` not).
    # Symbols first: NFKC would turn a few look-alikes ("ͺ" for i) into a space and a mark.
    if not _LETTER_FORM_CHARS.isdisjoint(text):
        text = text.translate(_LETTER_FORMS)
    text = _strip(confusables.fold_symbols(text))
    if skeleton:
        text, whole = confusables.fold_token(text), True
    else:
        text, whole = confusables.fold_decide(text, whole)
    # Strip again only where case folding produced compatibility characters or marks ("İ" -> "i" + dot).
    text = text.casefold()
    # (A set's isdisjoint walks the string in C: a regex class of these marks is ~20x slower.)
    if not _CASEFOLD_MARKS.isdisjoint(text) or not unicodedata.is_normalized("NFKC", text):
        text = _strip(text)
    return text, whole


def map_confusables(text: str) -> str:
    """``l`` joins ``i`` (see module docstring); other look-alikes were folded by ``fold_unicode``."""
    return text.replace("l", "i")


# ASCII fast path of ``tokens``: one C-level translate turns every non-token byte into a space.
_ASCII_KEEP = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789@$!|")
_ASCII_SPLIT = bytes(c if c in _ASCII_KEEP else 32 for c in range(256))
# ``words``' ASCII path in one translate: lower-case, ``l`` -> ``i`` and split, as steps 1-3 would.
_ASCII_FOLD_SPLIT = bytes(b if b in _ASCII_KEEP else 32
                          for b in (ord(chr(c).lower().replace("l", "i")) for c in range(256)))


# Each as its ASCII stand-in: a space, a hyphen (dashes, minus), a quote; all are chain separators but the space.
_TYPOGRAPHIC = str.maketrans({"\u00a0": " ", **dict.fromkeys("\u2013\u2014\u2212", "-"),
                              **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
                              **dict.fromkeys("\u00ab\u00bb\u201c\u201d\u201e", '"'), "\u2026": "..."})


def join_chains(text: str) -> str:
    """Drop the punctuation inside chains of single characters: "f.o.o" -> "foo", "U.S.A." -> "USA"."""
    if text.isascii():
        hint, chain = _CHAIN_HINT_ASCII, _CHAIN_PLAIN
    else:
        hint, chain = (_CHAIN_HINT, _CHAIN) if max(text) >= "\u0903" else (_CHAIN_HINT_PLAIN, _CHAIN_PLAIN)
    if not hint.search(text):
        return text
    return chain.sub(_join_chain, text)


def _join_chain(match: re.Match[str]) -> str:
    """One chain as one word, leet already mapped (so its edge symbols are letters, not trimmed), if it
    spells a word: a letter and at least two members that are not digits ("7.4.$.v" is one). Chains of
    digits ("1.2.3", "v1.2.3") stay as they are: numbers, not words."""
    chain = match.group()
    joined = _CHAIN_DROP.sub("", chain)
    if not _HAS_ALPHA.search(joined) or sum(1 for c in joined if not c.isdigit()) < 2:
        return chain
    return joined.translate(_LEET) if _HAS_LATIN.search(joined) else joined


def tokens(text: str, trim: bool = True) -> list[str]:
    """Raw tokens: runs of alphanumerics and leetspeak symbols, edge punctuation trimmed (unless ``trim`` is
    False: then edge symbols stay, to be read as letters)."""
    if text.isascii():
        found = text.encode().translate(_ASCII_SPLIT).decode().split()
    else:
        found = (_TOKEN_MC if max(text) >= "\u0903" else _TOKEN).findall(text.replace("_", " "))
    return _trim_symbols(found) if trim and _SYMBOL.search(text) else found


def join_spelled(toks: list[str]) -> list[str]:
    """Join maximal runs of >= 3 one-character tokens (at least two letters) into one word."""
    out: list[str] = []
    run: list[str] = []
    for token in (*toks, ""):  # "" flushes the last run
        if len(token) == 1:
            run.append(token)
            continue
        if run:
            letters = sum(1 for c in run if c.isalpha())
            if len(run) >= 3 and letters >= 2:
                out.append("".join(run))
            else:
                out.extend(run)
            run = []
        if token:
            out.append(token)
    return out


def map_leet(token: str) -> str:
    """Leetspeak digits/symbols to letters, only in a token that has a Latin letter; else keep the digits
    (and the letters of another script)."""
    if token.isalpha():
        return token
    if _HAS_LATIN.search(token):
        return token.translate(_LEET)
    if _HAS_ALPHA.search(token):
        return _SYMBOL.sub("", token)
    return "".join(_NON_DIGIT.split(token))  # "$100" -> "100"; symbols alone are dropped


def _collapse(match: re.Match[str]) -> str:
    run = match.group()
    return run if run[0].isdigit() else run[0]


def collapse_repeats(text: str) -> str:
    """Runs of the same letter become one letter (digits are kept as they are)."""
    return _REPEAT.sub(_collapse, text)


def words(text: str) -> list[str]:
    """The normalised words of ``text``; never raises."""
    return _words(text, True)


# HTML character references (``&#122;``, ``&#x7A;``, ``&eacute;``, ``&shy;``): a page string shown as HTML
# displays the character, so it is read as the character ("zqx&#98;locked"). Named references count only
# with their ";" (``term_page`` routes exactly these strings out of its lane: ``REFERENCE``).
REFERENCE = re.compile(r"&(?:#[xX]?[0-9A-Fa-f]+;?|[A-Za-z][A-Za-z0-9]{0,31};)")


def _reference(match: re.Match[str]) -> str:
    found = html.unescape(match.group())
    # A control character reads as a space, as punctuation would; an unknown name stays as written.
    return " " if found and unicodedata.category(found[0]) == "Cc" else found


def decode_references(text: str) -> str:
    """``text`` with its HTML character references read as the characters they stand for."""
    return REFERENCE.sub(_reference, text) if "&" in text else text


# Leetspeak written with two or three symbols for one letter. Read as the letter only where it touches a
# Latin letter (``zqxblocke|)``, ``f()rbidden``), so smileys, "f()" calls and paths stay punctuation.
_DIGRAPHS = {"|)": "d", "|<": "k", "|-|": "h", "|\\|": "n", "|_|": "u", "/\\": "a", "\\/\\/": "w", "\\/": "v",
             "()": "o"}
_ANY_DIGRAPH = "|".join(re.escape(d) for d in sorted(_DIGRAPHS, key=len, reverse=True))
_WORDISH = r"[A-Za-z0-9@$!|€]"  # a Latin letter or a leetspeak digit/symbol
_DIGRAPH = re.compile(rf"(?<={_WORDISH})(?:{_ANY_DIGRAPH})|(?:{_ANY_DIGRAPH})(?={_WORDISH})")


def map_digraphs(text: str) -> str:
    """Step 0: multi-symbol leetspeak letters touching a letter or another leet symbol (``|)`` d, ``|<`` k,
    ``()`` o, ``\\/`` v). Repeated (at most 3 times) so that neighbouring digraphs resolve each other
    (``|</\\t`` -> ``kat``); ``f()`` (a call) reads "fo", which matters only if "fo" were listed."""
    if not ("|" in text or "()" in text or "\\" in text) or not _DIGRAPH.search(text):
        return text
    for _ in range(3):
        mapped = _DIGRAPH.sub(lambda m: _DIGRAPHS[m.group()], text)
        if mapped == text:
            break
        text = mapped
    return text


# The wider leetspeak table (common tables: multi-symbol letters and single symbols), read only for the
# *alternate* reading (``reading.reading``; ``words`` keeps the punctuation reading, so "q=a+b", "R&D",
# "(see", "C++" read as before and a listed word beside them still matches). A multi-symbol letter counts
# where it touches a Latin letter, a digit or a leet symbol on either side (as ``map_digraphs``); a single
# symbol (``( < [ { + ^ &``) only right after one (inside or at the end of a word: "xq(x" c, "vq+a" t),
# never at a word's start ("(see"); a bracket only with no closing one after it in the text ("f(x)",
# "open(file, 'r')", "x[0]", "x</b>": code and tags), ``+ ^`` not doubled ("C++", "i++"), an ``&`` only
# inside a word and never before a query's "name=" ("a=b&c=d", "q&&").
WIDE_LEET = {  # (``map_digraphs``' own, "()" "|)" "|<" "\\/" ..., are read by ``words`` already)
    "/\\/\\": "m", "|\\/|": "m", "|v|": "m", "|V|": "m", "/v\\": "m", "/V\\": "m", "(v)": "m", "(V)": "m",
    "/\\/": "n", "]-[": "h", "}-{": "h", ")-(": "h", "(-)": "h", "\\^/": "w", "|/|": "w", "/-\\": "a", "/_\\": "a",
    "(_)": "u", "|2": "r", "|z": "r", "|Z": "r", "|?": "r", "|3": "b", "|8": "b",
    "><": "x", "}{": "x", ")(": "x", "[]": "o", "<>": "o", "[)": "d", "|>": "d",
    "|{": "k", "_|": "j", "|_": "l", "|*": "p", "|o": "p", "|D": "p",
}
WIDE_SINGLE = {"(": "c", "<": "c", "[": "c", "{": "c", "+": "t", "^": "a", "&": "e"}  # no "#": URL fragments
_WIDE_TOUCH = r"[A-Za-z0-9@$!|€]"


def _wide_pattern(table: dict[str, str]) -> re.Pattern[str]:
    """``table``'s multi-symbol letters and the single symbols where they count, each alternative led by its
    symbol."""
    multi = [f"{re.escape(d)}(?:(?<={_WIDE_TOUCH}[\\s\\S]{{{len(d)}}})|(?={_WIDE_TOUCH}))"
             for d in sorted(table, key=len, reverse=True)]
    single = [f"[+^](?<={_WIDE_TOUCH}[\\s\\S])(?![+^])", f"[(\\[{{<](?<={_WIDE_TOUCH}[\\s\\S])(?![^)\\]}}>]*[)\\]}}>])",
              f"&(?<={_WIDE_TOUCH}[\\s\\S])(?={_WIDE_TOUCH})(?![A-Za-z0-9_.%-]*=)"]
    return re.compile("|".join(multi + single))


_WIDE = _wide_pattern(WIDE_LEET)
# Mapping reads ``map_digraphs``' own at the same time ("|<(" is "kc", "/\\/\\" one "m"), longest first.
_WIDE_MAP = _wide_pattern({**_DIGRAPHS, **WIDE_LEET})
_WIDE_LETTERS = {**_DIGRAPHS, **WIDE_LEET, **WIDE_SINGLE}
WIDE_SYMBOLS = "()[]{}<>+^&"  # every match of ``_WIDE`` holds one of these, or a "|" or "\\"


def _wide_letter(match: re.Match[str]) -> str:
    return _WIDE_LETTERS[match.group()]


# Chains of single characters whose members include the wider table's symbols (``x:z:7:o:i:p:&``, ``>-<-z``,
# ``q.(.).x``, ``a.^.b``): ``join_chains`` reads those symbols as separators; here they are members, read once
# the chain is joined (a multi-symbol letter cut by separators, ``>-<``, is whole again). A member is one
# character between separators (any punctuation but those symbols, "=", "/" and "\\").
_WIDE_MEMBERS = "()\\[\\]{}<>+^&"
# (An "&" before a query's "name=" is no member, as in ``WIDE_SINGLE``: "?x=&_a_b=1".)
_WM = r"(?:[A-Za-z0-9@$!|€()\[\]{}<>+^]|&(?![A-Za-z0-9_.%-]*=))"
# "=" breaks a chain (a query's "a=&b="), and so do "/" and "\\" (paths; "/\\" a, "\\^/" w are letters).
_WS = rf"(?:[^\w\s@$!|€{_WIDE_MEMBERS}=/\\\x00]|_)"
_WIDE_CHAIN = re.compile(rf"(?<![^\W_])(?<![@$!|€{_WIDE_MEMBERS}]){_WM}(?:{_WS}+{_WM}){{2,}}(?![^\W_])(?![@$!|€{_WIDE_MEMBERS}])")
# Necessary for such a chain, and cheap: a wide member (or a "|", which starts "|3" b, "|<" k...) with a
# separator on one side.
_WIDE_CHAIN_HINT = re.compile(rf"[|{_WIDE_MEMBERS}](?:(?<={_WS}.)|(?={_WS}))")
# The same on ASCII text, the separators as one positive class (led by the member class: scanned for in C).
_WIDE_CHAIN_HINT_ASCII = re.compile(
    rf"[|{_WIDE_MEMBERS}](?:(?<=[{''.join(re.escape(chr(b)) for b in range(128) if re.fullmatch(_WS, chr(b)))}].)"
    rf"|(?=[{''.join(re.escape(chr(b)) for b in range(128) if re.fullmatch(_WS, chr(b)))}]))")
_WS_RUN = re.compile(rf"{_WS}+")
# Inside a joined chain every member is a letter: multi-symbol letters are read longest first wherever they
# stand (no touching letter needed), then each single symbol; symbols no letter was read from are dropped.
_WIDE_PLAIN = re.compile("|".join(re.escape(d) for d in sorted({**_DIGRAPHS, **WIDE_LEET}, key=len, reverse=True)))
_WIDE_LEFT = re.compile(rf"[{_WIDE_MEMBERS}]")


def _wide_chain(match: re.Match[str]) -> str:
    chain = match.group()
    members = _WS_RUN.sub("", chain)
    if not any(c.isascii() and c.isalpha() for c in members) or sum(1 for c in members if not c.isdigit()) < 3:
        return chain
    mapped = _WIDE_PLAIN.sub(_wide_letter, members).translate(_WIDE_SINGLE_TABLE)
    if mapped == members.translate(_WIDE_SINGLE_TABLE) and not _WIDE_LEFT.search(members):
        return chain  # no wide symbol in it: join_chains reads it already
    return _WIDE_LEFT.sub("", mapped)


_WIDE_SINGLE_TABLE = str.maketrans(WIDE_SINGLE)


def _wide_chains(text: str) -> str:
    """``text`` with its chains of wide symbols and letters read (above); unchanged when it has none."""
    if not (_WIDE_CHAIN_HINT_ASCII if text.isascii() else _WIDE_CHAIN_HINT).search(text):
        return text
    return _WIDE_CHAIN.sub(_wide_chain, text)


def map_wide(text: str) -> str:
    """The wider leetspeak table read as letters (see ``WIDE_LEET``), after ``map_digraphs``' own: "x></\\/\\"
    -> "xxm", "x|<(" -> "xkc"; repeated (at most 3 times) so that neighbouring symbols resolve each other.
    Chains of single characters with wide symbols among their members are read first (``_wide_chain``:
    ``x:z:&``; a chain's "?" is a separator, not the end of ``|?`` r)."""
    text = _wide_chains(text)
    for _ in range(3):
        mapped = _WIDE_MAP.sub(_wide_letter, text)
        if mapped == text:
            break
        text = mapped
    return text


def has_wide(text: str) -> bool:
    """Whether ``map_wide`` changes ``text``: ``_WIDE`` tried where a symbol stands, on the text and on it
    with ``map_digraphs``' own read (a ``()`` "o" may touch a symbol)."""
    return _wide_in(text) or ((mapped := map_digraphs(text)) is not text and _wide_in(mapped)) \
        or _wide_chains(text) != text


_WIDE_FIRST = re.compile(r"[()\[\]{}<>+^&|/\\_]")  # the first symbol of every ``_WIDE`` alternative


def _wide_in(text: str) -> bool:
    """``_WIDE.search(text)``, tried only where a symbol stands (a search of the whole alternation at
    every position costs ~20 µs on a snippet)."""
    match = _WIDE.match
    return any(match(text, m.start()) for m in _WIDE_FIRST.finditer(text))


def _words(text: str, trim: bool, whole: bool | None = None) -> list[str]:
    """``words``; ``trim`` False reads edge symbols as letters instead of punctuation; ``whole`` forces the
    whole-text look-alike decision (None: by the rule)."""
    if not isinstance(text, str):  # defensive: callers pass JSON values; never raise on them
        text = "" if text is None else str(text)
    if "&" in text:
        text = decode_references(text)
    text = map_digraphs(text)
    if not text.isascii():
        # Curly quotes, dashes, ellipsis and no-break spaces are most of the non-ASCII in English text. Each
        # goes through steps 1-3 exactly as its ASCII stand-in would (a space, a hyphen or a quote: chain
        # separators all but the space; "…" is NFKC "..."), so text that is ASCII but for them takes the fast
        # path.
        plain = text.translate(_TYPOGRAPHIC)
        if plain.isascii():
            text = plain
    if text.isascii():
        # Most result text. Chains are found on the raw text (lower-casing and l -> i keep every
        # character's class), then one translate does fold, confusables and the split.
        text = join_chains(text)
        toks = text.encode().translate(_ASCII_FOLD_SPLIT).decode().split()
        # Four substring tests beat one regex scan; without symbols no token can finish empty.
        symbols = "@" in text or "$" in text or "!" in text or "|" in text
        if symbols and trim:
            toks = _trim_symbols(toks)
        return _finish_tokens(toks, symbols)
    folded, decided = _fold_unicode(text, False, whole)
    out, joined = _finish_non_ascii(folded, trim)
    if whole is None and not decided and not confusables.has_genuine(out):
        # Joining, or the wider fold of a word beside a disguise or oddly cased ("а:µΙ"), folded away the
        # only letters that made the text genuine: decide as a second pass would.
        out = _finish_non_ascii(_fold_unicode(text, False, True)[0], trim)[0]
    if joined and not all(map(str.isascii, out)):
        # A word joined across a separator can be the mixed-script neighbour that decides how the words
        # beside it fold (confusables.fold_decide): read the words once more, as a second pass would
        # (normalize stays idempotent). Only non-ASCII text whose letters were joined gets here.
        for _ in range(2):
            again = _finish_non_ascii(_fold_unicode(" ".join(out), False, whole)[0], trim)[0]
            if again == out:
                break
            out = again
    return out


def _finish_non_ascii(folded: str, trim: bool) -> tuple[list[str], bool]:
    """Steps 2-6 of non-ASCII text, and whether joining (chains, spelled-out letters) made new words."""
    mapped = map_confusables(folded)
    chained = join_chains(mapped)
    out, spelled = _finish_joined(tokens(chained, trim), True)
    if chained is mapped and not spelled:
        return out, False  # no word was joined: every word is a token fold_unicode already judged
    # Joining chains or spelled-out letters can make a word of two scripts after fold_unicode ran.
    return [_finish(fixed) if (fixed := confusables.fold_mixed(word)) != word else word for word in out], True


def _finish_tokens(toks: list[str], symbols: bool) -> list[str]:
    """Steps 4-6 over raw tokens (``symbols``: some token may finish empty)."""
    return _finish_joined(toks, symbols)[0]


def _finish_joined(toks: list[str], symbols: bool) -> tuple[list[str], bool]:
    """``_finish_tokens`` and whether spelled-out letters were joined."""
    out = list(map(_FINISHED.get, toks))
    if None in out:
        out = _finish_all(toks, out)
    if symbols and "" in out:
        out = [word for word in out if word]
    # Joining runs after leet/collapse so that it sees final tokens: that makes normalize idempotent.
    # Without a run of three one-character words join_spelled changes nothing (and _finish is
    # idempotent), so the common "a ... 2 ... x" text skips it.
    if list(map(len, out)).count(1) >= 3 and _SPELLED_RUN.search(" ".join(out)):
        return [word for word in map(_finish, join_spelled(out)) if word], True
    return out, False


# Steps 4 and 5 per token, cached: ordinary words repeat, so most tokens cost one dict lookup. Bounded
# (cleared whole when full); a plain dict's ``get`` mapped over the tokens beats ``lru_cache`` by ~2x.
_FINISHED: dict[str, str] = {}
_FINISHED_MAX = 1 << 16


def _finish(token: str) -> str:
    """Steps 4 and 5 for one token."""
    return collapse_repeats(map_leet(token))


def _finish_all(toks: list[str], cached: list[str | None]) -> list[str]:
    if len(_FINISHED) > _FINISHED_MAX:
        _FINISHED.clear()
    out: list[str] = []
    for token, word in zip(toks, cached, strict=True):
        if word is None:
            word = _FINISHED[token] = _finish(token)
        out.append(word)
    return out


def _trim_symbols(found: list[str]) -> list[str]:
    """Edge symbols are punctuation (``@name``, ``wow!``, ``|x|``); drop tokens left empty."""
    out = []
    for token in found:
        if not token.isalnum():
            token = token.lstrip(_LEADING_PUNCT).rstrip(_TRAILING_PUNCT)
            if not token:
                continue
        out.append(token)
    return out


def own_words(text: str) -> list[str]:
    """``words`` as if ``text`` stood in genuine text of its script: single-script tokens keep their
    letters even when every letter could be Latin (a listed "как" is also indexed as itself)."""
    if not isinstance(text, str) or text.isascii():
        return words(text)
    return _words(text, True, False)


def skeleton_words(text: str) -> list[str]:
    """``words`` with every look-alike folded whatever its context: the second form under which a listed
    term of another script is indexed, so that its mixed-script disguises match too."""
    if not isinstance(text, str) or text.isascii():
        return words(text)
    return words(fold_unicode(text, skeleton=True))


def normalize(text: str) -> str:
    """Normalised words joined by single spaces (DESIGN §4)."""
    return " ".join(words(text))
