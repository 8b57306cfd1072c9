"""Line reading and policy validation: encodings, comments, located problems."""

from __future__ import annotations

import tomllib

from filter_proxy.rules.errors import Problem
from filter_proxy.rules.parse import locate_toml, split_lines, strip_comment, toml_error_line
from filter_proxy.rules.policy import parse_policy


def test_comments_and_blank_lines_are_skipped_with_line_numbers_kept() -> None:
    problems: list[Problem] = []
    lines = split_lines(b"# header\n\nzqxblocked\n  forbidden phrase alpha  # trailing note\n", "r/t.txt", problems)
    assert [(line.number, line.text) for line in lines] == [(3, "zqxblocked"), (4, "forbidden phrase alpha")]
    assert problems == []


def test_hash_inside_a_word_or_url_is_not_a_comment() -> None:
    assert strip_comment("c# tutorial") == "c# tutorial"
    assert strip_comment("https://a.example.invalid/p#frag") == "https://a.example.invalid/p#frag"
    assert strip_comment("#only comment") == ""


def test_bom_and_crlf_are_accepted() -> None:
    problems: list[Problem] = []
    data = b"\xef\xbb\xbfzqxblocked\r\n# note\r\nforbidden phrase alpha\r\n"
    lines = split_lines(data, "r/t.txt", problems)
    assert [(line.number, line.text) for line in lines] == [(1, "zqxblocked"), (3, "forbidden phrase alpha")]
    assert problems == []


def test_undecodable_line_is_an_error_with_its_line_and_the_rest_still_read() -> None:
    problems: list[Problem] = []
    lines = split_lines(b"zqxblocked\nbad \xff\xfe bytes\nzqxspam\n", "rules/terms/x.txt", problems)
    assert [line.text for line in lines] == ["zqxblocked", "zqxspam"]
    assert len(problems) == 1
    assert (problems[0].path, problems[0].line, problems[0].severity) == ("rules/terms/x.txt", 2, "error")
    assert "UTF-8" in problems[0].reason
    assert str(problems[0]).startswith("rules/terms/x.txt:2: ")


def test_toml_error_line_is_extracted() -> None:
    try:
        tomllib.loads('[categories.a]\naction = "block"\nwarning = \n')
    except tomllib.TOMLDecodeError as exc:
        assert toml_error_line(str(exc)) == 3
    else:  # pragma: no cover
        raise AssertionError("expected a TOML error")


POLICY = """\
[categories.zqx-abuse]
action = "block"
warning = "deterrence"

[categories."zqx-other"]
report = true
action = "explode"

[images]
on_unverified = "show"
thresholds = { phash = -1 }
"""


def test_locate_toml_finds_tables_keys_and_inline_tables() -> None:
    assert locate_toml(POLICY, "categories.zqx-abuse") == 1
    assert locate_toml(POLICY, "categories.zqx-other", "action") == 7
    assert locate_toml(POLICY, "categories.zqx-other", "missing") == 5
    assert locate_toml(POLICY, "images.thresholds", "phash") == 11
    assert locate_toml(POLICY, "nowhere") == 0


def test_policy_problems_are_located_at_their_key() -> None:
    policy, problems = parse_policy(tomllib.loads(POLICY), "rules/policy.toml", {"deterrence"}, text=POLICY)
    located = {(p.line, p.reason.split(":")[0]) for p in problems}
    assert (7, "[categories.zqx-other]") in located  # unknown action, at its `action =` line
    assert any(p.line == 11 and "threshold" in p.reason for p in problems)
    # a category with a bad action stays declared, so its files raise no second error (deliberate change)
    assert "zqx-abuse" in policy.categories and "zqx-other" in policy.categories


def test_unknown_warning_kind_names_the_missing_warnings() -> None:
    text = '[categories.a]\naction = "warn"\nwarning = "support"\n'
    _, problems = parse_policy(tomllib.loads(text), "rules/policy.toml", set(), text=text)
    assert [(p.line, p.severity) for p in problems] == [(3, "error")]
    assert "unknown warning kind 'support'" in problems[0].reason
    assert "rules/warnings/" in problems[0].reason


def test_block_without_warning_and_unknown_section_are_errors() -> None:
    text = '[categories.a]\naction = "block"\n[extras]\nx = 1\n'
    _, problems = parse_policy(tomllib.loads(text), "p.toml", {"deterrence"}, text=text)
    reasons = sorted((p.line, p.reason) for p in problems)
    assert reasons[0][0] == 1 and "needs a warning kind" in reasons[0][1]
    assert reasons[1][0] == 3 and "unknown section [extras]" in reasons[1][1]
