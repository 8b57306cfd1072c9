"""Signed bundles: `rules compile --sign KEY`, and instances with the policy team's key refuse the rest."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filter_proxy.cli import main
from filter_proxy.reload import Reloader
from filter_proxy.rules.errors import RulesError
from filter_proxy.rules.holder import RuleHolder
from filter_proxy.rules.loader import load_rules
from filter_proxy.rules.signing import (
    TrustedKeys,
    file_digest,
    key_id,
    load_signed_rules,
    rules_loader,
    signature_path,
    stage_file,
    verify_signature,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _own_stage_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Staged bundles (rules/signing.py) go under this test's directory, not the machine's /tmp."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def write_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return private, public


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The shipped rules compiled twice: signed by the policy team, and by somebody else."""
    d = tmp_path_factory.mktemp("signed")
    team_key, team_pub = write_keypair(d, "team")
    other_key, other_pub = write_keypair(d, "other")
    bundle = d / "rules.bundle"
    assert main(["rules", "compile", str(ROOT / "rules"), "-o", str(bundle), "--sign", str(team_key)]) == 0
    stranger = d / "stranger.bundle"
    assert main(["rules", "compile", str(ROOT / "rules"), "-o", str(stranger), "--sign", str(other_key)]) == 0
    return {"bundle": bundle, "team_key": team_key, "team_pub": team_pub, "other_pub": other_pub,
            "stranger": stranger, "dir": d}


def test_a_signed_bundle_loads_with_the_team_key(signed: dict[str, Path]) -> None:
    rules = load_signed_rules(signed["bundle"], TrustedKeys.load(signed["team_pub"]))
    assert rules.version == load_rules(signed["bundle"]).version
    assert rules.source == str(signed["bundle"])  # the operator's path, not the private copy
    assert rules.check_text("zqxblocked").action == "block"


def test_an_unsigned_bundle_is_refused(signed: dict[str, Path], tmp_path: Path) -> None:
    bundle = tmp_path / "unsigned.bundle"
    shutil.copyfile(signed["bundle"], bundle)
    with pytest.raises(RulesError, match="unsigned"):
        load_signed_rules(bundle, TrustedKeys.load(signed["team_pub"]))


def test_a_bundle_signed_by_another_key_is_refused(signed: dict[str, Path]) -> None:
    with pytest.raises(RulesError, match="not a trusted key"):
        load_signed_rules(signed["stranger"], TrustedKeys.load(signed["team_pub"]))


def test_a_signature_moved_onto_another_bundle_is_refused(signed: dict[str, Path], tmp_path: Path) -> None:
    # Another bundle with the team's signature file: same key id, but the signature covers other bytes.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    with open(rules / "terms" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
        fh.write("\nforbidden phrase alpha\n")
    bundle = tmp_path / "changed.bundle"
    assert main(["rules", "compile", str(rules), "-o", str(bundle)]) == 0
    shutil.copyfile(signature_path(signed["bundle"]), signature_path(bundle))
    with pytest.raises(RulesError, match="does not match"):
        load_signed_rules(bundle, TrustedKeys.load(signed["team_pub"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_is_refused(signed: dict[str, Path], tmp_path: Path, data: st.DataObject) -> None:
    raw = bytearray(signed["bundle"].read_bytes())
    position = data.draw(st.integers(0, len(raw) - 1), label="position")
    raw[position] ^= data.draw(st.integers(1, 255), label="xor")
    bundle = tmp_path / "tampered.bundle"
    bundle.write_bytes(raw)
    shutil.copyfile(signature_path(signed["bundle"]), signature_path(bundle))
    with pytest.raises(RulesError, match="bundle refused|not a compiled rules bundle"):
        load_signed_rules(bundle, TrustedKeys.load(signed["team_pub"]))


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode),
                 st.dictionaries(st.sampled_from(["format", "key_id", "signature", "algorithm"]),
                                 st.text(max_size=40)).map(lambda d: repr(d).replace("'", '"').encode())))
def test_garbage_signature_files_are_refused_cleanly(garbage: bytes) -> None:
    keys = _team_keys()
    with pytest.raises(RulesError, match="bundle refused"):
        verify_signature(b"\0" * 32, garbage, keys, "x.bundle")


_TEAM_KEYS: list[TrustedKeys] = []


def _team_keys() -> TrustedKeys:
    """Trusted keys for the hypothesis test that takes no fixture (made once, in memory: no files left)."""
    if not _TEAM_KEYS:
        public = Ed25519PrivateKey.generate().public_key()
        _TEAM_KEYS.append(TrustedKeys({key_id(public): public}, "team.pub.pem"))
    return _TEAM_KEYS[0]


def test_a_rules_directory_is_refused_when_a_key_is_configured(signed: dict[str, Path]) -> None:
    with pytest.raises(RulesError, match="rules directory cannot be verified"):
        rules_loader(str(signed["team_pub"]))(str(ROOT / "rules"))


def test_a_key_file_may_hold_several_keys_for_rotation(signed: dict[str, Path], tmp_path: Path) -> None:
    both = tmp_path / "both.pub.pem"
    both.write_bytes(signed["other_pub"].read_bytes() + signed["team_pub"].read_bytes())
    keys = TrustedKeys.load(both)
    assert len(keys.keys) == 2
    load_signed_rules(signed["bundle"], keys)
    load_signed_rules(signed["stranger"], keys)


def test_bad_key_files_are_refused_at_start(tmp_path: Path) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("not a key\n")
    with pytest.raises(RulesError, match="no PEM public key"):
        rules_loader(str(empty))
    with pytest.raises(RulesError, match="cannot read"):
        rules_loader(str(tmp_path / "missing.pem"))


def test_compile_with_an_unusable_key_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, public = write_keypair(tmp_path, "k")
    out = tmp_path / "out.bundle"
    assert main(["rules", "compile", str(ROOT / "rules"), "-o", str(out), "--sign", str(public)]) == 1
    assert not out.exists()
    assert "nothing written" in capsys.readouterr().err


@pytest.mark.anyio
async def test_reload_keeps_the_old_rules_on_a_wrongly_signed_bundle(
        signed: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bundle = tmp_path / "live.bundle"
    shutil.copyfile(signed["bundle"], bundle)
    shutil.copyfile(signature_path(signed["bundle"]), signature_path(bundle))
    loader = rules_loader(str(signed["team_pub"]))
    holder = RuleHolder(loader(str(bundle)))
    before = holder.current
    reloader = Reloader(holder, bundle, loader=loader)
    shutil.copyfile(signed["stranger"], bundle)
    shutil.copyfile(signature_path(signed["stranger"]), signature_path(bundle))
    with caplog.at_level(logging.ERROR):
        outcome = await reloader.reload()
    assert not outcome.ok and outcome.error is not None and "not a trusted key" in outcome.error
    assert holder.current is before
    assert any("rules refused" in r.getMessage() and "not a trusted key" in r.getMessage() for r in caplog.records)


def test_the_signature_covers_the_whole_file(signed: dict[str, Path]) -> None:
    import json

    body = json.loads(signature_path(signed["bundle"]).read_bytes())
    assert body["bundle_sha256"] == file_digest(signed["bundle"]).hex()


def test_one_staged_copy_per_content_in_a_private_directory(signed: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    first, digest, unlink = stage_file(signed["bundle"])
    second, _, _ = stage_file(signed["bundle"])
    assert first == second and not unlink  # one file per content, in a directory only we can write
    assert first.name == f"{digest.hex()}.bundle" and digest == file_digest(signed["bundle"])
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    rules = load_signed_rules(signed["bundle"], TrustedKeys.load(signed["team_pub"]))
    assert rules.source == str(signed["bundle"])


def test_an_unsafe_stage_directory_is_not_used(signed: dict[str, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"filter-proxy-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # writable by others: someone could swap a staged file
    staged, _, unlink = stage_file(signed["bundle"])
    assert unlink and staged.parent != shared / "bundles"
    load_signed_rules(signed["bundle"], TrustedKeys.load(signed["team_pub"]))
    staged.unlink(missing_ok=True)
