"""``words``' fast paths and the stepwise definition (``tests/test_normalize._stepwise``) agree, and
``normalize`` is idempotent, on the classes of wide-Unicode text where they once disagreed (found with
``HYPOTHESIS_PROFILE=explore`` and a throwaway driver over compatibility characters, marks, Greek, Cyrillic,
letter forms and symbols). One generator per class, drawn from the Unicode data the code does *not* use
to decide (``unicodedata`` categories and names, the confusables tables as data), plus the found strings
as explicit examples so that the fixed profile always tries them."""

from __future__ import annotations

import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from filter_proxy import confusables
from filter_proxy.normalize import normalize, words
from tests.test_normalize import _stepwise


def _agrees(text: str) -> str:
    """The fast path equals the definition, and a second pass reads what the first did."""
    once = normalize(text)
    assert words(text) == _stepwise(text), text
    assert normalize(once) == once, text
    return once


def _chars(pred: object, lo: int = 0x80, hi: int = 0x30000) -> list[str]:
    return [chr(cp) for cp in range(lo, hi) if pred(chr(cp))]  # type: ignore[operator]


LATIN = st.text(alphabet="abcdefghjkmnopqrstuvwxyz", min_size=1, max_size=5)
SEPARATORS = st.sampled_from([":", ".", "-", " ", "_", "/", "%", "·", "–", ":.", "  "])
# Non-Latin letters that UTS #39 lists as a Latin look-alike (strict pairs), and lower-case ones that are a
# look-alike only by their capital (``µ``/``μ`` by ``Μ``, ``к`` by ``К``, ``н`` by ``Н``).
STRICT_LOOKALIKES = sorted(c for c, t in confusables.STRICT.items()
                           if len(t) == 1 and confusables.script_of(c) in ("CYRILLIC", "GREEK"))
CAPITAL_ONLY = sorted({"µ", *(c for c, t in confusables.EXTENDED.items()
                            if len(t) == 1 and c.isalpha() and c.islower() and c not in confusables.STRICT
                            and confusables.script_of(c) in ("CYRILLIC", "GREEK"))})
CAPITAL_WORD = st.text(alphabet=st.sampled_from(CAPITAL_ONLY), min_size=1, max_size=4)
STRICT_WORD = st.text(alphabet=st.sampled_from(STRICT_LOOKALIKES), min_size=1, max_size=4)


@st.composite
def mixed_token(draw: st.DrawFn) -> str:
    """Latin letters with one look-alike of another script inside: a disguise being written."""
    latin = draw(LATIN)
    at = draw(st.integers(0, len(latin)))
    return latin[:at] + draw(st.sampled_from([*STRICT_LOOKALIKES, *CAPITAL_ONLY])) + latin[at:]


@settings(max_examples=300, deadline=None)
@given(mixed_token(), SEPARATORS, CAPITAL_WORD, st.booleans())
@example("Aµ", ":", "µ", False)
@example("ｍх", ":", "н.", False)
def test_a_look_alike_word_beside_a_mixed_token_folds_in_every_pass(mixed: str, sep: str, word: str,
                                                                     before: bool) -> None:
    """``Aµ:µ``: the word beside a mixed-script token folds (its capital is a look-alike); re-deciding the
    text as a whole (no genuine letter left) must not un-fold it."""
    text = f"{word}{sep}{mixed}" if before else f"{mixed}{sep}{word}"
    assert _agrees(text).isascii(), text


@settings(max_examples=300, deadline=None)
@given(CAPITAL_WORD, st.sampled_from(sorted({c.upper() for c in STRICT_LOOKALIKES if c.islower() and c.upper() != c})),
       STRICT_WORD, SEPARATORS)
@example("µ", "Ι", "а", ":")
@example("µµ", "Ν", "Е", ".＄")
def test_an_oddly_cased_word_and_a_look_alike_neighbour_fold_together(low: str, cap: str, other: str,
                                                                      sep: str) -> None:
    """``а:µΙ``: a word of look-alikes cased as no genuine word is (small, then capital) folds; when then no
    genuine letter is left, the text is read as a whole, in the first pass as in the second."""
    once = _agrees(f"{other}{sep}{low}{cap}")
    assert once.split()[-1].isascii()
    if all(c in confusables.STRICT for c in other.casefold()):
        assert once.isascii()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([chr(cp) for cp in range(0x430, 0x450)]), st.sampled_from(list("xyzqvbcd")),
       st.sampled_from([".", "%", ":", "-"]), CAPITAL_WORD, STRICT_WORD)
@example("щ", "x", "%", "µ", "А")
@example("з", "q", ".", "µ", "о")
def test_a_word_joined_across_scripts_decides_its_neighbours(first: str, latin: str, sep: str, word: str,
                                                             strict: str) -> None:
    """``щ%µ А``: letters of two scripts chained by punctuation join into a mixed-script word after the
    look-alike decision; the words beside it are read as beside any mixed-script token."""
    _agrees(f"{first}{sep}{latin}{sep}{word} {strict}")


SPACING_MARKS = _chars(lambda c: unicodedata.category(c) == "Mc")
MARK_LOOKALIKES = sorted(confusables.MARK_LOOKALIKES)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(SPACING_MARKS), st.sampled_from(list("ab1z9q")),
                          st.sampled_from(list(".:-_ $|")), st.sampled_from(["µ", "γ", "ξ", "ή", "в"])),
                min_size=1, max_size=10).map("".join))
@example("1a:𝐚ा⁹")
@example("-1ःⓢ")
@example("µा1t")
@example("Ҿԥ$ం")
def test_spacing_marks_stay_inside_words(text: str) -> None:
    """Spacing combining marks (Indic vowel signs, category Mc) are inside a word for every step: never a
    separator that joins a chain, and part of the token the look-alike rule judges."""
    _agrees(text)


@settings(max_examples=200, deadline=None)
@given(LATIN, st.sampled_from(list("0123456789$@")), st.sampled_from(MARK_LOOKALIKES), LATIN, st.booleans())
@example("z", "9", "ං", "x", False)
def test_a_mark_that_looks_like_o_reads_as_o_beside_leetspeak(left: str, leet: str, mark: str, right: str,
                                                              mark_first: bool) -> None:
    """``z9ංx`` is ``zgox``: the anusvara look-alike between a leetspeak digit (or symbol) and a letter is
    read with the digits, in the first pass (the listed word matches) and so in every pass."""
    middle = mark + leet if mark_first else leet + mark
    text = left + middle + right
    plain = left + ("o" + leet if mark_first else leet + "o") + right
    assert _agrees(text) == normalize(plain), text


LATIN_LOOKALIKES = sorted(chr(cp) for cp in confusables._LATIN_TABLE if len(confusables.EXTENDED[chr(cp)]) == 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(LATIN_LOOKALIKES), min_size=1, max_size=4).map("".join), STRICT_WORD,
       st.sampled_from([" ", "\t", "~", "-"]), st.sampled_from(["", "6", "7"]))
@example("ƅ", "х", "~", "6")
@example("ʝ", "Е", " ", "7")
def test_latin_look_alikes_fold_in_a_text_folded_whole(lookalikes: str, strict: str, sep: str, digit: str) -> None:
    """``ƅ``, ``ʝ``, ``ꞵ`` (Latin letters UTS #39 lists as look-alikes of other Latin letters) fold in any
    context, also when the whole text is folded as look-alikes."""
    text = f"{strict}{sep}{digit}{lookalikes}"
    once = _agrees(text)
    assert all(c.isascii() for c in once), text


# Characters NFKC turns into a letter form (small capitals, modifier letters): "𐞄" -> "ʙ" -> b.
SMALL_CAPITALS = "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢ"
LETTER_FORM_SOURCES = _chars(lambda c: c not in SMALL_CAPITALS and unicodedata.normalize("NFKC", c) in SMALL_CAPITALS)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(LETTER_FORM_SOURCES), LATIN)
@example("𐞄", "x")
def test_letter_forms_reached_through_nfkc_read_as_their_letter(char: str, latin: str) -> None:
    letter = unicodedata.name(unicodedata.normalize("NFKC", char)).split()[-1].lower()
    once = _agrees(latin + char)
    assert once == normalize(latin + letter), char


# Latin capitals whose small letter is a letter "with" a hook or stroke but whose own name says no letter
# ("LATIN CAPITAL LETTER SMALL Q WITH HOOK TAIL", Ɋ).
HOOKED = _chars(lambda c: unicodedata.name(c, "").startswith("LATIN ") and " WITH " in unicodedata.name(c, "")
                and c.casefold() != c and len(c.casefold()) == 1 and unicodedata.normalize("NFD", c) == c,
                0x80, 0x2C80)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(HOOKED), LATIN)
@example("Ɋ", "u")
def test_hooked_capitals_read_as_their_small_letter(char: str, latin: str) -> None:
    assert _agrees(latin + char) == _agrees(latin + char.casefold()), char


@settings(max_examples=300, deadline=None)
@given(STRICT_WORD, st.sampled_from(["_", "_-", "__"]), st.one_of(CAPITAL_WORD, mixed_token()), mixed_token())
@example("Ь", "_", "н", "Bx")
@example("Ϲ", "_", "ζ", "sζ")
def test_underscore_separates_the_tokens_the_look_alike_rule_judges(first: str, sep: str, second: str,
                                                                    mixed: str) -> None:
    """``ЬӐҗ3_Н``: "_" cuts tokens, so the mixed-script rule judges the two sides apart, as ``tokens`` reads."""
    _agrees(f"{first}{sep}{second} {mixed}")


@settings(max_examples=200, deadline=None)
@given(mixed_token(), CAPITAL_WORD, st.sampled_from(["€", "€€", "$", "@"]), SEPARATORS)
@example("Љﬁ𝐜", "µ", "€", "-")
def test_a_leet_symbol_in_a_look_alike_neighbour(mixed: str, word: str, symbol: str, sep: str) -> None:
    """``Љﬁ𝐜-µ€``: a leetspeak symbol inside a word beside a disguise does not stop it folding."""
    _agrees(f"{mixed}{sep}{word}{symbol}")


WIDE_POOLS = [
    _chars(lambda c: unicodedata.normalize("NFKC", c) != c, 0x80, 0x20000),  # compatibility characters
    _chars(lambda c: unicodedata.category(c) in ("Mn", "Me", "Mc", "Cf"), 0x80, 0x20000),  # marks, format
    [chr(cp) for cp in range(0x370, 0x530)],  # Greek, Cyrillic
    sorted(confusables.EXTENDED), sorted(confusables.MARK_LOOKALIKES),
    list("µKΩÅıİßẞſςσΣﬁﬂĳ¹²ⁱⁿ½№™℃ⅰⅣ⒜⓪①🄰🅐🇦ᴀʙ\u00a0\u2013\u2019\u201c\u2026"),
    list("abcxyzQ0123456789 .-_:;,'/\\*@$!|()[]{}<>+^&#?%~=\t"), ["&#98;", "&amp;", "&shy;", "|)", "/\\"],
]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(WIDE_POOLS).flatmap(st.sampled_from), min_size=1, max_size=14).map("".join))
@example("Aµ:µ")
@example("Π％М.01-у")
@example("ΗΕ.Ⅴ:Д")
@example("ΐ1a:𝐚ा⁹")
@example("'ɄȺDẒ9ං>˛X")
@example("Ꚅ_ЀҮ/\\ЅꙖ4ԎƦ")
@example("&#98;3tXⅠ/Iw")
def test_wide_unicode_fast_paths_agree_with_the_definition(text: str) -> None:
    _agrees(text)
