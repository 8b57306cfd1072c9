"""Quality: recall on disguised listed terms, false matches on benign real text (and the Scunthorpe check),
and image near-match robustness per edit with the false-match rate between different pictures."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import disguise, plots, synth
from benchmarks.baselines import SetTerms
from benchmarks.harness import SuiteResult, log
from benchmarks.subjects import available, load_rules, write_rules_dir

CONTEXTS = ("{}", "where to find {} online", "{} pictures free", "latest {} videos 2024")
PREFIXES = ("un", "pre", "re", "anti", "over", "mis")
SUFFIXES = ("ness", "ing", "ed", "ly", "ation", "ful")


def run(quick: bool, out_dir: Path) -> SuiteResult:
    result = SuiteResult("quality", quick)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp:
        _terms(result, quick, Path(tmp), out_dir)
    _images(result, quick, out_dir)
    result.seconds = time.monotonic() - started
    return result


# --- terms ------------------------------------------------------------------------------------------------
def _terms(result: SuiteResult, quick: bool, tmp: Path, out_dir: Path) -> None:
    missing = available("filter_proxy.rules.loader", "filter_proxy.matchers.terms", "filter_proxy.normalize")
    if missing:
        result.note(f"term quality not measured: {missing}")
        result.target("term_recall", None, "module missing")
        result.target("benign_false_match", None, "module missing")
        return
    log("quality: reading the benign corpus")
    corpus = synth.benign_corpus()
    vocab = synth.vocabulary(corpus)
    n_terms, per_class = (5_000, 150) if quick else (20_000, 1_000)
    terms = synth.placeholder_terms(n_terms, seed=21, avoid=vocab)
    log(f"quality: loading a rule set of {n_terms:,} placeholder terms")
    rules = load_rules(write_rules_dir(tmp / "rules", terms=terms))

    def hit(text: str) -> bool:
        return rules.check_text(text).action != "allow"

    baseline = SetTerms(terms)  # no normalisation beyond lower-casing: what a plain keyword list catches
    rng = random.Random(5)
    sample = rng.sample(terms, per_class)
    rows: list[list[Any]] = []
    total = found = 0
    misses: list[str] = []
    for name in disguise.all_names():
        ours = base = 0
        for i, term in enumerate(sample):
            query = CONTEXTS[i % len(CONTEXTS)].format(disguise.disguise(term, name, rng))
            matched = hit(query)
            ours += matched
            base += baseline.match_words(query.lower().split())
            if not matched and len(misses) < 12:
                misses.append(f"{name}: {query!r}")
        rows.append([name, per_class, 100 * ours / per_class, 100 * base / per_class])
        total += per_class
        found += ours
        log(f"quality: {name}: recall {100 * ours / per_class:.1f} %")
    plain = sum(hit(CONTEXTS[i % len(CONTEXTS)].format(t)) for i, t in enumerate(sample))
    rows.insert(0, ["(undisguised)", per_class, 100 * plain / per_class, 100.0])
    result.table("Recall per disguise class (% of disguised listed terms matched)",
                 ["class", "queries", "filter-proxy %", "plain set baseline %"], rows)
    recall = 100 * found / total
    worst = min(rows[1:], key=lambda r: r[2])
    result.target("term_recall", recall, f"all {len(rows) - 1} classes and combinations; worst: {worst[0]} {worst[2]:.1f} %")
    if misses:
        result.note("examples of missed disguised queries (placeholders): " + "; ".join(misses[:6]))
    result.note(f"term rule set: {n_terms:,} generated placeholder phrases (1-3 nonsense words; half start with "
                f"'zqx'); no word of the benign corpus is in it. {per_class} listed terms per class, in query contexts.")
    result.plots.append(plots.recall_bars(rows[1:], "recall_per_disguise.png", out_dir=out_dir))

    # Benign real text: every line is a query that must not match.
    brows: list[list[Any]] = []
    queries = matched_total = 0
    examples: list[str] = []
    for source, lines in corpus.items():
        hits = [line for line in lines if hit(line)]
        examples += hits[: 3]
        brows.append([source, len(lines), len(hits), 100 * len(hits) / len(lines)])
        queries += len(lines)
        matched_total += len(hits)
    # Scunthorpe: listed terms embedded inside longer benign words must not match whole-word rules.
    lines_pool = [line for lines in corpus.values() for line in lines if len(line.split()) >= 4]
    scunthorpe = []
    for i, term in enumerate(rng.sample(terms, min(len(terms), 2_000))):
        # Every word of the phrase is lengthened: a phrase's inner word may itself be a listed term.
        pre, suf = PREFIXES[i % len(PREFIXES)], SUFFIXES[(i // len(PREFIXES)) % len(SUFFIXES)]
        words = [pre + w + suf for w in term.split(" ")]
        host = rng.choice(lines_pool).split()
        host.insert(rng.randrange(len(host)), " ".join(words))
        scunthorpe.append(" ".join(host))
    s_hits = [q for q in scunthorpe if hit(q)]
    brows.append(["Scunthorpe: listed terms inside longer words", len(scunthorpe), len(s_hits),
                  100 * len(s_hits) / len(scunthorpe)])
    result.table("False matches on benign text", ["source", "queries", "false matches", "rate %"], brows)
    rate = 100 * (matched_total + len(s_hits)) / (queries + len(scunthorpe))
    result.target("benign_false_match", rate, f"{matched_total + len(s_hits)} of {queries + len(scunthorpe):,} queries")
    if examples:
        result.note("benign lines that matched: " + "; ".join(repr(e[:90]) for e in examples[:6]))
    if s_hits:
        result.note("Scunthorpe lines that matched: " + "; ".join(repr(e[:90]) for e in s_hits[:4]))
    result.note("benign corpus: Python's pydoc topic texts, stdlib docstrings, the Zen of Python and "
                "/usr/share/common-licenses (real English nobody here wrote); a wordfreq-based corpus would be broader.")


# --- images ----------------------------------------------------------------------------------------------
def _images(result: SuiteResult, quick: bool, out_dir: Path) -> None:
    """The image half lives in benchmarks/image_quality.py (shared pHash list vs own enrollment)."""
    missing = available("filter_proxy.matchers.images")
    if missing:
        result.note(f"image quality not measured: {missing}")
        result.target("image_tpr", None, "module missing")
        return
    from benchmarks import image_quality

    image_quality.measure(result, quick, out_dir)
