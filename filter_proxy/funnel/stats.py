"""Intervals and tests for the funnel's rates (no scipy: closed forms and math.erf).

- A rate (clicks / shown, repeats / shown): the Wilson score interval (Wilson 1927), which stays inside
  [0, 1] and behaves at 0 clicks, where the normal (Wald) interval collapses to [0, 0].
- The difference of two variants' rates: Newcombe's hybrid score interval (Newcombe 1998, method 10),
  built from the two Wilson intervals; and the pooled two-proportion z-test for "the rates differ"
  (two-sided p-value). The interval is what the report leads with; the p-value is given beside it.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval of successes / trials; (0, 1) when there were no trials."""
    if trials <= 0:
        return 0.0, 1.0
    if not 0 <= successes <= trials:
        raise ValueError(f"successes ({successes}) must be between 0 and trials ({trials})")
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(s1: int, n1: int, s2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2."""
    p1, p2 = (s1 / n1 if n1 else 0.0), (s2 / n2 if n2 else 0.0)
    l1, u1 = wilson(s1, n1, z)
    l2, u2 = wilson(s2, n2, z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return lower, upper


def two_proportion_z(s1: int, n1: int, s2: int, n2: int) -> tuple[float, float]:
    """The pooled two-proportion z statistic and its two-sided p-value; (0, 1) when undefined."""
    if n1 <= 0 or n2 <= 0:
        return 0.0, 1.0
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0, 1.0
    z = (s1 / n1 - s2 / n2) / se
    return z, math.erfc(abs(z) / math.sqrt(2))
