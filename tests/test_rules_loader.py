"""Loading rules directories: every error class located as path:line, warnings, tolerated encodings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from filter_proxy.rules import check_rules, load_rules
from filter_proxy.rules.errors import Problem, RulesError

REPO_RULES = Path(__file__).resolve().parent.parent / "rules"

POLICY = """\
[categories.zqx-abuse]
action = "block"
warning = "deterrence"
report = true

[categories.zqx-support]
action = "warn"
warning = "support"

[categories.zqx-spam]
action = "strip"
"""


def make_rules(base: Path, files: dict[str, str | bytes], *, policy: str | None = POLICY, warnings: bool = True) -> Path:
    """A rules directory named ``rules`` under ``base``: the given files, a policy and the shipped warnings."""
    root = base / "rules"
    root.mkdir(parents=True)
    if policy is not None:
        (root / "policy.toml").write_text(policy, encoding="utf-8")
    if warnings:
        shutil.copytree(REPO_RULES / "warnings", root / "warnings")
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
    return root


def errors(problems: list[Problem]) -> list[tuple[str, int]]:
    return [(p.path, p.line) for p in problems if p.severity == "error"]


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_a_clean_rule_set_has_no_problems_and_loads(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\nforbidden phrase alpha\n"})
    assert check_rules(root) == []
    rules = load_rules(root)
    assert rules.check_text("zqxblocked").rule_id == "rules/terms/zqx-abuse.txt:1"
    assert rules.stats()["by_category"]["terms"] == {"zqx-abuse": 2}


@pytest.mark.parametrize(
    ("name", "content", "line", "needle"),
    [
        ("terms/zqx-abuse.txt", "zqxblocked\n!!! ???\n", 2, "empty after normalisation"),
        ("terms/zqx-abuse.txt", "ok\n\n" + "zqx " * 60 + "\n", 3, "longer than"),
        ("terms/zqx-abuse.txt", "# c\nsha256:abc123\n", 2, "64 hex digits"),
        ("terms/zqx-abuse.txt", "~zq\n", 1, "substring entry"),
        ("images/zqx-abuse.csv", "phash,0123456789abcdef\nphash,12345\n", 2, "16 hex digits"),
        ("images/zqx-abuse.csv", "md5,zz" + "0" * 30 + "\n", 1, "not hexadecimal"),
        ("images/zqx-abuse.csv", "sha512,00\n", 1, "unknown image hash algorithm"),
        ("images/zqx-abuse.csv", "phash-only-one-field\n", 1, "algorithm,hash"),
        ("allow/x.txt", "fine phrase\n...\n", 2, "no letters or digits"),
        ("terms/zqx-abuse.txt", b"zqxblocked\nbad \xff byte\n", 2, "UTF-8"),
    ],
)
def test_each_error_class_is_located_at_its_line(tmp_path: Path, name: str, content: str | bytes, line: int, needle: str) -> None:
    root = make_rules(tmp_path, {name: content})
    problem = only(check_rules(root))
    assert (problem.path, problem.line, problem.severity) == (f"rules/{name}", line, "error")
    assert needle in problem.reason
    with pytest.raises(RulesError) as info:
        load_rules(root)
    assert (info.value.path, info.value.line) == (f"rules/{name}", line)
    assert str(info.value).startswith(f"rules/{name}:{line}: ")


def test_undeclared_category_is_an_error_at_the_file(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {"terms/zqx-misc.txt": "zqxmisc\n", "urls/zqx-other.txt": "zqx.example.invalid\n"})
    problems = check_rules(root)
    assert errors(problems) == [("rules/terms/zqx-misc.txt", 0), ("rules/urls/zqx-other.txt", 0)]
    assert "not declared in policy.toml" in problems[0].reason


def test_unknown_action_is_an_error_at_its_policy_line(tmp_path: Path) -> None:
    policy = POLICY + '\n[categories.zqx-bad]\nwarning = "support"\naction = "explode"\n'
    problem = only(check_rules(make_rules(tmp_path, {}, policy=policy)))
    assert (problem.path, problem.line) == ("rules/policy.toml", 15)
    assert "unknown action 'explode'" in problem.reason


def test_invalid_toml_is_located(tmp_path: Path) -> None:
    problem = only(check_rules(make_rules(tmp_path, {}, policy='[categories.a]\naction = "block\n')))
    assert (problem.path, problem.line) == ("rules/policy.toml", 2)
    assert "not valid TOML" in problem.reason


def test_missing_policy_is_an_error(tmp_path: Path) -> None:
    problem = only(check_rules(make_rules(tmp_path, {}, policy=None)))
    assert (problem.path, problem.line) == ("rules/policy.toml", 0)


def test_missing_directory_is_a_rules_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules directory not found"):
        load_rules(tmp_path / "nowhere")
    problem = only(check_rules(tmp_path / "nowhere"))
    assert problem.severity == "error"


def test_a_file_that_is_neither_directory_nor_bundle_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "rules.txt"
    other.write_text("zqxblocked\n")
    with pytest.raises(RulesError, match="not a rules directory or a compiled rules bundle"):
        load_rules(other)


def test_bom_and_crlf_are_accepted(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": b"\xef\xbb\xbf# list\r\nzqxblocked\r\nforbidden phrase alpha\r\n",
        "images/zqx-abuse.csv": b"\xef\xbb\xbfalgorithm,hash,note\r\nphash,0123456789ABCDEF,a note\r\n",
    })
    (root / "policy.toml").write_bytes(b"\xef\xbb\xbf" + POLICY.replace("\n", "\r\n").encode())
    assert check_rules(root) == []
    rules = load_rules(root)
    assert rules.check_text("forbidden phrase alpha").rule_id == "rules/terms/zqx-abuse.txt:3"
    assert rules.check_image_hashes({"phash": "0123456789abcdef"}).rule_id == "rules/images/zqx-abuse.csv:2"


def test_duplicates_are_warnings_and_the_first_entry_counts(tmp_path: Path) -> None:
    from filter_proxy.commands.rules_cmd import hash_phrase

    hashed = hash_phrase("forbidden phrase alpha")
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": f"forbidden phrase alpha\nzqxblocked\nFORBIDDEN  phrase alpha\n{hashed}\n",
        "allow/a.txt": "zqxblocked campaign\nZQXBLOCKED campaign\n",
        "images/zqx-abuse.csv": "phash,0123456789abcdef\nphash,0123456789ABCDEF\n",
    })
    problems = check_rules(root)
    assert errors(problems) == []
    warned = [(p.path, p.line) for p in problems if p.severity == "warning"]
    assert warned == [
        ("rules/terms/zqx-abuse.txt", 3), ("rules/terms/zqx-abuse.txt", 4),
        ("rules/images/zqx-abuse.csv", 2), ("rules/allow/a.txt", 2),
    ]
    assert all("duplicate of line 1" in p.reason for p in problems)
    assert "warning: duplicate" in str(problems[0])
    rules = load_rules(root)  # warnings never stop loading
    assert rules.check_text("forbidden phrase alpha").rule_id == "rules/terms/zqx-abuse.txt:1"
    assert rules.stats()["terms"] == 2


def test_every_problem_is_collected_at_once(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": "zqxblocked\n!!!\nsha256:12\n",
        "terms/zqx-spam.txt": "zqxspam\nzqxspam\n???\n",
        "terms/zqx-nope.txt": "zqxnope\n",
    })
    problems = check_rules(root)
    assert errors(problems) == [
        ("rules/terms/zqx-abuse.txt", 2), ("rules/terms/zqx-abuse.txt", 3),
        ("rules/terms/zqx-nope.txt", 0), ("rules/terms/zqx-spam.txt", 3),
    ]
    with pytest.raises(RulesError) as info:
        load_rules(root)
    assert info.value.problems == problems
    assert "(and 3 more errors)" in str(info.value)


def test_rule_ids_use_the_directory_name_however_the_path_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "# c\nzqxblocked\n"})
    monkeypatch.chdir(tmp_path)
    for given in ("rules", "rules/", str(root), "./rules"):
        assert load_rules(given).check_text("zqxblocked").rule_id == "rules/terms/zqx-abuse.txt:2"
    monkeypatch.chdir(root)
    assert load_rules(".").check_text("zqxblocked").rule_id == "rules/terms/zqx-abuse.txt:2"


def test_stray_files_are_warned_about_and_ignored(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n", "terms/notes.md": "zqxignored\n"})
    problem = only(check_rules(root))
    assert (problem.path, problem.severity) == ("rules/terms/notes.md", "warning")
    assert not load_rules(root).check_text("zqxignored").matched


def test_loads_without_images_or_urls_directories(tmp_path: Path) -> None:
    rules = load_rules(make_rules(tmp_path, {"terms/zqx-spam.txt": "zqxspam\n"}))
    assert rules.check_text("zqxspam").action == "strip"
    assert rules.stats()["images"] == 0 and rules.stats()["urls"] == 0
    assert not rules.check_image_hashes({"phash": "0123456789abcdef"}).matched


def test_missing_warnings_makes_warning_kinds_undefined(tmp_path: Path) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n"}, warnings=False)
    problems = check_rules(root)
    assert errors(problems) == [("rules/policy.toml", 3), ("rules/policy.toml", 8)]
    assert all("unknown warning kind" in p.reason for p in problems if p.severity == "error")


def test_strip_only_policy_needs_no_warnings(tmp_path: Path) -> None:
    policy = '[categories.zqx-spam]\naction = "strip"\n'
    root = make_rules(tmp_path, {"terms/zqx-spam.txt": "zqxspam\n"}, policy=policy, warnings=False)
    assert errors(check_rules(root)) == []
    assert load_rules(root).check_text("zqxspam").action == "strip"


def test_version_follows_the_content(tmp_path: Path) -> None:
    one = make_rules(tmp_path / "a", {"terms/zqx-abuse.txt": "zqxblocked\n"})
    two = make_rules(tmp_path / "b", {"terms/zqx-abuse.txt": "zqxblocked\n"})
    assert load_rules(one).version == load_rules(two).version
    (two / "terms" / "zqx-abuse.txt").write_text("zqxblocked\nzqxmore\n")
    assert load_rules(one).version != load_rules(two).version
    assert len(load_rules(one).version) == 12
