"""Compiled bundles: the same verdicts as the directory, refusal of damaged bundles through load_rules."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from filter_proxy.demo.images import picture_png
from filter_proxy.rules import check_rules, compile_rules, load_rules
from filter_proxy.rules.bundle import FORMAT_VERSION, MAGIC
from filter_proxy.rules.errors import RulesError
from filter_proxy.verdict import Verdict
from tests.test_rules_loader import REPO_RULES

TEXTS = [
    "zqxblocked", "ZQXBL0CKED!", "forbidden phrase alpha", "forbidden phrase beta", "zqxhidden",
    "superzqxcoinedstuff", "zqxblocked awareness campaign", "worried parent zqx", "zqxhelp zqxspam",
    "zqxspam", "bread recipe", "", "zqx survivor", "forbidden phrase",
]
URLS = [
    "https://files.example.invalid/gallery/item-0001.html", "https://blocked.example.invalid/a/b?c=1",
    "http://WWW.zqx-host.example.invalid:80/", "https://cdn.spam.example.invalid/x", "https://ok.example.invalid/",
    "not a url",
]
PICTURES = ["listed:0", "listed:0:edited", "listed:1", "listed:1:edited", "gen:1", "gen:2"]


def _strip_source(v: Verdict) -> tuple[object, ...]:
    return (v.action, v.category, v.rule_id, v.warning, v.signal, v.distance, v.report)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "rules.bundle"
    compile_rules(REPO_RULES, out)
    return out


def test_bundle_gives_the_same_verdicts_as_the_directory(bundle: Path) -> None:
    directory, compiled = load_rules(REPO_RULES), load_rules(bundle)
    assert compiled.version == directory.version
    assert compiled.source == str(bundle)
    assert compiled.stats() == directory.stats()
    assert compiled.allow == directory.allow
    assert compiled.policy == directory.policy
    assert compiled.warnings.kinds == directory.warnings.kinds
    for text in TEXTS:
        assert _strip_source(compiled.check_text(text)) == _strip_source(directory.check_text(text)), text
    assert compiled.check_texts(TEXTS[8:]) == directory.check_texts(TEXTS[8:])
    for url in URLS:
        assert compiled.check_url(url) == directory.check_url(url), url
    for key in PICTURES:
        data = picture_png(key)
        assert compiled.check_image(data) == directory.check_image(data), key
    assert compiled.check_text("zqxblocked").action == "block"  # and the set is not trivially empty


def test_check_rules_accepts_a_good_bundle(bundle: Path) -> None:
    assert check_rules(bundle) == []


def test_compile_refuses_a_rule_set_with_errors_and_writes_nothing(tmp_path: Path) -> None:
    from tests.test_rules_loader import make_rules

    root = make_rules(tmp_path, {"terms/zqx-abuse.txt": "zqxblocked\n!!!\n"})
    out = tmp_path / "out.bundle"
    with pytest.raises(RulesError) as info:
        compile_rules(root, out)
    assert (info.value.path, info.value.line) == ("rules/terms/zqx-abuse.txt", 2)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name != "rules"] == []


def _damage(bundle: Path, tmp_path: Path, how: str) -> Path:
    data = bytearray(bundle.read_bytes())
    if how == "truncated":
        data = data[: len(data) // 2]
    elif how == "corrupted":
        data[len(data) - 100] ^= 0xFF
    elif how == "version":
        struct.pack_into("<I", data, len(MAGIC), FORMAT_VERSION + 7)
    elif how == "empty":
        data = bytearray(MAGIC)
    out = tmp_path / f"{how}.bundle"
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize(
    ("how", "needle"),
    [("truncated", "truncated"), ("corrupted", "checksum mismatch"), ("version", "not supported"), ("empty", "truncated")],
)
def test_damaged_bundles_are_refused_whole(bundle: Path, tmp_path: Path, how: str, needle: str) -> None:
    damaged = _damage(bundle, tmp_path, how)
    with pytest.raises(RulesError) as info:
        load_rules(damaged)
    assert needle in info.value.reason and info.value.path == str(damaged)
    problems = check_rules(damaged)
    assert len(problems) == 1 and needle in problems[0].reason


def test_recompiling_replaces_the_bundle(bundle: Path, tmp_path: Path) -> None:
    from tests.test_rules_loader import make_rules

    out = tmp_path / "r.bundle"
    out.write_bytes(bundle.read_bytes())
    root = make_rules(tmp_path, {"terms/zqx-spam.txt": "zqxonly\n"})
    header = compile_rules(root, out)
    rules = load_rules(out)
    assert rules.version == header["version"]
    assert rules.check_text("zqxonly").rule_id == "rules/terms/zqx-spam.txt:1"
    assert not rules.check_text("zqxblocked").matched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.bundle", "rules"]
