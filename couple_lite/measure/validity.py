"""How far the measurements can be trusted: the answer judges against labelled answers (accuracy,
per-value confusion, agreement between two judges) and an instrument against outside items
(convergent validity per value across steering conditions, and test-retest across templates).

Pure statistics over numbers the instruments and judges produced; ``bench/instrument_agreement.py``
runs the model and prints the tables.
"""

from __future__ import annotations

import numpy as np

from ..errors import CoupleError

__all__ = ["confusion", "judge_report", "cohen_kappa", "judge_agreement", "convergent", "retest"]


def confusion(true: list[int], pred: list[int], n: int) -> np.ndarray:
    """(n, n) counts: row = the value an answer was written for, column = the value judged."""
    t, p = np.asarray(true, dtype=int).ravel(), np.asarray(pred, dtype=int).ravel()
    if len(t) != len(p):
        raise CoupleError(f"{len(t)} true labels but {len(p)} judged ones: give one of each per answer")
    if len(t) and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n):
        raise CoupleError(f"labels must be value indices 0..{n - 1}; got {sorted(set(t) | set(p))}")
    m = np.zeros((n, n), dtype=int)
    np.add.at(m, (t, p), 1)
    return m


def _scores(scores, n_answers: int | None, n_values: int) -> np.ndarray:
    """A judge's (answers, values) scores, checked: the right shape and every score finite."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != n_values or (n_answers is not None and s.shape[0] != n_answers):
        raise CoupleError(f"judge scores must be ({n_answers or 'answers'}, {n_values}); got shape {s.shape}")
    if not np.isfinite(s).all():
        raise CoupleError("judge scores contain NaN or infinity: rescore those answers")
    return s


def judge_report(scores: np.ndarray, true: list[int], values: list[str]) -> dict:
    """A judge's top-1 accuracy on labelled answers, its recall per value, the confusion table and
    the chance level; ``scores`` is (n_answers, n_values), ``true`` each answer's value index."""
    pred = _scores(scores, len(true), len(values)).argmax(axis=1)
    m = confusion(true, pred.tolist(), len(values))
    per_value = {v: (float(m[i, i] / m[i].sum()) if m[i].sum() else None) for i, v in enumerate(values)}
    return {
        "accuracy": float(np.trace(m) / max(m.sum(), 1)),
        "n": int(m.sum()),
        "chance": 1 / len(values),
        "recall": per_value,
        "confusion": m.tolist(),
        "predicted": pred.tolist(),
    }


def cohen_kappa(a: list[int], b: list[int], n: int) -> float:
    """Cohen's kappa of two raters' labels in 0..n-1: agreement beyond what their label rates give
    by chance (1 perfect, 0 chance); NaN when chance agreement is 1."""
    m = confusion(a, b, n).astype(np.float64)
    total = m.sum()
    if total == 0:
        return float("nan")
    observed = np.trace(m) / total
    expected = float((m.sum(axis=1) / total) @ (m.sum(axis=0) / total))
    return float("nan") if expected >= 1 else float((observed - expected) / (1 - expected))


def judge_agreement(scores_a: np.ndarray, scores_b: np.ndarray) -> dict:
    """Two judges on the same answers: kappa of their top-1 values, and the mean per-answer Spearman
    of their value scores (how alike their whole rankings are)."""
    a = np.asarray(scores_a, dtype=np.float64)
    if a.ndim != 2 or len(a) == 0:
        raise CoupleError(f"judge scores must be (answers, values) with at least one answer; got shape {a.shape}")
    from scipy.stats import spearmanr  # scipy.stats costs ~0.7 s to import: only validity studies need it

    a, b = _scores(a, None, a.shape[1]), _scores(scores_b, len(a), a.shape[1])
    rhos = [spearmanr(x, y)[0] for x, y in zip(a, b)]
    return {
        "kappa": cohen_kappa(a.argmax(1).tolist(), b.argmax(1).tolist(), a.shape[1]),
        "top1_agree": float(np.mean(a.argmax(1) == b.argmax(1))),
        "mean_spearman": float(np.nanmean(rhos)) if rhos else float("nan"),
    }


def convergent(ours: np.ndarray, outside: np.ndarray, values: list[str]) -> dict:
    """Per value, Pearson r across conditions (rows) between a value's level by our instrument and
    by the outside items; NaN columns (a value without outside items) give None. Also the pooled r
    over every (condition, value) of those values after centring each on its mean across conditions."""
    from scipy.stats import pearsonr

    ours, outside = np.asarray(ours, dtype=np.float64), np.asarray(outside, dtype=np.float64)
    if ours.shape != outside.shape or ours.ndim != 2 or ours.shape[1] != len(values):
        raise CoupleError(f"levels must both be (conditions, {len(values)}); got {ours.shape} and {outside.shape}")
    gap = ~(np.isfinite(ours) & np.isfinite(outside))  # a cell missing on either side counts on neither
    ours, outside = np.where(gap, np.nan, ours), np.where(gap, np.nan, outside)
    per_value: dict[str, float | None] = {}
    for j, v in enumerate(values):
        x, y = ours[:, j], outside[:, j]
        ok = np.isfinite(x) & np.isfinite(y)
        if ok.sum() < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
            per_value[v] = None
            continue
        per_value[v] = float(pearsonr(x[ok], y[ok])[0])
    cols = [j for j, v in enumerate(values) if per_value[v] is not None]  # values with a spread on both sides
    cx = ours[:, cols] - np.nanmean(ours[:, cols], axis=0)
    cy = outside[:, cols] - np.nanmean(outside[:, cols], axis=0)
    ok = np.isfinite(cx) & np.isfinite(cy)
    pooled = float(pearsonr(cx[ok], cy[ok])[0]) if ok.sum() >= 3 else None
    known = [r for r in per_value.values() if r is not None]
    return {"per_value": per_value, "median": float(np.median(known)) if known else None, "pooled": pooled}


def retest(a: dict[str, float], b: dict[str, float]) -> float:
    """Spearman between two measurements of one profile (e.g. two templates, or two halves); NaN
    when either has no spread (nothing to rank)."""
    from scipy.stats import spearmanr

    names = [n for n in a if n in b]
    if len(names) < 2:
        raise CoupleError(f"test-retest needs at least 2 values measured both times; shared: {names}")
    x, y = [a[n] for n in names], [b[n] for n in names]
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(spearmanr(x, y)[0])
