"""The page batch of a rule set with combination rules and weighted phrases (``RuleSet.check_many`` over
``signals/form_page``) gives exactly the per-string verdicts (``check_text``): generated rule sets of terms,
``all:`` / ``all within N:`` combinations and positive and negative weighted phrases in two categories,
generated pages whose strings hold the rules' parts disguised (case, leet, look-alikes, spacing, joined,
split, hashtags) among benign tokens, parts of one rule spread over the title and snippet of one result.
Placeholder words only."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.normalize import normalize
from filter_proxy.reading import reading
from filter_proxy.rules import load_rules
from filter_proxy.signals.form_page import FULL, PageUnion, fold_tagged, page_readings
from filter_proxy.verdict import ACTION_RANK, ALLOW
from tests.test_term_page import BENIGN_TOKEN, COINED, ORDINARY, PUNCT, disguised

SHIPPED = Path(__file__).resolve().parent.parent / "rules"
POLICY = """
[categories.zqx-abuse]
action = "block"
warning = "deterrence"
score_limit = {block_limit}

[categories.zqx-spam]
action = "strip"
score_limit = {strip_limit}
"""

WORD = st.one_of(COINED, COINED, st.sampled_from(ORDINARY[:8]))


@st.composite
def rule_lines(draw: st.DrawFn) -> dict[str, list[str]]:
    """Per category file: plain terms, combinations (2-4 words, some ordinary, some ``within N``) and
    weighted phrases (1-2 words, positive and negative weights)."""
    out: dict[str, list[str]] = {}
    for category in ("zqx-abuse", "zqx-spam"):
        lines: dict[str, None] = {}
        for term in draw(st.lists(COINED, max_size=2)):
            lines[term] = None
        for _ in range(draw(st.integers(0, 3))):
            words = draw(st.lists(WORD, min_size=2, max_size=4, unique_by=normalize))  # "zqbb" reads "zqb"
            within = draw(st.one_of(st.just(""), st.integers(len(words), 8).map(lambda n: f" within {n}")))
            lines[f"all{within}: {' '.join(words)}"] = None
        seen: set[str] = set()
        for _ in range(draw(st.integers(0, 4))):
            phrase = " ".join(draw(st.lists(WORD, min_size=1, max_size=2)))
            if normalize(phrase) in seen:
                continue
            seen.add(normalize(phrase))
            weight = draw(st.one_of(st.integers(10, 60), st.integers(-40, -5)))
            lines[f"weight={weight:+d} {phrase}"] = None
        out[category] = list(lines) or ["zqxplaceholder"]
    return out


def rule_set(lines: dict[str, list[str]], limits: tuple[int, int], root: Path) -> Any:
    root.mkdir(parents=True)
    (root / "policy.toml").write_text(POLICY.format(block_limit=limits[0], strip_limit=limits[1]), "utf-8")
    shutil.copytree(SHIPPED / "warnings", root / "warnings")
    (root / "terms").mkdir()
    for category, found in lines.items():
        (root / "terms" / f"{category}.txt").write_text("\n".join(found) + "\n", "utf-8")
    rules = load_rules(root)
    rules.set_cache_size(0)
    return rules


def parts_of(lines: dict[str, list[str]]) -> list[str]:
    """What a text may hold of the rules: terms, each combination word, each weighted phrase."""
    out: list[str] = []
    for found in lines.values():
        for line in found:
            if line.startswith("all"):
                out.extend(line.partition(":")[2].split())
            elif line.startswith("weight="):
                out.append(line.partition(" ")[2])
            else:
                out.append(line)
    return out


@st.composite
def field(draw: st.DrawFn, parts: list[str]) -> str:
    tokens = [draw(BENIGN_TOKEN) + draw(PUNCT) for _ in range(draw(st.integers(0, 6)))]
    for part in draw(st.lists(st.sampled_from(parts), max_size=4)):
        tokens.insert(draw(st.integers(0, len(tokens))), draw(disguised(part)))
    return draw(st.sampled_from([" ", "  ", "\n", " , "])).join(tokens)


@st.composite
def results(draw: st.DrawFn, parts: list[str]) -> list[tuple[str, str]]:
    return [(draw(field(parts)), draw(field(parts))) for _ in range(draw(st.integers(1, 6)))]


def strongest(verdicts: list[Any]) -> Any:
    best = ALLOW
    for verdict in verdicts:
        if verdict is not ALLOW and verdict.rank > best.rank:
            best = verdict
    return best


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rule_lines(), st.tuples(st.integers(20, 90), st.integers(20, 90)), st.data())
def test_the_page_batch_gives_each_strings_own_verdict(lines: dict[str, list[str]], limits: tuple[int, int],
                                                       data: st.DataObject) -> None:
    parts = parts_of(lines)
    with tempfile.TemporaryDirectory() as tmp:
        batch = rule_set(lines, limits, Path(tmp) / "a" / "rules")
        single = rule_set(lines, limits, Path(tmp) / "b" / "rules")  # cold caches of its own
    assert (batch._page_union is not None) == bool(len(batch.combos) or len(batch.weights))
    for _ in range(2):  # the second page meets warm per-word caches
        page = data.draw(results(parts))
        texts = [text for result in page for text in result]
        expected = [single.check_text(text) for text in texts]
        batch.set_cache_size(0)
        assert batch.check_many(texts) == expected, texts
        batch.set_cache_size(64)  # the verdict cache in front of the batch: misses, then hits
        assert batch.check_many(texts[::2]) == expected[::2], texts
        assert batch.check_many(texts) == expected, texts
        batch.set_cache_size(0)
        for title, snippet in page:
            # A result's fields are screened apart: rule parts spread over title and snippet never combine.
            assert batch.check_texts((title, snippet)) == strongest([single.check_text(title),
                                                                     single.check_text(snippet)])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["zqxalpha", "zqxbeta", "zqxdelta", "zqxscore", "garden", "zqxblocked"]),
                min_size=1, max_size=4), st.lists(BENIGN_TOKEN, max_size=3), st.data())
def test_a_string_that_any_index_matches_is_never_called_clean(words: list[str], benign: list[str],
                                                                data: st.DataObject) -> None:
    # Clean for the union means clean for each index: terms, the combinations' words, the weighted phrases.
    lines = {"zqx-abuse": ["zqxblocked", "all: zqxalpha zqxbeta", "weight=+40 zqxscore"],
             "zqx-spam": ["all within 3: zqxdelta garden"]}
    with tempfile.TemporaryDirectory() as tmp:
        rules = rule_set(lines, (60, 60), Path(tmp) / "r")
    text = " ".join([*benign, *(data.draw(disguised(w)) for w in words)])
    found = page_readings(rules._page_union, [text, "plain words only"])
    assert found[1] is None
    if any(index.match(text) for index in (rules.terms, rules.combos.term_index, rules.weights.term_index)):
        assert found[0] is not None, text


def test_a_combination_split_over_title_and_snippet_stays_apart() -> None:
    lines = {"zqx-abuse": ["all: zqxalpha zqxbeta", "weight=+40 zqxscore", "weight=+30 zqxmore"],
             "zqx-spam": ["zqxspam"]}
    with tempfile.TemporaryDirectory() as tmp:
        rules = rule_set(lines, (60, 60), Path(tmp) / "r")
    texts = ["zqxalpha here", "and zqxbeta there", "zqxscore", "zqx more", "zqxbeta, #ZqxAlpha", "zqxscore zqxm0re"]
    assert [v.action for v in rules.check_many(texts)] == ["allow"] * 4 + ["block"] * 2
    assert rules.check_texts(texts[:2]) is ALLOW and rules.check_texts(texts[2:4]) is ALLOW
    assert rules.check_forms(texts[:2]).action == "block"  # the parts of one query are read together
    assert ACTION_RANK[rules.check_texts(texts[3:5]).action] == ACTION_RANK["block"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(BENIGN_TOKEN, COINED.map(lambda w: "#" + w), COINED.map(lambda w: "@garden" + w),
                          st.sampled_from(["#gardenzqxalphalife", "#zqxalpha2024", "@zqxbeta_fan"])),
                max_size=6))
def test_hashtag_words_segmented_once_read_as_the_index_reads_them(tokens: list[str]) -> None:
    lines = {"zqx-abuse": ["zqxalpha", "garden zqxbeta", "all: zqxalpha zqxbeta", "weight=+70 zqxalpha"],
             "zqx-spam": ["zqxspam"]}
    with tempfile.TemporaryDirectory() as tmp:
        rules = rule_set(lines, (60, 60), Path(tmp) / "r")
    read = reading(" ".join(tokens))
    folded = fold_tagged(read)
    assert not folded.tagged
    for index in (rules.terms, rules.combos.term_index, rules.weights.term_index):
        assert index.match_words(folded.words, folded.tagged, folded.glued) == index.match_words(
            read.words, read.tagged, read.glued)


def test_a_hashed_entry_reads_each_string_on_its_own() -> None:
    import hashlib

    from filter_proxy.normalize import normalize

    digest = hashlib.sha256(normalize("zqxhidden").encode()).hexdigest()
    lines = {"zqx-abuse": [f"sha256:{digest}", "all: zqxalpha zqxbeta"], "zqx-spam": ["zqxspam"]}
    with tempfile.TemporaryDirectory() as tmp:
        rules = rule_set(lines, (60, 60), Path(tmp) / "r")
    assert rules._page_union is None and not PageUnion.usable([rules.terms])
    texts = ["a zqxhidden here", "zqxbeta zqxalpha", "nothing"]
    assert [v.action for v in rules.check_many(texts)] == ["block", "block", "allow"]
    assert FULL.words == []

