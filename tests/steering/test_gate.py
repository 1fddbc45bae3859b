"""The relevance gate: its prompts, its fit on the tiny model, its cache, and how streaming uses it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from couple_lite.research.evaluation import eval_data
from couple_lite.steering.gate import HELD_OUT_SHARE, RelevanceGate, gate_prompts
from couple_lite.steering.steerer import Steerer
from couple_lite.values.objective import make_objective
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.extraction import extract
from tests.packs import calibrated_pack

MF = load_value_system("moral_foundations")


@pytest.fixture(scope="module")
def pack(tiny_engine):
    ex = extract(tiny_engine, MF, "mean", "context", layers=(1, 2))
    return calibrated_pack(
        ex,
        "moral_foundations",
        np.eye(6) * 4,
        10.0,
        strength=0.5,
        unsteered={n: 3.5 + 0.1 * i for i, n in enumerate(MF.names)},
    )


def test_the_gate_prompts_are_distinct_and_share_no_phrase_with_the_evaluation_questions():
    """The evaluation's everyday questions check the gate from outside (bench/gate.py): no gate
    prompt may share five words in a row with one."""
    data = gate_prompts()
    assert len(data["value"]) >= 40 and len(data["neutral"]) >= 40
    everything = data["value"] + data["neutral"]
    assert len(set(everything)) == len(everything)

    def grams(t, n=5):
        w = re.findall(r"[a-z']+", t.lower())
        return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

    seen = set().union(*map(grams, eval_data("schwartz10")["questions"]))
    assert not [t for t in everything if grams(t) & seen]


def test_fit_checks_on_held_out_prompts_and_round_trips_through_json(tiny_engine, pack, tmp_path):
    gate = RelevanceGate.fit(tiny_engine, pack.extraction)
    held = gate.held_out
    assert held["n_value"] == len(gate_prompts()["value"]) // HELD_OUT_SHARE
    assert 0 <= held["value_steered"] <= 1 and 0 <= held["neutral_unsteered"] <= 1
    assert gate.weights.shape == (tiny_engine.n_embd,) and gate.layers == (1, 2)
    prompts = ["What is 2 + 2?", "Should I forgive my brother?"]
    p = gate.relevance(tiny_engine, pack.extraction, prompts)
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))
    back = RelevanceGate.from_json(gate.to_json())
    np.testing.assert_allclose(back.relevance(tiny_engine, pack.extraction, prompts), p)
    cached = RelevanceGate.cached(tiny_engine, pack, tmp_path)  # fitted and written
    assert len(list(tmp_path.glob("gate-*.json"))) == 1
    np.testing.assert_allclose(RelevanceGate.cached(tiny_engine, pack, tmp_path).weights, cached.weights)


def test_a_prompt_the_gate_calls_neutral_is_answered_exactly_unsteered(tiny_engine, pack):
    st = Steerer(tiny_engine, pack)
    plan = st.plan(make_objective("care=6,loyalty=1", system=MF), explain=False)
    gen = dict(max_tokens=8, temperature=0.0)
    unsteered = st.generate("hello", None, **gen)
    steered = st.generate("hello", plan, **gen)
    assert steered != unsteered  # the vector moves the tiny model's greedy answer
    d = tiny_engine.n_embd
    st._gate = RelevanceGate(np.zeros(d), -5.0, (1, 2), {})  # every prompt value-neutral
    assert st.generate("hello", plan, gate=True, **gen) == unsteered
    assert st.gated("hello", plan)[0] is None and st.gated("hello", plan)[1] < 0.01
    st._gate = RelevanceGate(np.zeros(d), 5.0, (1, 2), {})  # every prompt value-relevant
    assert st.generate("hello", plan, gate=True, **gen) == steered
    assert st.generate("hello", plan, **gen) == steered  # the gate is off unless asked for
