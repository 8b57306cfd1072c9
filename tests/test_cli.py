"""Command-line conventions: --version, missing subcommands, exit codes, a busy port, log formats."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
from importlib.metadata import version
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filter_proxy.cli import EPILOG, main
from filter_proxy.commands.listen import PortInUse, bind, url
from filter_proxy.logs import HumanFormatter, resolve_log_format, use_human_format

RULES = Path(__file__).resolve().parent.parent / "rules"


def test_version_is_the_installed_distributions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"filter-proxy {version('filter-proxy')}"


@pytest.mark.parametrize(("argv", "choices"), [
    ([], "rules, serve, demo, hashes, report"),
    (["rules"], "check, compile, hash"),
    (["hashes"], "add, import, check"),
])
def test_a_missing_subcommand_lists_the_choices(argv: list[str], choices: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"choose a command: {choices}" in err and "required" not in err and "usage:" in err


def test_exit_codes_are_documented_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert " ".join(EPILOG.split()) in out and "0 success" in out and "1 problems found" in out


def test_busy_port_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    held = bind("127.0.0.1", 0)
    held.listen()
    port = held.getsockname()[1]
    try:
        with pytest.raises(PortInUse, match=f"port {port} is in use.*--port {port + 1}"):
            bind("127.0.0.1", port)
        assert main(["demo", "--rules", str(RULES), "--port", str(port)]) == 2
        err = capsys.readouterr().err
        assert f"port {port} is in use" in err and f"make demo PORT={port + 1}" in err and "serving" not in err
        assert main(["serve", "--upstream", "http://127.0.0.1:9", "--adapter", "searxng", "--rules", str(RULES),
                     "--port", str(port), "--log-format", "json"]) == 2
        assert f"port {port} is in use" in capsys.readouterr().err
    finally:
        held.close()


def test_port_zero_gets_a_real_port() -> None:
    sock = bind("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0 and url(sock) == f"http://127.0.0.1:{port}"
        with socket.socket() as probe, pytest.raises(OSError):  # the socket really holds the port
            probe.bind(("127.0.0.1", port))
    finally:
        sock.close()


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_log_format_follows_the_terminal() -> None:
    assert resolve_log_format("auto", True, _Tty()) == "text"
    assert resolve_log_format("auto", True, io.StringIO()) == "json"
    assert resolve_log_format(None, False, io.StringIO()) == "text"  # logging.json = false in the config
    assert resolve_log_format("json", True, _Tty()) == "json"
    assert resolve_log_format("text", True, io.StringIO()) == "text"


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["DEBUG", "INFO", "WARNING", "ERROR"]))
def test_human_lines_carry_level_message_and_fields(message: str, level: str) -> None:
    record = logging.LogRecord("filter_proxy.x", getattr(logging, level), __file__, 1, "%s", (message,), None)
    record.route = "search"
    line = HumanFormatter().format(record)
    assert level in line and message in line and "route=search" in line
    assert "\x1b[" not in line  # colour only on a terminal


def test_serve_uses_the_human_formatter_on_a_terminal() -> None:
    handler = logging.StreamHandler(_Tty())
    use_human_format(handler, _Tty())
    assert isinstance(handler.formatter, HumanFormatter) and handler.formatter.colour
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "port in use", (), None)
    assert "\x1b[31;1m" in handler.format(record)


def test_progress_is_drawn_on_a_terminal_only() -> None:
    from filter_proxy.commands.progress import steps

    quiet = io.StringIO()
    with steps(quiet) as progress:
        progress.step("reading", total=3)
        progress.advance(3)
    assert quiet.getvalue() == ""  # a pipe or a file gets nothing
    drawn = _Tty()
    with steps(drawn) as progress:
        progress.step("reading rule files")
        progress.step("hashing", total=10)
        progress.advance(10)
    assert "hashing" in drawn.getvalue() or "\x1b[" in drawn.getvalue()


def test_serve_says_when_it_is_ready_and_where(tmp_path: Path) -> None:
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "filter_proxy.cli", "serve", "--upstream", "http://127.0.0.1:9", "--adapter",
           "searxng", "--rules", str(RULES), "--port", "0", "--log-format", "json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FILTER_PROXY_", "PROMETHEUS_"))}
    env["XDG_STATE_HOME"] = str(tmp_path)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        messages = []
        for line in proc.stderr:  # bounded by the server's own start-up; it prints these two lines first
            messages.append(json.loads(line)["message"])
            if "ready in" in messages[-1]:
                break
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert messages[0].startswith("loading rules from")
    ready = messages[-1]
    assert re.search(r"ready in \d+\.\d s: [\d,]+ entries, rules version \w+; listening on http://127\.0\.0\.1:\d+", ready)
