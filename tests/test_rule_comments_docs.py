"""The examples in rules/README.md and filter-proxy.example.toml are true (issue 11; the shipped files'
own comments are checked in test_rule_comments.py, whose helpers this module uses).

The README's code blocks marked terms / urls / allow / images are loaded as rule files and their
`# matches:` style examples tried on the result; its policy.toml example loads and the alternatives and
defaults its comments name hold; every `# key = value` that filter-proxy.example.toml offers to uncomment
is a real key whose value loads, and its environment-variable examples set the key they name.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from filter_proxy.rules import load_rules
from tests.test_rule_comments import README, ROOT, RULES, assert_matches, read_claims

# -- the README's code blocks ----------------------------------------------------------------------------


FILE_OF_BLOCK = {"terms": "terms/zqx-abuse.txt", "urls": "urls/zqx-abuse.txt", "allow": "allow/exceptions.txt",
                 "images": "images/zqx-abuse.csv"}


def readme_blocks() -> list[tuple[int, str, str]]:
    """(line, info string, text) of the README's fenced blocks marked terms / urls / allow / images."""
    lines = README.read_text(encoding="utf-8").splitlines()
    out, start, info = [], -1, ""
    for number, line in enumerate(lines, 1):
        if line.startswith("```") and start < 0:
            start, info = number, line[3:].strip()
        elif line.startswith("```"):
            if info in FILE_OF_BLOCK:
                out.append((start, info, "\n".join(lines[start:number - 1]) + "\n"))
            start = -1
    return out


def test_readme_marks_its_rule_blocks() -> None:
    assert sorted({info for _, info, _ in readme_blocks()}) == ["allow", "images", "terms", "urls"]
    assert len([b for b in readme_blocks() if b[1] == "terms"]) == 4  # plain (twice), combinations, weighted


@pytest.mark.parametrize(("line", "info", "text"), readme_blocks(), ids=[f"README:{b[0]}" for b in readme_blocks()])
def test_readme_block_loads_and_its_examples_hold(tmp_path: Path, line: int, info: str, text: str) -> None:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    (copy / FILE_OF_BLOCK[info]).write_text(text, encoding="utf-8")
    if "weight=" in text:  # the policy snippet beside the weighted block gives zqx-abuse its score_limit
        limit = re.search(r"^score_limit = (\d+)$", README.read_text(encoding="utf-8"), re.M)
        assert limit is not None
        policy = (copy / "policy.toml").read_text(encoding="utf-8")
        (copy / "policy.toml").write_text(policy.replace('action = "block"\n', f'action = "block"\nscore_limit = '
                                                         f'{limit.group(1)}\n', 1), encoding="utf-8")
    rules = load_rules(copy)  # the example is valid rule syntax (RulesError otherwise)
    category = Path(FILE_OF_BLOCK[info]).stem
    for claim in read_claims(text, f"rules/README.md:{line}", FILE_OF_BLOCK[info], category):
        verdict = rules.check_url(claim.example) if info == "urls" else rules.check_text(claim.example)
        if claim.kind == "matches":
            assert_matches(claim, verdict, "block")
        elif claim.kind in ("does not match", "allowed"):
            assert verdict.action == "allow", (claim, verdict)
        else:
            assert verdict.action != "allow", (claim, verdict)


def readme_policy_example() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("```toml\n[categories.zqx-abuse]     # one table per category")
    return text[start + len("```toml\n"): text.index("```", start + 7)]


def test_readme_policy_example_loads_and_its_comments_hold(tmp_path: Path) -> None:
    """rules/README.md's policy.toml: valid as written; `block | warn | strip` and `hide-thumbnail |
    drop-result | show` are the accepted values; report defaults to false; an empty rule file is an error
    unless allow_empty; the default locale answers a language nobody wrote."""
    from filter_proxy.rules import RulesError

    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    example = readme_policy_example()
    (copy / "policy.toml").write_text(example, encoding="utf-8")
    rules = load_rules(copy)
    assert {name: (c.action, c.warning, c.report) for name, c in rules.policy.categories.items()} == {
        "zqx-abuse": ("block", "deterrence", True), "zqx-support": ("warn", "support", False),
        "zqx-spam": ("strip", None, False)}
    assert rules.warnings.choose_language("ja") == "en"
    for value in ("hide-thumbnail", "drop-result", "show"):
        (copy / "policy.toml").write_text(example.replace('"hide-thumbnail"', f'"{value}"'), encoding="utf-8")
        assert load_rules(copy).policy.images.on_unverified == value
    for key, value in (('on_unverified = "hide-thumbnail"', 'on_unverified = "hide"'),
                       ('action = "strip"', 'action = "drop"')):
        (copy / "policy.toml").write_text(example.replace(key, value), encoding="utf-8")
        with pytest.raises(RulesError):
            load_rules(copy)
    (copy / "urls" / "zqx-spam.txt").write_text("# nothing listed yet\n", encoding="utf-8")
    (copy / "policy.toml").write_text(example, encoding="utf-8")
    with pytest.raises(RulesError, match="empty"):
        load_rules(copy)
    (copy / "policy.toml").write_text(example.replace('action = "strip"', 'action = "strip"\nallow_empty = true'),
                                      encoding="utf-8")
    assert load_rules(copy).check_url("https://spam.example.invalid/").action == "allow"


# -- filter-proxy.example.toml -------------------------------------------------------------------------

CONFIG_EXAMPLE = ROOT / "filter-proxy.example.toml"


def test_config_example_commented_keys_are_real_and_valid(tmp_path: Path) -> None:
    """Every `# key = value` the example offers to uncomment is a known key whose example value loads."""
    import tomllib

    from filter_proxy.config import load_config

    def offered(line: str) -> str | None:
        found = re.match(r"^# ([a-z_]+) = (.+?)(\s+#.*)?$", line)
        if not found:
            return None
        try:  # prose that happens to read "# word = word ..." is not a TOML value
            tomllib.loads(f"{found.group(1)} = {found.group(2)}")
        except tomllib.TOMLDecodeError:
            return None
        return f"{found.group(1)} = {found.group(2)}"

    lines = CONFIG_EXAMPLE.read_text(encoding="utf-8").splitlines()
    uncommented = [offered(line) or line for line in lines]
    assert sum(offered(line) is not None for line in lines) >= 15
    config = tmp_path / "example-uncommented.toml"
    config.write_text("\n".join(uncommented) + "\n", encoding="utf-8")
    loaded = load_config(config, env={}, require_upstream=True)
    assert loaded.fleet.redis_url and loaded.routes.pass_ == ["GET /_cat/**"]


def test_config_example_environment_examples_hold() -> None:
    """The header's `FILTER_PROXY_<SECTION>_<KEY>=value` examples set the key they name."""
    from filter_proxy.config import load_config

    header = "\n".join(line for line in CONFIG_EXAMPLE.read_text(encoding="utf-8").splitlines()
                       if line.startswith("#"))
    examples = dict(re.findall(r"(FILTER_PROXY_[A-Z_]+)=(\S+)", header))
    assert set(examples) >= {"FILTER_PROXY_UPSTREAM_URL", "FILTER_PROXY_SERVER_WORKERS"}
    config = load_config(env=examples, require_upstream=True)
    assert config.upstream.url == examples["FILTER_PROXY_UPSTREAM_URL"]
    assert config.server.workers == int(examples["FILTER_PROXY_SERVER_WORKERS"])
