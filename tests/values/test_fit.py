"""Fitting SCMs from samples, covariances and interventional total effects."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from couple_lite.errors import NotPositiveDefiniteError, SCMError, SingularSystemError
from couple_lite.values.fit import fit_scm, learn_dag, weights_from_total_effects
from couple_lite.values.scm import LinearGaussianSCM
from tests.values.test_scm import random_scm

scms = st.builds(random_scm, st.integers(0, 10_000), st.integers(2, 6))


def _edges(scm: LinearGaussianSCM) -> list[tuple[str, str]]:
    return [(scm.names[i], scm.names[j]) for i, j in zip(*np.nonzero(scm.weights))]


def _diag_noise(scm: LinearGaussianSCM) -> LinearGaussianSCM:
    return LinearGaussianSCM(scm.names, scm.weights, scm.intercept, np.diag(np.diag(scm.noise_cov)))


@given(scms)
def test_fit_from_exact_covariance_recovers_weights(scm):
    scm = _diag_noise(scm)
    fit = fit_scm(scm.names, cov=scm.cov, mean=scm.mean, edges=_edges(scm))
    np.testing.assert_allclose(fit.weights, scm.weights, atol=1e-8)
    np.testing.assert_allclose(fit.intercept, scm.intercept, atol=1e-8)
    np.testing.assert_allclose(fit.noise_cov, scm.noise_cov, atol=1e-8)


@given(scms, st.integers(0, 2**31))
def test_fit_from_large_sample_recovers_weights(scm, seed):
    scm = _diag_noise(scm)
    data = scm.sample(50_000, np.random.default_rng(seed))
    fit = fit_scm(scm.names, data=data, edges=_edges(scm))
    np.testing.assert_allclose(fit.weights, scm.weights, atol=0.05)


@given(scms)
def test_exact_total_effects_recover_weights(scm):
    T = scm.total_effects()
    scale = np.linspace(0.5, 2.0, scm.dim)[:, None]  # unknown per-intervention strength
    np.testing.assert_allclose(weights_from_total_effects(T * scale), scm.weights, atol=1e-9)


def test_learned_dag_finds_the_skeleton_of_a_chain():
    rng = np.random.default_rng(0)
    W = np.zeros((4, 4))
    W[0, 1], W[1, 2], W[2, 3] = 0.8, -0.7, 0.6
    true = LinearGaussianSCM(("a", "b", "c", "d"), W, np.zeros(4), np.eye(4) * 0.5)
    data = true.sample(5000, rng)
    edges = learn_dag(true.names, np.cov(data, rowvar=False), n_samples=5000)
    assert {frozenset(e) for e in edges} == {frozenset(p) for p in [("a", "b"), ("b", "c"), ("c", "d")]}
    fit = fit_scm(true.names, data=data)  # no edges: learns them
    assert np.count_nonzero(fit.weights) == 3


def test_noisy_total_effects_with_a_cycle_are_made_acyclic():
    T = np.array([[1.0, 0.5], [0.01, 1.0]])  # a tiny spurious back-effect
    W = weights_from_total_effects(T)
    assert np.count_nonzero(W) == 1 and abs(W[0, 1]) > 0.4


def test_fit_errors():
    with pytest.raises(SCMError, match="NaN"):
        fit_scm(["a", "b"], data=np.array([[1.0, np.nan]] * 5))
    with pytest.raises(SCMError, match="more than 2 samples"):
        fit_scm(["a", "b"], data=np.ones((2, 2)))
    with pytest.raises(NotPositiveDefiniteError):
        fit_scm(["a", "b"], cov=np.array([[1.0, 3.0], [3.0, 1.0]]), edges=[])
    with pytest.raises(SCMError, match="names a value"):
        fit_scm(["a", "b"], cov=np.eye(2), edges=[("a", "zz")])
    with pytest.raises(SingularSystemError, match="did not move its own value"):
        weights_from_total_effects(np.array([[0.0, 1.0], [0.0, 1.0]]))
    with pytest.raises(SCMError, match="square"):
        weights_from_total_effects(np.ones((2, 3)))
