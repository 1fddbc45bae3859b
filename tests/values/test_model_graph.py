"""model_graph: the model's own value graph from a pack's response matrix (interventions)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli import main
from couple_lite.errors import SCMError
from couple_lite.values.fit import weights_from_total_effects
from couple_lite.values.model_graph import compare_edges, model_scm
from couple_lite.values.prior import prior_scm
from couple_lite.values.scm import topological_order
from couple_lite.values.systems import load_value_system

VS = load_value_system("schwartz10")
D = len(VS.names)


def ipsatised(T):
    return T - T.mean(axis=1, keepdims=True)  # what the instruments measure: rows centred


@given(st.integers(0, 10_000))
def test_the_model_graph_is_a_dag_with_the_prior_s_mean_and_variances(seed):
    rng = np.random.default_rng(seed)
    R = ipsatised(np.diag(rng.uniform(5, 20, D)) + rng.normal(scale=2.0, size=(D, D)))
    scm = model_scm(R, VS)
    prior = prior_scm(VS)
    assert topological_order(scm.weights) is not None
    np.testing.assert_allclose(scm.mean, prior.mean, atol=1e-9)
    var, want = np.diag(scm.cov), np.diag(prior.cov)
    assert np.all(var >= want * (1 - 1e-9))  # equal, unless a value's parents explain more than it has
    assert np.all(np.abs(scm.weights) < 1.5)  # the ridge keeps noise from blowing weights up


def test_uncoupled_vectors_give_no_edges_and_one_coupling_gives_its_edge():
    R = ipsatised(np.eye(D) * 10.0)
    assert not model_scm(R, VS).weights.any()
    i, j = VS.names.index("power"), VS.names.index("achievement")
    T = np.eye(D) * 10.0
    T[i, j] = 6.0  # steering power moves achievement
    W = model_scm(ipsatised(T), VS).weights
    assert W[i, j] > 0.2 and np.abs(W).max() == W[i, j]


def test_exact_total_effects_still_invert_exactly_without_ridge():
    W0 = np.zeros((3, 3))
    W0[0, 1], W0[1, 2] = 0.5, -0.4
    T = np.linalg.inv(np.eye(3) - W0) * np.array([[2.0], [3.0], [1.0]])
    np.testing.assert_allclose(weights_from_total_effects(T), W0, atol=1e-12)
    ridge = weights_from_total_effects(T, ridge=1e-6)
    np.testing.assert_allclose(ridge, W0, atol=1e-4)


def test_compare_edges_lists_both_graphs_strongest_first():
    prior = prior_scm(VS)
    rows = compare_edges(prior, prior)
    assert rows and all(r["a"] == r["b"] for r in rows)
    assert [abs(r["a"]) for r in rows] == sorted((abs(r["a"]) for r in rows), reverse=True)
    with pytest.raises(SCMError, match="not calibrated"):
        model_scm(None, VS)
    with pytest.raises(SCMError, match="has 10 values"):
        model_scm(np.eye(3), VS)


def test_explain_with_the_shipped_pack_s_graph():
    r = CliRunner().invoke(main, ["explain", "--values", "power=6", "--compare-scm", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["scm"] == "prior" and out["scm_edges"]
    assert {"from", "to", "prior", "model"} <= set(out["scm_edges"][0])
    assert any(e["model"] != 0 for e in out["scm_edges"]) and any(e["prior"] != 0 for e in out["scm_edges"])
    model = json.loads(CliRunner().invoke(main, ["explain", "--values", "power=6", "--scm", "model", "--json"]).output)
    assert model["scm"] == "model" and model["counterfactual"] != out["counterfactual"]
    assert model["counterfactual"]["power"] == pytest.approx(6.0)
    text = CliRunner().invoke(main, ["explain", "--values", "power=6", "--compare-scm"]).output
    assert "value graphs" in text and "weaker edges" in text
