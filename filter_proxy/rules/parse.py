"""Reading rule files line by line: encoding, comments, `path:line` locations.

Every rule file is UTF-8 text, one entry per line. A UTF-8 byte-order mark and CRLF line endings are
accepted (files saved by Windows editors). `#` at the start of a line, or after whitespace, starts a
comment, so `c#` and a URL's `#fragment` stay intact. Blank lines are ignored. A line that is not valid
UTF-8 is reported with its line number and skipped, so one stray byte never hides the other problems.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filter_proxy.errors import Problem

BOM = b"\xef\xbb\xbf"
# A comment starts at "#" at the beginning of the line or after whitespace.
_COMMENT = re.compile(r"(^|\s)#.*$")
# tomllib reports positions as "(at line 3, column 5)".
_TOML_LINE = re.compile(r"at line (\d+)")


@dataclass(frozen=True, slots=True)
class Line:
    """One entry line of a rule file: its 1-based number and its text without comment or edge spaces."""

    number: int
    text: str


def strip_comment(text: str) -> str:
    # Most lines hold no "#": one substring test instead of a regex scan (1M-line lists).
    return _COMMENT.sub("", text).strip() if "#" in text else text.strip()


def read_lines(path: Path, rel: str, problems: list[Problem]) -> list[Line]:
    """The entry lines of one rule file. Problems (unreadable file, undecodable line) go to ``problems``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(rel, 0, f"cannot read file: {exc.strerror or exc}"))
        return []
    return split_lines(data, rel, problems)


def stream_lines(path: Path, rel: str, problems: list[Problem]) -> Iterator[Line]:
    """``read_lines`` one line at a time, for lists of millions of entries: the file is read as it is
    iterated (never whole: a 1M-line list is ~14 MB) and no list of every line is held. Problems are
    appended as the lines are reached."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 -- closed by _file_lines when the iteration ends
    except OSError as exc:
        problems.append(Problem(rel, 0, f"cannot read file: {exc.strerror or exc}"))
        return iter(())
    return _file_lines(handle, rel, problems)


def _file_lines(handle: io.BufferedReader, rel: str, problems: list[Problem]) -> Iterator[Line]:
    with handle:
        try:
            yield from _lines(handle, rel, problems)
        except OSError as exc:
            problems.append(Problem(rel, 0, f"cannot read file: {exc.strerror or exc}"))


def split_lines(data: bytes, rel: str, problems: list[Problem]) -> list[Line]:
    return list(iter_lines(data, rel, problems))


def iter_lines(data: bytes, rel: str, problems: list[Problem]) -> Iterator[Line]:
    # BytesIO hands out one line at a time (bytes.split would make a list of every line first).
    return _lines(io.BytesIO(data), rel, problems)


def _lines(raws: Iterable[bytes], rel: str, problems: list[Problem]) -> Iterator[Line]:
    # Split on LF only, then drop a trailing CR: this accepts LF and CRLF files alike.
    for number, raw in enumerate(raws, start=1):
        if number == 1 and raw.startswith(BOM):
            raw = raw[len(BOM):]
        raw = raw.rstrip(b"\n")
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(rel, number, f"not valid UTF-8 (byte {exc.start + 1} of the line); save the file as UTF-8"))
            continue
        text = strip_comment(text)
        if text:
            yield Line(number, text)


def decode_text(data: bytes, rel: str, problems: list[Problem]) -> str | None:
    """A whole file as text (for TOML), BOM and CRLF tolerated; None with a located problem if undecodable."""
    if data.startswith(BOM):
        data = data[len(BOM) :]
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(rel, line, "not valid UTF-8; save the file as UTF-8"))
        return None


def toml_error_line(message: str) -> int:
    """The line number in a tomllib error message, or 0."""
    found = _TOML_LINE.search(message)
    return int(found.group(1)) if found else 0


def locate_toml(text: str, table: str, key: str | None = None) -> int:
    """Best-effort line of ``[table]`` (or of ``key = ...`` inside it) in TOML source, for error messages;
    0 when not found. tomllib gives no positions for values, and a policy team needs a line to look at."""
    header = re.compile(r"^\s*\[\s*" + r"\s*\.\s*".join(_toml_key_pattern(p) for p in table.split(".")) + r"\s*\]")
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if header.match(line):
            if key is None:
                return index + 1
            assign = re.compile(r"^\s*" + _toml_key_pattern(key) + r"\s*=")
            for offset, inner in enumerate(lines[index + 1 :], start=index + 2):
                if inner.lstrip().startswith("["):
                    break
                if assign.match(inner):
                    return offset
            return index + 1
    # Not a [table] header: maybe an inline table (`thresholds = {...}`) inside its parent.
    parent, _, last = table.rpartition(".")
    return locate_toml(text, parent, last) if parent else 0


def _toml_key_pattern(key: str) -> str:
    escaped = re.escape(key)
    return f"(?:{escaped}|\"{escaped}\"|'{escaped}')"
