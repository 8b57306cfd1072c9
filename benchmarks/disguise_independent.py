"""A second disguise generator, written from the class descriptions of issue 11 (item 7), not from
``filter_proxy/normalize.py`` nor from ``benchmarks/disguise.py``: its own placeholder terms, its own tables,
and look-alike letters drawn from the whole Unicode confusables data (every script), read straight from the
data file. Plus a benign corpus nobody here wrote: Debian's ``fortunes`` (English), ``fortunes-ru``
(Russian prose: Cyrillic letters that must not fold into Latin) and ``wamerican`` words.

Install the corpus with ``apt-get install fortunes fortunes-ru wamerican``; missing parts are reported and
left out of the measure, never faked.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

Disguise = Callable[[str, random.Random], str]

FORTUNES = Path("/usr/share/games/fortunes")
DICTIONARY = Path("/usr/share/dict/american-english")

# --- placeholder terms: CVC syllables from a "qv"/"vy" stem (the shipped generator uses "zqx" + CV) ----------
_ONSETS = "bdfgklmnprstvz"
_NUCLEI = ["a", "e", "i", "o", "u", "y", "ai", "ou"]
_CODAS = "bdgkmnprstx"
_DOUBLED = re.compile(r"(.)\1+")


def placeholder_terms(n: int, seed: int, avoid: frozenset[str] = frozenset()) -> list[str]:
    """``n`` unique nonsense phrases of 1-3 words (no word in ``avoid``, a real vocabulary, even with its
    doubled letters read once)."""
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        words = []
        for _ in range(rng.choices((1, 2, 3), weights=(5, 4, 1))[0]):
            stem = rng.choice(("qv", "vy", "kw", ""))
            word = stem + "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS)
                                  for _ in range(rng.randint(2 if not stem else 1, 3)))
            words.append(word)
        # Nor a real word once a doubled letter is read once ("tubbes" is "tubes" to any reader).
        if not any(w in avoid or _DOUBLED.sub(r"\1", w) in avoid for w in words):
            out[" ".join(words)] = None
    return list(out)


# --- look-alikes from the whole UTS #39 table -----------------------------------------------------------------

@lru_cache(maxsize=1)
def lookalikes() -> dict[str, list[str]]:
    """Lower-case ASCII letter -> every single non-ASCII code point the data pairs with it or its capital."""
    data = json.loads(resources.files("confusable_homoglyphs").joinpath("confusables.json").read_text("utf-8"))
    table: dict[str, set[str]] = {}
    for key, entries in data.items():
        for entry in entries:
            a, b = key.replace("\u200e", ""), entry["c"].replace("\u200e", "")
            for letter, other in ((a, b), (b, a)):
                if len(letter) == 1 and letter.isascii() and letter.isalpha() and len(other) == 1 \
                        and not other.isascii():
                    table.setdefault(letter.lower(), set()).add(other)
    return {k: sorted(v) for k, v in table.items()}


def _substitute(text: str, rng: random.Random, share: float, options: Callable[[str], list[str]]) -> str:
    spots = [i for i, c in enumerate(text) if options(c)]
    if not spots:
        return text
    chosen = set(rng.sample(spots, max(1, round(len(spots) * share))))
    return "".join(rng.choice(options(c)) if i in chosen else c for i, c in enumerate(text))


def lookalike_any(text: str, rng: random.Random) -> str:
    """About half the letters replaced by a look-alike drawn from the whole table (any script)."""
    table = lookalikes()
    return _substitute(text, rng, 0.5, lambda c: table.get(c, []))


def lookalike_script(script_prefix: str) -> Disguise:
    """Half the letters replaced by look-alikes whose Unicode name starts with ``script_prefix``."""
    def apply(text: str, rng: random.Random) -> str:
        table = {k: [c for c in v if unicodedata.name(c, "").startswith(script_prefix)] for k, v in lookalikes().items()}
        return _substitute(text, rng, 0.5, lambda c: table.get(c, []))
    return apply


def lookalike_every_letter(text: str, rng: random.Random) -> str:
    """Every letter that has a Cyrillic or Greek look-alike replaced (a word written all in another script)."""
    table = {k: [c for c in v if unicodedata.name(c, "").startswith(("CYRILLIC", "GREEK"))]
             for k, v in lookalikes().items()}
    return _substitute(text, rng, 1.0, lambda c: table.get(c, []))


# --- leetspeak, including the first and last letter -------------------------------------------------------------
LEET = {"a": ["4", "@", "/\\"], "b": ["8"], "e": ["3", "€"], "g": ["9", "6"], "i": ["1", "!", "|"],
        "l": ["1", "|"], "o": ["0", "()"], "s": ["5", "$"], "t": ["7"], "z": ["2"], "d": ["|)"], "k": ["|<"]}


def leet(text: str, rng: random.Random) -> str:
    """Most letters that have a leet form get one; the first and last letter of each word always do."""
    out = []
    for word in text.split(" "):
        chars = list(word)
        for i, c in enumerate(chars):
            if c in LEET and (i in (0, len(chars) - 1) or rng.random() < 0.6):
                chars[i] = rng.choice(LEET[c])
        out.append("".join(chars))
    return " ".join(out)


# --- joined, spaced and split forms -----------------------------------------------------------------------------

def joined(text: str, rng: random.Random) -> str:
    """A phrase as one token: hashtag, CamelCase or plain, with or without "#"."""
    words = text.split(" ")
    style = rng.randrange(4)
    if style == 0:
        return "#" + "".join(words)
    if style == 1:
        return "#" + "".join(w.capitalize() for w in words)
    if style == 2:
        return "".join(w.capitalize() for w in words)
    return "".join(words)


def letter_spaced(text: str, rng: random.Random) -> str:
    """Every letter apart, one or two spaces between letters, three to five between words."""
    return (" " * rng.randint(3, 5)).join("".join(c + " " * rng.randint(1, 2) for c in w).rstrip()
                                          for w in text.split(" "))


def split_word(text: str, rng: random.Random) -> str:
    """A listed single word cut into two or three pieces of two letters or more, joined by a space, hyphen,
    dot or underscore, sometimes each piece capitalised (the issue: "a listed single word also matches when
    written in two or three adjacent pieces"; phrases are left whole)."""
    if " " in text:
        return text
    out = []
    for word in text.split(" "):
        n = 3 if len(word) >= 6 and rng.random() < 0.4 else 2
        if len(word) < 2 * n:
            out.append(word)
            continue
        cuts = sorted(rng.sample(range(2, len(word) - 1), n - 1))
        if any(b - a < 2 for a, b in zip(cuts, cuts[1:], strict=False)):
            cuts = cuts[:1]
        pieces = [word[a:b] for a, b in zip([0, *cuts], [*cuts, len(word)], strict=True)]
        if rng.random() < 0.3:
            pieces = [p.capitalize() for p in pieces]
        out.append(rng.choice([" ", "-", ".", "_"]).join(pieces))
    return " ".join(out)


@lru_cache(maxsize=1)
def common_words() -> list[str]:
    """The 2,000 most frequent 3-8 letter words of the English fortunes (ordinary words nobody here chose)."""
    counts: dict[str, int] = {}
    for line in _fortune_lines(ru=False):
        for word in re.findall(r"\b[a-z]{3,8}\b", line.lower()):
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: -counts[w])[:2000] or ["life", "love", "fan", "daily", "news"]


def tag_with_words(text: str, rng: random.Random) -> str:
    """A hashtag or handle of the term glued to digits or an ordinary word, before or after it."""
    body = "".join(text.split(" "))
    extra = str(rng.choice([rng.randint(0, 99), rng.randint(1990, 2030)])) if rng.random() < 0.4 \
        else rng.choice(common_words())
    style = rng.randrange(4)
    if style == 0:
        return f"#{body}{extra}"
    if style == 1:
        return f"#{extra}{body}"
    if style == 2:
        return f"@{body}_{extra}"
    return f"@{body}{extra}"


# --- invisible characters, accents, repeats, full width -----------------------------------------------------------
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u2062", "\u2063", "\u180e",
             "\U000e0020", "\U000e0061"]
COMBINING = [chr(cp) for cp in range(0x300, 0x370)]


def invisible(text: str, rng: random.Random) -> str:
    return "".join(c + (rng.choice(INVISIBLE) if c != " " and rng.random() < 0.5 else "") for c in text)


@lru_cache(maxsize=1)
def _precomposed() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for cp in range(0xC0, 0x2000):
        char = chr(cp)
        base = unicodedata.normalize("NFD", char)[0]
        if base != char and base.isascii() and base.isalpha() and char.isalpha():
            out.setdefault(base.lower(), []).append(char.lower() if char.lower() != char else char)
    return out


def accents(text: str, rng: random.Random) -> str:
    """Half the letters get a precomposed accent or one or two combining marks."""
    pre = _precomposed()

    def one(c: str) -> str:
        if rng.random() < 0.5 and pre.get(c):
            return rng.choice(pre[c])
        return c + "".join(rng.choice(COMBINING) for _ in range(rng.randint(1, 2)))

    return "".join(one(c) if c.isalpha() and rng.random() < 0.5 else c for c in text)


def repeated(text: str, rng: random.Random) -> str:
    return "".join(c * rng.randint(2, 5) if c.isalpha() and rng.random() < 0.35 else c for c in text)


def full_width(text: str, rng: random.Random) -> str:
    return "".join("\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


CLASSES: dict[str, Disguise] = {
    "look-alikes, whole table (any script)": lookalike_any,
    "look-alikes: Cyrillic": lookalike_script("CYRILLIC"),
    "look-alikes: Greek": lookalike_script("GREEK"),
    "look-alikes: Armenian, Cherokee, Latin variants, maths": lambda t, r: _substitute(
        t, r, 0.5, lambda c: [x for x in lookalikes().get(c, [])
                              if unicodedata.name(x, "").startswith(("ARMENIAN", "CHEROKEE", "LATIN", "MATH"))]),
    "look-alikes: every letter (Cyrillic/Greek word)": lookalike_every_letter,
    "leetspeak incl. first/last letter": leet,
    "joined phrase (#hashtag, CamelCase, no spaces)": joined,
    "letter-spaced, wide gaps": letter_spaced,
    "split word (space, -, ., _)": split_word,
    "hashtag/handle + digits or word": tag_with_words,
    "zero-width / format characters": invisible,
    "accents (precomposed, combining)": accents,
    "repeated letters": repeated,
    "full-width": full_width,
}
MULTI_WORD_ONLY = {"joined phrase (#hashtag, CamelCase, no spaces)"}
SINGLE_WORD_ONLY = {"split word (space, -, ., _)"}
COMBINATIONS: dict[str, tuple[str, ...]] = {
    "look-alikes + zero-width": ("look-alikes, whole table (any script)", "zero-width / format characters"),
    # Split first: a person cuts the word, then writes letters as symbols (not a cut inside "|<").
    "split + leet": ("split word (space, -, ., _)", "leetspeak incl. first/last letter"),
    "repeated + accents + hashtag": ("repeated letters", "accents (precomposed, combining)",
                                     "hashtag/handle + digits or word"),
}


# --- query syntax (issue 10.6), written from the Lucene / Solr query-parser documentation ----------------------
# Only the request side reads these (``benchmarks/query_path.py``): a result text with a backslash is not a query.

def _escapes(text: str, rng: random.Random) -> str:
    """A backslash before about half the letters (``\\q\\vbax``: the parser reads the letters)."""
    return "".join("\\" + c if c != " " and rng.random() < 0.5 else c for c in text)


def _letters(part: str) -> int:
    """Letters a reader counts: a doubled letter once (as ``placeholder_terms`` reads them)."""
    return len(_DOUBLED.sub(r"\1", part))


def _trailing_wildcard(text: str, rng: random.Random) -> str:
    """The last word cut short: ``*`` after at least five of its letters (one word; a doubled letter counts
    once), or its last one or two letters each replaced by ``?`` (phrases too: ``?`` is exactly one letter)."""
    head, _, last = text.rpartition(" ")
    cuts = [n for n in range(1, len(last)) if _letters(last[:n]) >= 5]
    if " " not in text and cuts and rng.random() < 0.6:
        last = last[: rng.choice(cuts)] + "*"
    else:
        k = rng.randint(1, min(2, len(last) - 3))
        last = last[: len(last) - k] + "?" * k
    return f"{head} {last}" if head else last


def _leading_wildcard(text: str, rng: random.Random) -> str:
    """The first word's start left out: ``*`` before at least five of its last letters (one word), or its
    first one or two letters each replaced by ``?``."""
    first, _, rest = text.partition(" ")
    cuts = [n for n in range(1, len(first)) if _letters(first[n:]) >= 5]
    if " " not in text and cuts and rng.random() < 0.6:
        first = "*" + first[rng.choice(cuts):]
    else:
        k = rng.randint(1, min(2, len(first) - 3))
        first = "?" * k + first[k:]
    return f"{first} {rest}" if rest else first


def _inner_wildcard(text: str, rng: random.Random) -> str:
    """One letter inside one word replaced by ``?``, or a ``*`` put between two of its letters."""
    words = text.split(" ")
    i = rng.randrange(len(words))
    word = words[i]
    cut = rng.randint(1, len(word) - 2)
    words[i] = word[:cut] + "?" + word[cut + 1:] if rng.random() < 0.5 else word[:cut] + "*" + word[cut:]
    return " ".join(words)


def _operators(text: str, rng: random.Random) -> str:
    """Each word with a field prefix, a boost or a fuzziness mark, and the whole in local params, a required
    clause or a group (``{!lucene df=body}+(title:qvbax^2 dok~1)``)."""
    words = []
    for word in text.split(" "):
        if rng.random() < 0.5:
            word = rng.choice(("title", "body", "name_t", "text")) + ":" + word
        if rng.random() < 0.6:
            word += rng.choice(("^2", "^0.5", "~1", "~", "~2"))
        words.append(word)
    inner = " ".join(words)
    return rng.choice(("{!lucene df=body}" + inner, "+(" + inner + ")", "(" + inner + ")", inner,
                       '"' + inner + '"' if " " in inner and ":" not in inner and "^" not in inner else inner))


QUERY_SYNTAX: dict[str, Disguise] = {
    "query syntax: escapes": _escapes,
    "query syntax: trailing wildcard (* keeps >= 5 letters, ? one letter)": _trailing_wildcard,
    "query syntax: leading wildcard (* keeps >= 5 letters, ? one letter)": _leading_wildcard,
    "query syntax: wildcard inside a word": _inner_wildcard,
    "query syntax: fields, boosts, fuzziness, local params": _operators,
    "query syntax: operators + look-alikes": lambda t, r: _operators(lookalike_any(t, r), r),
    "query syntax: trailing wildcard + leet": lambda t, r: leet(_trailing_wildcard(t, r), r),
}


def disguise(term: str, name: str, rng: random.Random) -> str:
    for step in COMBINATIONS.get(name, (name,)):
        term = CLASSES[step](term, rng)
    return term


def all_names() -> list[str]:
    return [*CLASSES, *COMBINATIONS]


# --- benign corpus ------------------------------------------------------------------------------------------

def _fortune_files(ru: bool) -> list[Path]:
    root = FORTUNES / "ru" if ru else FORTUNES
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_file() and not p.suffix and p.name != "ru")


@lru_cache(maxsize=2)
def _fortune_lines(ru: bool) -> tuple[str, ...]:
    """Fortune cookies cut into query-sized pieces (2-24 words), deduplicated; attributions dropped."""
    out: dict[str, None] = {}
    for path in _fortune_files(ru):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for cookie in text.split("\n%\n"):
            body = " ".join(line.strip() for line in cookie.splitlines() if not line.strip().startswith("--"))
            for sentence in re.split(r"(?<=[.!?])\s+", body):
                words = sentence.split()
                for start in range(0, len(words), 24):
                    piece = words[start:start + 24]
                    if len(piece) >= 2:
                        out[" ".join(piece)] = None
    return tuple(out)


def dictionary_words() -> list[str]:
    if not DICTIONARY.is_file():
        return []
    return [w for w in DICTIONARY.read_text(encoding="utf-8", errors="replace").split() if w.isalpha()]


def benign_corpus(rng: random.Random, limit: int) -> tuple[dict[str, list[str]], list[str]]:
    """Benign queries by source (at most ``limit`` each) and notes on what is missing."""
    notes = []
    sources: dict[str, list[str]] = {}
    english, russian, words = list(_fortune_lines(False)), list(_fortune_lines(True)), dictionary_words()
    for name, lines, package in (("fortunes (English)", english, "fortunes"),
                                 ("fortunes-ru (Russian)", russian, "fortunes-ru"),
                                 ("wamerican words", words, "wamerican")):
        if lines:
            sources[name] = rng.sample(lines, min(limit, len(lines)))
        else:
            notes.append(f"{package} not installed (apt-get install {package}): left out")
    if english:
        # Benign hashtags: two or three adjacent words of a fortune glued together ("#goodmorningworld").
        tags = []
        for line in rng.sample(english, min(limit, len(english))):
            words_ = re.findall(r"[A-Za-z]+", line)
            if len(words_) >= 3:
                start = rng.randrange(len(words_) - 2)
                tags.append("#" + "".join(words_[start:start + rng.randint(2, 3)]))
        sources["benign hashtags from fortunes"] = tags
    return sources, notes


def vocabulary() -> frozenset[str]:
    """Lower-case words of the benign corpus, so that no placeholder term is a real word."""
    words = {w.lower() for w in dictionary_words()}
    for line in _fortune_lines(False):
        words.update(re.findall(r"[a-z]+", line.lower()))
    return frozenset(words)
