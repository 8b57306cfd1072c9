"""Choosing a warning variant: at random per request, by the configured weights, with no identity."""

from __future__ import annotations

import random
from collections.abc import Sequence

# One process-wide generator: nothing about the request or the person goes into the choice.
_RNG = random.Random()


def pick(names: Sequence[str], weights: Sequence[float], rng: random.Random | None = None) -> str:
    """One of ``names`` with probability weight / sum(weights)."""
    if not names:
        return "default"
    if len(names) == 1:
        return names[0]
    return (rng or _RNG).choices(list(names), weights=list(weights), k=1)[0]
