"""Combination rules (``all:``) and weighted phrases (``weight=``): parsing with path:line errors, matching
in any word order and through disguises, Scunthorpe cases, bundles, reload, and the proxy's query, result
and suggestion screening. Placeholder words only."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.middleware import FilterMiddleware
from filter_proxy.rules import check_rules, load_rules
from filter_proxy.rules.bundle import compile_rules, load_bundle
from filter_proxy.signals.base import SignalError
from filter_proxy.signals.combos import ComboSignal, parse_combo
from filter_proxy.signals.weighted import parse_weighted

SHIPPED = Path(__file__).resolve().parent.parent / "rules"
POLICY = """
[categories.zqx-abuse]
action = "block"
warning = "deterrence"
score_limit = 60

[categories.zqx-spam]
action = "strip"
"""
TERMS = [
    "zqxblocked",
    "all: zqxalpha zqxbeta zqxgamma",
    "all within 3: zqxdelta zqxepsilon",
    "weight=+40 zqxscore one",
    "weight=+30 zqxscore two",
    "weight=-20 zqxcontext",
]
COMBO = ("zqxalpha", "zqxbeta", "zqxgamma")
FILLER = ("garden", "tools", "the", "and", "of", "weather", "report", "music")


def write_rules(root: Path, terms: list[str] = TERMS, policy: str = POLICY) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.toml").write_text(policy, encoding="utf-8")
    shutil.copytree(SHIPPED / "warnings", root / "warnings", dirs_exist_ok=True)
    (root / "terms").mkdir(exist_ok=True)
    (root / "terms" / "zqx-abuse.txt").write_text("\n".join(terms) + "\n", encoding="utf-8")
    (root / "terms" / "zqx-spam.txt").write_text("zqxspam\n", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_rules(write_rules(tmp_path_factory.mktemp("forms") / "rules"))


# -- parsing --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "needle"), [
    ("all: zqxalpha", "2 to 8 different words"),
    ("all: zqxalpha zqxalpha", "2 to 8 different words"),
    ("all within 1: zqxalpha zqxbeta", "at least the number of words"),
    ("all within 500: zqxalpha zqxbeta", "at most 100"),
    ("all within five: zqxalpha zqxbeta", "reads 'all:"),
    ("all: zqxalpha !!!", "empty after normalisation"),
])
def test_bad_combination_lines_are_refused_with_a_reason(line: str, needle: str) -> None:
    with pytest.raises(SignalError, match=needle):
        parse_combo(line) if ComboSignal.claims(line) else ComboSignal.parse_line(line)


@pytest.mark.parametrize(("line", "needle"), [
    ("weight=0 zqxscore", "not 0"),
    ("weight=+5000 zqxscore", "from -1000"),
    ("weight=abc zqxscore", "reads 'weight="),
    ("weight=+10 ~zqxscores", "plain phrases"),
    ("weight=+10 !!!", "empty after normalisation"),
])
def test_bad_weighted_lines_are_refused_with_a_reason(line: str, needle: str) -> None:
    with pytest.raises(SignalError, match=needle):
        parse_weighted(line)


def test_only_the_all_forms_are_combinations() -> None:
    from filter_proxy.signals import registry

    assert registry.for_line("terms", "all within reach") == "terms"
    assert registry.for_line("terms", "all zqxalpha zqxbeta") == "terms"
    assert registry.for_line("terms", "ALL : zqxalpha zqxbeta") == "all"
    assert registry.for_line("terms", "all within 4: zqxalpha zqxbeta") == "all"
    assert registry.for_line("terms", "weight = -5 zqxcontext") == "weighted"
    assert registry.for_line("urls", "all: example.invalid") == "urls"


def test_rules_check_locates_errors_as_path_line(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "rules", ["zqxblocked", "all: zqxalpha", "weight=0 zqxscore",
                                            "all: zqxbeta zqxalpha", "all: zqxalpha zqxbeta"])
    problems = {(p.path, p.line, p.severity) for p in check_rules(root)}
    assert ("rules/terms/zqx-abuse.txt", 2, "error") in problems
    assert ("rules/terms/zqx-abuse.txt", 3, "error") in problems
    assert ("rules/terms/zqx-abuse.txt", 5, "warning") in problems  # the same words in another order


def test_weighted_phrases_need_a_score_limit(tmp_path: Path) -> None:
    root = write_rules(tmp_path / "rules", ["zqxblocked"], POLICY)
    (root / "terms" / "zqx-spam.txt").write_text("zqxspam\nweight=+10 zqxspammy\n", encoding="utf-8")
    found = [p for p in check_rules(root) if p.severity == "error"]
    assert [(p.path, p.line) for p in found] == [("rules/terms/zqx-spam.txt", 2)]
    assert "score_limit" in found[0].reason
    bad = POLICY.replace("score_limit = 60", "score_limit = 0")
    assert any("score_limit" in p.reason for p in check_rules(write_rules(tmp_path / "r2", TERMS, bad)))


# -- combination rules ----------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(COMBO), st.lists(st.sampled_from(FILLER), max_size=12), st.randoms(use_true_random=False))
def test_a_combination_matches_in_any_order_among_other_words(rules: Any, order: list[str], filler: list[str],
                                                                rnd: Any) -> None:
    words = list(filler)
    for word in order:
        words.insert(rnd.randint(0, len(words)), word)
    verdict = rules.check_text(" ".join(words))
    assert verdict.action == "block" and verdict.rule_id == "rules/terms/zqx-abuse.txt:2"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(COMBO), unique=True, max_size=2), st.lists(st.sampled_from(FILLER), max_size=8))
def test_a_combination_missing_a_word_does_not_match(rules: Any, some: list[str], filler: list[str]) -> None:
    assert rules.check_text(" ".join([*some, *filler])).action == "allow"


_LEET = {"a": ["a", "4", "@", "A", "\u0430"], "e": ["e", "3", "E", "\u0435"], "l": ["l", "L", "1"],
         "p": ["p", "P", "\u0440"], "o": ["o", "0", "O", "\u043e"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(COMBO), st.data())
def test_disguised_words_still_combine(rules: Any, order: list[str], data: st.DataObject) -> None:
    disguised = []
    for word in order:
        letters = [data.draw(st.sampled_from(_LEET.get(ch, [ch, ch.upper()]))) for ch in word]
        disguised.append("".join(letters))
    text = data.draw(st.sampled_from([" ", " , ", " ... ", "  "])).join(disguised)
    assert rules.check_text(text).action == "block", text


def test_joined_split_and_hashtag_forms_combine(rules: Any) -> None:
    for text in ("zqxalphazqxbeta and zqxgamma", "zqxgamma #zqxbetazqxalpha", "zqx alpha zqxbeta zqxgamma",
                 "z q x a l p h a, zqxbeta zqxgamma"):
        assert rules.check_text(text).action == "block", text


def test_within_counts_words(rules: Any) -> None:
    assert rules.check_text("zqxdelta garden zqxepsilon").action == "block"
    assert rules.check_text("zqxepsilon tools zqxdelta").action == "block"
    assert rules.check_text("zqxdelta garden tools weather zqxepsilon").action == "allow"
    assert rules.check_text("zqxdelta garden tools weather zqxepsilon then zqxdelta").action == "block"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FILLER), max_size=6), st.lists(st.sampled_from(FILLER), max_size=4),
       st.lists(st.sampled_from(FILLER), max_size=4), st.booleans())
def test_within_holds_exactly_when_the_words_are_close(rules: Any, gap: list[str], before: list[str],
                                                       after: list[str], swap: bool) -> None:
    pair = ["zqxepsilon", "zqxdelta"] if swap else ["zqxdelta", "zqxepsilon"]
    text = " ".join([*before, pair[0], *gap, pair[1], *after])
    assert (rules.check_text(text).action == "block") == (len(gap) + 2 <= 3)  # "all within 3:"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(COMBO), st.sampled_from(["s", "ing", "ish", "er"]), st.sampled_from(["re", "un", "pre"]))
def test_scunthorpe_words_inside_longer_words_do_not_combine(rules: Any, order: list[str], suffix: str,
                                                             prefix: str) -> None:
    # Each listed word made part of a longer word: not the listed word, so no combination.
    assert rules.check_text(" ".join([order[0] + suffix, order[1], order[2]])).action == "allow"
    assert rules.check_text(" ".join([order[0], prefix + order[1], order[2]])).action == "allow"


def test_a_combination_does_not_span_two_fields(rules: Any) -> None:
    assert rules.check_texts(["zqxalpha zqxbeta", "zqxgamma here"]).action == "allow"
    assert rules.check_texts(["a title", "zqxbeta zqxgamma zqxalpha"]).action == "block"


# -- weighted phrases -----------------------------------------------------------------------------------

def test_weights_sum_to_the_limit_and_name_every_contributor(rules: Any) -> None:
    verdict = rules.check_text("zqxscore two and then zqxscore one")
    assert verdict.action == "block"
    assert verdict.rules == ("rules/terms/zqx-abuse.txt:4", "rules/terms/zqx-abuse.txt:5")
    assert verdict.rule_id == "rules/terms/zqx-abuse.txt:4"
    assert rules.check_text("zqxscore one zqxscore one").action == "allow"  # a phrase counts once
    assert rules.check_text("zqxscore one zqxscore two zqxcontext").action == "allow"  # 70 - 20 < 60
    assert rules.check_text("zqxscore one").action == "allow"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations(["zqxscore one", "zqxscore two", "garden tools"]), st.booleans(), st.data())
def test_weights_ignore_order_and_disguises(rules: Any, parts: list[str], context: bool, data: st.DataObject) -> None:
    text = " , ".join(parts + (["zqx context"] if context else []))
    text = "".join(data.draw(st.sampled_from(_LEET.get(ch, [ch]))) for ch in text)
    assert rules.check_text(text).action == ("allow" if context else "block"), text


# -- bundles, reload, the proxy -------------------------------------------------------------------------

def test_bundle_round_trip_keeps_both_forms(rules: Any, tmp_path: Path) -> None:
    root = write_rules(tmp_path / "rules")
    compile_rules(root, tmp_path / "b.fprules")
    loaded = load_bundle(tmp_path / "b.fprules")
    assert len(loaded.combos) == 2 and len(loaded.weights) == 3
    for text in ("zqxgamma zqxbeta zqxalpha", "zqxscore one zqxscore two", "zqxdelta zqxepsilon", "garden"):
        assert loaded.check_text(text) == rules.check_text(text)
    assert loaded.category_sizes()["zqx-abuse"] == {"terms": 1, "all": 2, "weighted": 3}


@pytest.mark.anyio
async def test_a_reload_picks_up_new_combinations(tmp_path: Path) -> None:
    from filter_proxy.reload import Reloader
    from filter_proxy.rules.holder import RuleHolder

    root = write_rules(tmp_path / "rules")
    holder = RuleHolder(load_rules(root))
    assert holder.current.check_text("zqxkappa zqxlambda").action == "allow"
    write_rules(root, [*TERMS, "all: zqxlambda zqxkappa", "weight=+70 zqxmu"])
    await Reloader(holder, root).reload()
    assert holder.current.check_text("zqxkappa zqxlambda").action == "block"
    assert holder.current.check_text("zqxmu").rules == ("rules/terms/zqx-abuse.txt:8",)


@pytest.mark.anyio
async def test_queries_results_and_suggestions_use_both_forms(rules: Any) -> None:
    page = {"query": "garden", "number_of_results": 3, "suggestions": ["zqxbeta zqxgamma zqxalpha", "garden"],
            "results": [{"url": "https://a.example.invalid/", "title": "zqxscore one", "content": "zqxscore two"},
                        {"url": "https://b.example.invalid/", "title": "x", "content": "zqxscore one, zqxscore two"},
                        {"url": "https://c.example.invalid/", "title": "garden", "content": "tools"}]}
    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        import json
        calls.append(scope["path"])
        body = json.dumps(page).encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    transport = httpx.ASGITransport(app=FilterMiddleware(app, rules=rules, adapter="searxng"))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        blocked = await client.get("/search", params={"q": "zqxgamma with zqxalpha and zqxbeta", "format": "json"})
        assert blocked.headers["x-filter-action"] == "block" and not calls
        scored = await client.get("/search", params={"q": "zqxscore two zqxscore one", "format": "json"})
        assert scored.headers["x-filter-action"] == "block" and not calls
        r = await client.get("/search", params={"q": "garden", "format": "json"})
    doc = r.json()
    # Result 1 scores 40 in one field and 30 in another: fields are screened apart, so it stays.
    assert [x["url"] for x in doc["results"]] == ["https://a.example.invalid/", "https://c.example.invalid/"]
    assert doc["suggestions"] == ["garden"]
    assert ".txt:" not in r.text


def test_combination_rules_are_filed_under_their_rarest_word() -> None:
    from filter_proxy.signals.base import Entry
    from filter_proxy.signals.combos import ComboIndex

    coined = [f"zqx{a}{b}rare" for a in "bcdfgklmnp" for b in "aeiou"]  # 50 words, no digits (leetspeak)
    lines = [f"all: garden {word} tools" for word in coined]
    entries = [Entry(ComboSignal.parse_line(line)[0], "zqx-abuse", f"rules/x.txt:{n}", "all")
               for n, line in enumerate(lines, 1)]
    index = ComboIndex.build(entries)
    # The ordinary words are shared by every rule; each rule's own coined word is its anchor, so a text of
    # ordinary words alone confirms no rule at all.
    assert index._anchors.keys().isdisjoint({1, 3}) and len(index._anchors) == 50
    assert index.match("garden tools garden tools") == []
    loaded = ComboIndex.from_bytes(index.to_bytes())
    assert [m.rule_id for m in loaded.match(f"tools {coined[7]} garden")] == ["rules/x.txt:8"]
    with pytest.raises(ValueError, match="combination-rule index"):
        ComboIndex.from_bytes(b"FPCOMBO1" + b"\xff" * 8)


@pytest.mark.anyio
async def test_a_combination_spread_over_query_clauses_is_one_query(rules: Any) -> None:
    import json as _json

    calls: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        body = b'{"hits": {"hits": []}}'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    query = {"query": {"bool": {"must": [{"match": {"title": "zqxalpha"}}, {"match": {"body": "zqxgamma zqxbeta"}}]}}}
    transport = httpx.ASGITransport(app=FilterMiddleware(app, rules=rules, adapter="elasticsearch"))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        r = await client.post("/idx/_search", content=_json.dumps(query), headers={"content-type": "application/json"})
        assert r.headers.get("x-filter-action") == "block" and not calls
        query["query"]["bool"]["must"][1] = {"match": {"body": "garden tools"}}
        r = await client.post("/idx/_search", content=_json.dumps(query), headers={"content-type": "application/json"})
    assert "x-filter-action" not in r.headers and calls == ["/idx/_search"]
