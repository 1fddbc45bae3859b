"""The fluency budget: KL of next-token distributions on the model's own answers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couple_lite.vectors.fluency import FluencyProbe, dose_for_budget


@pytest.fixture(scope="module")
def probe(tiny_engine):
    return FluencyProbe.build(tiny_engine, prompts=("hello there", "tell me a story"), answer_tokens=8)


def _vector(engine, scale: float) -> np.ndarray:
    rng = np.random.default_rng(3)
    v = np.zeros((engine.n_layer, engine.n_embd), dtype=np.float32)
    v[1:3] = rng.standard_normal((2, engine.n_embd)) * scale
    return v


def test_the_unsteered_model_costs_nothing_and_cost_grows_with_strength(tiny_engine, probe):
    assert probe.base.shape == (sum(len(s) - st for s, st in zip(probe.seqs, probe.starts)), tiny_engine.llm.n_vocab())
    np.testing.assert_allclose(np.exp(probe.base).sum(axis=1), 1.0, atol=1e-4)  # distributions
    assert probe.cost_of(None) == pytest.approx(0.0, abs=1e-6)
    costs = [probe.cost_of(_vector(tiny_engine, s)) for s in (0.05, 0.2, 0.8)]
    assert 0 < costs[0] < costs[1] < costs[2]
    assert tiny_engine.control_vector is None  # cost_of restores the model


def test_kl_matches_a_hand_computation(tiny_engine, probe):
    v = _vector(tiny_engine, 0.3)
    with tiny_engine.steered(v):
        q = tiny_engine.position_logprobs(probe.seqs, probe.starts)
    p = np.exp(probe.base.astype(np.float64))
    by_hand = np.mean([np.sum(p[k] * (probe.base[k] - q[k])) for k in range(len(p))])
    assert probe.cost_of(v) == pytest.approx(by_hand, rel=1e-5)


@pytest.mark.parametrize("power", [1.5, 2.0, 3.0])
def test_dose_for_budget_finds_the_strength(power):
    calls = []

    def cost(s):
        calls.append(s)
        return 7.0 * s**power

    s, c = dose_for_budget(cost, budget=0.05)
    assert c == pytest.approx(0.05, rel=0.05) and s == pytest.approx((0.05 / 7.0) ** (1 / power), rel=0.05)
    assert len(calls) <= 7


def test_dose_for_budget_on_the_tiny_model(tiny_engine, probe):
    _s, c = dose_for_budget(lambda s: probe.cost_of(_vector(tiny_engine, s)), budget=0.02, start=0.05)
    assert c == pytest.approx(0.02, rel=0.1)


@settings(max_examples=60)
@given(threshold=st.floats(0.03, 0.5), slope=st.floats(0.5, 50.0), floor=st.floats(-0.01, 0.0))
def test_dose_for_budget_stays_bracketed_when_the_cost_is_flat_then_steep(threshold, slope, floor):
    """A cost that is flat (even negative) at the start and then steep, as one block's NLL rise is:
    an unguarded secant step from the start lands several times over budget and never comes back."""

    def cost(s):
        return slope * (s - threshold) if s > threshold else floor

    s, c = dose_for_budget(cost, budget=0.036, steps=30)
    assert c == pytest.approx(0.036, rel=0.05)
    assert s == pytest.approx(threshold + 0.036 / slope, rel=0.05)
