"""The response matrix from item slopes, its standard errors, and the cross-validated shrinkage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couple_lite.vectors.response_fit import (
    bootstrap_se,
    choose_shrinkage,
    r_from_slopes,
    shrink_off_diagonal,
    solve_coefficients,
)

V, PER = 5, 6
ITEM_VALUE = np.repeat(np.arange(V), PER)


def _slopes(R_true: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Item slopes whose per-value means are R_true's rows, plus item noise."""
    rng = np.random.default_rng(seed)
    return R_true[:, ITEM_VALUE] + noise * rng.standard_normal((V, V * PER))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_r_from_slopes_is_ipsatised_and_exact_without_noise(seed):
    R_true = np.random.default_rng(seed).standard_normal((V, V))
    R = r_from_slopes(_slopes(R_true, 0.0, seed), ITEM_VALUE, V)
    np.testing.assert_allclose(R.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(R, R_true - R_true.mean(axis=1, keepdims=True), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_the_solve_meets_every_change_of_a_well_conditioned_r(seed):
    rng = np.random.default_rng(seed)
    R = 5 * np.eye(V) + rng.uniform(-1, 1, (V, V))
    delta = rng.standard_normal(V)
    c = solve_coefficients(R, delta, ridge=0.0)
    np.testing.assert_allclose(R.T @ c, delta, atol=1e-8)
    many = rng.standard_normal((V, 3))  # several changes at once: the same solve column by column
    np.testing.assert_allclose(solve_coefficients(R, many)[:, 1], solve_coefficients(R, many[:, 1]), atol=1e-12)


def test_shrink_off_diagonal_keeps_the_diagonal_and_scales_the_rest():
    R = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(shrink_off_diagonal(R, 0.0), np.diag(np.diag(R)))
    np.testing.assert_array_equal(shrink_off_diagonal(R, 1.0), R)
    assert shrink_off_diagonal(R, 0.5)[0, 1] == 0.5 and shrink_off_diagonal(R, 0.5)[1, 1] == 4.0


def test_bootstrap_errors_grow_with_item_noise():
    R_true = 4 * np.eye(V)
    quiet = bootstrap_se(_slopes(R_true, 0.1, 1), ITEM_VALUE, V, n=100)
    loud = bootstrap_se(_slopes(R_true, 1.0, 1), ITEM_VALUE, V, n=100)
    assert quiet.shape == (V, V) and np.all(loud > 3 * quiet)
    assert np.all(bootstrap_se(_slopes(R_true, 0.0, 1), ITEM_VALUE, V, n=20) < 1e-12)


def test_cross_validation_keeps_real_coupling_and_drops_noise():
    """Strong true off-diagonal, quiet items: all of R is worth using. A diagonal R measured with
    loud items: its off-diagonal is noise, and the diagonal wins. Either way the chosen α scores at
    least the diagonal's (it is one of the candidates)."""
    cov = np.eye(V)
    coupled = 3 * np.eye(V) + np.roll(2.5 * np.eye(V), 1, axis=1)  # each value drags its neighbour
    real = choose_shrinkage(_slopes(coupled, 0.2, 2), ITEM_VALUE, V, cov, splits=10, draws=50)
    assert real["alpha"] >= 0.8 and real["full"] > real["diagonal"] + 0.05
    noise = choose_shrinkage(_slopes(3 * np.eye(V), 4.0, 3), ITEM_VALUE, V, cov, splits=10, draws=50)
    assert noise["alpha"] <= 0.4 and noise["diagonal"] > noise["full"]
    for fit in (real, noise):
        assert max(fit["score"]) == pytest.approx(fit["score"][fit["alphas"].index(fit["alpha"])])
        assert max(fit["score"]) >= fit["diagonal"]


def test_cross_validation_needs_two_items_per_value():
    with pytest.raises(ValueError, match="two calibration items"):
        choose_shrinkage(np.zeros((V, V)), np.arange(V), V, np.eye(V))
