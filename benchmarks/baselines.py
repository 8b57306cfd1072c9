"""Baselines the core is compared with, in the same run: a Python ``set`` of phrases with n-gram lookup,
a naive substring scan, pyahocorasick for terms, and a linear numpy popcount scan for image hashes.

All term baselines take already-normalised word lists, so the comparison is of the matching step alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class SetTerms:
    """Exact phrases in a ``set``; a text matches if any word n-gram (n up to the longest phrase) is in it."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.phrases = set(phrases)
        self.longest = max((p.count(" ") + 1 for p in self.phrases), default=1)

    def match_words(self, words: list[str]) -> bool:
        phrases, n = self.phrases, len(words)
        for i in range(n):
            for j in range(i + 1, min(n, i + self.longest) + 1):
                if " ".join(words[i:j]) in phrases:
                    return True
        return False


class SubstringScan:
    """The naive approach: ``phrase in text`` for every listed phrase (padded with spaces for whole words)."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.padded = [f" {p} " for p in phrases]

    def match_words(self, words: list[str]) -> bool:
        text = f" {' '.join(words)} "
        return any(p in text for p in self.padded)


class AhoCorasickTerms:
    """pyahocorasick automaton over space-padded phrases: whole-word matches in one pass over the text."""

    def __init__(self, phrases: Sequence[str]) -> None:
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for i, p in enumerate(phrases):
            self.automaton.add_word(f" {p} ", i)
        self.automaton.make_automaton()

    def match_words(self, words: list[str]) -> bool:
        text = f" {' '.join(words)} "
        for _ in self.automaton.iter(text):
            return True
        return False


class LinearHashScan:
    """Every listed 64-bit hash compared with the query: XOR and popcount over the whole array."""

    def __init__(self, codes: np.ndarray) -> None:
        self.codes = np.ascontiguousarray(codes, dtype=np.uint64)

    def near(self, code: int, threshold: int) -> np.ndarray:
        dist = np.bitwise_count(self.codes ^ np.uint64(code))
        return np.flatnonzero(dist <= threshold)


def hex_to_codes(hexes: Sequence[str]) -> np.ndarray:
    return np.array([int(h, 16) for h in hexes], dtype=np.uint64)


def codes_to_hex(codes: np.ndarray) -> list[str]:
    return [f"{int(c):016x}" for c in codes]
