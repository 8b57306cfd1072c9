"""False matches that inflection endings and phrases cut in several places could add, on benign text: run the
same command on two trees (``PYTHONPATH=/work/main`` and this one) and compare. Quick: run by hand.

    PYTHONPATH=$PWD .venv/bin/python scripts/measure_endings.py [--listed 20000] [--terms 5000]

1. dictionary: ``--listed`` words of the system word list (wamerican, 5+ letters) listed as terms; every word of
   that list and of wordsegment's ``words.txt`` screened alone: the ones matched whose normalised form is not a
   listed word's (a listed "ablate" making "ablating" a match would count);
2. benign corpora (``benchmarks.synth.benign_corpus``: pydoc, docstrings, licences, the Zen) against the quality
   suite's placeholder terms and the evader's: lines matched.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from wordsegment import __file__ as _wordsegment

from benchmarks import disguise_evader as ev
from benchmarks import synth
from benchmarks.subjects import load_rules, write_rules_dir
from filter_proxy.matchers.term_forms import PHRASE_STEM_MIN, stem_candidates
from filter_proxy.matchers.terms import TermEntry, TermIndex
from filter_proxy.normalize import normalize


def dictionary(listed_n: int, seed: int) -> tuple[int, int, list[str]]:
    system = Path("/usr/share/dict/words").read_text().split()
    extra = (Path(_wordsegment).parent / "words.txt").read_text().split()
    plain = sorted({w for w in system if w.isalpha() and w.islower() and len(w) >= 5})
    rng = random.Random(seed)
    listed = rng.sample(plain, min(listed_n, len(plain)))
    # phrases too: an ordinary word then a listed dictionary word (its last word takes endings)
    phrases = [f"{rng.choice(plain)} {w}" for w in rng.sample(plain, min(listed_n // 4, len(plain)))]
    index = TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(listed)])
    listed_forms = {normalize(w) for w in listed}
    screened = sorted({w for w in system + extra if w.isalpha()})
    found = index.match_many(screened)
    other = [w for w, f in zip(screened, found, strict=True) if f and normalize(w) not in listed_forms]
    # each phrase's first word before a spread of dictionary words (its listed last word's inflections among them)
    index = TermIndex.build([TermEntry(t, "c", f"c.txt:{n + 1}") for n, t in enumerate(phrases)])
    # (the dictionary words sharing the last word's first four letters: its inflections are among them)
    by_start: dict[str, list[str]] = {}
    for w in screened:
        by_start.setdefault(w[:4].lower(), []).append(w)
    texts = [p.split(" ")[0] + " " + w for p in phrases for w in by_start.get(p.split(" ")[1][:4], ())]
    found = index.match_many(texts)
    phrase_forms = {normalize(p) for p in phrases}
    matched = [t for t, f in zip(texts, found, strict=True) if f and normalize(t) not in phrase_forms]
    # a listed phrase whose last word (a dictionary word) carries an inflection ending: matched on purpose
    # (``TermIndex._ended``); anything else is a false match
    ends = {normalize(p) for p in phrases}
    inflected = [t for t in matched if any(" ".join([normalize(t).rsplit(" ", 1)[0], stem]) in ends
                                           for stem in stem_candidates(normalize(t).rsplit(" ", 1)[-1], PHRASE_STEM_MIN))]
    print(f"phrases: {len(inflected)} of {len(texts)} texts matched as a listed phrase's last word inflected",
          "(intended), e.g.", inflected[:4])
    other += [t for t in matched if t not in set(inflected)]
    return len(screened) + len(texts), len(other), other


def benign(terms_n: int) -> tuple[int, int, list[str]]:
    corpus = synth.benign_corpus()
    vocab = synth.vocabulary(corpus)
    terms = synth.placeholder_terms(terms_n, seed=21, avoid=vocab, read=synth.filter_reading)
    words = [w for w in vocab if w.isalpha() and 4 <= len(w) <= 9]
    terms += ev.placeholder_terms(terms_n // 2, seed=7000, ordinary=sorted(words))
    with tempfile.TemporaryDirectory() as tmp:
        rules = load_rules(write_rules_dir(Path(tmp) / "rules", terms=terms))
    lines = [line for source in corpus.values() for line in source]
    hits = [line for line, v in zip(lines, rules.check_many(lines), strict=True) if v.action != "allow"]
    return len(lines), len(hits), hits


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--listed", type=int, default=20000)
    ap.add_argument("--terms", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    n, k, other = dictionary(args.listed, args.seed)
    print(f"dictionary: {k} of {n} screened words/phrases falsely matched (not listed, not an inflection)")
    for w in other[:15]:
        print("   ", w)
    n, k, hits = benign(args.terms)
    print(f"benign corpora: {k} of {n} lines matched")
    for line in hits[:10]:
        print("   ", repr(line[:100]))


if __name__ == "__main__":
    main()
