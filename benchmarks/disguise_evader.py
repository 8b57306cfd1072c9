"""A third disguise generator, written as an evader would (red-team pass): its own placeholder terms (nonsense
words rich in the letters leetspeak maps ambiguously, and phrases of ordinary English words), its own tables
typed from the Unicode charts (not read from ``confusables``, ``normalize`` or the other generators), and
disguises composed two or three at a time. Every disguise is one a human still reads as the term.

``disguise(term, name, rng)`` applies one class (or a ``+``-joined combination); ``CLASSES`` names them;
``QUERY_ONLY`` / ``PAGE_ONLY`` classes only exist on one side (percent-encoding in a query string, HTML
character references in a page string). ``measure`` gives recall per class through the query path
(``screening.query_verdict`` over the generic adapter's raw query string and an Elasticsearch JSON body)
and the page path (``RuleSet.check_many`` on page strings).
"""

from __future__ import annotations

import json
import random
import string
import unicodedata
from collections.abc import Callable
from urllib.parse import quote

Disguise = Callable[[str, random.Random], str]

# --- terms ----------------------------------------------------------------------------------------------------
# Letters leetspeak maps ambiguously (i/l, o, e, a, s, t, g, b, z) weighted up, so that terms like "lilsotbe"
# force the reader to decide which letter a "1" or "|" stands for.
_AMBIGUOUS = "iloeastgbz"
_OTHER = "cdfhjkmnpqruvwxy"


def nonsense_word(rng: random.Random, length: int) -> str:
    """A nonsense word of ``length`` letters; no letter three times in a row."""
    out = []
    while len(out) < length:
        c = rng.choice(_AMBIGUOUS) if rng.random() < 0.55 else rng.choice(_OTHER)
        if len(out) >= 1 and out[-1] == c:
            continue  # a doubled letter reads the same once: keep terms free of it (repetition is a class)
        out.append(c)
    return "".join(out)


def placeholder_terms(n: int, seed: int, ordinary: list[str] | None = None) -> list[str]:
    """``n`` unique terms: one nonsense word (4-14 letters, a "vq"/"xz" start so no English word collides),
    nonsense phrases of 2-4 words, and (when ``ordinary`` words are given) phrases of 2-3 ordinary words
    ending in a nonsense word ("forbidden phrase" + "xzqalpha")."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        kind = rng.random()
        if kind < 0.45:
            term = rng.choice(("vq", "xz", "qx", "zv")) + nonsense_word(rng, rng.randint(2, 12))
        elif kind < 0.8 or not ordinary:
            term = " ".join(rng.choice(("vq", "xz", "qx")) + nonsense_word(rng, rng.randint(2, 7))
                            for _ in range(rng.randint(2, 4)))
        else:
            words = [rng.choice(ordinary) for _ in range(rng.randint(1, 2))]
            term = " ".join([*words, "xq" + nonsense_word(rng, rng.randint(3, 6))])
        out[term] = None
    return list(out)


# --- tables, typed from the Unicode charts ------------------------------------------------------------------------
def _offset_alphabet(upper: int | None, lower: int | None, holes: dict[str, str] | None = None) -> dict[str, str]:
    table = {}
    for i, c in enumerate(string.ascii_lowercase):
        options = []
        if lower is not None:
            options.append(chr(lower + i))
        if upper is not None:
            options.append(chr(upper + i))
        table[c] = "".join(options)
    for c, repl in (holes or {}).items():
        table[c] = repl
    return table


# Mathematical alphanumerics: (capital A, small a) per style; holes are the letters encoded earlier (ℎ, ℬ, ...).
MATH_STYLES = {
    "bold": (0x1D400, 0x1D41A, {}), "italic": (0x1D434, 0x1D44E, {"h": "\u210e"}),
    "script": (0x1D49C, 0x1D4B6, {"b": "\u212c", "e": "\u212f\u2130", "f": "\u2131", "g": "\u210a",
                                  "h": "\u210b", "i": "\u2110", "l": "\u2112", "m": "\u2133", "o": "\u2134",
                                  "r": "\u211b"}),
    "fraktur": (0x1D504, 0x1D51E, {"c": "\u212d", "h": "\u210c", "i": "\u2111", "r": "\u211c", "z": "\u2128"}),
    "double-struck": (0x1D538, 0x1D552, {"c": "\u2102", "h": "\u210d", "n": "\u2115", "p": "\u2119",
                                         "q": "\u211a", "r": "\u211d", "z": "\u2124"}),
    "monospace": (0x1D670, 0x1D68A, {}), "sans-bold-italic": (0x1D63C, 0x1D656, {}),
}


def _math(style: str) -> dict[str, str]:
    upper, lower, holes = MATH_STYLES[style]
    table = _offset_alphabet(upper, lower)
    for c, repl in holes.items():  # reserved (unassigned) code points: the older letterlike symbol instead
        table[c] = "".join(x for x in table[c] if x not in (chr(upper + ord(c) - 97), chr(lower + ord(c) - 97))
                           or unicodedata.name(x, "")) + repl
    return table


ENCLOSED = {
    "circled": _offset_alphabet(0x24B6, 0x24D0), "parenthesized": _offset_alphabet(None, 0x249C),
    "squared": _offset_alphabet(0x1F130, None), "negative circled": _offset_alphabet(0x1F150, None),
    "negative squared": _offset_alphabet(0x1F170, None), "regional indicator": _offset_alphabet(0x1F1E6, None),
}
FULLWIDTH = _offset_alphabet(0xFF21, 0xFF41)
SMALL_CAPS = dict(zip(string.ascii_lowercase, "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘꞯʀꜱᴛᴜᴠᴡxʏᴢ", strict=True))
SUPERSCRIPT = dict(zip(string.ascii_lowercase, "ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖqʳˢᵗᵘᵛʷˣʸᶻ", strict=True))
SUBSCRIPT = {**dict(zip(string.ascii_lowercase, string.ascii_lowercase, strict=True)),
             **dict(zip("aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", strict=True))}
# Homoglyphs per script, chosen by eye from the code charts (small and capital forms).
SCRIPTS = {
    "cyrillic": {"a": "аА", "b": "ЬВ", "c": "сС", "e": "еЕ", "h": "һН", "i": "іІ", "j": "ј", "k": "К", "m": "М",
                 "o": "оО", "p": "рР", "s": "ѕЅ", "t": "Т", "x": "хХ", "y": "уҮ", "d": "ԁ", "g": "ԍ", "q": "ԛ",
                 "w": "ԝ", "l": "ӏ"},
    "greek": {"a": "α", "b": "Β", "e": "Ε", "h": "Η", "i": "ιΙ", "k": "Κκ", "m": "Μ", "n": "Ν", "o": "οΟ",
              "p": "ρΡ", "t": "Τ", "u": "υ", "v": "ν", "x": "Χ", "y": "Υ", "z": "Ζ"},
    "armenian": {"g": "ց", "h": "հ", "n": "ո", "o": "օ", "q": "զ", "u": "ս", "j": "յ", "l": "Լ",
                 "s": "Տ", "e": "ҽ"},
    "cherokee": {"a": "Ꭺ", "b": "Ᏼ", "c": "Ꮯ", "d": "Ꭰ", "e": "Ꭼ", "g": "Ꮐ", "h": "Ꮋ", "j": "Ꭻ", "k": "Ꮶ",
                 "l": "Ꮮ", "m": "Ꮇ", "p": "Ꮲ", "r": "Ꭱ", "s": "Ꮪ", "t": "Ꭲ", "v": "Ꮩ", "w": "Ꮃ", "z": "Ꮓ",
                 "i": "Ꮮ"},
}
COMBINING = [chr(cp) for cp in (*range(0x300, 0x345), *range(0x346, 0x36F), *range(0x1AB0, 0x1ABE), *range(0x1DC0, 0x1DFA),
                                *range(0x20D0, 0x20DD), 0x20E1, *range(0xFE20, 0xFE30))]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufeff", "\u2061", "\u2062", "\u2063", "\u2064",
             "\u034f", "\u180e", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
             "\u2067", "\u2068", "\u2069", *(chr(cp) for cp in range(0xFE00, 0xFE10)),
             *(chr(cp) for cp in range(0xE0100, 0xE0110)), *(chr(cp) for cp in range(0xE0020, 0xE0080)),
             "\u115f", "\u1160", "\u3164", "\uffa0", "\u17b4", "\u17b5"]
SPACES = [" ", "\u00a0", "\u2002", "\u2003", "\u2009", "\u200a", "\u202f", "\u205f", "\u3000", "\t", "\n",
          "\r\n", "\u1680", "\u2028", "  "]
PUNCT = list("-._*~+=:;,/\\'\"`^#%&?<>()[]{}") + ["…", "·", "•", "—", "–", "‧", "∙", "⋅", "・"]
LEET = {"a": ["4", "@", "/\\", "^"], "b": ["8", "6", "|3"], "e": ["3", "€", "&"], "g": ["9", "6"],
        "i": ["1", "!", "|"], "l": ["1", "|", "7"], "o": ["0", "()", "[]"], "s": ["5", "$", "z"], "t": ["7", "+"],
        "z": ["2"], "c": ["(", "<"], "k": ["|<"], "x": ["><"]}


# --- the classes -----------------------------------------------------------------------------------------------------
def _letters(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if c.isalpha()]


def _map_some(text: str, rng: random.Random, table: dict[str, str], share: float) -> str:
    spots = [i for i, c in enumerate(text) if c.lower() in table and table[c.lower()]]
    if not spots:
        return text
    chosen = set(rng.sample(spots, max(1, round(len(spots) * share))))
    return "".join(rng.choice(table[c.lower()]) if i in chosen else c for i, c in enumerate(text))


def _table_class(table: dict[str, str], share: float = 1.0) -> Disguise:
    return lambda text, rng: _map_some(text, rng, table, rng.choice((share, 0.5, 1.0)))


def _between(text: str, rng: random.Random, pick: Callable[[], str], every: bool = True) -> str:
    """``pick()`` between letters of each word (every gap, or one to three gaps)."""
    out = []
    for word in text.split(" "):
        gaps = range(1, len(word))
        chosen = set(gaps) if every else set(rng.sample(list(gaps), min(len(gaps), rng.randint(1, 3))))
        out.append("".join((pick() if i in chosen else "") + c for i, c in enumerate(word)))
    return " ".join(out)


def invisible(text: str, rng: random.Random) -> str:
    return _between(text, rng, lambda: "".join(rng.choices(INVISIBLE, k=rng.randint(1, 3))), rng.random() < 0.5)


def combining(text: str, rng: random.Random) -> str:
    return "".join(c + "".join(rng.choices(COMBINING, k=rng.randint(0, 2))) for c in text)


def zalgo(text: str, rng: random.Random) -> str:
    return "".join(c + ("".join(rng.choices(COMBINING, k=rng.randint(3, 12))) if c != " " else "") for c in text)


def separators(text: str, rng: random.Random) -> str:
    same = rng.random() < 0.5
    sep = rng.choice(PUNCT)
    return _between(text, rng, lambda: sep * rng.randint(1, 2) if same else "".join(rng.choices(PUNCT, k=rng.randint(1, 3))))


def spaces(text: str, rng: random.Random) -> str:
    gap = rng.choice(SPACES)
    return _between(text, rng, lambda: gap)


def split_inside(text: str, rng: random.Random) -> str:
    """Each word cut one to three times by a space or punctuation mark (``xzq lo-toab``)."""
    return _between(text, rng, lambda: rng.choice((" ", " ", "-", ".", "_", "/", "  ")), every=False)


def split_once(text: str, rng: random.Random) -> str:
    """One word of the term cut once, both pieces two letters or more (``xzqlo toab``, ``forbidden phr-ase``)."""
    words = text.split(" ")
    can = [i for i, w in enumerate(words) if len(w) >= 4]
    if not can:
        return text
    i = rng.choice(can)
    cut = rng.randrange(2, len(words[i]) - 1)
    words[i] = words[i][:cut] + rng.choice((" ", " ", "-", ".", "_", "/")) + words[i][cut:]
    return " ".join(words)


def repetition(text: str, rng: random.Random) -> str:
    return "".join(c * (rng.randint(1, 4) if c.isalpha() and rng.random() < 0.6 else 1) for c in text)


def leet(text: str, rng: random.Random) -> str:
    share = rng.choice((0.3, 0.6, 1.0))
    return "".join(rng.choice(LEET[c]) if c in LEET and rng.random() < share else c for c in text)


def leet_plain(text: str, rng: random.Random) -> str:
    """The common one-character digits and symbols only (``1``/``|`` = i or l, ``! 0 3 4 @ 5 $ 7``)."""
    table = {"i": ["1", "|", "!"], "l": ["1", "|"], "o": ["0"], "e": ["3"], "a": ["4", "@"], "s": ["5", "$"],
             "t": ["7"]}
    return "".join(rng.choice(table[c]) if table.get(c) and rng.random() < 0.7 else c for c in text)


def case_mix(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


def joined(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    style = rng.choice(("plain", "camel", "hashtag", "pascal", "upper"))
    if style == "plain":
        return "".join(words)
    if style == "upper":
        return "".join(words).upper()
    caps = "".join(w.capitalize() for w in words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    return ("#" if style == "hashtag" else "") + caps


def suffix(text: str, rng: random.Random) -> str:
    return text + rng.choice(("s", "es", "'s", "’s", "z"))


_VOWELS = "aeiou"
_ENDINGS_WRITTEN = ("ing", "ed", "er", "ers", "ings", "in'", "ied", "ies", "d")


def inflected(text: str, rng: random.Random) -> str:
    """The term's last word with an English inflection, spelled as English spells it: a silent ``e`` dropped
    before a vowel (``xzqlote`` -> ``xzqloting``), a final consonant ``y`` turned ``i`` (``xzqpady`` ->
    ``xzqpadied``), a final consonant after one vowel doubled (``xzqbat`` -> ``xzqbatted``), the ending
    sometimes in leetspeak (``1ng``, ``3d``, ``3r``) or capitals."""
    words = text.split(" ")
    word = words[-1]
    ending = rng.choice(_ENDINGS_WRITTEN)
    consonant_y = word.endswith("y") and word[-2:-1] not in tuple(_VOWELS)
    if ending in ("ied", "ies") and not consonant_y:
        ending = ending[1:]  # "ed", "es": only a consonant's "y" turns "i"
    if ending == "d" and not word.endswith("e"):
        ending = "ed"
    if ending in ("ied", "ies"):
        word = word[:-1]
    elif consonant_y and ending in ("ed", "er", "ers", "es"):
        word, ending = word[:-1], "i" + ending
    elif word.endswith("e") and ending[0] in _VOWELS:
        word = word[:-1]
    elif (len(word) > 2 and word[-1] not in _VOWELS + "wxy" and word[-2] in _VOWELS and word[-3] not in _VOWELS
          and rng.random() < 0.5):
        word += word[-1]
    if rng.random() < 0.3:
        ending = ending.replace("i", rng.choice("1!|")).replace("e", "3")
    if rng.random() < 0.2:
        ending = ending.upper()
    words[-1] = word + ending
    return " ".join(words)


def split_several(text: str, rng: random.Random) -> str:
    """Two or three words of a phrase each cut once (both pieces two letters or more) by a space or
    punctuation mark (``forb idden phr-ase alpha``)."""
    words = text.split(" ")
    can = [i for i, w in enumerate(words) if len(w) >= 4]
    if len(can) < 2:
        return split_once(text, rng)
    for i in rng.sample(can, rng.randint(2, min(3, len(can)))):
        cut = rng.randrange(2, len(words[i]) - 1)
        words[i] = words[i][:cut] + rng.choice((" ", " ", "-", ".", "_", "/")) + words[i][cut:]
    return " ".join(words)


def reversed_order(text: str, rng: random.Random) -> str:
    return " ".join(reversed(text.split(" ")))


def html_refs(text: str, rng: random.Random) -> str:
    """Page strings only: letters as HTML character references (decimal, hex, a few named)."""
    named = {"&": "&amp;"}
    return "".join(rng.choice((f"&#{ord(c)};", f"&#x{ord(c):x};", f"&#X{ord(c):X};", f"&#0{ord(c)};"))
                   if c.isalpha() and rng.random() < 0.5 else named.get(c, c) for c in text)


CLASSES: dict[str, Disguise] = {
    "cyrillic": _table_class(SCRIPTS["cyrillic"]), "greek": _table_class(SCRIPTS["greek"]),
    "armenian": _table_class(SCRIPTS["armenian"]), "cherokee": _table_class(SCRIPTS["cherokee"]),
    "fullwidth": _table_class(FULLWIDTH),
    **{f"math {style}": _table_class(_math(style)) for style in MATH_STYLES},
    **{name: _table_class(table) for name, table in ENCLOSED.items()},
    "small capitals": _table_class(SMALL_CAPS), "superscript": _table_class(SUPERSCRIPT),
    "subscript": _table_class(SUBSCRIPT),
    "combining": combining, "zalgo": zalgo, "invisible": invisible, "separators": separators,
    "spaces": spaces, "split inside": split_inside, "split once": split_once, "repetition": repetition, "leet": leet,
    "leet plain": leet_plain, "case": case_mix, "joined": joined, "suffix": suffix,
    "inflected": inflected, "split several": split_several,
    "reversed order": reversed_order, "html refs": html_refs,
}
MULTI_WORD = {"joined", "reversed order", "split several"}
PAGE_ONLY = {"html refs"}
# Composed disguises (applied left to right).
COMBOS = ["leet plain+cyrillic", "case+invisible", "fullwidth+separators", "repetition+leet plain",
          "combining+case", "joined+leet plain", "small capitals+spaces", "math bold+zalgo", "cyrillic+repetition+invisible",
          "leet+separators+case", "circled+split inside", "joined+case+greek", "suffix+leet plain+case", "inflected+case",
          "split several+case",
          "repetition+spaces", "superscript+invisible", "regional indicator+spaces"]


def disguise(term: str, name: str, rng: random.Random) -> str:
    for step in name.split("+"):
        term = CLASSES[step](term, rng)
    return term


def all_names() -> list[str]:
    return [*CLASSES, *COMBOS]


# --- the two paths ------------------------------------------------------------------------------------------------
QUERY_CONTEXTS = ("{}", "where is {} online", "{} pics", "best {} 2024", "Q: {}?", "{}!!")
PAGE_CONTEXTS = ("{}", "Watch {} now", "{} - free download", "about {}.", "**{}** archive", "tags: {}, other")


def query_forms(query: str, rng: random.Random) -> list[tuple[str, str, bytes, str]]:
    """The ways a query travels: (shape, raw query string, body, content type). The raw query string is
    percent-encoded (spaces as ``+`` or ``%20``, some ASCII letters encoded too); the JSON body uses
    ``\\u`` escapes for every non-ASCII character and some ASCII letters."""
    space = rng.choice(("+", "%20"))
    mixed = "".join(space if c == " " else f"%{ord(c):02X}" if c.isalpha() and c.isascii() and rng.random() < 0.3
                    else quote(c, safe="") for c in query)
    escaped = "".join(f"\\u{ord(c):04x}" if c.isalpha() and c.isascii() and rng.random() < 0.3
                      else json.dumps(c, ensure_ascii=True)[1:-1] for c in query)
    body = ('{"query":{"query_string":{"query":"' + escaped + '"}}}').encode()
    return [("generic", "q=" + mixed, b"", ""), ("elasticsearch", "", body, "application/json")]


class Paths:
    """``query(text)`` and ``page(texts)`` verdict helpers over one rule set."""

    def __init__(self, rules: object) -> None:
        from filter_proxy.adapters import get_adapter

        self.rules = rules
        self.adapters = {name: get_adapter(name) for name in ("generic", "elasticsearch")}

    def query(self, text: str, rng: random.Random) -> bool:
        """True when every way of sending ``text`` is not allowed."""
        from filter_proxy.adapters.request import parse_query
        from filter_proxy.screening import query_verdict

        for shape, raw, body, ctype in query_forms(text, rng):
            texts = self.adapters[shape].query_texts(parse_query(raw), body, ctype)
            if query_verdict(texts, self.rules).action == "allow":  # type: ignore[arg-type]
                return False
        return True

    def page(self, texts: list[str]) -> list[bool]:
        return [v.action != "allow" for v in self.rules.check_many(texts)]  # type: ignore[attr-defined]
