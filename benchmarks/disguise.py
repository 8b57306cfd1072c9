"""Disguised forms of listed terms, one generator per obfuscation class of DESIGN §4.

Each class is a function ``(text, rng) -> text`` that keeps the term recognisable to a human reader.
``COMBINATIONS`` chains several; ``disguise(term, cls, rng)`` applies one class or combination by name.
"""

from __future__ import annotations

import random
from collections.abc import Callable

Disguise = Callable[[str, random.Random], str]

LEET = {"a": "4@", "e": "3", "i": "1", "o": "0", "s": "5$", "t": "7", "b": "8", "g": "9"}
# Widely listed confusables (Unicode confusables.txt): Cyrillic and Greek letters that look Latin.
CYRILLIC = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "y": "у", "x": "х", "i": "і", "s": "ѕ", "j": "ј"}
GREEK = {"o": "ο", "a": "α", "i": "ι", "k": "κ", "v": "ν", "p": "ρ", "u": "υ"}
ACCENTS = {"a": "áàâäãå", "e": "éèêë", "i": "íìîï", "o": "óòôöõ", "u": "úùûü", "n": "ñ", "c": "ç", "z": "žź",
           "s": "šś", "k": "ķ", "g": "ğ", "r": "ř", "d": "ď", "t": "ť"}  # decomposable only
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def _per_letter(mapping: dict[str, str], share: float) -> Disguise:
    def apply(text: str, rng: random.Random) -> str:
        letters = [i for i, c in enumerate(text) if c.lower() in mapping]
        if not letters:
            return text
        chosen = set(rng.sample(letters, max(1, round(len(letters) * share))))
        return "".join(rng.choice(mapping[c.lower()]) if i in chosen else c for i, c in enumerate(text))
    return apply


def leetspeak(text: str, rng: random.Random) -> str:
    return _per_letter(LEET, 0.7)(text, rng)


def cyrillic(text: str, rng: random.Random) -> str:
    return _per_letter(CYRILLIC, 0.6)(text, rng)


def greek(text: str, rng: random.Random) -> str:
    return _per_letter(GREEK, 0.6)(text, rng)


def accents(text: str, rng: random.Random) -> str:
    return _per_letter(ACCENTS, 0.7)(text, rng)


def fullwidth(text: str, rng: random.Random) -> str:
    """ASCII letters and digits to their full-width forms (U+FF01..U+FF5E); spaces become ideographic."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in text)


def _split_letters(sep: str) -> Disguise:
    def apply(text: str, rng: random.Random) -> str:
        # One word of a phrase has its letters split ("forbidden p.h.r.a.s.e"): splitting every word with
        # single spaces would erase the word boundaries, which no reader (or normaliser) could restore.
        words = text.split(" ")
        pick = rng.randrange(len(words))
        words[pick] = sep.join(words[pick])
        return " ".join(words)
    return apply


spaced = _split_letters(" ")
dotted = _split_letters(".")
dashed = _split_letters("-")


def zero_width(text: str, rng: random.Random) -> str:
    out = []
    for i, c in enumerate(text):
        out.append(c)
        if c != " " and i + 1 < len(text) and text[i + 1] != " " and rng.random() < 0.5:
            out.append(rng.choice(ZERO_WIDTH))
    return "".join(out)


def repeated(text: str, rng: random.Random) -> str:
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    chosen = set(rng.sample(letters, max(1, len(letters) // 3)))
    return "".join(c * rng.randint(2, 4) if i in chosen else c for i, c in enumerate(text))


def case_changes(text: str, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return text.upper()
    if style == 1:
        return text.title()
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


CLASSES: dict[str, Disguise] = {
    "leetspeak": leetspeak,
    "cyrillic look-alikes": cyrillic,
    "greek look-alikes": greek,
    "full-width": fullwidth,
    "spaced letters": spaced,
    "dotted letters": dotted,
    "dashed letters": dashed,
    "accents": accents,
    "zero-width inserted": zero_width,
    "repeated letters": repeated,
    "case changes": case_changes,
}

# Applied left to right; letter substitutions come before splitting and zero-width insertion, as a person would.
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "case + leetspeak": ("case changes", "leetspeak"),
    "leetspeak + dotted": ("leetspeak", "dotted letters"),
    "cyrillic + zero-width": ("cyrillic look-alikes", "zero-width inserted"),
    "accents + repeated": ("repeated letters", "accents"),
    "case + spaced + full-width": ("case changes", "spaced letters", "full-width"),
    "repeated + greek + dashed": ("repeated letters", "greek look-alikes", "dashed letters"),
}


def disguise(term: str, name: str, rng: random.Random) -> str:
    """``term`` disguised by the class or combination called ``name``."""
    steps = COMBINATIONS.get(name, (name,))
    for step in steps:
        term = CLASSES[step](term, rng)
    return term


def all_names() -> list[str]:
    return [*CLASSES, *COMBINATIONS]
