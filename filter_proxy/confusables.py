"""Latin look-alikes from Unicode's own data (UTS #39 confusables), folded per token, never per enumeration.

Source: the ``confusable-homoglyphs`` package (3.3.x), chosen over ``confusables`` 1.2.0 by measurement:
both carry the same UTS #39 pairs (its 6,307 pairs are, pair for pair, those of the 13.0.0
``confusables.txt`` that ``confusables`` 1.2.0 ships, less four line-separator entries its parser drops),
but only ``confusable-homoglyphs`` also ships the script of every code point (``Scripts.txt``, Unicode 15.0:
Kawi and Nag Mundari are in it), which the mixed-script rule below needs; ``confusables``' own
``normalize()`` enumerates spellings (30-115 µs a word), which the hot path cannot afford. Its data carries
no version line, so ``CONFUSABLES_UNICODE_VERSION`` records what the comparison showed; re-check it (and
the tests) when the package is upgraded.

Tables are built once at import: UTS #39 pairs form groups of look-alikes (a source and its prototype);
every non-ASCII member of a group that holds exactly one ASCII letter (``l`` and ``I`` count as one, as
in ``normalize``) maps to that letter, lower-case; groups of ligature strings (``ae``, ``ij``) map to the
string. The data is case-specific (Cyrillic ``а``, ``е``, ``о``, ``р``, ``с`` look like Latin letters;
``к``, ``т``, ``м`` do not, their capitals do), so folding runs *before* case folding.

The rule (issue 11, item 2), applied by ``fold``:

- A **mixed-script token** (letters of two scripts, Latin included; Han, Hiragana, Katakana, Bopomofo and
  Hangul count as one script, as UTS #39 treats Japanese and Korean) is folded always, with the wider
  ``EXTENDED`` table: the strict pairs plus lower-case letters whose capital is a Latin look-alike
  (Greek ``κ``, ``τ``, Cyrillic ``к``, ``т``): mixing scripts inside a word is itself the sign of a disguise.
- A **whole text** is folded (strict table) only when every letter in it that is not Latin could be a
  Latin look-alike: an evader's all-Cyrillic ``zqxblocked``. Text with a letter of its own script that has
  no Latin look-alike (``б``, ``я``, ``к``) is genuine and keeps its single-script tokens: ``Собака ест
  мясо``, ``как``, ``кто``, ``пока`` stay Cyrillic, so a Latin list entry never matches Russian prose.
"""

from __future__ import annotations

import bisect
import json
import re
import unicodedata
from importlib import resources
from typing import NamedTuple

__all__ = ["CONFUSABLES_SOURCE", "CONFUSABLES_UNICODE_VERSION", "SPACING_MARKS", "MARK_LOOKALIKES", "STRICT", "EXTENDED", "script_of", "fold",
           "fold_decide", "fold_mixed", "fold_symbols", "fold_token", "has_genuine", "latin_lookalikes"]

CONFUSABLES_SOURCE = "confusable-homoglyphs 3.3.x (UTS #39 confusables.txt + Scripts.txt)"
CONFUSABLES_UNICODE_VERSION = "13.0.0"  # confusables pairs; the script data is Unicode 15.0
_PACKAGE = "confusable_homoglyphs"

# Scripts that share one writing system (UTS #39 "augmented script sets": Jpan, Kore, Hanb).
_CJK = ("HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL")
_NEUTRAL = ("COMMON", "INHERITED")


def _load(name: str) -> dict:
    return json.loads(resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


def _groups(pairs: dict[str, list[dict[str, str]]]) -> list[set[str]]:
    """Connected groups of the (undirected) look-alike pairs. RTL entries carry LRM marks: dropped."""
    adjacent: dict[str, set[str]] = {}
    for key, others in pairs.items():
        a = key.replace("\u200e", "")
        for other in others:
            b = other["c"].replace("\u200e", "")
            if a and b and a != b:
                adjacent.setdefault(a, set()).add(b)
                adjacent.setdefault(b, set()).add(a)
    seen: set[str] = set()
    groups = []
    for start in adjacent:
        if start in seen:
            continue
        group, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node not in group:
                group.add(node)
                stack.extend(adjacent[node] - group)
        seen |= group
        groups.append(group)
    return groups


def _latin_target(group: set[str]) -> str | None:
    """The ASCII letter (or ligature string) a group imitates, in ``normalize``'s letters (l -> i)."""
    letters = {m.lower().replace("l", "i") for m in group if m.isascii() and m.isalpha() and len(m) == 1}
    if len(letters) == 1:
        return letters.pop()
    if letters:  # e.g. {"m"} beside the string "rn": the single letter wins; two letters: ambiguous
        return None
    strings = {m.lower().replace("l", "i") for m in group if m.isascii() and m.isalpha()}
    return strings.pop() if len(strings) == 1 else None


def _build_lookalikes() -> tuple[dict[str, str], dict[str, str]]:
    """(letters and digits, symbols and spacing marks) that UTS #39 lists as looking like a Latin letter."""
    letters: dict[str, str] = {}
    symbols: dict[str, str] = {}
    for group in _groups(_load("confusables.json")):
        target = _latin_target(group)
        if target is None:
            continue
        for member in group:
            # Single non-ASCII code points; ASCII look-alikes ("1", "0", "|") are leetspeak's business.
            if len(member) != 1 or member.isascii():
                continue
            # NFKC runs first: a look-alike it turns into another lone character ("￨" -> "│") is keyed there too;
            # one it turns into a space and a mark ("ͺ", "˛") is read as a symbol before NFKC (``fold_symbols``).
            compat = unicodedata.normalize("NFKC", member)
            if " " in compat or (compat.isascii() and compat.lower().replace("l", "i") != target):
                # NFKC would make it a space and a mark, or another Latin letter ("ſ" -> "s"; it looks like f).
                symbols[member] = target
                continue
            for char in (member, compat) if len(compat) == 1 and not compat.isascii() else (member,):
                kind = unicodedata.category(char)
                table = letters if kind[0] in "LN" else symbols if kind[0] in "SP" or kind == "Mc" else None
                if table is not None:
                    table.setdefault(char, target)
    return letters, symbols


def _cased() -> list[tuple[str, str]]:
    """(letter, its case fold) for every non-ASCII letter that case folding changes."""
    out = []
    for cp in range(0x80, 0x20000):
        char = chr(cp)
        folded = char.casefold()
        if folded != char:
            out.append((char, folded))
    return out


_CASED = _cased()


def _close_under_casefold(table: dict[str, str]) -> dict[str, str]:
    """Add every letter whose case fold is a key (``Σ`` because ``σ`` is): ``fold`` runs before case folding,
    so without this a letter kept in one pass could fold in the next, and ``normalize`` would not be
    idempotent."""
    out = dict(table)
    for char, folded in _CASED:
        if char not in out and folded in out:
            out[char] = out[folded]
    return out


_ALL, _SYMBOLS = _build_lookalikes()
# Spacing marks (category Mc, inside a token as ``normalize.tokens`` reads it) that look like a Latin letter.
MARK_LOOKALIKES = {c: t for c, t in _SYMBOLS.items() if unicodedata.category(c) == "Mc"}
# Look-alikes the UTS #39 data (13.0) lacks but a reader takes for the Latin letter: Armenian liwn (Լ, լ: L,
# l) and yi (յ: j), Komi sje (ԍ: g; the data lists only its capital). Found by the red-team generator
# (benchmarks/disguise_evader.py).
_EXTRA = {"\u053c": "i", "\u056c": "i", "\u0575": "j", "\u050d": "g"}
for _char, _target in _EXTRA.items():
    _ALL.setdefault(_char, _target)
# Letters only: a lone non-Latin digit ("०") in a number is no disguise. Mixed tokens take digits too.
STRICT: dict[str, str] = _close_under_casefold({c: t for c, t in _ALL.items() if c.isalpha()})


def _build_extended(strict: dict[str, str]) -> dict[str, str]:
    """Strict pairs, look-alike digits, and lower-case letters whose capital is a Latin look-alike (``к``
    from ``К``)."""
    out = {**_ALL, **strict}
    for char, target in list(out.items()):
        lower = char.lower()
        if len(lower) == 1 and lower != char and lower not in out and not lower.isascii():
            out[lower] = target
    return _close_under_casefold(out)


EXTENDED: dict[str, str] = _build_extended(STRICT)
_STRICT_TABLE = str.maketrans(STRICT)
_EXTENDED_TABLE = str.maketrans(EXTENDED)
_LATIN_TABLE: dict[int, str] = {}  # filled below, once scripts are known: Latin-script look-alikes


def latin_lookalikes() -> dict[str, set[str]]:
    """Every ASCII letter (l and i as one) -> the single code points UTS #39 lists as looking like it."""
    out: dict[str, set[str]] = {}
    for char, target in STRICT.items():
        if len(target) == 1:
            out.setdefault(target, set()).add(char)
    return out


# --- scripts -----------------------------------------------------------------------------------------------

def _script_ranges() -> tuple[list[int], list[int], list[str]]:
    data = _load("categories.json")
    aliases: list[str] = data["iso_15924_aliases"]
    starts, ends, names = [], [], []
    for start, end, alias, _category in data["code_points_ranges"]:
        name = aliases[alias]
        starts.append(start)
        ends.append(end)
        names.append("CJK" if name in _CJK else ("" if name in _NEUTRAL else name))
    return starts, ends, names


_STARTS, _ENDS, _NAMES = _script_ranges()
_SCRIPT_CACHE: dict[str, str] = {}


def script_of(char: str) -> str:
    """The script of one character ("LATIN", "CYRILLIC", "CJK" ...); "" for Common, Inherited, unknown."""
    found = _SCRIPT_CACHE.get(char)
    if found is None:
        if char.isascii():
            found = "LATIN" if char.isalpha() else ""
        else:
            cp = ord(char)
            i = bisect.bisect_right(_STARTS, cp) - 1
            found = _NAMES[i] if i >= 0 and cp <= _ENDS[i] else ""
        if len(_SCRIPT_CACHE) < 1 << 16:
            _SCRIPT_CACHE[char] = found
    return found


# Latin letters that UTS #39 lists as look-alikes of other Latin letters ("ı", "ɑ", "æ") fold in any context:
# they are spellings of the Latin alphabet, like accents.
_LATIN_TABLE.update(str.maketrans({c: t for c, t in EXTENDED.items() if script_of(c) == "LATIN"}))


# --- folding -------------------------------------------------------------------------------------------

# A symbol or spacing mark that looks like a Latin letter ("∪", "⊤", "×", Indic anusvara "ం") is a letter when
# it touches a letter and no digit ("zqx⊤dxp"); elsewhere ("3×4", "A × B", "20°C") it stays punctuation.
_SYMBOL_CLASS = "[" + "".join(re.escape(c) for c in sorted(_SYMBOLS)) + "]"
_SYMBOL_ANY = re.compile(_SYMBOL_CLASS)  # one class: a fast pre-check (the look-arounds cost ~5x)
# A spacing mark among them ("ం", o) stands inside a token, where a leetspeak symbol beside it is a letter too
# (``normalize.map_leet`` drops or maps the symbol, and the mark would then touch a letter: "ԥ$ం").
_MARK_CLASS = "[" + "".join(sorted(c for c in _SYMBOLS if unicodedata.category(c) == "Mc")) + "]"
_SYMBOL_NEAR_LETTER = re.compile(rf"(?<!\d){_SYMBOL_CLASS}(?=[^\W\d_])|(?<=[^\W\d_]){_SYMBOL_CLASS}(?!\d)")
_MARK_ANY = re.compile(_MARK_CLASS)
_MARK_NEAR_LEET = re.compile(rf"(?<!\d){_MARK_CLASS}(?=[@$!|€])|(?<=[@$!|€]){_MARK_CLASS}(?!\d)")



def _spacing_marks() -> str:
    """Spacing combining marks (Mc, e.g. Indic vowel signs) belong inside words, but are not ``\\w``: the
    body of a regex class, as ranges."""
    ranges: list[list[int]] = []
    for cp in range(0x80, 0x30000):
        if unicodedata.category(chr(cp)) == "Mc":
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in ranges)


SPACING_MARKS = _spacing_marks()
# A token as ``normalize.tokens`` reads it (letters, digits, leetspeak symbols and spacing marks; "_" apart):
# the mixed-script rule looks at those with a non-ASCII letter.
_TOKENISH = re.compile(r"(?:[^\W_]+|[@$!|€" + SPACING_MARKS + "]+)+")
# The same where the text has no "_" (replaced by a space in a copy) and no spacing mark (none below U+0903):
# one positive class, ~2x faster.
_TOKENISH_PLAIN = re.compile(r"[\w@$!|€]+")


def _runs(text: str) -> tuple[re.Pattern[str], str]:
    """The token pattern for ``text`` and the copy it is searched in (``_`` as a space, same positions)."""
    probe = text.replace("_", " ") if "_" in text else text
    return (_TOKENISH if max(text) >= "\u0903" else _TOKENISH_PLAIN), probe
_RUN_CACHE: dict[str, _Run] = {}  # run -> its classification; bounded, cleared whole
_RUN_CACHE_MAX = 1 << 15


class _Run(NamedTuple):
    mixed: bool  # letters of two scripts
    folded: str  # mixed: EXTENDED-folded; else STRICT-folded (used when the whole text is look-alikes)
    kept: str  # a single-script run in genuine text: only Latin-script look-alikes ("ı", "æ") folded
    genuine: bool  # holds a non-Latin letter with no Latin look-alike that folding leaves in place
    # Not mixed, and every letter has a look-alike in EXTENDED (``ԛхьԛԍ``: ``ԍ`` only by its capital): the
    # EXTENDED fold, used in a text whose other tokens mix scripts (a disguise is being written); else None.
    loose: str | None = None
    # A capital after a small letter inside the run ("ΖνΖΙοκ"): no word of genuine text is cased so.
    odd_case: bool = False


def _is_genuine_letter(char: str) -> bool:
    return not char.isascii() and char.isalpha() and char not in STRICT and script_of(char) not in ("LATIN", "")


def _classify(run: str) -> _Run:
    # A script-neutral look-alike ("𐋵", Coptic epact digits) inside a word counts as a script of its own.
    scripts = {s or ("COMMON" if c in EXTENDED else "") for c, s in zip(run, map(script_of, run), strict=True)}
    scripts.discard("")
    mixed = len(scripts) > 1
    if mixed:
        folded = run.translate(_EXTENDED_TABLE)
        # Judged on what folding leaves, so that the next pass over the output judges the same.
        return _Run(True, folded, folded, any(map(_is_genuine_letter, folded)))
    kept = run.translate(_LATIN_TABLE) if scripts == {"LATIN"} else run
    genuine = any(map(_is_genuine_letter, run))
    loose_fold = run.translate(_EXTENDED_TABLE)
    # (``€`` is a leetspeak letter: "μ€" beside a disguise reads "me", as it would once € were mapped.)
    loose = loose_fold if loose_fold.replace("€", "").isascii() and scripts != {"LATIN"} else None
    odd_case = loose is not None and any(a.islower() and b.isupper() for a, b in zip(run, run[1:], strict=False))
    # The whole-text fold keeps what ``kept`` folds (Latin-script look-alikes "ʝ", "ƅ", "ꞵ" in any context).
    return _Run(False, run.translate(_STRICT_TABLE).translate(_LATIN_TABLE), kept, genuine, loose, odd_case)


def _run(run: str) -> _Run:
    found = _RUN_CACHE.get(run)
    if found is None:
        if len(_RUN_CACHE) > _RUN_CACHE_MAX:
            _RUN_CACHE.clear()
        found = _RUN_CACHE[run] = _classify(run)
    return found


def fold(text: str, whole: bool | None = None) -> str:
    """Apply the mixed-script / whole-text rule to ``text`` (NFKC'd, accents stripped, case kept); ``whole``
    True folds every look-alike as in an all-look-alike text, None decides by the rule."""
    return fold_decide(text, whole)[0]


def fold_decide(text: str, whole: bool | None = None) -> tuple[str, bool]:
    """``fold`` and whether the whole text was folded."""
    if text.isascii():
        return text, True
    text = fold_symbols(text)
    pattern, probe = _runs(text)
    found = [run for run in pattern.findall(probe) if not run.isascii()]
    runs = [_run(run) for run in found]
    if whole is None:
        whole = not any(r.genuine for r in runs)
    if not runs:
        return text, whole
    if not whole and all(not r.mixed and not r.odd_case and r.kept == run for r, run in zip(runs, found, strict=True)):
        return text, whole  # genuine text, nothing mixed: the common case of other-script prose
    # A token mixing scripts is a disguise in progress: its neighbours made only of look-alikes (counting
    # lower-case letters whose capital is one, EXTENDED) are folded with it ("ԛХЬԛԍ хzјЕ": two words); so is
    # a word of look-alikes cased as no genuine word is ("ΖνΖΙοκΗΜ").
    # The whole-text fold reads at least what the per-token rule reads (strict pairs for every look-alike,
    # and the wider fold where that rule applies it): forced by ``normalize``'s second pass, it must never
    # un-fold a neighbour of a mixed-script token ("Aµ:µ", "aм мa").
    disguised = any(r.mixed for r in runs)
    swap = {run: r.folded if r.mixed else r.loose if (disguised or r.odd_case) and r.loose
            else r.folded if whole else r.kept for run, r in zip(found, runs, strict=True)}
    if probe is text:
        return pattern.sub(lambda m: swap.get(m.group(), m.group()), text), whole
    out, last = [], 0
    for m in pattern.finditer(probe):  # runs found in the copy, replaced in the text ("_" kept)
        out += (text[last:m.start()], swap.get(m.group(), m.group()))
        last = m.end()
    return "".join(out) + text[last:], whole


def fold_symbols(text: str) -> str:
    """Symbols and spacing marks that look like a Latin letter, where they touch a letter and no digit."""
    if text.isascii() or not _SYMBOL_ANY.search(text):
        return text
    if _SYMBOL_NEAR_LETTER.search(text):
        text = _SYMBOL_NEAR_LETTER.sub(lambda m: _SYMBOLS[m.group()], text)
    if _MARK_ANY.search(text):  # (rare: the anusvaras) then a mark beside a leetspeak symbol
        text = _MARK_NEAR_LEET.sub(lambda m: _SYMBOLS[m.group()], text)
    return text


def has_genuine(words: list[str]) -> bool:
    """Whether finished words keep a letter of another script with no Latin look-alike. ``normalize`` folds
    the whole text when joining (chains, spelled-out letters) folded away the only such letters, so that
    a second pass over its output decides as the first did (idempotence)."""
    return any(_run(w).genuine for w in words if not w.isascii())


def fold_mixed(word: str) -> str:
    """One finished word folded if it mixes scripts (a word that joining chains or spelled-out letters made
    after ``fold`` ran: "a/μ" -> "aμ" -> "am"), else unchanged."""
    if word.isascii():
        return word
    found = _run(word)
    return found.folded if found.mixed else found.kept


def fold_token(text: str) -> str:
    """Every look-alike folded regardless of context (the skeleton a listed term is also indexed under)."""
    return text.translate(_EXTENDED_TABLE)
