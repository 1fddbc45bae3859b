"""The linear-Gaussian structural causal model over value priorities, in closed form.

    v = c + Wᵀ v + u,   u ~ N(0, Σ_u),   W[i, j] = weight of the edge i -> j (a DAG),
    so  v = (I - Wᵀ)⁻¹ (c + u).

Counterfactuals follow Pearl's three steps: **abduction** (the exact Gaussian posterior of u given
a full, partial or noisy profile), **action** (hard, soft or shift interventions, or a prioritized
intervention solved in weighted least squares) and **prediction** (the posterior noise pushed
through the intervened model). Everything is float64 and uses ``solve``/Cholesky, never ``inv``.
This module knows value *names* only; it knows nothing of language models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

import numpy as np

from .errors import CycleError, NotPositiveDefiniteError, SCMError, SingularSystemError, ValueNameError

__all__ = [
    "LinearGaussianSCM",
    "Posterior",
    "Intervention",
    "Counterfactual",
    "abduct",
    "counterfactual",
    "prioritized_intervention",
    "check_covariance",
    "topological_order",
]

MAX_CONDITION = 1e12  # beyond this a solve loses most of float64's digits
TRIANGULAR_FROM = 64  # from this many values on, solves are triangular (scipy); below, numpy's LU

try:  # numpy's LAPACK gesv gufuncs, which np.linalg.solve calls after ~3 µs of argument checks:
    from numpy.linalg._umath_linalg import solve as _gesv, solve1 as _gesv1  # more than a 10 x 10 solve

    def _lu_solve(A: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (_gesv1 if b.ndim == 1 else _gesv)(A, b, signature="dd->d")
except ImportError:  # pragma: no cover - a numpy without them: the public route
    _lu_solve = np.linalg.solve


def _finite(name: str, x: np.ndarray) -> np.ndarray:
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise SCMError(f"{name} contains NaN or infinity; pass finite numbers")
    return x


def check_covariance(name: str, cov: np.ndarray, allow_singular: bool = False) -> np.ndarray:
    """A symmetric positive (semi)definite float64 matrix, or a clear error."""
    cov = _finite(name, cov)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise SCMError(f"{name} must be a square matrix, got shape {cov.shape}")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-10):
        raise NotPositiveDefiniteError(f"{name} is not symmetric; pass (C + C.T) / 2 if that is intended")
    eig = np.linalg.eigvalsh(cov)
    tol = -1e-10 * max(1.0, float(np.abs(eig).max()))
    if (eig.min() < tol) if allow_singular else (eig.min() <= 0):
        raise NotPositiveDefiniteError(
            f"{name} is not positive definite (smallest eigenvalue {eig.min():.3g}); "
            f"fix the variances/correlations or add a small ridge to the diagonal"
        )
    return (cov + cov.T) / 2


def topological_order(W: np.ndarray) -> list[int] | None:
    """Indices in an order where every edge i -> j (W[i, j] != 0) goes forward; None if cyclic."""
    indeg = (W != 0).sum(axis=0)
    ready = [i for i in range(len(W)) if indeg[i] == 0]
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in np.nonzero(W[i])[0]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(int(j))
    return order if len(order) == len(W) else None


@dataclass(frozen=True)
class LinearGaussianSCM:
    """A validated linear-Gaussian SCM over named values."""

    names: tuple[str, ...]
    weights: np.ndarray  # W, (d, d), W[i, j] = effect of value i on value j
    intercept: np.ndarray  # c, (d,)
    noise_cov: np.ndarray  # Σ_u, (d, d), positive definite

    def __post_init__(self) -> None:
        d = len(self.names)
        if len(set(self.names)) != d:
            raise SCMError("value names must be unique")
        W = _finite("weights", self.weights)
        c = _finite("intercept", self.intercept)
        if W.shape != (d, d) or c.shape != (d,):
            raise SCMError(f"weights must be ({d}, {d}) and intercept ({d},) for {d} values")
        if np.any(np.diag(W) != 0):
            raise CycleError("weights have a self-loop (non-zero diagonal); set W[i, i] = 0")
        if topological_order(W) is None:
            import networkx as nx  # only to name the cycle; keeps start-up light

            g = nx.DiGraph([(self.names[i], self.names[j]) for i, j in zip(*np.nonzero(W))])
            cycle = nx.find_cycle(g)
            path = " -> ".join([e[0] for e in cycle] + [cycle[-1][1]])
            raise CycleError(f"the value graph has a cycle: {path}; remove one of its edges")
        object.__setattr__(self, "weights", W)
        object.__setattr__(self, "intercept", c)
        object.__setattr__(self, "noise_cov", check_covariance("noise covariance", self.noise_cov))

    @property
    def dim(self) -> int:
        return len(self.names)

    @property
    def graph(self):
        """The DAG as a networkx DiGraph with edge attribute ``weight``."""
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self.names)
        for i, j in zip(*np.nonzero(self.weights)):
            g.add_edge(self.names[i], self.names[j], weight=float(self.weights[i, j]))
        return g

    @cached_property
    def _position(self) -> dict[str, int]:
        return {n: i for i, n in enumerate(self.names)}

    def index(self, name: str) -> int:
        try:
            return self._position[name]
        except KeyError:
            raise ValueNameError(f"unknown value {name!r}; valid names: {', '.join(self.names)}") from None

    @cached_property
    def order(self) -> np.ndarray:
        """A topological order of the values (causes first)."""
        return np.array(topological_order(self.weights))

    @cached_property
    def _factor(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray, object]:
        """(order p, rank = p⁻¹, matrix, LAPACK trtrs), built once per model. From TRIANGULAR_FROM
        values on: (I - Wᵀ)[p][:, p], unit lower triangular, solved by O(d²) forward substitution
        (scipy's trtrs). Below: I - Wᵀ as is, solved by numpy's LU -- as fast at this size, and it
        spares the ~0.15 s that importing scipy.linalg adds to a CLI start (p, rank, trtrs None)."""
        A = np.eye(self.dim) - self.weights.T
        if self.dim < TRIANGULAR_FROM:
            return None, None, A, None
        from scipy.linalg import get_lapack_funcs

        p = self.order
        rank = np.empty_like(p)
        rank[p] = np.arange(self.dim)
        L = np.asfortranarray(A[np.ix_(p, p)])
        return p, rank, L, get_lapack_funcs("trtrs", (L,))

    def propagate(
        self, x: np.ndarray, cut: tuple[list[int], float] | None = None, transpose: bool = False
    ) -> np.ndarray:
        """(I - W'ᵀ)⁻¹ x for a vector or a matrix of columns (``transpose``: (I - W')⁻¹ x), one
        solve. W' = W, or with ``cut = (rows, s)`` the edges into values ``rows`` scaled by 1 - s
        (what an intervention does: it edits those rows of the matrix and keeps the order)."""
        p, rank, M, trtrs = self._factor
        if cut is not None and len(cut[0]):
            rows, s = cut
            M = M.copy(order="K")
            for r in rows:
                k = r if rank is None else rank[r]
                if s == 1.0:
                    M[k] = 0.0  # a hard do(): no edges in
                else:
                    M[k] *= 1.0 - s
                M[k, k] = 1.0
        x = np.asarray(x, dtype=np.float64)
        if trtrs is None:
            return _lu_solve(M.T if transpose else M, x)
        out, _ = trtrs(M, x[p], lower=1, trans=int(transpose), unitdiag=1)
        return out[rank]

    @cached_property
    def prior(self) -> "Posterior":
        """The noise before any observation, N(0, Σ_u), and the profile it implies (read-only)."""
        u_mean, u_cov, mean = np.zeros(self.dim), self.noise_cov.view(), self.mean
        for a in (u_mean, u_cov, mean):
            a.flags.writeable = False
        return Posterior(u_mean, u_cov, mean, self)

    @cached_property
    def _no_uncertainty(self) -> np.ndarray:
        """A read-only d x d zero covariance that costs no memory (an exactly observed profile)."""
        return np.broadcast_to(np.float64(0.0), (self.dim, self.dim))

    def total_effects(self) -> np.ndarray:
        """T[i, j] = change of v_j per unit shift of v_i, summed over all paths: (I - W)⁻¹."""
        return self.propagate(np.eye(self.dim)).T

    @property
    def mean(self) -> np.ndarray:
        return self.propagate(self.intercept)

    @property
    def cov(self) -> np.ndarray:
        A_S = self.propagate(self.noise_cov)
        return self.propagate(A_S.T)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws of v, shape (n, d)."""
        u = rng.multivariate_normal(np.zeros(self.dim), self.noise_cov, size=n)
        return self.propagate((self.intercept + u).T).T


@dataclass
class Posterior:
    """Abducted noise N(u_mean, u_cov) and the implied factual profile N(mean, cov); ``cov`` is
    computed on first use (O(d³)), so questions about means stay O(d²) for large systems."""

    u_mean: np.ndarray
    u_cov: np.ndarray
    mean: np.ndarray
    scm: LinearGaussianSCM = field(repr=False, compare=False)

    @cached_property
    def cov(self) -> np.ndarray:
        if not self.u_cov.any():  # an exactly observed profile: no uncertainty left
            return np.zeros_like(self.u_cov)
        c = self.scm.propagate(self.scm.propagate(self.u_cov).T)
        return (c + c.T) / 2


def abduct(
    scm: LinearGaussianSCM,
    observed: Mapping[str, float] | None = None,
    obs_sd: Mapping[str, float] | float = 0.0,
) -> Posterior:
    """Exact Gaussian posterior of u given some observed values, each with noise sd ``obs_sd``.

    y = H (I - Wᵀ)⁻¹ (c + u) + ε,  ε ~ N(0, R): the standard Gaussian conditioning, solved with a
    Cholesky factor of the innovation covariance S = B Σ_u Bᵀ + R. No observation gives the prior.
    """
    if not observed:
        return scm.prior
    in_order = tuple(observed) == scm.names  # the usual case: a whole profile in the model's order
    idx = range(scm.dim) if in_order else np.fromiter(map(scm.index, observed), np.intp, len(observed))
    y = _finite("observed profile", np.fromiter(observed.values(), np.float64, len(observed)))
    scalar = isinstance(obs_sd, (float, int))
    sds = [float(obs_sd)] if scalar else [float(obs_sd.get(k, 0.0)) for k in observed]
    if not all(math.isfinite(x) and x >= 0 for x in sds):
        raise SCMError("observation sd must be finite and >= 0")
    if len(idx) == scm.dim and not any(sds):  # every value known exactly: u = (I - Wᵀ) v - c
        v = y if in_order else y[np.argsort(idx)]
        return Posterior(v - v @ scm.weights - scm.intercept, scm._no_uncertainty, v, scm)
    E = np.zeros((scm.dim, len(idx)))
    E[idx, np.arange(len(idx))] = 1.0
    B = scm.propagate(E, transpose=True).T  # rows idx of (I - Wᵀ)⁻¹: O(d² |idx|)
    Su = scm.noise_cov
    sd = np.array(sds) if len(sds) == len(idx) else np.full(len(idx), sds[0])
    S = B @ Su @ B.T + np.diag(sd**2)
    redundant = ("the observations are (nearly) redundant (condition number {}); "
                 "drop duplicated values or give them a non-zero observation sd")
    try:
        L = np.linalg.cholesky(S)  # S = L Lᵀ
    except np.linalg.LinAlgError:
        raise SingularSystemError(redundant.format("inf")) from None
    diag = np.diag(L)
    cond = float((diag.max() / diag.min()) ** 2) if diag.min() > 0 else math.inf  # cheap estimate
    if not math.isfinite(cond) or cond > MAX_CONDITION:
        raise SingularSystemError(redundant.format(f"{cond:.2g}"))
    K_T = np.linalg.solve(L.T, np.linalg.solve(L, B @ Su))  # S⁻¹ B Σ_u  (= Kᵀ)
    u_mean = K_T.T @ (y - B @ scm.intercept)
    u_cov = Su - (B @ Su).T @ K_T
    u_cov = (u_cov + u_cov.T) / 2
    return Posterior(u_mean, u_cov, scm.propagate(scm.intercept + u_mean), scm)


@dataclass(frozen=True)
class Intervention:
    """``hard``: do(v_i = x), incoming edges cut (``strength`` < 1 makes it soft: the mechanism is
    kept with weight 1 - strength). ``shift``: v_i's mechanism plus an additive δ_i."""

    hard: Mapping[str, float] = field(default_factory=dict)
    shift: Mapping[str, float] = field(default_factory=dict)
    strength: float = 1.0

    def __post_init__(self) -> None:
        both = set(self.hard) & set(self.shift) if self.hard and self.shift else ()
        if both:
            raise SCMError(f"value(s) {', '.join(sorted(both))} both set and shifted; choose one")
        if not 0.0 <= self.strength <= 1.0:
            raise SCMError(f"intervention strength must be in [0, 1], got {self.strength}")
        if not all(math.isfinite(x) for x in (*self.hard.values(), *self.shift.values())):
            raise SCMError("intervention values contain NaN or infinity; pass finite numbers")

    @property
    def targets(self) -> list[str]:
        return [*self.hard, *self.shift]


@dataclass
class Counterfactual:
    """The counterfactual profile N(mean, cov) and what produced it (``cov`` computed on first use)."""

    mean: np.ndarray
    factual: Posterior
    intervention: Intervention
    intercept: np.ndarray = field(repr=False)  # c' of the intervened equations
    cut_rows: list[int] = field(repr=False)  # values whose incoming edges (and noise) it scales
    cut: float = field(repr=False)  # ... by 1 - cut (the intervention's strength)

    @cached_property
    def noise_kept(self) -> np.ndarray:
        """m: 1 where a value keeps its noise, 1 - strength where it is set."""
        m = np.ones(len(self.mean))
        m[self.cut_rows] = 1 - self.cut
        return m

    @cached_property
    def sources(self) -> np.ndarray:
        """The change the intervention injects at each value given the factual world (0 where
        none): (I - W'ᵀ)(v* - v_f) = (c' - c) - (1 - m) ⊙ E[u] + (W' - W)ᵀ v_f."""
        scm, f, rows = self.factual.scm, self.factual, self.cut_rows
        out = (self.intercept - scm.intercept) - (1 - self.noise_kept) * f.u_mean
        out[rows] -= self.cut * (scm.weights[:, rows].T @ f.mean)
        return out

    @cached_property
    def intervened_weights(self) -> np.ndarray:
        """W' (d x d): the weights of the intervened model."""
        W = self.factual.scm.weights.copy()
        W[:, self.cut_rows] *= 1 - self.cut
        return W

    @cached_property
    def cov(self) -> np.ndarray:
        """A' diag(m) Cov[u] diag(m) A'ᵀ with A' = (I - W'ᵀ)⁻¹."""
        m = self.noise_kept
        inner = (m[:, None] * self.factual.u_cov) * m[None, :]
        if not inner.any():
            return np.zeros_like(inner)
        scm, cut = self.factual.scm, (self.cut_rows, self.cut)
        c = scm.propagate(scm.propagate(inner, cut).T, cut)
        return (c + c.T) / 2

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def counterfactual(scm: LinearGaussianSCM, factual: Posterior, iv: Intervention) -> Counterfactual:
    """Push the abducted noise through the intervened model: mean A'(c' + m ⊙ E[u]),
    covariance A' diag(m) Cov[u] diag(m) A'ᵀ with A' = (I - W'ᵀ)⁻¹."""
    # the intervened equations v = c' + W'ᵀ v + m ⊙ u: a set value keeps its mechanism (edges,
    # noise) with weight 1 - s and is pulled to x with weight s; W' is never formed (O(d²))
    s = iv.strength
    rows = [scm.index(name) for name in iv.hard]
    c, u = scm.intercept.copy(), factual.u_mean.copy()
    for i, x in zip(rows, iv.hard.values()):
        c[i] = (1 - s) * c[i] + s * x
        u[i] *= 1 - s
    for name, delta in iv.shift.items():
        c[scm.index(name)] += delta
    return Counterfactual(scm.propagate(c + u, (rows, s)), factual, iv, c, rows, s)


def prioritized_intervention(
    scm: LinearGaussianSCM,
    factual: Posterior,
    targets: Mapping[str, float],
    weights: Mapping[str, float] | None = None,
    plausibility: float = 0.0,
) -> Intervention:
    """Shifts δ on the targeted values that best meet conflicting targets, in closed form:

        min_δ  Σ_k w_k (v*_k(δ) - t_k)²  +  λ Σ_k (δ_k / σ_k)²,   v*(δ) = v_f + (I - Wᵀ)⁻¹ δ

    with priority weights w (scaled so the largest is 1) and λ = ``plausibility`` pricing each
    shift in noise standard deviations. λ = 0 meets every target exactly (the targeted block of a
    DAG's total-effect matrix is unit triangular, hence invertible); λ > 0 trades targets off
    against how implausible the required shifts are, and higher-priority targets win.
    """
    if not targets:
        raise SCMError("no targets given")
    if not math.isfinite(plausibility) or plausibility < 0:
        raise SCMError(f"plausibility must be >= 0, got {plausibility}")
    names = list(targets)
    K = [scm.index(n) for n in names]
    t = _finite("targets", np.array([targets[n] for n in names]))
    w = np.array([float((weights or {}).get(n, 1.0)) for n in names])
    if np.any(~np.isfinite(w)) or np.any(w <= 0):
        raise SCMError("priority weights must be positive and finite")
    w = w / w.max()
    A_KK = scm.total_effects()[np.ix_(K, K)].T  # rows: affected target, cols: shifted target
    penalty = plausibility / np.diag(scm.noise_cov)[K]
    lhs = A_KK.T @ (w[:, None] * A_KK) + np.diag(penalty)
    rhs = A_KK.T @ (w * (t - factual.mean[K]))
    if np.linalg.cond(lhs) > MAX_CONDITION:
        raise SingularSystemError("the prioritized intervention is ill-conditioned; raise plausibility")
    delta = np.linalg.solve(lhs, rhs)
    return Intervention(shift=dict(zip(names, map(float, delta))))

