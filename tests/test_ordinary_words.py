"""The shipped ordinary-word list (filter_proxy/data/ordinary_words.txt) is exactly what its generator makes
from wordsegment and the current ``normalize``, and a non-editable install ships it."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from filter_proxy.matchers import ordinary_words
from filter_proxy.matchers.term_forms import ordinary_words as term_forms_words

ROOT = Path(__file__).resolve().parent.parent


def test_the_shipped_file_is_what_the_generator_makes() -> None:
    shipped = (ROOT / "filter_proxy" / ordinary_words.DATA).read_text("utf-8")
    generated = ordinary_words.generate()
    # If this fails, normalize or the word rules changed: python scripts/update_ordinary_words.py --write
    assert shipped == ordinary_words.render(generated)
    assert ordinary_words.load() == frozenset(generated) == term_forms_words()
    assert len(generated) > 40_000 and "into" in generated


def test_the_checker_reports_a_stale_file_and_write_makes_it_current(tmp_path: Path) -> None:
    path = tmp_path / "ordinary_words.txt"
    assert ordinary_words.main([], path) == 1  # missing
    path.write_text("zqxnotaword\n", "utf-8")
    assert ordinary_words.main([], path) == 1  # stale
    assert ordinary_words.main(["--write"], path) == 0
    assert ordinary_words.main([], path) == 0
    assert ordinary_words.main([]) == 0  # the shipped file


def test_the_file_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["filter_proxy"]
    assert any(fnmatch.fnmatch(ordinary_words.DATA, p) for p in patterns)
