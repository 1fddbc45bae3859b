"""Fitting SCMs: from samples or a covariance (per-node least squares given a DAG), learning the
DAG when none is given (greedy BIC search), and recovering W from interventional total effects."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SCMError, SingularSystemError
from .scm import MAX_CONDITION, LinearGaussianSCM, check_covariance

if TYPE_CHECKING:
    import numpy.typing as npt

    from .scm import FloatArray

__all__ = ["fit_scm", "learn_dag", "weights_from_total_effects"]


def _edges_to_parents(names: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[list[int]]:
    idx = {n: i for i, n in enumerate(names)}
    parents: list[list[int]] = [[] for _ in names]
    for a, b in edges:
        if a not in idx or b not in idx:
            raise SCMError(f"edge {a} -> {b} names a value that is not in {list(names)}")
        parents[idx[b]].append(idx[a])
    return parents


def _regress(cov: FloatArray, j: int, pa: list[int]) -> tuple[npt.NDArray[np.floating[Any]], float]:
    """Least-squares coefficients of node j on its parents, and the residual variance."""
    if not pa:
        return np.zeros(0), float(cov[j, j])
    S_pp = cov[np.ix_(pa, pa)]
    if np.linalg.cond(S_pp) > MAX_CONDITION:
        raise SingularSystemError(
            f"parents of value {j} are collinear in the data; remove a redundant edge or add data"
        )
    beta = np.linalg.solve(S_pp, cov[pa, j])
    return beta, float(cov[j, j] - cov[j, pa] @ beta)


def fit_scm(
    names: Sequence[str],
    *,
    data: FloatArray | None = None,
    cov: FloatArray | None = None,
    mean: FloatArray | None = None,
    edges: Iterable[tuple[str, str]] | None = None,
) -> LinearGaussianSCM:
    """Fit W, c and a diagonal Σ_u by per-node least squares (the closed-form maximum-likelihood
    estimate for a Gaussian DAG). Give ``data`` (n x d) or ``cov`` (+ ``mean``). With no ``edges``
    the DAG is learned from the data by :func:`learn_dag`."""
    d = len(names)
    if data is not None:
        X = np.asarray(data, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != d:
            raise SCMError(f"data must be (n, {d}), got {X.shape}")
        if not np.all(np.isfinite(X)):
            raise SCMError("data contains NaN or infinity; drop or impute those rows")
        if X.shape[0] <= d:
            raise SCMError(f"need more than {d} samples to fit {d} values, got {X.shape[0]}")
        mean, cov = X.mean(axis=0), np.cov(X, rowvar=False)
        n = X.shape[0]
    elif cov is not None:
        n = None
    else:
        raise SCMError("give data (samples) or cov (a covariance matrix)")
    cov = check_covariance("covariance", np.asarray(cov, dtype=np.float64))
    if cov.shape != (d, d):
        raise SCMError(f"covariance must be ({d}, {d}) for {d} values")
    mean = np.zeros(d) if mean is None else np.asarray(mean, dtype=np.float64)
    if edges is None:
        edges = learn_dag(names, cov, n_samples=n or 1000)
    parents = _edges_to_parents(names, edges)
    W, c, noise = np.zeros((d, d)), np.zeros(d), np.zeros(d)
    for j, pa in enumerate(parents):
        beta, noise[j] = _regress(cov, j, pa)
        W[pa, j] = beta
        c[j] = mean[j] - (mean[pa] @ beta if pa else 0.0)
    return LinearGaussianSCM(tuple(names), W, c, np.diag(np.maximum(noise, 1e-12)))


def learn_dag(names: Sequence[str], cov: FloatArray, n_samples: int, max_parents: int = 4) -> list[tuple[str, str]]:
    """Greedy hill climbing on the Gaussian BIC over DAGs (add, remove or reverse one edge at a
    time, best improvement first). Score-based search is the standard choice when d is small; it
    finds a local optimum, and for linear-Gaussian data edge directions are identified only up to
    the Markov equivalence class, so the directions it returns are one member of that class."""
    import networkx as nx  # imported here: start-up of the CLI does not need it

    d = len(names)
    cov = check_covariance("covariance", np.asarray(cov, dtype=np.float64))
    penalty = math.log(n_samples) / 2
    cache: dict[tuple[int, frozenset[int]], float] = {}

    def local(j: int, pa: frozenset[int]) -> float:
        key = (j, pa)
        if key not in cache:
            try:
                _, var = _regress(cov, j, sorted(pa))
            except SingularSystemError:
                var = 0.0
            cache[key] = -math.inf if var <= 0 else -n_samples / 2 * math.log(var) - penalty * (len(pa) + 1)
        return cache[key]

    parents: list[frozenset[int]] = [frozenset() for _ in range(d)]
    g = nx.DiGraph()
    g.add_nodes_from(range(d))
    while True:
        best, move = 1e-9, None
        for i in range(d):
            for j in range(d):
                if i == j:
                    continue
                if g.has_edge(i, j):
                    gain = local(j, parents[j] - {i}) - local(j, parents[j])  # remove
                    if gain > best:
                        best, move = gain, ("remove", i, j)
                    g.remove_edge(i, j)  # reverse: j -> i must not close a cycle
                    ok = not nx.has_path(g, j, i) and len(parents[i]) < max_parents
                    g.add_edge(i, j)
                    if ok:
                        gain = (
                            local(j, parents[j] - {i})
                            - local(j, parents[j])
                            + local(i, parents[i] | {j})
                            - local(i, parents[i])
                        )
                        if gain > best:
                            best, move = gain, ("reverse", i, j)
                elif len(parents[j]) < max_parents and not nx.has_path(g, j, i):
                    gain = local(j, parents[j] | {i}) - local(j, parents[j])  # add
                    if gain > best:
                        best, move = gain, ("add", i, j)
        if move is None:
            break
        kind, i, j = move
        g.remove_edge(i, j) if kind != "add" else g.add_edge(i, j)
        parents[j] = parents[j] - {i} if kind != "add" else parents[j] | {i}
        if kind == "reverse":
            g.add_edge(j, i)
            parents[i] = parents[i] | {j}
    return [(names[i], names[j]) for i, j in sorted(g.edges)]


def weights_from_total_effects(total: FloatArray, tol: float = 1e-6, ridge: float = 0.0) -> FloatArray:
    """Recover W from total effects T measured by intervening on each value in turn.

    For a linear SCM T = (I - W)⁻¹ up to a per-row scale (row i: how far one unit of the i-th
    intervention moved every value), so W = I - T̃⁻¹ with T̃ = T scaled to a unit diagonal. With
    ``ridge`` > 0 (noisy measurements, where that inverse amplifies the noise), each column of W is
    the ridge solution of T̃ (e_j - w_j) = e_j with w_jj = 0 instead. Weights below ``tol`` in
    magnitude are dropped; if noise leaves a cycle, its weakest edge is dropped until the graph is
    a DAG."""
    import networkx as nx

    T = np.asarray(total, dtype=np.float64)
    if T.ndim != 2 or T.shape[0] != T.shape[1]:
        raise SCMError(f"total-effect matrix must be square, got shape {T.shape}")
    if not np.all(np.isfinite(T)):
        raise SCMError("total-effect matrix contains NaN or infinity")
    diag = np.diag(T)
    if np.any(np.abs(diag) < 1e-12):
        raise SingularSystemError(
            "an intervention did not move its own value (zero on the diagonal of T); "
            "re-measure that value's effect or drop it"
        )
    Tn = T / diag[:, None]
    d = len(T)
    if ridge > 0:
        W = np.zeros((d, d))
        for j in range(d):
            others = [i for i in range(d) if i != j]
            A = Tn[:, others]
            W[others, j] = np.linalg.solve(A.T @ A + ridge * np.eye(d - 1), A.T @ (Tn[:, j] - np.eye(d)[:, j]))
    else:
        if np.linalg.cond(Tn) > MAX_CONDITION:
            raise SingularSystemError("total-effect matrix is singular; it cannot come from a DAG SCM")
        W = np.eye(d) - np.linalg.solve(Tn, np.eye(d))  # I - Tn⁻¹
    np.fill_diagonal(W, 0.0)
    W[np.abs(W) < tol] = 0.0
    g = nx.DiGraph(list(zip(*np.nonzero(W))))
    while True:
        try:
            cycle = nx.find_cycle(g)
        except nx.NetworkXNoCycle:
            return W
        i, j = min(cycle, key=lambda e: abs(W[e[0], e[1]]))
        W[i, j] = 0.0
        g.remove_edge(i, j)
