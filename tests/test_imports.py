"""Module structure: every module imports on its own, and the signal / matcher / image modules never
depend on ``filter_proxy.rules`` (the cycle the registry removed)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "filter_proxy"
MODULES = sorted(
    ".".join(("filter_proxy", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
    for path in PACKAGE.rglob("*.py")
)
# Modules that must not import filter_proxy.rules, not even under TYPE_CHECKING.
INDEPENDENT = sorted(
    [*PACKAGE.joinpath("signals").glob("*.py"), *PACKAGE.joinpath("matchers").glob("*.py"),
     *PACKAGE.glob("images_*.py")]
)


def test_each_module_imports_alone_in_a_fresh_interpreter() -> None:
    # One interpreter per module: an import cycle shows only when its module is the first one imported.
    script = (
        "import importlib, subprocess, sys\n"
        "failed = []\n"
        "for name in sys.argv[1:]:\n"
        "    r = subprocess.run([sys.executable, '-c', f'import {name}'], capture_output=True, text=True)\n"
        "    if r.returncode:\n"
        "        failed.append(name + ': ' + (r.stderr.strip().splitlines() or ['?'])[-1])\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    wanted = [m for m in MODULES if not m.endswith("__main__")]
    result = subprocess.run([sys.executable, "-c", script, *wanted], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", INDEPENDENT, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_signal_matcher_and_image_modules_do_not_import_rules(path: Path) -> None:
    bad = sorted(m for m in _imported_modules(path) if m == "filter_proxy.rules" or m.startswith("filter_proxy.rules."))
    assert bad == [], f"{path.name} imports {bad}"


def test_the_structure_check_sees_an_import_of_rules(tmp_path: Path) -> None:
    # The checker itself can fail: a module that imports rules under TYPE_CHECKING is caught.
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                      "    from filter_proxy.rules.ruleset import RuleSet\n", encoding="utf-8")
    assert "filter_proxy.rules.ruleset" in _imported_modules(sample)
    assert any(path.parent.name == "signals" for path in INDEPENDENT)
