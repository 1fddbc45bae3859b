"""R you can trust, used only as far as it is trusted: the response matrix from item-level slopes,
its bootstrap standard errors, and how far to shrink it toward its diagonal.

Calibration steers each value i and records, per calibration item k, the slope of the item's score
(``slopes[i, k]``). R[i, j] is the mean slope of value j's items, ipsatised like the instrument's
profile (minus the mean over values). A noisy off-diagonal makes the decoupled solve spend the
fluency budget compensating noise, so the solve uses ``R_α = diag(R) + α (R - diag(R))`` with α
chosen by **cross-validation on the calibration items**: R fitted on a random part of each value's
items, the solve's coefficients judged by the response the *other* items measure. α = 0 is dividing
by the diagonal, so on calibration items the chosen α is never worse than it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ValueSystemError

__all__ = [
    "solve_coefficients",
    "r_from_slopes",
    "bootstrap_se",
    "choose_shrinkage",
    "fit_response",
    "shrink_off_diagonal",
    "RIDGE",
    "ALPHAS",
    "CV_SPLITS",
    "CV_DRAWS",
    "BOOTSTRAP",
]

# regularisation of the coefficient solve, relative to the mean of diag(RRᵀ): small enough to leave
# a well-conditioned R's solution alone, large enough that near-collinear rows cannot blow c up
RIDGE = 1e-3
ALPHAS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))  # 0: the diagonal only; 1: all of R
CV_SPLITS = 40  # random splits of each value's items into a fitting part and a judging part
CV_DRAWS = 200  # requested changes per split, drawn from the prior's covariance
BOOTSTRAP = 200  # resamples of each value's items for R's standard errors


def solve_coefficients(
    R: np.ndarray, delta: np.ndarray, w: np.ndarray | None = None, ridge: float = RIDGE
) -> np.ndarray:
    """c minimising Σ_j w_j ((Rᵀc)_j - Δ_j)² + λ|c|² (R[i, j]: steer i, measured j); ``delta`` may
    be (V,) or (V, n) for n changes at once. λ = ``ridge`` x the mean of diag(RRᵀ)."""
    V = len(R)
    w = np.ones(V) if w is None else np.asarray(w, dtype=np.float64)
    lam = ridge * float(np.mean(np.sum(R * R, axis=1)))
    A = R @ (w[:, None] * R.T) + lam * np.eye(V)
    rhs = R @ (w[:, None] * delta) if np.ndim(delta) == 2 else R @ (w * delta)
    return np.linalg.solve(A, rhs)


def shrink_off_diagonal(R: np.ndarray, alpha: float) -> np.ndarray:
    """diag(R) + α (R - diag(R)): the off-diagonal kept at share α."""
    D = np.diag(np.diag(R))
    return D + alpha * (R - D)


def r_from_slopes(slopes: np.ndarray, item_value: np.ndarray, n_values: int) -> np.ndarray:
    """(V, V) R from (V, n_items) item slopes: value j's items' mean slope, minus the mean over
    values (the instruments ipsatise their profiles the same way)."""
    means = np.stack([slopes[:, item_value == j].mean(axis=1) for j in range(n_values)], axis=1)
    return means - means.mean(axis=1, keepdims=True)


def _resample(item_value: np.ndarray, n_values: int, rng: np.random.Generator) -> np.ndarray:
    """Item indices drawn with replacement within each value (stratified bootstrap)."""
    return np.concatenate(
        [rng.choice(np.flatnonzero(item_value == j), size=int((item_value == j).sum())) for j in range(n_values)]
    )


def bootstrap_se(
    slopes: np.ndarray, item_value: np.ndarray, n_values: int, n: int = BOOTSTRAP, seed: int = 0
) -> np.ndarray:
    """Standard error of every entry of R over resamples of each value's items."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n):
        idx = _resample(item_value, n_values, rng)
        draws.append(r_from_slopes(slopes[:, idx], item_value[idx], n_values))
    return np.std(draws, axis=0, ddof=1)


def _split(item_value: np.ndarray, n_values: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random split of each value's items: the larger part fits R, the rest judges it."""
    fit, judge = [], []
    for j in range(n_values):
        idx = rng.permutation(np.flatnonzero(item_value == j))
        k = (len(idx) + 1) // 2
        fit.append(idx[:k])
        judge.append(idx[k:])
    return np.concatenate(fit), np.concatenate(judge)


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of matching columns of two (V, n) arrays."""
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    return (a * b).sum(axis=0) / np.sqrt((a * a).sum(axis=0) * (b * b).sum(axis=0) + 1e-300)


def choose_shrinkage(
    slopes: np.ndarray,
    item_value: np.ndarray,
    n_values: int,
    cov: np.ndarray,
    alphas=ALPHAS,
    splits: int = CV_SPLITS,
    draws: int = CV_DRAWS,
    seed: int = 0,
) -> dict:
    """Cross-validated α: for random item splits and requested changes Δ ~ N(0, ``cov``), the
    coefficients solved with R_α of the fitting items, scored by the correlation of the change the
    judging items' R predicts for them with Δ. Returns α, each α's mean score and its standard error
    over splits, and the diagonal's (α = 0) and the full R's (α = 1) scores."""
    if min(int((item_value == j).sum()) for j in range(n_values)) < 2:
        raise ValueSystemError(
            "cross-validating R needs at least two calibration items per value; "
            "give each value two or more items in the system's texts and extract again"
        )
    rng = np.random.default_rng(seed)
    L = np.linalg.cholesky(cov + 1e-9 * np.eye(n_values))
    scores = np.zeros((splits, len(alphas)))
    for s in range(splits):
        fit, judge = _split(item_value, n_values, rng)
        R_fit = r_from_slopes(slopes[:, fit], item_value[fit], n_values)
        R_judge = r_from_slopes(slopes[:, judge], item_value[judge], n_values)
        delta = L @ rng.standard_normal((n_values, draws))
        delta -= delta.mean(axis=0)  # the instrument is ipsatised: only changes relative to the mean count
        for a, alpha in enumerate(alphas):
            c = solve_coefficients(shrink_off_diagonal(R_fit, alpha), delta)
            scores[s, a] = _row_corr(R_judge.T @ c, delta).mean()
    mean = scores.mean(axis=0)
    se = scores.std(axis=0, ddof=1) / np.sqrt(splits)
    best = int(np.argmax(mean))
    return {
        "alpha": float(alphas[best]),
        "alphas": [float(a) for a in alphas],
        "score": mean.tolist(),
        "score_se": se.tolist(),
        "diagonal": float(mean[0]),
        "full": float(mean[-1]),
        "splits": splits,
        "draws": draws,
        "measure": "correlation of the change held-out calibration items predict with the requested change",
    }


def fit_response(slopes: np.ndarray, item_value: np.ndarray, system) -> dict:
    """What calibration stores about R (``pack.metrics["response_fit"]``): its standard errors and
    the cross-validated shrinkage, with requested changes drawn from ``system``'s prior."""
    from ..values import prior_scm

    V = len(system.names)
    cv = choose_shrinkage(slopes, item_value, V, prior_scm(system).cov)
    return {
        **cv,
        "se": bootstrap_se(slopes, item_value, V).tolist(),
        "n_items": len(item_value),
        "items_per_value": int(np.bincount(item_value, minlength=V).min()),
    }
