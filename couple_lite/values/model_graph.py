"""The model's own value graph (CGGS's idea, done with interventions, not correlations): an SCM
fitted to the total effects of steering each value on this model -- the pack's response matrix R,
where row i is how far steering value i moved every measured value -- beside the psychology prior.

Two steps make R usable as total effects. The instruments' profiles are ipsatised (centred over
values), so each row of R sums to zero and R is singular; we assume the changes of the *other*
values average zero under one value's push, which puts back each row's lost constant
(R_ii / (d - 1)). And R is noisy (one value's vector can move a neighbour more than itself), where
the exact inverse I - T̃⁻¹ amplifies the noise into weights of 10 or more; W is solved with a ridge
penalty instead (``fit.weights_from_total_effects``).

What it means: how this model's representations of values couple when one of them is pushed
(steering power also moving achievement, say). What it does not mean: how people's values relate;
that is the prior's job (``values.prior``). Weak edges are pruned and a cycle left by noise
loses its weakest edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..errors import SCMError
from .fit import weights_from_total_effects
from .prior import prior_scm
from .scm import LinearGaussianSCM, topological_order
from .systems import ValueSystem, load_value_system

if TYPE_CHECKING:
    from .scm import FloatArray

__all__ = ["ScmChoice", "model_scm", "compare_edges", "PRUNE"]

ScmChoice = Literal["prior", "model"]
PRUNE = 0.1  # |W| below this is treated as noise
RIDGE = 1.0  # in units of T̃'s unit diagonal: weights stay below ~0.5 on the default model's R
NOISE_FLOOR = 0.05  # least share of a value's prior variance left to its own noise


def model_scm(response: FloatArray | None, system: str | ValueSystem, prune: float = PRUNE) -> LinearGaussianSCM:
    """An SCM whose edges are recovered from a response matrix (rows and columns in the system's
    value order), with the prior's mean and marginal variances (so abduction and the 1-6 scale mean
    the same as with the prior): each value's noise variance is what its parents leave of its prior
    variance (at least NOISE_FLOOR)."""
    if response is None:
        raise SCMError("the pack is not calibrated (no response matrix); run `couple-lite calibrate` first")
    vs = load_value_system(system)
    prior = prior_scm(vs)
    R = np.asarray(response, dtype=np.float64)
    d = len(R)
    if R.shape != (vs.dim, vs.dim):
        raise SCMError(f"the response matrix is {R.shape}, {vs.name!r} has {vs.dim} values")
    T = R + (np.diag(R) / (d - 1))[:, None]  # the row constant ipsatisation removed (see above)
    W = weights_from_total_effects(T, tol=prune, ridge=RIDGE)
    var = np.diag(prior.cov)
    cov = np.zeros((d, d))
    noise = np.zeros(d)
    for j in (
        topological_order(W) or ()
    ):  # weights_from_total_effects returns a DAG  # Cov(x_j, x_k) for the values placed before j, then Var(x_j)
        w = W[:, j]
        explained = float(w @ cov @ w)
        noise[j] = max(var[j] - explained, NOISE_FLOOR * var[j])
        cov[j, :] = cov[:, j] = w @ cov
        cov[j, j] = explained + noise[j]
    intercept = (np.eye(d) - W.T) @ prior.mean  # x = Wᵀx + c + u has mean (I - Wᵀ)⁻¹ c
    return LinearGaussianSCM(tuple(vs.names), W, intercept, np.diag(noise))


def compare_edges(a: LinearGaussianSCM, b: LinearGaussianSCM, min_weight: float = PRUNE) -> list[dict[str, Any]]:
    """Every edge either graph has (|w| >= min_weight): source, target and both weights (0 where a
    graph lacks it), strongest first."""
    if a.names != b.names:
        raise SCMError("the two SCMs are over different values")
    rows = []
    for i, j in zip(*np.nonzero((np.abs(a.weights) >= min_weight) | (np.abs(b.weights) >= min_weight))):
        rows.append({"from": a.names[i], "to": a.names[j], "a": float(a.weights[i, j]), "b": float(b.weights[i, j])})
    return sorted(rows, key=lambda r: -max(abs(r["a"]), abs(r["b"])))
