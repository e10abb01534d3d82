"""Exact binomial confidence bounds on a rate seen as k events in n trials, and how a rate is written for people.

Summed in log space: a calibration may count millions of comparisons and a target rate of 0.01 %.
"""

from __future__ import annotations

import math

import numpy as np

CONFIDENCE = 0.95


def _binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (n may be in the millions, p tiny)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    if k >= n:
        return 1.0
    i = np.arange(k + 1, dtype=np.float64)
    # log C(n, i) by the ratio C(n, i+1) / C(n, i) = (n - i) / (i + 1): one vectorised cumulative sum.
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - i[:-1]) - np.log(i[:-1] + 1))])
    log_terms = log_choose + i * math.log(p) + (n - i) * math.log1p(-p)
    top = log_terms.max()
    return float(min(1.0, math.exp(top) * np.exp(log_terms - top).sum()))


def _bisect(f, lo: float = 0.0, hi: float = 1.0, iterations: int = 80) -> float:
    """The p in [lo, hi] where the decreasing function f crosses zero (f(lo) >= 0 >= f(hi))."""
    for _ in range(iterations):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def upper_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson upper bound on a rate observed as k events in n trials.

    The p at which seeing k or fewer events has probability 1 - confidence. With k = 0 it is
    1 - (1 - confidence)^(1/n), about 3/n at 95 % (the rule of three)."""
    if n <= 0:
        return 1.0
    if k >= n:
        return 1.0
    alpha = 1.0 - confidence
    if k == 0:
        return 1.0 - alpha ** (1.0 / n)
    return _bisect(lambda p: _binomial_cdf(k, n, p) - alpha)


def lower_bound(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """One-sided Clopper-Pearson lower bound: the p at which seeing k or more events has probability
    1 - confidence."""
    if n <= 0 or k <= 0:
        return 0.0
    alpha = 1.0 - confidence
    if k >= n:
        return alpha ** (1.0 / n)
    # P(X >= k; p) = 1 - P(X <= k - 1; p) rises with p: find where it reaches alpha.
    return _bisect(lambda p: _binomial_cdf(k - 1, n, p) - (1.0 - alpha))


def interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Two-sided Clopper-Pearson interval (each tail gets half of 1 - confidence)."""
    tail = (1.0 + confidence) / 2
    return lower_bound(k, n, tail), upper_bound(k, n, tail)


def impostors_needed(target_far: float, confidence: float = CONFIDENCE) -> int:
    """Fewest impostor probes with which zero false accepts bound the FAR at or under the target."""
    return math.ceil(math.log(1.0 - confidence) / math.log1p(-target_far))


def largest_supported_count(n: int, target_far: float, confidence: float = CONFIDENCE) -> int:
    """Largest number of false accepts k (out of n) whose upper bound is still <= target; -1 if not even 0."""
    if upper_bound(0, n, confidence) > target_far:
        return -1
    lo, hi = 0, min(n, math.ceil(target_far * n) + 1)  # the bound is above k/n, so k <= target * n
    while lo < hi:  # the bound rises with k: binary search for the last k that passes
        mid = (lo + hi + 1) // 2
        if upper_bound(mid, n, confidence) <= target_far:
            lo = mid
        else:
            hi = mid - 1
    return lo


def percent(rate: float) -> str:
    """0.001 -> '0.1 %', 0.0123 -> '1.23 %', 0.25 -> '25 %'."""
    if rate == 0:
        return "0 %"
    return f"{100 * rate:.3g} %"
