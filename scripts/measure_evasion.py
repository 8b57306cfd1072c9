"""Recall per class of ``benchmarks.disguise_evader`` through the query path and the page path, for several
freshly generated term lists, and false matches on benign text (wamerican, fortunes). Quick: run by hand.

    PYTHONPATH=$PWD .venv/bin/python scripts/measure_evasion.py [--seeds 3] [--terms 2000] [--per 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks import disguise_evader as ev
from benchmarks import disguise_independent as ind
from benchmarks.subjects import load_rules, write_rules_dir


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--terms", type=int, default=2000)
    ap.add_argument("--per", type=int, default=60)
    ap.add_argument("--benign", type=int, default=6000)
    ap.add_argument("--only", default="")
    ap.add_argument("--misses", type=int, default=3)
    args = ap.parse_args()
    words = [w for w in ind.dictionary_words() if w.isalpha() and w.islower() and 4 <= len(w) <= 9]
    q_hit: Counter[str] = Counter()
    p_hit: Counter[str] = Counter()
    n: Counter[str] = Counter()
    misses: dict[str, list[str]] = {}
    benign_hits: list[str] = []
    benign_n = 0
    names = [x for x in ev.all_names() if not args.only or args.only in x]
    for seed in range(args.seeds):
        rng = random.Random(1000 + seed)
        terms = ev.placeholder_terms(args.terms, seed=7000 + seed, ordinary=words)
        with tempfile.TemporaryDirectory() as tmp:
            rules = load_rules(write_rules_dir(Path(tmp) / "rules", terms=terms))
        paths = ev.Paths(rules)
        multi = [t for t in terms if " " in t]
        for name in names:
            pool = multi if ev.MULTI_WORD & set(name.split("+")) else terms
            page_texts, page_ok = [], []
            for i in range(args.per):
                term = rng.choice(pool)
                text = ev.disguise(term, name, rng)
                n[name] += 1
                if not ev.PAGE_ONLY & set(name.split("+")):
                    q = ev.QUERY_CONTEXTS[i % len(ev.QUERY_CONTEXTS)].format(text)
                    ok = paths.query(q, rng)
                    q_hit[name] += ok
                    if not ok and len(misses.setdefault(name, [])) < args.misses:
                        misses[name].append(f"Q {term!r}: {q!r}")
                page_texts.append(ev.PAGE_CONTEXTS[i % len(ev.PAGE_CONTEXTS)].format(text))
                page_ok.append(term)
            for text, term, ok in zip(page_texts, page_ok, paths.page(page_texts), strict=True):
                p_hit[name] += ok
                if not ok and len(misses.setdefault(name, [])) < 2 * args.misses:
                    misses[name].append(f"P {term!r}: {text!r}")
        sources, _ = ind.benign_corpus(rng, args.benign)
        for lines in sources.values():
            verdicts = paths.page(lines)
            benign_n += len(lines)
            benign_hits += [line for line, v in zip(lines, verdicts, strict=True) if v]
    print(f"{'class':42s} {'query %':>8s} {'page %':>8s}")
    for name in names:
        q = "-" if ev.PAGE_ONLY & set(name.split("+")) else f"{100 * q_hit[name] / n[name]:.1f}"
        print(f"{name:42s} {q:>8s} {100 * p_hit[name] / n[name]:8.1f}")
    print(f"benign false matches: {len(benign_hits)} of {benign_n}")
    for line in benign_hits[:10]:
        print("   benign:", repr(line[:100]))
    for name, found in misses.items():
        for m in found:
            print(f"  miss {name}: {m}"[:220])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
