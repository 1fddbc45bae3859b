"""Prior SCMs for value systems: a DAG plus weights and noise whose implied correlations follow
the system's structure (the circumplex for Schwartz's values, groups for Moral Foundations).

The correlations come from theory and published data; the DAG's *directions* are a modelling
choice (a linear-Gaussian model fitted to correlations cannot identify them). We order values as
the system's ``order`` says: for Schwartz's values the four poles of the two higher-order
dimensions first (power: self-enhancement, self-direction: openness to change, universalism:
self-transcendence, security: conservation), then the values between them. Each value gets every
earlier value as a candidate parent; edges weaker than ``prune`` are dropped and the rest refitted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import NotPositiveDefiniteError
from .fit import fit_scm
from .scm import LinearGaussianSCM
from .systems import ValueSystem, load_value_system

if TYPE_CHECKING:
    from .scm import FloatArray

__all__ = ["prior_correlation", "prior_scm", "IPSATIZED_CIRCUMPLEX", "RAW_CIRCUMPLEX"]

# r(θ) = a + b cos θ fitted to mean PVQ-40 correlations at circular distance 1..5 (151 adults):
RAW_CIRCUMPLEX = (0.230, 0.291)  # raw scores: .48 .29 .16 -.01 -.06
IPSATIZED_CIRCUMPLEX = (-0.063, 0.406)  # person-centred scores: .29 .02 -.17 -.40 -.46
BLAS_THREADS_FROM = 64  # values; below this, limiting BLAS threads (~6 ms on first use) buys nothing


def prior_correlation(system: ValueSystem, circumplex: tuple[float, float] | None = None) -> FloatArray:
    """The prior correlation matrix: explicit, circumplex (angles) or group-based."""
    if system.correlations is not None:
        R = np.array(system.correlations, dtype=np.float64)
    elif all(v.angle is not None for v in system.values):
        a, b = circumplex or system.circumplex or IPSATIZED_CIRCUMPLEX
        ang = np.radians([v.angle for v in system.values if v.angle is not None])  # (all are)
        R = a + b * np.cos(ang[:, None] - ang[None, :])
    else:
        within, between = system.group_correlation
        groups = [v.group for v in system.values]
        R = np.array([[within if gi is not None and gi == gj else between for gj in groups] for gi in groups])
    np.fill_diagonal(R, 1.0)
    eig = np.linalg.eigvalsh((R + R.T) / 2)
    if eig.min() <= 0 or not math.isfinite(eig.min()):
        raise NotPositiveDefiniteError(
            f"the prior correlations of value system {system.name!r} are not positive definite "
            f"(smallest eigenvalue {eig.min():.3g}); weaken the correlations"
        )
    return R


def prior_scm(
    system: str | ValueSystem = "schwartz10",
    prune: float = 0.05,
    circumplex: tuple[float, float] | None = None,
) -> LinearGaussianSCM:
    """The default SCM for a value system (see the module docstring for where it comes from)."""
    vs = load_value_system(system)
    if len(vs.values) < BLAS_THREADS_FROM:  # OpenBLAS runs such small matrices on one thread anyway
        return _prior_scm(vs, prune, circumplex)
    # one BLAS thread: the matrices are small, and OpenBLAS threads that spin-wait starve each other
    # on a busy machine (200 values: 0.80 s loaded with the default threads, 0.24 s with one)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        return _prior_scm(vs, prune, circumplex)


def _prior_scm(vs: ValueSystem, prune: float, circumplex: tuple[float, float] | None) -> LinearGaussianSCM:
    sd = np.array([v.sd for v in vs.values])
    cov = prior_correlation(vs, circumplex) * np.outer(sd, sd)
    mean = np.array([v.mean for v in vs.values])
    if vs.edges is not None:
        return fit_scm(vs.names, cov=cov, mean=mean, edges=vs.edges)
    order = vs.order or vs.names
    full = [(a, b) for k, b in enumerate(order) for a in order[:k]]
    dense = fit_scm(vs.names, cov=cov, mean=mean, edges=full)
    idx = {n: i for i, n in enumerate(vs.names)}
    kept = [(a, b) for a, b in full if abs(dense.weights[idx[a], idx[b]]) >= prune]
    return fit_scm(vs.names, cov=cov, mean=mean, edges=kept)
