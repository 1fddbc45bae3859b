"""Metrics of the evaluation: how close a measured profile is to a target, and how fluent answers are.

Pure functions on name -> level maps (1-6 scale) and strings; no model. Spearman needs at least
three values with distinct targets, otherwise it is None (and left out of the means).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["spearman", "mae", "order_preserved", "distinct_n", "repetition", "mean_of"]


def spearman(target: Mapping[str, float], measured: Mapping[str, float], names: Sequence[str]) -> float | None:
    """Spearman's rho over ``names`` (scipy's, ties averaged); None when fewer than 3 values or
    either side is constant."""
    if len(names) < 3:
        return None
    a = np.array([target[n] for n in names], dtype=float)
    b = np.array([measured[n] for n in names], dtype=float)
    if len(set(a)) < 2 or len(set(b)) < 2:  # a constant side has no ranking
        return None
    from scipy.stats import spearmanr  # here: scipy.stats takes ~0.7 s to import; only the evaluation ranks

    return float(spearmanr(a, b).statistic)


def mae(target: Mapping[str, float], measured: Mapping[str, float], names: Sequence[str]) -> float:
    return float(np.mean([abs(target[n] - measured[n]) for n in names]))


def order_preserved(
    target: Mapping[str, float],
    measured: Mapping[str, float],
    named: Sequence[str],
    all_names: Sequence[str],
    min_gap: float = 0.5,
) -> float | None:
    """Share of priority pairs whose measured order matches the target's: pairs of named values
    whose targets differ by at least ``min_gap``; with one named value, the pairs it forms with
    every other value. None when there is no such pair."""
    others = named if len(named) > 1 else all_names
    pairs = [(a, b) for a in named for b in others if a < b or (len(named) == 1 and a != b)]
    pairs = [(a, b) for a, b in pairs if abs(target[a] - target[b]) >= min_gap]
    if not pairs:
        return None
    ok = [(target[a] - target[b]) * (measured[a] - measured[b]) > 0 for a, b in pairs]
    return float(np.mean(ok))


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def distinct_n(texts: Sequence[str], n: int = 2) -> float | None:
    """Distinct n-grams over all n-grams, per text, averaged (1 = no n-gram repeats)."""
    vals = []
    for t in texts:
        w = _words(t)
        grams = [tuple(w[i : i + n]) for i in range(len(w) - n + 1)]
        if grams:
            vals.append(len(set(grams)) / len(grams))
    return float(np.mean(vals)) if vals else None


def repetition(texts: Sequence[str], n: int = 3) -> float | None:
    """Share of n-grams that repeat an earlier n-gram of the same text (0 = none; loops -> 1)."""
    d = distinct_n(texts, n)
    return None if d is None else 1.0 - d


def mean_of(xs: Sequence[float | None]) -> float | None:
    """Mean of the defined values (None and NaN left out); None if none is defined."""
    good = [x for x in xs if x is not None and not math.isnan(x)]
    return float(np.mean(good)) if good else None
