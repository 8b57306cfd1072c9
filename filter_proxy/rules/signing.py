"""Ed25519 signatures on compiled rule bundles, so that only the policy team decides what is filtered.

A signature is a detached file beside the bundle, ``BUNDLE.sig`` (small JSON). Detached rather than a
section inside the bundle because the bundle format (rules/bundle.py, FORMAT_VERSION 1) stays exactly as
it is: unsigned set-ups, older readers and the bundle's own checksums are untouched, and a signature never
has to exclude itself from the bytes it covers. The signature covers the whole bundle file: the signed
message is a fixed domain prefix plus the SHA-256 of every byte of the file.

An instance configured with the policy team's public key(s) refuses a rules directory, an unsigned bundle,
a bundle whose signature does not match, and one signed by a key it does not trust. To close the window
between checking and loading (whoever can write the rules folder could swap the file in between, or
rewrite it in place under the memory map), the bundle is first copied into a private file while it is
hashed; that copy is verified and loaded. The copy lives in a directory only the service user can write,
named by its SHA-256 (one copy per content, however many workers and reloads load it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filter_proxy.rules.errors import RulesError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger("filter_proxy.signing")

SIGNATURE_FORMAT = "filter-proxy-signature/1"
SIGNATURE_SUFFIX = ".sig"
_DOMAIN = b"filter-proxy rules bundle v1\n"  # never valid as a signature over anything else we sign
_PEM_PUBLIC = b"-----BEGIN PUBLIC KEY-----"


def signature_path(bundle: str | Path) -> Path:
    return Path(f"{bundle}{SIGNATURE_SUFFIX}")


def _message(digest: bytes) -> bytes:
    return _DOMAIN + digest


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of a public key (first 16 hex digits of the SHA-256 of its raw 32 bytes)."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys an instance accepts bundles from (several, for key rotation). ``source`` names the file."""

    keys: dict[str, Ed25519PublicKey]
    source: str

    @classmethod
    def load(cls, path: str | Path) -> TrustedKeys:
        """One or more PEM ``PUBLIC KEY`` blocks (``openssl pkey -pubout``). RulesError if none is usable."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        where = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise RulesError(where, 0, f"cannot read the public key file: {exc.strerror or exc}") from exc
        blocks = [_PEM_PUBLIC + part for part in data.split(_PEM_PUBLIC)[1:]]
        if not blocks:
            raise RulesError(where, 0, "no PEM public key in the file (expected -----BEGIN PUBLIC KEY-----)")
        keys: dict[str, Ed25519PublicKey] = {}
        for number, block in enumerate(blocks, start=1):
            try:
                key = load_pem_public_key(block)
            except ValueError as exc:
                raise RulesError(where, 0, f"public key {number} is not readable: {exc}") from exc
            if not isinstance(key, Ed25519PublicKey):
                raise RulesError(where, 0, f"public key {number} is not an Ed25519 key")
            keys[key_id(key)] = key
        return cls(keys, where)


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """An unencrypted PKCS#8 PEM Ed25519 private key (``openssl genpkey -algorithm ed25519``)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    where = str(path)
    try:
        key = load_pem_private_key(Path(path).read_bytes(), password=None)
    except OSError as exc:
        raise RulesError(where, 0, f"cannot read the signing key: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise RulesError(where, 0, f"not an unencrypted PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise RulesError(where, 0, "the signing key is not an Ed25519 key")
    return key


def file_digest(path: str | Path) -> bytes:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def make_signature(digest: bytes, private_key: Ed25519PrivateKey, version: str = "") -> bytes:
    """The ``.sig`` file content for a bundle whose SHA-256 is ``digest``."""
    body = {
        "format": SIGNATURE_FORMAT,
        "algorithm": "ed25519",
        "key_id": key_id(private_key.public_key()),
        "bundle_sha256": digest.hex(),
        "version": version,  # informational: the version is inside the signed bundle itself
        "signature": base64.b64encode(private_key.sign(_message(digest))).decode("ascii"),
    }
    return json.dumps(body, indent=2, sort_keys=True).encode("utf-8") + b"\n"


def sign_bundle(bundle: str | Path, key_path: str | Path, version: str = "") -> Path:
    """Write ``BUNDLE.sig`` for ``bundle`` (atomically, beside it) with the private key at ``key_path``."""
    key = load_private_key(key_path)
    out = signature_path(bundle)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        os.fchmod(fd, 0o644)  # a signature is public, like the bundle
        with os.fdopen(fd, "wb") as f:
            f.write(make_signature(file_digest(bundle), key, version))
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def verify_signature(digest: bytes, signature: bytes | None, keys: TrustedKeys, where: str) -> str:
    """Check ``signature`` (the ``.sig`` content) over a bundle with SHA-256 ``digest``; returns the key id.
    RulesError with the reason otherwise: this is the line an operator reads in the log."""
    from cryptography.exceptions import InvalidSignature

    def refuse(reason: str) -> RulesError:
        return RulesError(where, 0, f"bundle refused: {reason}")

    if signature is None:
        raise refuse(f"unsigned (no {SIGNATURE_SUFFIX} file); this instance accepts only bundles signed "
                     f"with a key in {keys.source}")
    try:
        body = json.loads(signature)
        fmt, kid, sig = body["format"], str(body["key_id"]), base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise refuse(f"unreadable signature file ({type(exc).__name__})") from exc
    if fmt != SIGNATURE_FORMAT:
        raise refuse(f"unknown signature format {fmt!r}")
    key = keys.keys.get(kid)
    if key is None:
        raise refuse(f"signed with key {kid}, which is not a trusted key in {keys.source}")
    try:
        key.verify(sig, _message(digest))
    except InvalidSignature:
        raise refuse(f"signature by key {kid} does not match the bundle (modified or wrongly signed)") from None
    return kid


KEEP_STAGED = 4  # staged bundles kept per host (the newest ones)


def _stage_dir() -> Path | None:
    """``$TMPDIR/filter-proxy-<uid>/bundles``, only if it is ours alone (owned by us, writable by nobody
    else, no symlink). None when it cannot be made safe: each load then uses its own private temporary
    file, unlinked after loading."""
    uid = os.getuid()
    directory = Path(tempfile.gettempdir()) / f"filter-proxy-{uid}" / "bundles"
    try:
        for part in (directory.parent, directory):  # each made 0700 (parents=True would use the umask)
            part.mkdir(mode=0o700, exist_ok=True)
        # Nobody else may write either level (or swap the bundles directory); the bundles stay unreadable
        # to others too, since term lists can be sensitive.
        for part, forbidden in ((directory.parent, 0o022), (directory, 0o077)):
            st = os.lstat(part)
            if stat.S_ISLNK(st.st_mode) or st.st_uid != uid or stat.S_IMODE(st.st_mode) & forbidden:
                return None
    except OSError:
        return None
    return directory


def stage(write: Callable[[Any], None]) -> tuple[Path, bytes, bool]:
    """Write a bundle (``write(file)``) into a file nobody else can change, hashing what is written;
    returns (path, sha256, unlink_after_load). In the host's stage directory the file is named by its
    SHA-256 (written once per content); elsewhere it is a private temporary file the caller unlinks."""
    directory = _stage_dir()
    fd, tmp = tempfile.mkstemp(prefix=".filter-proxy-bundle-", suffix=".tmp", dir=directory)
    digest = hashlib.sha256()

    class _Hashing:
        def write(self, chunk: bytes) -> None:
            digest.update(chunk)
            _write_all(fd, chunk)

    try:
        write(_Hashing())
    except BaseException:
        os.close(fd)
        Path(tmp).unlink(missing_ok=True)
        raise
    os.close(fd)
    if directory is None:
        return Path(tmp), digest.digest(), True
    final = directory / f"{digest.hexdigest()}.bundle"
    os.replace(tmp, final)  # same bytes as any file already there under that name
    _prune(directory, keep=final)
    return final, digest.digest(), False


def _write_all(fd: int, chunk: bytes) -> None:
    view = memoryview(chunk)
    while view:
        view = view[os.write(fd, view):]


def _prune(directory: Path, keep: Path) -> None:
    """Drop all but the newest staged bundles, never one younger than a minute (another worker may be
    about to open it)."""
    now = time.time()
    staged = sorted(directory.glob("*.bundle"), key=lambda p: p.stat().st_mtime if p.exists() else 0,
                    reverse=True)
    for old in staged[KEEP_STAGED:]:
        try:
            if old != keep and now - old.stat().st_mtime > 60:
                old.unlink()
        except OSError:
            pass


def stage_file(path: str | Path) -> tuple[Path, bytes, bool]:
    def copy(out: Any) -> None:
        with open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)

    return stage(copy)


def stage_bytes(data: bytes) -> tuple[Path, bytes, bool]:
    return stage(lambda out: out.write(data))


def load_verified_copy(copy: Path, digest: bytes, signature: bytes | None, keys: TrustedKeys | None,
                       where: str, unlink: bool = True) -> Any:
    """Verify (when ``keys``) and load a staged bundle file (then unlink it when ``unlink``); errors name
    ``where``, the bundle the operator knows."""
    from filter_proxy.rules.bundle import is_bundle, load_bundle

    try:
        if not is_bundle(copy):
            raise RulesError(where, 0, "not a compiled rules bundle")
        if keys is not None:
            kid = verify_signature(digest, signature, keys, where)
            log.info("bundle %s: signature by trusted key %s verified", where, kid)
        try:
            rules = load_bundle(copy)
        except RulesError as exc:  # name the bundle the operator knows, not the staged copy
            text = str(exc).replace(str(copy), where)
            raise RulesError(where, 0, text.removeprefix(f"{where}: ").removeprefix(f"{where}:0: ")) from exc
        rules.source = where
        return rules
    finally:
        if unlink:
            copy.unlink(missing_ok=True)


def load_signed_rules(path: str | Path, keys: TrustedKeys) -> Any:
    """A RuleSet from a signed bundle at ``path`` (signature in ``path.sig``). RulesError otherwise."""
    where = str(path)
    if Path(path).is_dir():
        raise RulesError(where, 0, "a rules directory cannot be verified: this instance requires a bundle "
                         "compiled and signed by the policy team (`filter-proxy rules compile --sign KEY`)")
    try:
        signature: bytes | None = signature_path(path).read_bytes()
    except FileNotFoundError:
        signature = None
    except OSError as exc:
        raise RulesError(where, 0, f"cannot read the signature: {exc.strerror or exc}") from exc
    try:
        copy, digest, unlink = stage_file(path)
    except OSError as exc:
        raise RulesError(where, 0, f"cannot read bundle: {exc.strerror or exc}") from exc
    return load_verified_copy(copy, digest, signature, keys, where, unlink)


def rules_loader(public_key: str | None) -> Callable[[str], Any]:
    """The loader for ``rules.path``: plain ``load_rules`` without a key, signature-checked with one.
    The key file is read now, so a bad key refuses to start rather than refusing every reload."""
    if not public_key:
        from filter_proxy.rules.loader import load_rules

        return load_rules
    keys = TrustedKeys.load(public_key)

    def load(path: str) -> Any:
        try:
            return load_signed_rules(path, keys)
        except RulesError as exc:
            log.error("rules refused: %s", exc)
            raise

    return load

