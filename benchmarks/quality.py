"""Quality: recall on disguised listed terms, false matches on benign real text (and the Scunthorpe check),
and image near-match robustness per edit with the false-match rate between different pictures."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import disguise, imageset, plots, synth
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
    for name in ind.all_names():
        steps = ind.COMBINATIONS.get(name, (name,))
        pool = multi if ind.MULTI_WORD_ONLY & set(steps) else single if ind.SINGLE_WORD_ONLY & set(steps) else terms
        ours = 0
        for i, term in enumerate(rng.sample(pool, per_class)):
            query = INDEPENDENT_CONTEXTS[i % len(INDEPENDENT_CONTEXTS)].format(ind.disguise(term, name, rng))
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


INDEPENDENT_CONTEXTS = ("{}", "where is {} online", "{} pics", "best {} 2024", "Q: {}?")


# --- images -----------------------------------------------------------------------------------------------
def _images(result: SuiteResult, quick: bool, out_dir: Path) -> None:
    missing = available("filter_proxy.matchers.images")
    if missing:
        result.note(f"image quality not measured: {missing}")
        result.target("image_tpr", None, "module missing")
        return
    from filter_proxy.matchers.images import ImageEntry, ImageIndex, compute_hashes, compute_query_hashes
    from filter_proxy.rules.policy import DEFAULT_THRESHOLDS

    try:
        import pdqhash  # noqa: F401
        algos = ["phash", "dhash", "pdq"]
    except ImportError:
        algos = ["phash", "dhash"]
        result.note("pdqhash not installed: PDQ left out")
    policy_algos = _policy_algorithms()
    thresholds = dict(DEFAULT_THRESHOLDS)
    pictures = imageset.sample_photos()
    n_generated = 10 if quick else 130
    pictures += [(f"generated-{i}", imageset.generated_picture(1000 + i)) for i in range(n_generated)]
    log(f"quality: hashing {len(pictures)} pictures x {len(imageset.EDITS)} edits ({', '.join(algos)})")
    entries = []
    for i, (_, picture) in enumerate(pictures):
        for algo, hex_ in compute_hashes(imageset.png_bytes(picture), algos).items():
            entries.append(ImageEntry(algo, hex_, f"img{i}", f"bench/images/img{i}.csv:1"))
    index = ImageIndex.build(entries)

    def threshold(_category: str, algorithm: str) -> int:
        return thresholds[algorithm]

    combos = {a: [a] for a in algos}
    combos[" + ".join(policy_algos)] = policy_algos
    if len(algos) > len(policy_algos):
        combos[" + ".join(algos)] = algos
    tp = {(e, c): 0 for e in imageset.EDITS for c in combos}
    tp_group = {(g, c): 0 for g in ("photos", "generated") for c in combos}
    false = dict.fromkeys(combos, 0)
    false_pairs: list[str] = []
    pairs = 0
    n_photos = len(pictures) - n_generated
    for i, (_, picture) in enumerate(pictures):
        own = f"img{i}"
        group = "photos" if i < n_photos else "generated"
        for edit, func in imageset.EDITS.items():
            query = compute_query_hashes(imageset.png_bytes(func(picture)), algos)
            for name, members in combos.items():
                found = index.matches({a: query[a] for a in members if a in query}, threshold)
                hit = any(m.category == own for m in found)
                tp[edit, name] += hit
                tp_group[group, name] += hit
                wrong = [m for m in found if m.category != own]
                false[name] += len(wrong)
                false_pairs += [f"{pictures[i][0]} ({edit}) ~ {pictures[int(m.category[3:])][0]} ({m.algorithm} "
                                f"distance {m.distance})" for m in wrong if len(false_pairs) < 8]
            pairs += len(pictures) - 1
        if i % 25 == 24:
            log(f"quality: {i + 1}/{len(pictures)} pictures")
    n = len(pictures)
    rows = [[edit, *(100 * tp[edit, c] / n for c in combos)] for edit in imageset.EDITS]
    overall = [100 * sum(tp[e, c] for e in imageset.EDITS) / (n * len(imageset.EDITS)) for c in combos]
    rows.append(["all edits", *overall])
    headers = ["edit", *(f"{c} TPR %" for c in combos)]
    result.table(f"Image near-match TPR per edit ({n} pictures; thresholds "
                 f"{', '.join(f'{a} <= {thresholds[a]}' for a in algos)}; queries hashed with dihedral variants)",
                 headers, rows)
    e = len(imageset.EDITS)
    result.table("Image TPR by picture set (all edits)", ["algorithms", f"{n_photos} photos TPR %",
                 f"{n_generated} generated TPR %"],
                 [[c, 100 * tp_group["photos", c] / (n_photos * e), 100 * tp_group["generated", c] / (n_generated * e)]
                  for c in combos])
    if false_pairs:
        result.note("image false matches (first few): " + "; ".join(false_pairs))
    frows = [[c, pairs, false[c], 100 * false[c] / pairs] for c in combos]
    result.table("Image false matches between different pictures (every edited query vs every other original)",
                 ["algorithms", "pairs", "false matches", "rate %"], frows)
    policy_name = " + ".join(policy_algos)
    policy_tpr = overall[list(combos).index(policy_name)]
    fmr = 100 * false[policy_name] / pairs
    result.target("image_tpr", policy_tpr, f"shipped policy algorithms {policy_name}, all {len(imageset.EDITS)} edits; "
                  f"false-match rate {fmr:.4f} % {'<=' if fmr <= 0.01 else '>'} 0.01 %",
                  failed_condition=None if fmr <= 0.01 else f"false-match rate {fmr:.4f} % > 0.01 %")
    if fmr > 0.01:
        result.note(f"image false-match rate {fmr:.4f} % is above the 0.01 % the TPR target assumes")
    result.note(f"pictures: {n - n_generated} scikit-image sample photos + {n_generated} generated pictures.")
    result.plots.append(plots.image_tpr_bars(rows[:-1], list(combos), "image_tpr_per_edit.png", out_dir=out_dir))


def _policy_algorithms() -> list[str]:
    from filter_proxy.rules.policy import PERCEPTUAL_ALGORITHMS

    try:
        import tomllib

        from benchmarks.subjects import SHIPPED_RULES

        data = tomllib.loads((SHIPPED_RULES / "policy.toml").read_text(encoding="utf-8"))
        algos = [a for a in data.get("images", {}).get("algorithms", []) if a in PERCEPTUAL_ALGORITHMS]
    except (OSError, ValueError):
        algos = []
    return algos or ["phash", "dhash"]

