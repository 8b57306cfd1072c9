"""Warnings about how rule files are laid out: tabs, CRLF line endings and whitespace-only lines.

The loader accepts all three (a tab is whitespace, CRLF is stripped, a blank-looking line is blank), so
they never refuse a rule set; but they usually mean a file was pasted from a spreadsheet or a Windows
tool, and a policy team wants to hear about it with ``path:line`` before it surprises them. Scanned on the
raw bytes with regular expressions, so a 1M-line list costs one pass and no list of lines.
"""

from __future__ import annotations

import re
from pathlib import Path

from filter_proxy.rules.errors import Problem

# The entry files `rules check` reads, per folder (policy.toml and warnings/*.toml are TOML, where tabs
# are ordinary indentation; CRLF is still worth a word there).
ENTRY_FILES = {"terms": ".txt", "urls": ".txt", "images": ".csv", "allow": ".txt"}
MAX_PER_FILE = 20  # per kind of warning and file: a whole list pasted with tabs needs one summary, not 1M lines

_TAB_LINE = re.compile(rb"[^\n]*\t[^\n]*")
_BLANKISH = re.compile(rb"(?m)^[ \t\f\v]+\r?$")


def _line_of(data: bytes, position: int, cache: list[int]) -> int:
    """1-based line number of ``position``, counting newlines incrementally (positions come in order)."""
    last_pos, last_line = cache
    line = last_line + data.count(b"\n", last_pos, position)
    cache[:] = [position, line]
    return line


def scan(data: bytes, rel: str, *, entries: bool = True) -> list[Problem]:
    """Layout warnings of one file's bytes. ``entries``: an entry file (tabs inside entries are reported;
    in TOML they are indentation)."""
    out: list[Problem] = []
    crlf = data.find(b"\r\n")
    if crlf >= 0:
        line = data.count(b"\n", 0, crlf) + 1
        out.append(Problem(rel, line, "CRLF (Windows) line endings from this line on; they are accepted, but "
                           "save the file with LF endings so every tool sees the same lines", "warning"))
    if entries:
        cache = [0, 1]
        found = 0
        for match in _TAB_LINE.finditer(data):
            text = match.group().strip()
            if not text or text.startswith(b"#"):
                continue  # whitespace-only lines are reported below; tabs in comments are harmless
            found += 1
            if found <= MAX_PER_FILE:
                out.append(Problem(rel, _line_of(data, match.start(), cache), "tab character in the entry; it is "
                                   "read as a space (a list pasted from a spreadsheet?)", "warning"))
        if found > MAX_PER_FILE:
            out.append(Problem(rel, 0, f"{found - MAX_PER_FILE} more lines with tab characters", "warning"))
    cache = [0, 1]
    found = 0
    for match in _BLANKISH.finditer(data):
        found += 1
        if found <= MAX_PER_FILE:
            out.append(Problem(rel, _line_of(data, match.start(), cache), "line holds only spaces or tabs; it is "
                               "read as a blank line", "warning"))
    if found > MAX_PER_FILE:
        out.append(Problem(rel, 0, f"{found - MAX_PER_FILE} more whitespace-only lines", "warning"))
    return out


def layout_problems(root: Path, name: str) -> list[Problem]:
    """Layout warnings of every rule file in the rules folder ``root``; paths start with ``name`` (the
    loader's rule-id prefix, so they sort and read like its own problems)."""
    out: list[Problem] = []
    if not root.is_dir():
        return out
    candidates = [(root / "policy.toml", False)]
    candidates += [(p, False) for p in sorted((root / "warnings").glob("*.toml"))]
    for folder, suffix in ENTRY_FILES.items():
        candidates += [(p, True) for p in sorted((root / folder).glob(f"*{suffix}"))]
    for path, entries in candidates:
        if not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue  # the loader reports unreadable files
        out.extend(scan(data, f"{name}/{path.relative_to(root).as_posix()}", entries=entries))
    return out
