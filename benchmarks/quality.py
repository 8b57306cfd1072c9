"""Quality: recall on disguised listed terms, false matches on benign real text (and the Scunthorpe check),
and image near-match robustness per edit with the false-match rate between different pictures."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import disguise, forms, plots, synth
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
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as tmp:
        _independent_terms(result, quick, Path(tmp))
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
    terms = synth.placeholder_terms(n_terms, seed=21, avoid=vocab, read=synth.filter_reading)
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
    forms.quality(result, tmp, corpus, vocab, quick)
    result.note("benign corpus: Python's pydoc topic texts, stdlib docstrings, the Zen of Python and "
                "/usr/share/common-licenses (real English nobody here wrote); a wordfreq-based corpus would be broader.")


# --- terms, independent generator (issue 11, item 7) ---------------------------------------------------------
def _independent_terms(result: SuiteResult, quick: bool, tmp: Path) -> None:
    """Recall per class of ``disguise_independent`` (its own terms and tables) and false matches on an outside
    corpus (Debian's fortunes, fortunes-ru, wamerican)."""
    missing = available("filter_proxy.rules.loader", "confusable_homoglyphs")
    if missing:
        result.note(f"independent term quality not measured: {missing}")
        result.target("term_recall_independent", None, "module missing")
        result.target("benign_false_match_outside", None, "module missing")
        return
    from benchmarks import disguise_independent as ind

    n_terms, per_class, benign_limit = (3_000, 200, 4_000) if quick else (20_000, 1_000, 40_000)
    log("quality (independent): reading the outside corpus")
    rng = random.Random(29)
    terms = ind.placeholder_terms(n_terms, seed=31, avoid=ind.vocabulary())
    rules = load_rules(write_rules_dir(tmp / "rules", terms=terms))

    def hit(text: str) -> bool:
        return rules.check_text(text).action != "allow"

    multi = [t for t in terms if " " in t]
    single = [t for t in terms if " " not in t]
    rows: list[list[Any]] = []
    total = found = 0
    misses: list[str] = []
    sent: dict[str, list[str]] = {}  # the same queries again, through the full query path (below)
    for name in ind.all_names():
        steps = ind.COMBINATIONS.get(name, (name,))
        pool = multi if ind.MULTI_WORD_ONLY & set(steps) else single if ind.SINGLE_WORD_ONLY & set(steps) else terms
        ours = 0
        for i, term in enumerate(rng.sample(pool, per_class)):
            query = INDEPENDENT_CONTEXTS[i % len(INDEPENDENT_CONTEXTS)].format(ind.disguise(term, name, rng))
            sent.setdefault(name, []).append(query)
            matched = hit(query)
            ours += matched
            if not matched and len(misses) < 40:
                misses.append(f"{name}: {query!r}")
        rows.append([name, per_class, 100 * ours / per_class])
        total += per_class
        found += ours
        log(f"quality (independent): {name}: recall {100 * ours / per_class:.1f} %")
    result.table("Recall per disguise class, independent generator (% of disguised listed terms matched)",
                 ["class", "queries", "filter-proxy %"], rows)
    worst = min(rows, key=lambda r: r[2])
    result.target("term_recall_independent", 100 * found / total,
                  f"{len(rows)} classes, {per_class} terms each; worst: {worst[0]} {worst[2]:.1f} %")
    if misses:
        result.note("independent generator, missed (placeholders): " + "; ".join(misses[:10]))
    result.note(f"independent generator: benchmarks/disguise_independent.py, {n_terms:,} of its own placeholder "
                "phrases (CVC nonsense, 1-3 words), look-alikes drawn from the whole UTS #39 table.")

    sources, notes = ind.benign_corpus(rng, benign_limit)
    for note in notes:
        result.note("outside corpus: " + note)
    brows: list[list[Any]] = []
    queries = matched_total = 0
    examples: list[str] = []
    for source, lines in sources.items():
        hits = [line for line in lines if hit(line)]
        examples += hits[:3]
        brows.append([source, len(lines), len(hits), 100 * len(hits) / max(1, len(lines))])
        queries += len(lines)
        matched_total += len(hits)
    result.table("False matches on an outside corpus (independent terms)",
                 ["source", "queries", "false matches", "rate %"], brows)
    result.target("benign_false_match_outside", 100 * matched_total / queries if queries else None,
                  f"{matched_total} of {queries:,} queries")
    if examples:
        result.note("outside corpus lines that matched: " + "; ".join(repr(e[:90]) for e in examples[:6]))
    # The request side as `serve` runs it (issue 10.6 reading of query syntax included), same rules.
    from benchmarks import query_path

    sent.update(query_path.syntax_disguises(terms, per_class, rng, INDEPENDENT_CONTEXTS))
    docs = [line for lines in synth.benign_corpus(2, 8).values() for line in lines]
    sources["Python docs (the peers suite's benign queries)"] = rng.sample(docs, min(benign_limit, len(docs)))
    log("quality (independent): the same queries through the full query path")
    query_path.measure(result, rules, sent, sources)


INDEPENDENT_CONTEXTS = ("{}", "where is {} online", "{} pics", "best {} 2024", "Q: {}?")


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
