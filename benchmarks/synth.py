"""Synthetic placeholder rule entries and a benign corpus of real English that nobody here wrote.

Blocked "terms" are generated pronounceable nonsense (never real words, never real abuse terms); URLs live
under ``example.invalid``. The benign corpus is prose shipped with Python and the OS: the ``pydoc`` topic
texts, stdlib docstrings, the Zen of Python and licence texts.
"""

from __future__ import annotations

import ast
import codecs
import contextlib
import functools
import io
import random
import re
import sysconfig
from collections.abc import Callable
from pathlib import Path

CONSONANTS = "bdfgklmnprstvz"
VOWELS = "aeiou"
SYLLABLES = [c + v for c in CONSONANTS for v in VOWELS]


def nonsense_word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(syllables))


def placeholder_terms(n: int, seed: int = 7, avoid: set[str] | frozenset[str] = frozenset(),
                      distinctive_share: float = 0.5, read: Callable[[str], str] | None = None) -> list[str]:
    """``n`` unique placeholder phrases of 1-3 nonsense words. About ``distinctive_share`` start with ``zqx``
    (obviously coined); the rest are plain 3-4 syllable nonsense. Words in ``avoid`` (a real vocabulary) are
    never used, so no real word is ever "blocked". With ``read`` (how the filter reads a word), a word the
    filter reads as it reads some word of ``avoid`` is not used either: ``liline`` is read as ``line`` once
    look-alike letters are merged and repeats collapsed, and listing it would list ``line``."""
    rng = random.Random(seed)
    if read is not None:
        avoid = set(avoid) | {read(word) for word in avoid}
    out: set[str] = set()
    while len(out) < n:
        words = []
        for _ in range(rng.choices((1, 2, 3), weights=(6, 3, 1))[0]):
            if rng.random() < distinctive_share:
                word = "zqx" + nonsense_word(rng, rng.randint(1, 3))
            else:
                word = nonsense_word(rng, rng.randint(3, 4))
            if word in avoid or (read is not None and read(word) in avoid):
                break
            words.append(word)
        else:
            out.add(" ".join(words))
    return sorted(out, key=lambda _: rng.random())


def placeholder_urls(n: int, seed: int = 11) -> list[str]:
    """Blocked URL entries: a third domains, a third path prefixes (``/*``), a third exact URLs."""
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(n):
        host = f"{nonsense_word(rng, 3)}{i}.example.invalid"
        kind = i % 3
        if kind == 0:
            out.append(host)
        elif kind == 1:
            out.append(f"https://{host}/{nonsense_word(rng, 2)}/*")
        else:
            out.append(f"https://{host}/{nonsense_word(rng, 2)}/{nonsense_word(rng, 2)}.html")
    return out


def benign_urls(n: int, seed: int = 13) -> list[str]:
    """Ordinary result URLs with the usual noise (case, www., ports, tracking parameters)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        host = f"{'www.' if i % 2 else ''}{nonsense_word(rng, 2)}{i % 997}.example.invalid"
        path = "/".join(nonsense_word(rng, 2) for _ in range(rng.randint(1, 3)))
        query = "?utm_source=feed&id=" + str(i) if i % 4 == 0 else ""
        out.append(f"https://{host}/{path}{query}")
    return out


# --- benign corpus -------------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WS = re.compile(r"\s+")


def _pydoc_text() -> list[str]:
    from pydoc_data.topics import topics

    return list(topics.values())


def _zen() -> list[str]:
    with contextlib.redirect_stdout(io.StringIO()):  # importing `this` prints the Zen
        import this

    return [codecs.decode(this.s, "rot13")]


def _stdlib_docstrings(limit_files: int = 400) -> list[str]:
    """Docstrings of stdlib modules, read with ``ast`` (nothing is imported or executed)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts: list[str] = []
    for path in sorted(stdlib.glob("*.py"))[:limit_files]:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(doc)
    return texts


def _licences() -> list[str]:
    texts = []
    for directory in (Path("/usr/share/common-licenses"),):
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                if path.is_file():
                    texts.append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


def _sentences(texts: list[str], min_words: int, max_words: int) -> list[str]:
    out = []
    for text in texts:
        for para in text.split("\n\n"):
            for sentence in _SENTENCE.split(_WS.sub(" ", para).strip()):
                words = sentence.split()
                # Long sentences are cut into query-sized pieces; code-like lines are skipped.
                for start in range(0, len(words), max_words):
                    piece = words[start:start + max_words]
                    if len(piece) >= min_words and sum(w.isalpha() for w in piece) >= len(piece) // 2:
                        out.append(" ".join(piece))
    return out


@functools.lru_cache(maxsize=4)
def benign_corpus(min_words: int = 2, max_words: int = 24) -> dict[str, list[str]]:
    """Real English text lines by source: query- and snippet-sized pieces, deduplicated. Cached: treat the
    returned lists as read-only."""
    sources = {
        "pydoc topics": _pydoc_text(),
        "stdlib docstrings": _stdlib_docstrings(),
        "zen of python": _zen(),
        "licence texts": _licences(),
    }
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for name, texts in sources.items():
        lines = [s for s in _sentences(texts, min_words, max_words) if not (s in seen or seen.add(s))]
        if lines:
            out[name] = lines
    return out


def filter_reading(word: str) -> str:
    """How the filter reads ``word`` (its normalised words, joined): two words it reads alike are one to it."""
    from filter_proxy.normalize import words  # the benchmark measures the filter; imported where needed

    return " ".join(words(word))


def vocabulary(corpus: dict[str, list[str]]) -> set[str]:
    """Lower-case alphabetic words of the corpus: what the nonsense generator must never produce."""
    return {w for lines in corpus.values() for line in lines for w in re.findall(r"[a-z]+", line.lower())}
