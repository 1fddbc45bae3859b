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
TRIANGULAR_FROM = 64  # from this many values on, solves run as triangular solves in topological order


def _finite(name: str, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
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

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueNameError(f"unknown value {name!r}; valid names: {', '.join(self.names)}") from None

    @cached_property
    def order(self) -> np.ndarray:
        """A topological order of the values (causes first)."""
        return np.array(topological_order(self.weights))

    def propagate(self, x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """(I - Wᵀ)⁻¹ x for a vector or a matrix of columns. For large systems a triangular solve in
        topological order (O(d²) per column; ``weights`` must keep this SCM's order, as every
        intervention does -- else a general solve)."""
        W = self.weights if weights is None else weights
        if self.dim < TRIANGULAR_FROM:
            return np.linalg.solve(np.eye(self.dim) - W.T, x)
        from scipy.linalg import solve_triangular  # only large systems need it

        p = self.order
        L = -W.T[np.ix_(p, p)]  # row i: minus the weights into the i-th value in order
        if np.triu(L, 1).any():
            np.fill_diagonal(L, 1.0)
            out = np.linalg.solve(L, x[p])
        else:
            out = solve_triangular(L, x[p], lower=True, unit_diagonal=True, check_finite=False)
        res = np.empty_like(out)
        res[p] = out
        return res

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


@dataclass(frozen=True)
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
    observed = dict(observed or {})
    idx = [scm.index(k) for k in observed]
    y = _finite("observed profile", np.array([observed[k] for k in observed], dtype=np.float64))
    if isinstance(obs_sd, Mapping):
        sd = np.array([float(obs_sd.get(k, 0.0)) for k in observed])
    else:
        sd = np.full(len(idx), float(obs_sd))
    if np.any(~np.isfinite(sd)) or np.any(sd < 0):
        raise SCMError("observation sd must be finite and >= 0")
    Su = scm.noise_cov
    if len(set(idx)) == scm.dim and not sd.any():  # every value known exactly: u = (I - Wᵀ) v - c
        v = np.empty(scm.dim)
        v[idx] = y
        u = v - scm.weights.T @ v - scm.intercept
        return Posterior(u, np.zeros((scm.dim, scm.dim)), v, scm)
    if not idx:
        u_mean, u_cov = np.zeros(scm.dim), Su.copy()
    else:
        A = scm.propagate(np.eye(scm.dim))  # (I - Wᵀ)⁻¹, d x d, cheap for value systems
        B = A[idx]
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
        both = set(self.hard) & set(self.shift)
        if both:
            raise SCMError(f"value(s) {', '.join(sorted(both))} both set and shifted; choose one")
        if not 0.0 <= self.strength <= 1.0:
            raise SCMError(f"intervention strength must be in [0, 1], got {self.strength}")
        _finite("intervention values", np.array([*self.hard.values(), *self.shift.values()], float))

    @property
    def targets(self) -> list[str]:
        return [*self.hard, *self.shift]


def _intervened(scm: LinearGaussianSCM, iv: Intervention) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(c', W', m): the intervened structural equations v = c' + W'ᵀ v + m ⊙ u."""
    c, W, m = scm.intercept.copy(), scm.weights.copy(), np.ones(scm.dim)
    s = iv.strength
    for name, x in iv.hard.items():
        i = scm.index(name)
        c[i] = (1 - s) * c[i] + s * x
        W[:, i] *= 1 - s
        m[i] = 1 - s
    for name, delta in iv.shift.items():
        c[scm.index(name)] += delta
    return c, W, m


@dataclass(frozen=True)
class Counterfactual:
    """The counterfactual profile N(mean, cov) and what produced it (``cov`` computed on first use)."""

    mean: np.ndarray
    factual: Posterior
    intervention: Intervention
    intervened_weights: np.ndarray
    sources: np.ndarray  # per-value change injected by the intervention (0 where none)
    noise_kept: np.ndarray = field(repr=False)  # m: 1 where a value keeps its noise, 0 where set

    @cached_property
    def cov(self) -> np.ndarray:
        """A' diag(m) Cov[u] diag(m) A'ᵀ with A' = (I - W'ᵀ)⁻¹."""
        m = self.noise_kept
        inner = (m[:, None] * self.factual.u_cov) * m[None, :]
        if not inner.any():
            return np.zeros_like(inner)
        scm, W2 = self.factual.scm, self.intervened_weights
        c = scm.propagate(scm.propagate(inner, W2).T, W2)
        return (c + c.T) / 2

    @property
    def sd(self) -> np.ndarray:
        return np.sqrt(np.clip(np.diag(self.cov), 0.0, None))


def counterfactual(scm: LinearGaussianSCM, factual: Posterior, iv: Intervention) -> Counterfactual:
    """Push the abducted noise through the intervened model: mean A'(c' + m ⊙ E[u]),
    covariance A' diag(m) Cov[u] diag(m) A'ᵀ with A' = (I - W'ᵀ)⁻¹."""
    c2, W2, m = _intervened(scm, iv)
    mean = scm.propagate(c2 + m * factual.u_mean, W2)
    # the change the intervention injects at each intervened node, given the factual world:
    # (I - W'ᵀ)(v* - v_f) = (c' - c) - (1 - m) ⊙ E[u] + (W' - W)ᵀ v_f
    sources = (c2 - scm.intercept) - (1 - m) * factual.u_mean + (W2 - scm.weights).T @ factual.mean
    return Counterfactual(mean, factual, iv, W2, sources, m)


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

