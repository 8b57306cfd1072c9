"""e2guardian 5.3.5 as a peer: a private copy of the Debian package's configuration, set up as a competent
administrator would for a search filter, listening on loopback only.

Settings (everything else stays the package default):
- ``filterip = 127.0.0.1``, ``filterports = <free port>``, no upstream proxy (e2guardian connects to the
  origin itself, as filter-proxy does), ``nodaemon = on`` (foreground, so the benchmark can stop it);
- access logging off (``nologger = on``, ``loglevel = 0``): filter-proxy writes no per-request access log
  either, and a log write per request would measure the disk, not the filter;
- search-term filtering: ``searchregexplist`` extracts ``q`` from the benchmark backend's search URL (the
  pattern starts with ``^.*`` and skips the port: one anchored on ``^http://`` or naming the port never
  matched here) and
  ``bannedsearchlist`` holds the same placeholder terms filter-proxy lists;
- phrase filtering of responses: ``bannedphraselist`` holds the same terms as ``< term >`` phrases, with
  the package's default ``phrasefiltermode = 2`` and ``weightedphrasemode = 2``; the shipped example
  phrase lists are dropped (they are not our lists, and they would slow e2guardian down);
- ``httpworkers`` left at the default 500 (every core is used).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

E2G = Path("/usr/sbin/e2guardian")
ETC = Path("/etc/e2guardian")


def available() -> str | None:
    if not E2G.exists() or not ETC.is_dir():
        return "e2guardian not installed (apt-get install e2guardian)"
    return None


def _set(text: str, key: str, value: str) -> str:
    """Set ``key = value`` whether the key is present, commented out, or missing."""
    pattern = re.compile(rf"^#?\s*{re.escape(key)}\s*=.*$", re.M)
    line = f"{key} = {value}"
    if pattern.search(text):
        return pattern.sub(line, text, count=1)
    return text + f"\n{line}\n"


def configure(root: Path, port: int, terms: list[str]) -> Path:
    """Write the configuration under ``root``; returns the main config file."""
    conf_dir = root / "e2guardian"
    shutil.copytree(ETC, conf_dir, symlinks=True)
    for path in conf_dir.rglob("*"):
        if path.is_file() and path.suffix in (".conf", ".story", "") and path.stat().st_size < 1_000_000:
            try:
                text = path.read_text("utf-8")
            except UnicodeDecodeError:
                continue
            if "/etc/e2guardian" in text:
                path.write_text(text.replace("/etc/e2guardian", str(conf_dir)), "utf-8")
    lists = conf_dir / "lists"
    (lists / "bannedphraselist").write_text("".join(f"< {t} >\n" for t in terms), "utf-8")
    (lists / "weightedphraselist").write_text("", "utf-8")
    # Method 1: words of each term sorted and joined with '+' (e2guardian's format).
    (lists / "bannedsearchlist").write_text("".join("+".join(sorted(t.split())) + "\n" for t in terms), "utf-8")
    (lists / "searchregexplist").write_text(
        '"^.*127\\.0\\.0\\.1[^/]*/search\\?q=([^&]*).*$"->"\\1"\n', "utf-8")
    group = conf_dir / "e2guardianf1.conf"
    # Method 2 as well: the search words go through the banned phrase list (a limit > 0 turns it on).
    group.write_text(_set(group.read_text("utf-8"), "searchtermlimit", "1"), "utf-8")
    main = conf_dir / "e2guardian.conf"
    text = main.read_text("utf-8")
    for key, value in (("filterip", "127.0.0.1"), ("filterports", str(port)), ("nodaemon", "on"),
                       ("nologger", "on"), ("loglevel", "0"), ("logconnectionhandlingerrors", "off"),
                       ("pidfilename", f"'{root / 'e2guardian.pid'}'"), ("daemonuser", "'root'"),
                       ("daemongroup", "'root'")):
        text = _set(text, key, value)
    main.write_text(text, "utf-8")
    return main


def start(main: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(E2G), "-N", "-c", str(main)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
