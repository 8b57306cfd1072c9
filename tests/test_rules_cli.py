"""`filter-proxy rules check | compile | hash`: output and exit codes."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from filter_proxy.cli import main
from filter_proxy.rules import load_rules
from tests.test_rules_loader import REPO_RULES, make_rules


def test_check_on_the_shipped_rules_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "check", str(REPO_RULES)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1].startswith(f"{REPO_RULES}: OK (")
    assert "error" not in "\n".join(out)


def test_check_prints_every_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_rules(tmp_path, {
        "terms/zqx-abuse.txt": "zqxblocked\n!!!\nzqxblocked\n",
        "terms/zqx-nope.txt": "zqxnope\n",
        "images/zqx-abuse.csv": "phash,123\n",
    })
    assert main(["rules", "check", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [
        "rules/terms/zqx-abuse.txt:2: entry is empty after normalisation (only punctuation or symbols?)",
        "rules/terms/zqx-abuse.txt:3: warning: duplicate of line 1; ignored",
        "rules/terms/zqx-nope.txt: category 'zqx-nope' is not declared in policy.toml (add [categories.zqx-nope])",
        "rules/images/zqx-abuse.csv:1: phash hash must be 16 hex digits, got 3",
    ]
    assert out[-1] == f"{root}: 3 errors, 1 warning; the rule set is refused"


def test_check_with_only_warnings_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\nzqxblocked\n"})
    assert main(["rules", "check", str(root)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "rules/terms/zqx-abuse.txt:2: warning: duplicate of line 1; ignored"
    assert out[1].startswith(f"{root}: OK (1 term, 0 URLs, 0 image hashes, 0 allow phrases; 1 warning; version ")


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
