"""The shipped rules' comments are true (issue 11).

Every comment in rules/** that claims a behaviour is written as an example (`# matches: ...`,
`# does not match: ...`, `# allowed: ...`, `# example:` + `# on a query: ...`; the forms are documented in
rules/README.md, "Examples in comments"). This module reads each one from the files and tries it on the
real loaded rule set: check_text / check_url, a search through FilterMiddleware (the query path) and a
result holding the example (the result path). The README's examples and filter-proxy.example.toml are
checked in test_rule_comments_docs.py. A claim-shaped comment that is not one of the known forms fails,
so a new remark cannot slip in unchecked. The header of rules/images/zqx-abuse.csv (the demo's generated
listed pictures, written by `python -m filter_proxy.demo.images --write-rules`) is checked in
tests/test_demo.py (the file is up to date; every listed picture and its edited copy match, no other does).
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from filter_proxy.cli import main as cli_main
from filter_proxy.rules import RuleSet, load_rules
from tests.test_middleware import Backend, client_for, searx_page, wrap

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules"
README = RULES / "README.md"

KINDS = ("matches", "does not match", "allowed", "not allowed", "example", "on a query", "on a result")
ANNOTATION = re.compile(r"^#\s*(" + "|".join(KINDS) + r")\s*:\s*(.*?)\s*$")
# A comment that looks like "# <a few lower-case words>: <something>" is meant as a claim: it must be a
# known form, or this test cannot check it.
CLAIM_SHAPED = re.compile(r"^#\s*([a-z][a-z ]{0,24}):\s+\S")
QUERY_CLAIMS = {"no results", "results shown", "backend not asked", "no warning", "helplines"}
RESULT_CLAIMS = {"removed", "reported", "not reported"}
BENIGN_WORDS = ("garden", "tools", "weather", "recipe", "summer", "holiday", "photos", "2026")


@dataclass(frozen=True)
class Claim:
    source: str  # "path:line" of the comment, for messages
    kind: str
    example: str
    entry: str | None  # "<dir>/<file>:<line>" of the rule line below the comment (its rule id suffix)
    category: str


def read_claims(text: str, source: str, rule_path: str, category: str) -> list[Claim]:
    """The annotations of one rule file's text; ``rule_path`` is "<dir>/<file>" as rule ids end."""
    lines = text.splitlines()
    out = []
    for number, line in enumerate(lines, 1):
        found = ANNOTATION.match(line.strip())
        if not found:
            continue
        entry = next((f"{rule_path}:{n}" for n, below in enumerate(lines[number:], number + 1)
                      if below.strip() and not below.lstrip().startswith("#")), None)
        out.append(Claim(f"{source}:{number}", found.group(1), found.group(2), entry, category))
    return out


def shipped_files() -> list[Path]:
    return sorted(p for sub in ("terms", "urls", "allow", "images") for p in (RULES / sub).glob("*")
                  if p.is_file()) + [RULES / "policy.toml"] + sorted((RULES / "warnings").glob("*.toml"))


def shipped_claims(directory: str) -> list[Claim]:
    out = []
    for path in sorted((RULES / directory).glob("*.txt")):
        out += read_claims(path.read_text(encoding="utf-8"), f"rules/{directory}/{path.name}",
                           f"{directory}/{path.name}", path.stem)
    return out


def ids(claims: list[Claim]) -> list[str]:
    return [f"{c.source} {c.kind}: {c.example}" for c in claims]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


def rule_ids(verdict: Any) -> tuple[str, ...]:
    return tuple(r for r in (verdict.rule_id, *verdict.rules) if r)


def assert_matches(claim: Claim, verdict: Any, action: str) -> None:
    assert verdict.category == claim.category and verdict.action == action, (claim, verdict)
    assert claim.entry is not None and any(r.endswith(claim.entry) for r in rule_ids(verdict)), (claim, verdict)


# -- the comments are in the checked form ---------------------------------------------------------------


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_claim_shaped_comments_are_known_forms(path: Path) -> None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if CLAIM_SHAPED.match(text):
            assert ANNOTATION.match(text), f"{path}:{number}: unknown example form {text!r} (rules/README.md)"


@pytest.mark.parametrize("directory", ["terms", "urls"])
def test_every_shipped_entry_has_an_example(directory: str) -> None:
    for path in sorted((RULES / directory).glob("*.txt")):
        claims = read_claims(path.read_text(encoding="utf-8"), str(path), f"{directory}/{path.name}", path.stem)
        covered = {c.entry for c in claims if c.kind == "matches"}
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip() and not line.lstrip().startswith("#"):
                assert f"{directory}/{path.name}:{number}" in covered, f"{path}:{number}: no '# matches:' example"


# -- terms: check_text, the query path and the result path ----------------------------------------------


TERM_CLAIMS = shipped_claims("terms")
URL_CLAIMS = shipped_claims("urls")
ALLOW_CLAIMS = shipped_claims("allow")


def test_the_shipped_files_carry_examples() -> None:
    assert {c.kind for c in TERM_CLAIMS} == {"matches", "does not match"}
    assert {c.kind for c in URL_CLAIMS} == {"matches", "does not match"}
    assert {c.kind for c in ALLOW_CLAIMS} == {"allowed", "not allowed"}


@pytest.mark.parametrize("claim", TERM_CLAIMS, ids=ids(TERM_CLAIMS))
def test_term_example_against_check_text(rules: RuleSet, claim: Claim) -> None:
    verdict = rules.check_text(claim.example)
    if claim.kind == "matches":
        assert_matches(claim, verdict, rules.policy.category(claim.category).action)
    else:
        assert verdict.action == "allow", (claim, verdict)


def search(rules: RuleSet, query: str, result: dict[str, str] | None = None) -> tuple[Any, Backend]:
    """GET /search?q=<query> through FilterMiddleware in front of a SearXNG-shaped backend whose page
    holds a clean result (and ``result``, when given)."""
    page = searx_page(clean=True)
    if result is not None:
        page["results"].append(result)

    async def run() -> Any:
        async with client_for(wrap(backend, rules)) as client:
            return await client.get("/search", params={"q": query, "format": "json"})

    backend = Backend(page)
    return asyncio.run(run()), backend


@pytest.mark.parametrize("claim", TERM_CLAIMS, ids=ids(TERM_CLAIMS))
def test_term_example_through_the_query_and_result_paths(rules: RuleSet, claim: Claim) -> None:
    response, backend = search(rules, claim.example)
    body = response.json()
    result = {"url": "https://post.example.invalid/1", "title": "A post", "content": claim.example}
    filtered, _ = search(rules, "garden", result)
    kept = [r["url"] for r in filtered.json()["results"]]
    if claim.kind == "does not match":
        assert backend.calls == 1 and "safety" not in body and "x-filter-action" not in response.headers
        assert result["url"] in kept
        return
    action = rules.policy.category(claim.category).action
    assert result["url"] not in kept, claim
    if action == "strip":  # results shown, no warning
        assert backend.calls == 1 and "safety" not in body, claim
    else:
        assert response.headers["x-filter-action"] == action, claim
        assert body["safety"]["warning"]["kind"] == rules.policy.category(claim.category).warning
        assert backend.calls == (0 if action == "block" else 1), claim


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_term_examples_still_match_among_other_words(rules: RuleSet, data: st.DataObject) -> None:
    claim = data.draw(st.sampled_from([c for c in TERM_CLAIMS if c.kind == "matches"]))
    words = st.lists(st.sampled_from(BENIGN_WORDS), max_size=4)
    text = " ".join([*data.draw(words), claim.example, *data.draw(words)])
    assert_matches(claim, rules.check_text(text), rules.policy.category(claim.category).action)


# -- URLs and allow phrases ------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", URL_CLAIMS, ids=ids(URL_CLAIMS))
def test_url_example_against_check_url_and_the_result_path(rules: RuleSet, claim: Claim) -> None:
    verdict = rules.check_url(claim.example)
    result = {"url": claim.example, "title": "A post", "content": "Pictures of the garden."}
    filtered, _ = search(rules, "garden", result)
    kept = [r["url"] for r in filtered.json()["results"]]
    if claim.kind == "matches":
        assert_matches(claim, verdict, rules.policy.category(claim.category).action)
        assert claim.example not in kept
    else:
        assert verdict.action == "allow", (claim, verdict)
        assert claim.example in kept


@pytest.mark.parametrize("claim", ALLOW_CLAIMS, ids=ids(ALLOW_CLAIMS))
def test_allow_example(rules: RuleSet, claim: Claim) -> None:
    verdict = rules.check_text(claim.example)
    response, backend = search(rules, claim.example)
    if claim.kind == "allowed":
        assert verdict.action == "allow", (claim, verdict)
        assert backend.calls == 1 and "safety" not in response.json()
    else:
        assert verdict.action != "allow", claim
        assert "safety" in response.json()


# -- policy.toml: what a query and a result of each category get ----------------------------------------


def policy_claims() -> dict[str, dict[str, str]]:
    """category -> {"example": ..., "on a query": ..., "on a result": ...} from policy.toml's comments."""
    out: dict[str, dict[str, str]] = {}
    category = None
    for line in (RULES / "policy.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[categories\.([a-z0-9_-]+)\]", line.strip())
        if line.startswith("["):
            category = header.group(1) if header else None
        found = ANNOTATION.match(line.strip())
        if found and category:
            out.setdefault(category, {})[found.group(1)] = found.group(2)
    return out


def test_every_category_has_its_claims(rules: RuleSet) -> None:
    claims = policy_claims()
    assert set(claims) == set(rules.policy.categories)
    for category, found in claims.items():
        assert set(found) == {"example", "on a query", "on a result"}, category


@pytest.mark.parametrize("category", sorted(policy_claims()))
def test_policy_claims_on_a_query_and_a_result(rules: RuleSet, category: str) -> None:
    claims = policy_claims()[category]
    example = claims["example"]
    assert rules.check_text(example).category == category
    response, backend = search(rules, example)
    body = response.json()
    for claim in (c.strip() for c in claims["on a query"].split(";")):
        warned = re.fullmatch(r"([a-z-]+) warning", claim)
        assert claim in QUERY_CLAIMS or (warned and claim != "no warning"), f"unknown claim {claim!r}"
        if claim == "no results":
            assert body["results"] == []
        elif claim == "results shown":
            assert backend.calls == 1 and body["results"]
        elif claim == "backend not asked":
            assert backend.calls == 0
        elif claim == "no warning":
            assert "safety" not in body
        elif claim == "helplines":
            assert body["safety"]["warning"]["helplines"]
        elif warned:
            assert body["safety"]["warning"]["kind"] == warned.group(1)
    result = {"url": "https://post.example.invalid/1", "title": "A post", "content": f"about {example}"}
    filtered, _ = search(rules, "garden", result)
    for claim in (c.strip() for c in claims["on a result"].split(";")):
        assert claim in RESULT_CLAIMS, f"unknown claim {claim!r}"
        if claim == "removed":
            assert result["url"] not in [r["url"] for r in filtered.json()["results"]]
            assert filtered.headers["x-filter-removed"] == "1"
        else:
            assert rules.check_text(example).report is (claim == "reported")


# -- policy.toml: [images] -----------------------------------------------------------------------------


def test_images_algorithms_are_what_hashes_add_computes(rules: RuleSet, tmp_path: Path) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    rng = random.Random(7)
    picture = Image.new("RGB", (96, 64))
    picture.putdata([(rng.randrange(256), x % 256, 80) for x in range(96 * 64)])
    buf = io.BytesIO()
    picture.save(buf, "PNG")
    (tmp_path / "p.png").write_bytes(buf.getvalue())
    before = (copy / "images" / "zqx-abuse.csv").read_text().splitlines()
    assert cli_main(["hashes", "add", str(tmp_path / "p.png"), "--category", "zqx-abuse",
                     "--rules", str(copy), "--no-crops"]) == 0
    added = (copy / "images" / "zqx-abuse.csv").read_text().splitlines()[len(before):]
    assert {line.split(",")[0] for line in added} == set(rules.policy.images.algorithms) == {
        "phash", "dhash", "sha256"}


def flip_bits(hex_: str, count: int) -> str:
    return f"{int(hex_, 16) ^ ((1 << count) - 1):016x}"


@pytest.mark.parametrize("algorithm", ["phash", "dhash"])
def test_thresholds_are_the_largest_distance_that_still_matches(rules: RuleSet, algorithm: str) -> None:
    threshold = rules.policy.threshold("zqx-abuse", algorithm)
    listed = [line.split(",")[1] for line in (RULES / "images" / "zqx-abuse.csv").read_text().splitlines()
              if line.startswith(algorithm + ",")]
    for hex_ in listed:
        near = rules.check_image_hashes({algorithm: flip_bits(hex_, threshold)})
        assert near.action == "block" and near.distance == threshold
        assert rules.check_image_hashes({algorithm: flip_bits(hex_, threshold + 1)}).action == "allow"


def test_the_dhash_threshold_comment_retina_and_rocket_are_8_apart() -> None:
    """policy.toml: "8 already lets different photographs match once dHash crops are enrolled ... retina
    and rocket are 8 apart" (so 7, not 8-10)."""
    data = pytest.importorskip("skimage.data")
    from filter_proxy.matchers.image_hashing import compute_enrollment_hashes, compute_query_hashes

    def png(name: str) -> bytes:
        image = Image.fromarray(getattr(data, name)())
        image.thumbnail((512, 512))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "PNG")
        return buf.getvalue()

    enrolled = [h for _, h, _ in compute_enrollment_hashes(png("retina"), ["dhash"], crop_algorithms=["dhash"])]
    queried = compute_query_hashes(png("rocket"), ["dhash"])["dhash"]
    assert min(bin(int(a, 16) ^ int(b, 16)).count("1") for a in enrolled for b in queried) == 8


# -- warnings/*.toml ---------------------------------------------------------------------------------


def test_the_two_deterrence_wordings_are_shown_equally_often(rules: RuleSet) -> None:
    """en.toml: "Both are shown equally often" (the kind's own wording and its help-first variant)."""
    text = (RULES / "warnings" / "en.toml").read_text(encoding="utf-8")
    assert "Both are shown equally often" in text
    import tomllib

    for path in sorted((RULES / "warnings").glob("*.toml")):
        deterrence = tomllib.loads(path.read_text(encoding="utf-8"))["deterrence"]
        weights = [deterrence.get("weight", 1)] + [v.get("weight", 1) for v in deterrence.get("variants", [])]
        assert len(set(weights)) == 1, path
