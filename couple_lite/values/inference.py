"""Pearl's three steps on a linear-Gaussian SCM, in closed form: **abduction** (the exact Gaussian
posterior of the noise given a full, partial or noisy profile), **action** (hard, soft or shift
interventions, or a prioritized intervention solved in weighted least squares) and **prediction**
(the posterior noise pushed through the intervened model, never forming W')."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from ..errors import SCMError, SingularSystemError
from .scm import MAX_CONDITION, LinearGaussianSCM, Posterior, finite_array

__all__ = ["Intervention", "Counterfactual", "abduct", "counterfactual", "prioritized_intervention"]

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]
    IndexArray = npt.NDArray[np.intp]


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
    y = finite_array("observed profile", np.fromiter(observed.values(), np.float64, len(observed)))
    sds = [float(obs_sd)] if isinstance(obs_sd, (float, int)) else [float(obs_sd.get(k, 0.0)) for k in observed]
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
    redundant = (
        "the observations are (nearly) redundant (condition number {}); "
        "drop duplicated values or give them a non-zero observation sd"
    )
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

    mean: FloatArray
    factual: Posterior
    intervention: Intervention
    intercept: FloatArray = field(repr=False)  # c' of the intervened equations
    cut_rows: list[int] = field(repr=False)  # values whose incoming edges (and noise) it scales
    cut: float = field(repr=False)  # ... by 1 - cut (the intervention's strength)

    @cached_property
    def noise_kept(self) -> FloatArray:
        """m: 1 where a value keeps its noise, 1 - strength where it is set."""
        m = np.ones(len(self.mean))
        m[self.cut_rows] = 1 - self.cut
        return m

    @cached_property
    def sources(self) -> FloatArray:
        """The change the intervention injects at each value given the factual world (0 where
        none): (I - W'ᵀ)(v* - v_f) = (c' - c) - (1 - m) ⊙ E[u] + (W' - W)ᵀ v_f."""
        scm, f, rows = self.factual.scm, self.factual, self.cut_rows
        out = (self.intercept - scm.intercept) - (1 - self.noise_kept) * f.u_mean
        out[rows] -= self.cut * (scm.weights[:, rows].T @ f.mean)
        return out

    @cached_property
    def intervened_weights(self) -> FloatArray:
        """W' (d x d): the weights of the intervened model."""
        W: FloatArray = self.factual.scm.weights.copy()
        W[:, self.cut_rows] *= 1 - self.cut
        return W

    @cached_property
    def cov(self) -> FloatArray:
        """A' diag(m) Cov[u] diag(m) A'ᵀ with A' = (I - W'ᵀ)⁻¹."""
        m = self.noise_kept
        inner = (m[:, None] * self.factual.u_cov) * m[None, :]
        if not inner.any():
            return np.zeros_like(inner)
        scm, cut = self.factual.scm, (self.cut_rows, self.cut)
        c = scm.propagate(scm.propagate(inner, cut).T, cut)
        sym: FloatArray = (c + c.T) / 2
        return sym

    @property
    def sd(self) -> FloatArray:
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
    t = finite_array("targets", np.array([targets[n] for n in names]))
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
