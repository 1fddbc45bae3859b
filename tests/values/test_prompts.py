"""Value profiles in words: the objective's prompt and the counterfactual's, and the three
deliveries of a plan (vector, prompt, hybrid) on the tiny model."""

from __future__ import annotations

import json
from typing import get_args

import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import ObjectiveError
from couple_lite.steering.steerer import Delivery, Steerer
from couple_lite.values.objective import make_objective
from couple_lite.values.prompts import CF_MIN_CHANGE, counterfactual_prompt, level_word, value_prompt
from couple_lite.values.systems import load_value_system

S10 = load_value_system("schwartz10")


def test_level_words_follow_the_scale():
    words = [level_word(x) for x in (6.0, 5.0, 4.0, 3.0, 1.0)]
    assert words == [
        "of the highest importance",
        "very important",
        "important",
        "of little importance",
        "not important at all",
    ]


def test_the_value_prompt_names_only_the_targets_in_priority_order():
    obj = make_objective("power=1,benevolence=6", "benevolence>power", S10)
    text = value_prompt(obj, S10)
    assert text.index("benevolence") < text.index("power") and "universalism" not in text


def test_the_counterfactual_prompt_carries_the_side_effects_highest_first():
    obj = make_objective("power=6", system=S10)
    factual = dict.fromkeys(S10.names, 4.0)
    cf = dict(factual, power=6.0, universalism=2.5, benevolence=3.0, security=4.0 + CF_MIN_CHANGE / 2)
    text = counterfactual_prompt(obj, factual, cf, S10)
    lines = [ln for ln in text.splitlines() if ln[:1].isdigit()]
    assert [ln.split(". ", 1)[1].split(" (")[0] for ln in lines] == ["power", "benevolence", "universalism"]
    assert "of the highest importance, more than before" in lines[0] and "follows from the others" not in lines[0]
    assert "of little importance, less than before (follows from the others)" in lines[1]
    assert "security" not in text  # moved less than CF_MIN_CHANGE and not named


@pytest.fixture(scope="module")
def steerer(long_engine):
    from couple_lite.vectors.extraction import extract
    from tests.steering.test_steerer import MF, make_pack

    return Steerer(long_engine, make_pack(extract(long_engine, MF, "mean", "context", layers=(1, 2))))


def test_each_delivery_is_the_vector_the_prompt_or_both(long_engine, steerer):
    tiny_engine = long_engine
    plan = steerer.plan(make_objective("care=6,authority=2", system=steerer.system))
    gen = dict(max_tokens=10, temperature=0.0)
    words = steerer.system_prompt(plan)
    assert "care" in words and "authority" in words
    with tiny_engine.steered(None):
        prompt_only = tiny_engine.generate("hello", system=words, **gen)
    with tiny_engine.steered(steerer.vector(plan)):
        both = tiny_engine.generate("hello", system=words + "\n\nBe brief.", **gen)
        vector_only = tiny_engine.generate("hello", system="Be brief.", **gen)
    assert steerer.generate("hello", plan, delivery="prompt", **gen) == prompt_only
    assert steerer.generate("hello", plan, delivery="hybrid", system="Be brief.", **gen) == both
    assert steerer.generate("hello", plan, system="Be brief.", **gen) == vector_only
    assert len({prompt_only, both, vector_only}) > 1  # the deliveries are not the same thing
    assert tiny_engine.control_vector is None
    assert steerer.delivered_system(None, "prompt", "own") == "own"  # unsteered: nothing added
    with pytest.raises(ObjectiveError, match="delivery must be one of"):
        steerer.generate("hello", plan, delivery="words")


def test_steer_mode_cli_choices_come_from_delivery_and_show_the_prompt(tiny_model_path, tmp_path, monkeypatch, steerer):
    import couple_lite.engine.models as ms
    from couple_lite.vectors.pack import save_pack

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    pack = save_pack(steerer.pack, tmp_path / "tiny-mf.npz")
    args = [
        "steer",
        "hello",
        "--model",
        str(tiny_model_path),
        "--pack",
        str(pack),
        "--system",
        "moral_foundations",
        "--values",
        "care=6",
        "--max-tokens",
        "6",
        "--n-ctx",
        "2048",
    ]
    from couple_lite.cli.steer import steer

    opt = next(p for p in steer.params if p.name == "delivery")
    assert tuple(opt.type.choices) == get_args(Delivery) and opt.default == "vector"
    r = CliRunner().invoke(main, [*args, "--mode", "hybrid", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["delivery"] == "hybrid" and "care" in out["system_prompt"]
    r = CliRunner().invoke(main, [*args, "--mode", "prompt", "--explain"])
    assert r.exit_code == 0 and "system prompt (--mode prompt)" in r.output
    r = CliRunner().invoke(main, [*args, "--json"])
    assert json.loads(r.output[r.output.index("{") :])["system_prompt"] is None
    r = CliRunner().invoke(main, [*args, "--mode", "words"])
    assert r.exit_code == 2 and "'words' is not one of" in r.output
