"""The code under test, reached through its public contracts (docs/ARCHITECTURE.md).

Rule sets for the benchmarks are written as real rule directories: the shipped ``rules/policy.toml`` and
``rules/warnings/`` plus generated placeholder term, URL and image-hash files, then loaded with
``load_rules`` (or compiled with ``compile_rules``), exactly as an operator would.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SHIPPED_RULES = REPO / "rules"
BLOCK_CATEGORY = "zqx-abuse"  # a "block" category of the shipped example policy


def write_rules_dir(root: Path, terms: Sequence[str] = (), urls: Sequence[str] = (),
                    image_rows: Iterable[tuple[str, str]] = (), category: str = BLOCK_CATEGORY) -> Path:
    """A rules directory holding the shipped policy and warnings and the given placeholder entries."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED_RULES / "policy.toml", root / "policy.toml")
    if (SHIPPED_RULES / "warnings").is_dir():
        shutil.copytree(SHIPPED_RULES / "warnings", root / "warnings", dirs_exist_ok=True)
    for sub, lines in (("terms", terms), ("urls", urls)):
        if lines:
            (root / sub).mkdir(exist_ok=True)
            (root / sub / f"{category}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = list(image_rows)
    if rows:
        (root / "images").mkdir(exist_ok=True)
        with open(root / "images" / f"{category}.csv", "w", encoding="ascii") as fh:
            fh.writelines(f"{algo},{hex_}\n" for algo, hex_ in rows)
    return root


def load_rules(path: Path) -> Any:
    from filter_proxy.rules.loader import load_rules as _load

    return _load(path)


def compile_rules(path: Path, out: Path) -> Any:
    from filter_proxy.rules.bundle import compile_rules as _compile

    return _compile(path, out)


def available(*modules: str) -> str | None:
    """None when every module imports, else the first failure (``module: error``), for the report."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:
            return f"{name}: {type(exc).__name__}: {exc}"
    return None
