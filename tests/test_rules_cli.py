"""`filter-proxy rules check | compile | hash`: output and exit codes."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.cli import main
from filter_proxy.rules import load_rules
from tests.test_rules_loader import REPO_RULES, make_rules


def test_check_on_the_shipped_rules_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(REPO_RULES)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith(f"{REPO_RULES}: OK, 0 warnings; entries per category: zqx-abuse ")
    assert "error" not in "\n".join(out)


def test_check_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": "zqxblocked\n!!!\nzqxblocked\n",
        "terms/zqx-nope.txt": "zqxnope\n",
        "images/zqx-abuse.csv": "phash,123\n",
    })
    assert main(["rules", "check", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    # sorted by path, then line (deliberate change: it was file-reading order)
    assert out[:-1] == [
        "rules/images/zqx-abuse.csv:1: phash hash must be 16 hex digits, got 3",
        "rules/terms/zqx-abuse.txt:2: entry is empty after normalisation (only punctuation or symbols?)",
        "rules/terms/zqx-abuse.txt:3: warning: duplicate of line 1; ignored",
        "rules/terms/zqx-nope.txt: category 'zqx-nope' is not declared in policy.toml (add [categories.zqx-nope])",
    ]
    assert out[-1] == (f"{root}: 3 errors, 1 warning; entries per category: zqx-abuse 1 (1 term); "
                       "the rule set is refused")


def test_check_with_only_warnings_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\nzqxblocked\n"})
    assert main(["rules", "check", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "rules/terms/zqx-abuse.txt:2: warning: duplicate of line 1; ignored"
    assert out[1].startswith(f"{root}: OK, 1 warning; entries per category: zqx-abuse 1 (1 term); "
                             "0 allow phrases; version ")


def test_check_missing_directory_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(tmp_path / "none")]) == 1
    assert "rules directory not found" in capsys.readouterr().out


def test_compile_writes_a_loadable_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules.bundle"
    assert main(["rules", "compile", str(REPO_RULES), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"wrote {out}: version ")
    assert load_rules(out).check_text("zqxblocked").action == "block"
    assert main(["rules", "check", str(out)]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]  # a bundle gets the same per-category summary
    assert summary.startswith(f"{out}: OK, 0 warnings; entries per category: zqx-abuse ") and "version" in summary


def test_compile_with_errors_exits_1_with_locations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "ok\nsha256:zz\n"})
    out = tmp_path / "rules.bundle"
    assert main(["rules", "compile", str(root), "-o", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "rules/terms/zqx-abuse.txt:2: sha256: must be followed by exactly 64 hex digits"
    assert err[-1].endswith("1 error, 0 warnings; nothing written")
    assert not out.exists()


def test_hash_prints_entries_of_normalised_phrases(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "hash", "Forbidden Phrase BETA", "zqxhidden"]) == 0
    out = capsys.readouterr().out.split()
    assert out == [
        "sha256:" + hashlib.sha256(b"forbiden phrase beta").hexdigest(),
        "sha256:" + hashlib.sha256(b"zqxhiden").hexdigest(),
    ]
    assert all(entry in (REPO_RULES / "terms" / "zqx-abuse.txt").read_text() for entry in out)


def test_hash_reads_stdin_and_never_echoes_phrases(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("zqxhidden\r\n\n!!!\nforbidden phrase beta\n"))
    assert main(["rules", "hash"]) == 1  # one phrase normalises to nothing
    captured = capsys.readouterr()
    assert len(captured.out.split()) == 2
    assert "phrase 2:" in captured.err
    assert "zqxhidden" not in captured.out + captured.err and "!!!" not in captured.err


def test_one_typo_in_an_action_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_rules_loader import POLICY

    policy = POLICY.replace('action = "block"', 'action = "blok"', 1)
    assert policy != POLICY
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n", "urls/zqx-abuse.txt": "zqx.example.invalid\n"},
                      policy=policy)
    assert main(["rules", "check", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "unknown action 'blok'" in out[0] and "not declared" not in "\n".join(out)
    assert out[-1].startswith(f"{root}: 1 error, 0 warnings")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["terms/zqx-abuse.txt", "urls/zqx-abuse.txt", "images/zqx-abuse.csv",
                                           "terms/zqx-nope.txt"]),
                          st.sampled_from(["zqxblocked", "!!!", "phash,12", "zqx.example.invalid", "\t ", "a\tb"])),
                min_size=1, max_size=12))
def test_check_output_is_sorted_by_path_and_line(tmp_path_factory: pytest.TempPathFactory,
                                                  lines: list[tuple[str, str]]) -> None:
    files: dict[str, str] = {}
    for name, text in lines:
        files[name] = files.get(name, "") + text + "\n"
    root = make_rules(tmp_path_factory.mktemp("r"), files)
    out = io.StringIO()
    with redirect_stdout(out):
        main(["rules", "check", str(root)])
    printed = out.getvalue().splitlines()[:-1]
    keys = []
    for line in printed:
        where = line.split(": ", 1)[0]
        path, _, number = where.partition(":")
        keys.append((path, int(number or 0)))
    assert keys == sorted(keys)


def test_layout_warnings_name_their_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"zqxblocked\r\n \t \r\nforbidden\tphrase alpha\r\n# a\tcomment\r\n"
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": data})
    assert main(["rules", "check", str(root)]) == 0  # warnings only: the rule set is accepted
    out = capsys.readouterr().out
    assert "rules/terms/zqx-abuse.txt:1: warning: CRLF" in out
    assert "rules/terms/zqx-abuse.txt:2: warning: line holds only spaces or tabs" in out
    assert "rules/terms/zqx-abuse.txt:3: warning: tab character" in out
    assert ":4: warning" not in out  # a tab in a comment is harmless


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet="ab \t#", max_size=6), max_size=30), st.booleans())
def test_layout_scan_agrees_with_a_line_by_line_reading(lines: list[str], crlf: bool) -> None:
    from filter_proxy.commands.layout import MAX_PER_FILE, scan

    ending = "\r\n" if crlf else "\n"
    data = ending.join(lines).encode()
    found = {(p.line, p.reason.split(";")[0]) for p in scan(data, "r/t.txt") if p.line}
    tabs = [n for n, line in enumerate(lines, 1)
            if "\t" in line and line.strip(" \t") and not line.strip().startswith("#")]
    blank = [n for n, line in enumerate(lines, 1) if line and not line.strip(" \t")]
    assert {n for n, r in found if r.startswith("tab")} == set(tabs[:MAX_PER_FILE])
    assert {n for n, r in found if r.startswith("line holds")} == set(blank[:MAX_PER_FILE])
    assert any(r.startswith("CRLF") for _, r in found) == (crlf and len(lines) > 1)
