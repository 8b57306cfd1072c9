"""Combination rules (``all:``) and weighted phrases (``weight=``) in the speed and quality suites (issue 16).

Placeholders only. A combination is one coined word (``zqx...``) with one or two ordinary English words
(so ordinary words in result text do reach the second stage, as they would with real lists); weighted
phrases are coined phrases with positive weights, plus ordinary words with negative (context) weights.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks import disguise, synth
from benchmarks.harness import SuiteResult, log
from benchmarks.subjects import compile_rules, load_rules, write_rules_dir

SCORE_LIMIT = 60
COMMON = ("garden", "music", "weather", "report", "school", "family", "photo", "video", "free", "online",
          "young", "new", "best", "home", "game", "story", "picture", "party", "summer", "water")


def combination_lines(n: int, seed: int, avoid: frozenset[str] | set[str] = frozenset()) -> list[str]:
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        coined = "zqx" + synth.nonsense_word(rng, rng.randint(2, 3))
        if coined in avoid:
            continue
        words = [coined, *rng.sample(COMMON, rng.randint(1, 2))]
        rng.shuffle(words)
        within = f" within {rng.randint(len(words), 8)}" if rng.random() < 0.3 else ""
        out[f"all{within}: {' '.join(words)}"] = None
    return list(out)


def weighted_lines(n: int, seed: int, avoid: frozenset[str] | set[str] = frozenset()) -> list[str]:
    rng = random.Random(seed)
    out: dict[str, str] = {}  # phrase -> line: one weight per phrase (a second line would be a duplicate)
    for word in COMMON[:10]:
        out[word] = f"weight=-{rng.randint(5, 20)} {word}"
    while len(out) < n:
        words = ["zqx" + synth.nonsense_word(rng, rng.randint(2, 3)) for _ in range(rng.randint(1, 2))]
        if any(w in avoid for w in words) or " ".join(words) in out:
            continue
        out[" ".join(words)] = f"weight=+{rng.randint(10, 50)} {' '.join(words)}"
    return list(out.values())


def rules_dir(root: Path, terms: list[str], combos: list[str], weighted: list[str], urls: list[str] = ()) -> Path:
    """A benchmark rules directory whose block category also lists the combinations and weighted phrases."""
    write_rules_dir(root, terms=[*terms, *combos, *weighted], urls=list(urls))
    policy = root / "policy.toml"
    text = policy.read_text("utf-8")
    policy.write_text(text.replace("[categories.zqx-abuse]\n", f"[categories.zqx-abuse]\nscore_limit = {SCORE_LIMIT}\n", 1),
                      "utf-8")
    return root


def cpu_per_page(result: SuiteResult, tmp: Path, terms: list[str], urls: list[str], results: list[dict[str, Any]],
                 quick: bool, n_forms: int = 10_000) -> None:
    """CPU per 10-result page with ``n_forms`` combinations and ``n_forms`` weighted phrases beside the
    terms, against the same terms alone (verdict cache off: every field is matched).

    The page is screened as the middleware screens it (``screening.screen_results``) and as the speed
    suite's ``cpu_per_page_ms`` measures it: the page's strings in one ``RuleSet.check_many`` call, each URL
    on its own. The older per-result call (``check_texts((title, snippet))``, a batch of two strings per
    result) is shown beside it: it pays the page batch's fixed cost ten times, which is why this table's
    "terms only" read 0.56 ms where the speed suite read 0.36 ms for the same pages and rules."""
    rows: list[list[Any]] = []
    pages = [results[i:i + 10] for i in range(0, len(results), 10)]
    rounds = 3 if quick else 10

    def page_batch(rules: Any, page: list[dict[str, Any]]) -> None:
        rules.check_many([text for r in page for text in (r["title"], r["content"])])
        for r in page:
            rules.check_url(r["url"])

    def per_result(rules: Any, page: list[dict[str, Any]]) -> None:
        for r in page:
            rules.check_texts((r["title"], r["content"]))
            rules.check_url(r["url"])

    timings: dict[str, float] = {}
    for name, combos, weighted in (("terms only", [], []),
                                   (f"+ {n_forms:,} combinations", combination_lines(n_forms, 31), []),
                                   (f"+ {n_forms:,} weighted phrases", [], weighted_lines(n_forms, 32)),
                                   ("+ both", combination_lines(n_forms, 31), weighted_lines(n_forms, 32))):
        root = rules_dir(tmp / f"forms-{len(timings)}", terms, combos, weighted, urls)
        bundle = tmp / f"forms-{len(timings)}.bundle"
        log(f"speed: compiling {len(terms):,} terms {name}")
        compile_rules(root, bundle)
        rules = load_rules(bundle)
        rules.set_cache_size(0)
        out: dict[Any, list[float]] = {page_batch: [], per_result: []}
        for _ in range(rounds):
            # Round by round, so that load on the box hits both alike; never both calls on one page in a
            # row (the second would meet that page's words in every per-word cache and read low).
            for fn, found in out.items():
                for page in pages:
                    start = time.process_time()
                    fn(rules, page)
                    found.append((time.process_time() - start) * 1000)
        timings[name] = median(out[page_batch])
        rows.append([name, timings[name], median(out[per_result]), bundle.stat().st_size / 1e6])
    result.table(f"CPU per 10-result page with combination rules and weighted phrases ({len(terms):,} terms), "
                 "cache off, median", ["rule set", "ms per page (page batch)", "ms per page (per result)",
                                       "bundle MB"], rows)
    result.target("cpu_per_page_forms_ms", timings["+ both"],
                  f"{n_forms:,} combinations + {n_forms:,} weighted phrases beside {len(terms):,} terms "
                  "(the page's strings in one check_many, as the middleware screens a page)")


def quality(result: SuiteResult, tmp: Path, corpus: dict[str, list[str]], vocab: set[str], quick: bool) -> None:
    """Recall of disguised combinations (words in random order among filler) and false matches of the
    combinations and weighted phrases on the benign corpus."""
    n = 2_000 if quick else 10_000
    combos = combination_lines(n, 41, vocab)
    weighted = weighted_lines(n, 42, vocab)
    rules = load_rules(rules_dir(tmp / "forms-rules", ["zqxplaceholder"], combos, weighted))
    rng = random.Random(43)
    per_class = 50 if quick else 300
    rows: list[list[Any]] = []
    misses: list[str] = []
    for name in ["(undisguised)", *disguise.all_names()]:
        hits = 0
        for line in rng.sample(combos, per_class):
            words = line.partition(":")[2].split()
            rng.shuffle(words)
            if name != "(undisguised)":
                words = [disguise.disguise(w, name, rng) if w.startswith("zqx") else w for w in words]
            filler = rng.sample(["the", "and", "with", "for", "about"], 2)
            # Filler only around the words: some rules say "within <number of words>".
            text = " ".join(filler[:1] + words + filler[1:])
            matched = rules.check_text(text).action != "allow"
            hits += matched
            if not matched and len(misses) < 8:
                misses.append(f"{name}: {text!r} ({line})")
        rows.append([name, per_class, 100 * hits / per_class])
    # Weighted phrases: two positive phrases that together reach the limit, disguised, in either order.
    positive = [(int(w), p) for w, _, p in (line[len("weight="):].partition(" ") for line in weighted) if int(w) > 0]
    high = [(w, p) for w, p in positive if w >= SCORE_LIMIT // 2]
    for row in rows:
        name, hits = row[0], 0
        for _ in range(per_class):
            pair = [p for _, p in rng.sample(high, 2)]
            if name != "(undisguised)":
                pair = [disguise.disguise(p, name, rng) for p in pair]
            hits += rules.check_text(f"{pair[0]} and then {pair[1]}").action != "allow"
        row.append(100 * hits / per_class)
    result.table("Combination rules (words shuffled among filler) and weighted phrases (two reaching the limit): "
                 "recall per disguise class", ["class", "queries", "combinations %", "weighted %"], rows)
    if misses:
        result.note("missed combinations (placeholders): " + "; ".join(misses))
    queries = matched = 0
    examples: list[str] = []
    for lines in corpus.values():
        for line in lines:
            queries += 1
            if rules.check_text(line).action != "allow":
                matched += 1
                examples.append(line[:80])
    rate = 100 * matched / queries if queries else None
    result.target("benign_false_match_forms", rate, f"{matched} of {queries:,} benign lines, {n:,} combinations + "
                  f"{n:,} weighted phrases (limit {SCORE_LIMIT})")
    if examples:
        result.note("benign lines matched by combinations/weighted phrases: " + "; ".join(map(repr, examples[:4])))
