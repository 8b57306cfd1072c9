"""What the term matcher reads from one text besides its words (issue 11, items 3 and 4).

``normalize.words`` gives one reading. Three more forms are needed to catch joined, split and symbol-edged
disguises without changing what a word is:

- ``alternate``: edge symbols read as letters (``@lpha`` -> ``alpha``, ``$tuff``, ``zqxfil!``), where
  ``words`` reads them as punctuation (a handle's ``@``, an exclamation mark); and the wider leetspeak
  table (``normalize.map_wide``: ``q><rm|2`` -> ``qxrmr``, with ``6`` as b and ``7`` as l once more). All
  readings are matched.
- ``tagged``: the words of hashtag and handle tokens (``#...``, ``@...``, also with digit runs split off),
  which the matcher segments into a listed term plus ordinary words or digits (``#zqxblockedlife``).
- ``glued``: whole words that only exist with their separators removed: a hyphen/dot/underscore compound
  (``Ken-Rod``, where both pieces are ordinary words the matcher never glues across a space; ``vy_1|8``,
  ``qvzai-|)``, whose leetspeak piece alone stays a number in ``words``), and letters spelled out with spaces next to a one-letter word or after a punctuation-ended
  token (``a z q x``, ``Q: k w n y b``), which ``words`` glues together. Looked up whole, never segmented.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from filter_proxy.normalize import _LETTER_FORMS, _words, decode_references, has_wide, map_digraphs, map_wide

__all__ = ["Reading", "reading"]


class Reading(NamedTuple):
    """What the term matcher reads from one text: ``words`` (as ``words(text)``), ``alternate`` (the same
    text with edge symbols read as letters, ``@lpha`` -> ``alpha``, when that differs) and ``tagged`` (the
    normalised words of hashtag and handle tokens, ``#...``/``@...``, also with digit runs split off, which
    the matcher may segment into a listed term plus ordinary words or digits)."""

    words: list[str]
    alternate: list[str] | None = None
    tagged: tuple[str, ...] = ()
    glued: tuple[str, ...] = ()
    # A NamedTuple, not a frozen dataclass: built for every screened field, and ~1 µs cheaper.


# A symbol that tokens() trims as punctuation, next to a Latin letter: the text has a second reading.
# A letter of any script may stand before the trailing symbol: a look-alike ("zvТ|") is Latin once folded; so
# may a leet symbol ("xqdk@|"); and one may follow the leading one ("@!rings": airings).
_EDGE_SYMBOL = re.compile(r"(?:^|[^\w@$!|€]|_)[@|]+(?:\w|[!$€])|(?:[^\W_]|[@$€])[!|]+(?:$|[^\w@$!|€]|_)")
_TAG = re.compile(r"(?<![\w@$!|€])[#@]+([^\s#@]+)")  # to the next space: marks and format characters too
_DIGITS = re.compile(r"\d+")
_FINAL_MARKS = re.compile(r"[!|]+(?=[\s.?,;:)\]}\"'*]*$)")
_OTHER_DIGITS = str.maketrans("67", "bl")
_APART = "\x00"  # between two readings in ``alternate``: no listed phrase holds it


def reading(text: str) -> Reading:
    """``words(text)`` plus the alternate reading, hashtag/handle words and glued words (module docstring)."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if "&" in text:  # character references read as their characters, by every reading below
        text = decode_references(text)
    main = _words(text, True)
    alternate = None
    # Searched with digraphs read (``|()mmob``: the edge ``|`` touches ``()``, an ``o``), as ``_words`` reads.
    if ("@" in text or "|" in text or "!" in text) and _EDGE_SYMBOL.search(map_digraphs(text)):
        other = _words(text, False)
        alternate = other if other != main else None
        # Every edge symbol a letter but those that end the text ("@!rings!", "qx$07z| xzcx!!": an
        # exclamation): a third reading, after a word no normalised text holds, so no phrase spans the two.
        third = _words(_FINAL_MARKS.sub("", text), False)
        if third != main and third != other:
            alternate = [*other, _APART, *third]
    if has_wide(text):
        # The wider leetspeak table (``normalize.WIDE_LEET``: ``><`` x, ``+`` t, ``[]`` o, ``|2`` r ...), a
        # reading of its own beside the others: "q=a+b" or "R&D" keep their words in ``main``.
        mapped = map_wide(text)
        wide = [*_words(mapped, True), _APART, *_words(mapped, False)]
        if "6" in mapped or "7" in mapped:  # the tables' other letters for them: 6 b (not g), 7 l (not t)
            wide += [_APART, *_words(mapped.translate(_OTHER_DIGITS), True)]
        alternate = wide if alternate is None else [*alternate, _APART, *wide]
    tagged: tuple[str, ...] = ()
    if "#" in text or "@" in text:
        found: dict[str, None] = {}
        for body in _TAG.findall(text):
            for variant in (body, _DIGITS.sub(r" \g<0> ", body)):
                found.update(dict.fromkeys(w for w in _words(variant, True) + _words(variant, False) if len(w) > 1))
        tagged = tuple(found)
    return Reading(main, alternate, tagged, glued_words(text))


def glued_words(text: str) -> tuple[str, ...]:
    """The ``glued`` reading of ``text`` (module docstring): compounds cut by ``-``/``_``/``.`` and letters
    spelled out with spaces, each looked up whole. Empty for most text (two cheap pre-checks)."""
    glued: dict[str, None] = {}
    if "&" in text:
        text = decode_references(text)
    seam, spelled = _hints(text)  # cheap prechecks (this runs for every screened field), rarely true
    if seam:
        budget = _MAX_COMPOUNDS  # bounded: code and URLs ("os.path.join") are full of such chunks
        for chunk in text.split():
            if budget and len(chunk) <= _MAX_COMPOUND and ("-" in chunk or "_" in chunk or "." in chunk):
                found = _COMPOUNDS.get(chunk, _UNSEEN)
                if found is _UNSEEN:
                    if len(_COMPOUNDS) > _COMPOUNDS_MAX:
                        _COMPOUNDS.clear()
                    found = _COMPOUNDS[chunk] = _compound(chunk)
                if found is not None:
                    budget -= 1
                    glued.update(dict.fromkeys(found))
    if spelled and not text.isascii():
        # Letters that are symbols until NFKC or the letter forms read them (ⓧ, 🇽, 🅧): spelled out too.
        text = unicodedata.normalize("NFKC", text.translate(_LETTER_FORMS))
    if spelled and _SPELLED_HINT.search(text):
        for run in _SPELLED.findall(text):
            letters = _SPACES.sub("", run)
            # A one-letter word may stand before or after the spelled word ("a z q x", "z q x a").
            for part in (letters, letters[1:], letters[:-1]):
                glued.update(dict.fromkeys(_words(part, True)))
    return tuple(glued)


def _compound(chunk: str) -> list[str] | None:
    """The glued words of one whitespace-free chunk, or None when it is no word cut in two or three pieces."""
    if not (_HAS_LATIN.search(chunk) and _SEPARATOR.search(chunk)):
        return None
    pieces = _SEPARATORS.split(chunk.strip(_QUOTES))
    if not 2 <= len(pieces) <= 3 or min(map(len, pieces)) < 2:
        return None  # a word is cut in two or three pieces; "e.g.", "__init__" are no such word
    # A hyphen/dot/underscore compound read as one word: "Ken-Rod", "pax_g/\\i7", "vy_1|8". (Spaces
    # between two ordinary words are a phrase; these separators are how a word is cut.)
    joined = _SEPARATORS.sub("", chunk)
    found = _words(joined, True)
    return found + _words(joined, False) if _LEETISH.search(chunk) else found


# Chunk -> its glued words (None: no compound). Compounds recur ("os.path", "e-mail", "well-known"): a
# bounded dict like ``normalize``'s token cache (cleared whole when full); it holds chunks, never a text.
_COMPOUNDS: dict[str, list[str] | None] = {}
_COMPOUNDS_MAX = 1 << 14
_UNSEEN: list[str] = []

# A chunk that may be a split word with leetspeak in it: a separator inside, a digit or leet symbol somewhere
# ("vy_1|8", "pax_g/\\i7", "5ox_fo8_nym"); glued whole it is one word that ``words`` never sees.
_SEPARATOR = re.compile(r"\w[-_.]|[-_.]\w|[@$!|€()<>/\\][-_.]|[-_.][@$!|€()<>/\\]")
_MAX_COMPOUNDS = 4  # compounds glued per field
_QUOTES = "\"'`[]{},;:?*"
_MAX_COMPOUND = 40  # characters; a longer chunk is a URL or code, not a word cut in pieces
_LEETISH = re.compile(r"[0-9@$!|€]|\(\)|/\\|\\/")
# Two one-letter words in a row (a spelled-out word may follow).
_SPELLED_HINT = re.compile(r" [^\W\d_]\s+[^\W\d_]\s")
# ASCII text: one bytes translate to character classes (a letter, 1 digit/leet symbol, - separator, space),
# then substring tests in C: ~4x cheaper than the regex scans, on every screened field.
_CLASSES = bytes(
    ord("a") if chr(b).isalpha() or chr(b) == "?" else ord("1") if chr(b) in "0123456789@$!|()<>/\\" else ord("-") if chr(b) in "-_."
    else ord(" ") if chr(b).isspace() else ord("x") for b in range(128)
) + b"x" * 128


def _hints(text: str) -> tuple[bool, bool]:
    """(a separator between letters, or one and a digit or leet symbol; ``_SPELLED_HINT`` may match), by class
    substrings; non-ASCII characters count as letters (a superset: the regexes decide)."""
    if not text.isascii():  # other spaces (no-break, thin, ideographic) as spaces, not as "?" (a letter)
        text = text.translate(_WIDE_SPACES).encode("ascii", "replace").decode()
    classes = text.encode().translate(_CLASSES)
    seam = b"a-a" in classes or (b"-" in classes and b"1" in classes)
    return seam, (b" a a " in classes or b" a  a " in classes)


_WIDE_SPACES = {cp: " " for cp in range(0x80, 0x3001) if chr(cp).isspace()}
_SEPARATORS = re.compile(r"[-_.]+")
_HAS_LATIN = re.compile(r"[A-Za-z]")
# Three or more single letters apart by whitespace, the first not glued to punctuation ("Q: k w n").
_SPELLED = re.compile(r"(?<!\S)[^\W\d_](?:\s+[^\W\d_]){2,}(?!\w)")
_SPACES = re.compile(r"\s+")
