"""The linear-Gaussian structural causal model over value priorities, in closed form.

    v = c + Wᵀ v + u,   u ~ N(0, Σ_u),   W[i, j] = weight of the edge i -> j (a DAG),
    so  v = (I - Wᵀ)⁻¹ (c + u).

The model itself (validated once, its system factored once), its prior and the posterior type that
abduction fills; the counterfactual steps are in ``inference``. Everything is float64 and uses
``solve``/Cholesky, never ``inv``. This module knows value *names* only; nothing of language models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from ..errors import CycleError, NotPositiveDefiniteError, SCMError, ValueNameError

__all__ = ["LinearGaussianSCM", "Posterior", "check_covariance", "topological_order", "finite_array", "MAX_CONDITION"]

MAX_CONDITION = 1e12  # beyond this a solve loses most of float64's digits
TRIANGULAR_FROM = 64  # from this many values on, solves are triangular (scipy); below, numpy's LU

if TYPE_CHECKING:
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]  # every matrix and vector of the model
    IndexArray = npt.NDArray[np.intp]

_lu_solve: Callable[[FloatArray, FloatArray], FloatArray]
try:  # numpy's LAPACK gesv gufuncs, which np.linalg.solve calls after ~3 µs of argument checks:
    from numpy.linalg._umath_linalg import solve as _gesv  # more than a 10 x 10 solve
    from numpy.linalg._umath_linalg import solve1 as _gesv1

    def _lu_solve(A: FloatArray, b: FloatArray) -> FloatArray:
        x: FloatArray = (_gesv1 if b.ndim == 1 else _gesv)(A, b, signature="dd->d")
        return x
except ImportError:  # pragma: no cover - a numpy without them: the public route
    _lu_solve = cast("Callable[[FloatArray, FloatArray], FloatArray]", np.linalg.solve)


def finite_array(name: str, x: FloatArray) -> FloatArray:
    """``x`` as a float64 array, or SCMError if it holds NaN or infinity."""
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        x = np.asarray(x, dtype=np.float64)
    if not np.isfinite(x).all():
        raise SCMError(f"{name} contains NaN or infinity; pass finite numbers")
    return x


def check_covariance(name: str, cov: FloatArray, allow_singular: bool = False) -> FloatArray:
    """A symmetric positive (semi)definite float64 matrix, or a clear error."""
    cov = finite_array(name, cov)
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
    sym: FloatArray = (cov + cov.T) / 2  # (.T is untyped for python 3.10 in numpy's stubs)
    return sym


def topological_order(W: FloatArray) -> list[int] | None:
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
    weights: FloatArray  # W, (d, d), W[i, j] = effect of value i on value j
    intercept: FloatArray  # c, (d,)
    noise_cov: FloatArray  # Σ_u, (d, d), positive definite

    def __post_init__(self) -> None:
        d = len(self.names)
        if len(set(self.names)) != d:
            raise SCMError("value names must be unique")
        W = finite_array("weights", self.weights)
        c = finite_array("intercept", self.intercept)
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
    def graph(self) -> Any:
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
    def order(self) -> IndexArray:
        """A topological order of the values (causes first)."""
        return np.array(topological_order(self.weights))

    @cached_property
    def _factor(self) -> tuple[IndexArray | None, IndexArray | None, FloatArray, Any]:
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
        self, x: FloatArray, cut: tuple[list[int], float] | None = None, transpose: bool = False
    ) -> FloatArray:
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
        out: FloatArray
        out, _ = trtrs(M, x[p], lower=1, trans=int(transpose), unitdiag=1)
        return out[rank]

    @cached_property
    def prior(self) -> Posterior:
        """The noise before any observation, N(0, Σ_u), and the profile it implies (read-only)."""
        u_mean, u_cov, mean = np.zeros(self.dim), self.noise_cov.view(), self.mean
        for a in (u_mean, u_cov, mean):
            a.flags.writeable = False
        return Posterior(u_mean, u_cov, mean, self)

    @cached_property
    def _no_uncertainty(self) -> FloatArray:
        """A read-only d x d zero covariance that costs no memory (an exactly observed profile)."""
        return np.broadcast_to(np.float64(0.0), (self.dim, self.dim))

    def total_effects(self) -> FloatArray:
        """T[i, j] = change of v_j per unit shift of v_i, summed over all paths: (I - W)⁻¹."""
        T: FloatArray = self.propagate(np.eye(self.dim)).T
        return T

    @property
    def mean(self) -> FloatArray:
        return self.propagate(self.intercept)

    @property
    def cov(self) -> FloatArray:
        A_S = self.propagate(self.noise_cov)
        return self.propagate(A_S.T)

    def sample(self, n: int, rng: np.random.Generator) -> FloatArray:
        """n draws of v, shape (n, d)."""
        u = rng.multivariate_normal(np.zeros(self.dim), self.noise_cov, size=n)
        v: FloatArray = self.propagate((self.intercept + u).T).T
        return v


@dataclass
class Posterior:
    """Abducted noise N(u_mean, u_cov) and the implied factual profile N(mean, cov); ``cov`` is
    computed on first use (O(d³)), so questions about means stay O(d²) for large systems."""

    u_mean: FloatArray
    u_cov: FloatArray
    mean: FloatArray
    scm: LinearGaussianSCM = field(repr=False, compare=False)

    @cached_property
    def cov(self) -> FloatArray:
        if not self.u_cov.any():  # an exactly observed profile: no uncertainty left
            return np.zeros_like(self.u_cov)
        c = self.scm.propagate(self.scm.propagate(self.u_cov).T)
        sym: FloatArray = (c + c.T) / 2
        return sym
