"""decide: options ranked by the steered model's length-normalised preference, both orders."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import ObjectiveError
from couple_lite.steering.decisions import _prompt, decide, option_scores
from couple_lite.steering.steerer import Steerer
from couple_lite.values.objective import make_objective
from couple_lite.vectors.pack import save_pack
from tests.steering.test_steerer import MF, make_pack

QUESTION = "A friend needs help moving on my day off."
OPTIONS = ["Help them move", "Keep the day for myself", "Pay for movers"]


@pytest.fixture(scope="module")
def extraction(tiny_engine):
    from couple_lite.vectors.extraction import extract

    return extract(tiny_engine, MF, "mean", "context", layers=(1, 2))


def test_scores_average_both_listing_orders(tiny_engine):
    got = option_scores(tiny_engine, QUESTION, OPTIONS)
    forward = tiny_engine.answer_logprob([_prompt(QUESTION, OPTIONS)] * 3, OPTIONS)
    backward = tiny_engine.answer_logprob([_prompt(QUESTION, OPTIONS[::-1])] * 3, OPTIONS)
    np.testing.assert_allclose(got, (forward + backward) / 2, atol=1e-9)
    assert not np.allclose(forward, backward)  # the order matters to the model, hence both


def test_decision_ranks_and_attributes_the_change(tiny_engine, extraction):
    st = Steerer(tiny_engine, make_pack(extraction))
    plan = st.plan(make_objective("care=6,loyalty=1", "care>loyalty", MF))
    d = decide(st, QUESTION, OPTIONS, plan)
    assert [o.text for o in d.options] == OPTIONS
    assert sorted(o.rank for o in d.options) == [1, 2, 3] == sorted(o.unsteered_rank for o in d.options)
    best = max(d.options, key=lambda o: o.score)
    assert best.rank == 1
    base = option_scores(tiny_engine, QUESTION, OPTIONS)
    np.testing.assert_allclose([o.unsteered_score for o in d.options], base, atol=1e-9)
    assert not np.allclose([o.score for o in d.options], base)  # the vector moved the preferences
    assert set(d.moved_by) == {n for n, c in plan.coefficients.items() if abs(c) > 1e-12}
    assert d.changed == (best.unsteered_rank != 1)


@pytest.mark.parametrize(
    "question, options, message",
    [
        ("", OPTIONS, "question is empty"),
        (QUESTION, ["only one"], "give 2 to 12 options"),
        (QUESTION, ["same", "same"], "all different"),
        (QUESTION, ["a", "  "], "non-empty"),
    ],
)
def test_bad_decisions_are_clear_errors(tiny_engine, extraction, question, options, message):
    st = Steerer(tiny_engine, make_pack(extraction))
    with pytest.raises(ObjectiveError, match=message):
        decide(st, question, options, st.plan(make_objective("care=6", system=MF)))


def test_decide_cli_json(tiny_model_path, extraction, tmp_path, monkeypatch):
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    pack = save_pack(make_pack(extraction), tmp_path / "tiny-mf.npz")
    args = [
        "decide",
        QUESTION,
        "--model",
        str(tiny_model_path),
        "--pack",
        str(pack),
        "--system",
        "moral_foundations",
        "--values",
        "care=6",
        *[x for o in OPTIONS for x in ("--option", o)],
    ]
    r = CliRunner().invoke(main, args + ["--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert {"options", "objective", "counterfactual", "moved_by", "changed"} <= set(out)
    assert {"text", "score", "rank", "unsteered_rank", "unsteered_score"} <= set(out["options"][0])
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0 and "unsteered rank" in r.output and "moved by" in r.output
    r = CliRunner().invoke(main, args[:-6] + ["--option", "one"])
    assert r.exit_code == 2 and "give 2 to 12 options" in r.output
