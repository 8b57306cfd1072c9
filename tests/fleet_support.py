"""Rule-set versions and keys for the fleet tests (synthetic terms only)."""

from __future__ import annotations

import shutil
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from filter_proxy.rules.bundle import compile_rules
from filter_proxy.rules.signing import sign_bundle

ROOT = Path(__file__).resolve().parent.parent


def rules_version_dir(base: Path, n: int) -> Path:
    """The shipped rules plus ``zqxfleetN`` as a blocked term: version n blocks zqxfleet1..zqxfleetN."""
    d = base / f"rules-v{n}"
    if d.exists():
        return d
    shutil.copytree(ROOT / "rules", d)
    with open(d / "terms" / "zqx-abuse.txt", "a", encoding="utf-8") as fh:
        fh.write("\n" + "\n".join(f"zqxfleet{i}" for i in range(1, n + 1)) + "\n")
    return d


def write_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return private, public


def bundle(base: Path, n: int, key: Path | None = None, name: str = "") -> tuple[Path, str]:
    """Version n compiled (and signed with ``key``); (path, version)."""
    out = base / f"{name or f'v{n}'}.bundle"
    header = compile_rules(rules_version_dir(base, n), out)
    if key is not None:
        sign_bundle(out, key, header["version"])
    return out, str(header["version"])
