"""The ordinary-word list of ``term_forms`` (hashtag segmentation, joined phrases, query wildcards), shipped
as package data: ``filter_proxy/data/ordinary_words.txt``, one normalised word a line, sorted.

Why a data file (issue 14): building the list from ``wordsegment``'s files at start took ~0.3 s and left
~6 MB of transient heap behind in every process besides the ~4.5 MB set (the 1M-term "RSS after load"
figure counted both); now it is one read and one split. ``generate()`` is the one definition of the list:
``wordsegment``'s English word list (``words.txt``) kept where the word is also among its ``TOP_UNIGRAMS``
most frequent unigrams, normalised like text; one- and two-letter words only among the ``SHORT_WORD_RANK``
most frequent. The shipped file must equal ``generate()`` (tests/test_ordinary_words.py), so a change of
``normalize`` or of these rules cannot leave it stale silently: regenerate it with
``python scripts/update_ordinary_words.py --write``.
"""

from __future__ import annotations

import argparse
import itertools
from importlib import resources
from pathlib import Path

DATA = "data/ordinary_words.txt"  # inside the filter_proxy package
TOP_UNIGRAMS = 100_000
SHORT_WORD_RANK = 300  # one- and two-letter words kept only among this many most frequent ("of", "my")


def load() -> frozenset[str]:
    """The shipped list (one read, one split)."""
    return frozenset(resources.files("filter_proxy").joinpath(DATA).read_text("utf-8").split())


def generate() -> list[str]:
    """The list from ``wordsegment``'s files and the current ``normalize``, sorted."""
    from filter_proxy.normalize import normalize

    pkg = resources.files("wordsegment")
    rank: dict[str, int] = {}
    with pkg.joinpath("unigrams.txt").open(encoding="utf-8") as fh:
        for i, line in enumerate(itertools.islice(fh, TOP_UNIGRAMS)):
            rank[line.split("\t", 1)[0]] = i
    kept: set[str] = set()
    with pkg.joinpath("words.txt").open(encoding="utf-8") as fh:
        for line in fh:
            word = line.strip().lower()
            if not word.isalpha() or word not in rank:
                continue
            normal = normalize(word)
            # Short words split almost anything: one- and two-letter ones only when very common ("a", "i", "my").
            # (By the normalised length: "lie" reads "ie", and short pieces make nonsense look like words.)
            if len(normal) > 2 or (rank[word] < SHORT_WORD_RANK and (len(normal) == 2 or normal in ("a", "i"))):
                kept.add(normal)
    if any(not w or w != "".join(w.split()) for w in kept):
        raise ValueError("a normalised ordinary word holds white space: the data file splits on it")
    return sorted(kept)


def render(words: list[str]) -> str:
    return "".join(f"{w}\n" for w in words)


def main(argv: list[str] | None = None, path: Path | None = None) -> int:
    """Check (exit 1 when stale) or ``--write`` the data file (``path``: another file, for tests)."""
    parser = argparse.ArgumentParser(description="Regenerate or check filter_proxy/data/ordinary_words.txt.")
    parser.add_argument("--write", action="store_true", help="write the file (default: check it is current)")
    args = parser.parse_args(argv)
    path = path or Path(__file__).resolve().parent.parent / DATA
    text = render(generate())
    if args.write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"{path}: {text.count(chr(10))} words")
        return 0
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if current != text:
        print(f"{path} is stale: run python scripts/update_ordinary_words.py --write")
        return 1
    print(f"{path}: current")
    return 0
