"""Property tests of the closed-form SCM on random DAG SCMs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from couple_lite.errors import CycleError, NotPositiveDefiniteError, SCMError, SingularSystemError, ValueNameError
from couple_lite.values.inference import Intervention, abduct, counterfactual, prioritized_intervention
from couple_lite.values.scm import LinearGaussianSCM


def random_scm(seed: int, d: int, density: float = 0.6) -> LinearGaussianSCM:
    rng = np.random.default_rng(seed)
    perm = rng.permutation(d)
    W = np.zeros((d, d))
    for a in range(d):
        for b in range(a + 1, d):
            if rng.random() < density:
                W[perm[a], perm[b]] = rng.uniform(0.2, 0.9) * rng.choice([-1, 1])
    L = rng.normal(size=(d, d)) * 0.3
    cov = L @ L.T + np.diag(rng.uniform(0.2, 0.8, d))
    names = tuple(f"v{i}" for i in range(d))
    return LinearGaussianSCM(names, W, rng.uniform(1, 4, d), cov)


scms = st.builds(random_scm, st.integers(0, 10_000), st.integers(2, 7))


@given(scms, st.data())
def test_no_intervention_returns_factual(scm, data):
    k = data.draw(st.integers(0, scm.dim))
    obs = {n: data.draw(st.floats(1, 6)) for n in scm.names[:k]}
    post = abduct(scm, obs, obs_sd=data.draw(st.sampled_from([0.0, 0.3])))
    cf = counterfactual(scm, post, Intervention())
    np.testing.assert_allclose(cf.mean, post.mean, atol=1e-9)
    np.testing.assert_allclose(cf.cov, post.cov, atol=1e-9)


@given(scms, st.data())
def test_exact_full_observation_is_reproduced(scm, data):
    obs = {n: data.draw(st.floats(1, 6)) for n in scm.names}
    post = abduct(scm, obs)
    np.testing.assert_allclose(post.mean, [obs[n] for n in scm.names], atol=1e-8)
    assert np.abs(post.cov).max() < 1e-8


@given(scms, st.data())
def test_hard_interventions_hit_targets(scm, data):
    targets = {n: data.draw(st.floats(1, 6)) for n in scm.names if data.draw(st.booleans())}
    post = abduct(scm, {scm.names[0]: 3.0}, obs_sd=0.5)
    cf = counterfactual(scm, post, Intervention(hard=targets))
    for n, x in targets.items():
        i = scm.index(n)
        assert cf.mean[i] == pytest.approx(x, abs=1e-9)
        assert cf.sd[i] == pytest.approx(0.0, abs=1e-6)


@given(scms, st.integers(0, 2**31))
def test_counterfactual_matches_monte_carlo(scm, seed):
    """Sample u from the posterior, push each draw through the intervened model by hand."""
    rng = np.random.default_rng(seed)
    obs = {scm.names[-1]: 4.0}
    post = abduct(scm, obs, obs_sd=0.4)
    target = scm.names[0]
    iv = Intervention(hard={target: 5.0}, shift={scm.names[1]: -0.5})
    cf = counterfactual(scm, post, iv)
    n = 20_000
    u = rng.multivariate_normal(post.u_mean, post.u_cov, size=n, method="eigh")
    d = scm.dim
    v = np.zeros((n, d))
    order = [scm.index(x) for x in __import__("networkx").topological_sort(scm.graph)]
    for j in order:  # structural equations evaluated in causal order
        if scm.names[j] == target:
            v[:, j] = 5.0
            continue
        v[:, j] = scm.intercept[j] + v @ scm.weights[:, j] + u[:, j]
        if scm.names[j] == scm.names[1]:
            v[:, j] += -0.5
    se = np.sqrt(np.diag(cf.cov) / n) + 1e-12
    assert np.all(np.abs(v.mean(axis=0) - cf.mean) < 5 * se + 1e-9)
    emp = np.cov(v, rowvar=False)
    scale = np.sqrt(np.outer(np.diag(cf.cov), np.diag(cf.cov))) + 1e-12
    assert np.all(np.abs(emp - cf.cov) <= 0.08 * scale + 1e-9)


@given(scms, st.data())
def test_prioritized_without_penalty_meets_targets_like_do(scm, data):
    k = data.draw(st.integers(1, scm.dim))
    targets = {n: data.draw(st.floats(1, 6)) for n in scm.names[:k]}
    post = abduct(scm)
    iv = prioritized_intervention(scm, post, targets, plausibility=0.0)
    cf = counterfactual(scm, post, iv)
    hard = counterfactual(scm, post, Intervention(hard=targets))
    np.testing.assert_allclose(cf.mean, hard.mean, atol=1e-7)


@given(st.integers(0, 10_000), st.floats(0.05, 2.0))
def test_conflicting_priorities_resolve_toward_higher_priority(seed, lam):
    # two strongly negatively coupled values: raising a pushes b down
    rng = np.random.default_rng(seed)
    w = -rng.uniform(0.5, 0.9)
    c = np.array([3.0, 3.0 - 3.0 * w])  # both start at 3, so both targets are 3 away
    scm = LinearGaussianSCM(("a", "b"), np.array([[0, w], [0, 0]]), c, np.eye(2) * 0.5)
    post = abduct(scm)
    targets = {"a": 6.0, "b": 6.0}
    miss = {}
    for high in ("a", "b"):
        weights = {"a": 1.0, "b": 1.0, high: 4.0}
        cf = counterfactual(scm, post, prioritized_intervention(scm, post, targets, weights, lam))
        miss[high] = {n: abs(6.0 - cf.mean[scm.index(n)]) for n in "ab"}
    assert miss["a"]["a"] < miss["a"]["b"]  # a prioritized: a ends closer to its target
    assert miss["b"]["b"] < miss["b"]["a"]
    assert miss["a"]["a"] < miss["b"]["a"]  # and closer than when b had the priority
    assert miss["b"]["b"] < miss["a"]["b"]


def test_cycle_is_reported_with_its_path():
    W = np.zeros((3, 3))
    W[0, 1] = W[1, 2] = W[2, 0] = 0.5
    with pytest.raises(CycleError, match="x -> y -> z -> x|y -> z -> x -> y|z -> x -> y -> z"):
        LinearGaussianSCM(("x", "y", "z"), W, np.zeros(3), np.eye(3))


def test_bad_inputs_are_typed_errors():
    with pytest.raises(NotPositiveDefiniteError, match="not positive definite"):
        LinearGaussianSCM(("a", "b"), np.zeros((2, 2)), np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(NotPositiveDefiniteError, match="symmetric"):
        LinearGaussianSCM(("a", "b"), np.zeros((2, 2)), np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(SCMError, match="NaN"):
        LinearGaussianSCM(("a", "b"), np.array([[0, np.nan], [0, 0]]), np.zeros(2), np.eye(2))
    scm = LinearGaussianSCM(("a", "b"), np.array([[0, 0.5], [0, 0]]), np.zeros(2), np.eye(2))
    with pytest.raises(SCMError, match="NaN"):
        abduct(scm, {"a": float("nan")})
    with pytest.raises(ValueNameError, match="unknown value 'c'"):
        abduct(scm, {"c": 1.0})
    with pytest.raises(SCMError, match="both set and shifted"):
        Intervention(hard={"a": 1.0}, shift={"a": 1.0})


def test_redundant_exact_observations_are_singular():
    # b is an exact copy of a (no own noise to speak of): observing both exactly is degenerate
    W = np.zeros((3, 3))
    W[0, 1] = 1.0
    scm = LinearGaussianSCM(("a", "b", "c"), W, np.zeros(3), np.diag([1.0, 1e-14, 1.0]))
    with pytest.raises(SingularSystemError, match="redundant"):
        abduct(scm, {"a": 1.0, "b": 1.0})


def test_an_exactly_known_full_profile_is_solved_directly():
    # every value observed exactly: u = (I - Wᵀ) v - c, no uncertainty left; the general path with
    # a vanishing observation sd converges to the same answer
    rng = np.random.default_rng(3)
    W = np.triu(rng.uniform(-0.6, 0.6, (6, 6)), 1)
    scm = LinearGaussianSCM(tuple("abcdef"), W, rng.uniform(2, 4, 6), np.diag(rng.uniform(0.3, 1, 6)))
    obs = dict(zip(scm.names, rng.uniform(1, 6, 6)))
    exact, near = abduct(scm, obs), abduct(scm, obs, obs_sd=1e-6)
    np.testing.assert_allclose(exact.u_mean, near.u_mean, atol=1e-5)
    np.testing.assert_allclose(exact.mean, list(obs.values()), atol=1e-12)
    assert not exact.cov.any()
    cf = counterfactual(scm, exact, Intervention(hard={"b": 6.0}))
    np.testing.assert_allclose(cf.mean, counterfactual(scm, near, Intervention(hard={"b": 6.0})).mean, atol=1e-5)
    assert not cf.cov.any()


@given(st.integers(0, 10_000), st.sampled_from([3, 12, 80]), st.floats(0, 1), st.data())
def test_solves_in_topological_order_match_dense_algebra(seed, d, strength, data):
    # propagate solves in the SCM's topological order with the intervention's rows edited in
    # place; every variant must equal the textbook dense formulas with W' formed explicitly
    scm = random_scm(seed, d, density=0.3)
    rng = np.random.default_rng(seed)
    W, x = scm.weights, rng.normal(size=(d, 3))
    dense = lambda M, b: np.linalg.solve(M, b)
    np.testing.assert_allclose(scm.propagate(x), dense(np.eye(d) - W.T, x), atol=1e-9)
    np.testing.assert_allclose(scm.propagate(x[:, 0]), dense(np.eye(d) - W.T, x[:, 0]), atol=1e-9)
    np.testing.assert_allclose(scm.propagate(x, transpose=True), dense(np.eye(d) - W, x), atol=1e-9)
    rows = sorted(set(data.draw(st.lists(st.integers(0, d - 1), max_size=3))))
    W2 = W.copy()
    W2[:, rows] *= 1 - strength
    np.testing.assert_allclose(scm.propagate(x, (rows, strength)), dense(np.eye(d) - W2.T, x), atol=1e-9)
    # a counterfactual from a shuffled partial, noisy observation equals the dense computation
    names = list(rng.permutation(scm.names)[: data.draw(st.integers(1, d))])
    obs = {n: float(rng.uniform(1, 6)) for n in names}
    post = abduct(scm, obs, obs_sd=0.4)
    A = np.linalg.inv(np.eye(d) - W.T)  # the textbook formulas, on purpose with an explicit inverse
    B = A[[scm.index(n) for n in names]]
    S = B @ scm.noise_cov @ B.T + 0.16 * np.eye(len(names))
    K = scm.noise_cov @ B.T @ np.linalg.inv(S)
    u = K @ (np.array(list(obs.values())) - B @ scm.intercept)
    np.testing.assert_allclose(post.u_mean, u, atol=1e-8)
    np.testing.assert_allclose(post.u_cov, scm.noise_cov - K @ B @ scm.noise_cov, atol=1e-8)
    hard = {scm.names[r]: 5.0 for r in rows}
    cf = counterfactual(scm, post, Intervention(hard=hard, strength=strength))
    c2, m = scm.intercept.copy(), np.ones(d)
    c2[rows] = (1 - strength) * c2[rows] + strength * 5.0
    m[rows] = 1 - strength
    A2 = np.linalg.inv(np.eye(d) - W2.T)
    np.testing.assert_allclose(cf.mean, A2 @ (c2 + m * u), atol=1e-8)
    np.testing.assert_allclose(cf.cov, A2 @ (m[:, None] * post.u_cov * m) @ A2.T, atol=1e-8)
    np.testing.assert_allclose(cf.intervened_weights, W2)


def test_a_whole_profile_in_any_key_order_gives_the_same_posterior():
    scm = random_scm(5, 6)
    obs = dict(zip(scm.names, [1.0, 2.5, 3.0, 4.5, 5.0, 6.0]))
    shuffled = {n: obs[n] for n in reversed(scm.names)}
    a, b = abduct(scm, obs), abduct(scm, shuffled)
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.u_mean, b.u_mean)
    np.testing.assert_allclose(a.mean, list(obs.values()))


def test_the_prior_is_shared_and_read_only():
    scm = random_scm(6, 4)
    assert abduct(scm) is abduct(scm, {}) is scm.prior
    with pytest.raises(ValueError):
        scm.prior.mean[0] = 1.0
