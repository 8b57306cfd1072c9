"""squidGuard 1.6 as a peer for URL lists: the same entries as filter-proxy's URL list, compiled into
squidGuard's Berkeley DB files, and the same stream of URLs fed on stdin in Squid's redirector format.

Settings, as an administrator would set them: one ``dest`` with a ``domainlist`` (listed hosts: they match
every subdomain too, as filter-proxy's domain entries do) and a ``urllist`` (path prefixes and exact URLs,
scheme and ``www.`` stripped as squidGuard expects), compiled ahead of time with ``squidGuard -C all`` (so
lookups hit the .db files, not the text lists), one ``acl`` that passes everything but that destination
and redirects to a loopback block page. All files live in a private temporary directory.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

SQUIDGUARD = Path("/usr/bin/squidGuard")


def available() -> str | None:
    return None if SQUIDGUARD.exists() else "squidGuard not installed (apt-get install squidguard)"


def _split(entries: list[str]) -> tuple[list[str], list[str]]:
    domains, urls = [], []
    for entry in entries:
        if "://" not in entry:
            domains.append(entry.lower())
            continue
        rest = entry.split("://", 1)[1].removesuffix("*").removesuffix("/")
        urls.append(rest.removeprefix("www.").lower())
    return domains, urls


def configure(root: Path, entries: list[str]) -> Path:
    db = root / "db"
    (db / "blocked").mkdir(parents=True, exist_ok=True)
    (root / "log").mkdir(exist_ok=True)
    domains, urls = _split(entries)
    (db / "blocked" / "domains").write_text("".join(d + "\n" for d in domains), "ascii")
    (db / "blocked" / "urls").write_text("".join(u + "\n" for u in urls), "ascii")
    conf = root / "squidGuard.conf"
    conf.write_text(
        f"dbhome {db}\nlogdir {root / 'log'}\n\n"
        "dest blocked {\n    domainlist blocked/domains\n    urllist blocked/urls\n}\n\n"
        "acl {\n    default {\n        pass !blocked all\n"
        "        redirect http://127.0.0.1/blocked?url=%u\n    }\n}\n", "ascii")
    return conf


def compile_lists(conf: Path) -> float:
    """Seconds for ``squidGuard -C all`` (text lists -> Berkeley DB)."""
    started = time.perf_counter()
    subprocess.run([str(SQUIDGUARD), "-c", str(conf), "-C", "all"], check=True, capture_output=True, timeout=600)
    return time.perf_counter() - started


def lookups(conf: Path, urls: list[str]) -> tuple[float, int, int]:
    """Feed ``urls`` on stdin; returns (lookups per second, blocked count, peak resident KiB).

    The rate covers the lookups only: squidGuard's start (opening the .db files) is timed separately by a
    one-line warm-up run and subtracted."""
    def run(lines: bytes) -> tuple[float, bytes, int]:
        started = time.perf_counter()
        proc = subprocess.Popen([str(SQUIDGUARD), "-c", str(conf)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
        out, _ = proc.communicate(lines, timeout=600)
        seconds = time.perf_counter() - started
        _, _, usage = os.wait4(proc.pid, os.WNOHANG) if proc.returncode is None else (0, 0, None)
        return seconds, out, (usage.ru_maxrss if usage else 0)

    stream = "".join(f"{u} 127.0.0.1/- - GET\n" for u in urls).encode("ascii", "replace")
    base, _, _ = run(b"http://warmup.example.invalid/ 127.0.0.1/- - GET\n")
    seconds, out, _ = run(stream)
    blocked = sum(1 for line in out.split(b"\n") if b"rewrite-url" in line or b"blocked?url" in line)
    return len(urls) / max(seconds - base, 1e-9), blocked, _peak_kib(conf)


def _peak_kib(conf: Path) -> int:
    """Peak resident KiB of one squidGuard process holding its lists (read from /proc while it waits)."""
    proc = subprocess.Popen([str(SQUIDGUARD), "-c", str(conf)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"http://warmup.example.invalid/ 127.0.0.1/- - GET\n")
        proc.stdin.flush()
        proc.stdout.readline()
        status = Path(f"/proc/{proc.pid}/status").read_text()
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    finally:
        proc.kill()
        proc.wait()
