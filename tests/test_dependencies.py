"""Declared means used: every dependency pyproject.toml declares is imported by the code, the tests or the
benchmarks (or, for a command-line tool, run by the Makefile). A dependency nothing uses must not be
declared (issue 12: the faiss and redis extras once were)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Distribution name -> import name, where they differ.
IMPORT_NAMES = {
    "pillow": "PIL", "pybloom-live": "pybloom_live", "prometheus-client": "prometheus_client",
    "scikit-image": "skimage", "pyahocorasick": "ahocorasick", "opensearch-py": "opensearchpy",
    "confusable-homoglyphs": "confusable_homoglyphs", "psycopg": "psycopg",
}
TOOLS = {"ruff"}  # run, not imported: the Makefile must run them
# Declared for work another branch delivers; each says where. Remove an entry when that work is merged.
PENDING: dict[str, str] = {}


def declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        names += extra
    found = [re.match(r"[A-Za-z0-9_.-]+", spec).group().lower() for spec in names]  # type: ignore[union-attr]
    return sorted(set(found) - {"filter-proxy"})


def sources() -> str:
    files = [p for folder in ("filter_proxy", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in files)


@pytest.mark.parametrize("name", declared())
def test_every_declared_dependency_is_used(name: str) -> None:
    if name in PENDING:
        pytest.skip(f"{name}: declared for {PENDING[name]}")
    if name in TOOLS:
        assert re.search(rf"\b{re.escape(name)}\b", (ROOT / "Makefile").read_text()), f"{name} is never run"
        return
    module = IMPORT_NAMES.get(name, name.replace("-", "_"))
    # imported, or opened as a data package by name (importlib.resources.files("wordsegment"))
    pattern = rf"^\s*(import|from)\s+{re.escape(module)}\b|[\"']{re.escape(module)}[\"']"
    assert re.search(pattern, sources(), re.M), f"{name} ({module}) is declared in pyproject.toml but never used"
