"""End to end: `eval --quick` on the real default model with the shipped pack (mechanics; the
steering-quality figures come from the full run in docs/eval, not from thresholds here)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main

pytestmark = pytest.mark.real_model

# the unsteered default model as judge labels 20 of our 30 labelled answers right (0.67, chance 0.10);
# a judge that ignores the answer or its word preferences falls to about chance
SELF_JUDGE_FLOOR = 0.5


@pytest.mark.slow
def test_the_default_model_as_judge_is_well_above_chance(real_engine):
    from couple_lite.measure.judge import AnswerJudge
    from couple_lite.research.evaluation import eval_data
    from couple_lite.values.systems import load_value_system

    data = eval_data("schwartz10")
    judge = AnswerJudge(real_engine, load_value_system("schwartz10").names, data["judge_words"], "self")
    acc = judge.accuracy(data["labelled_answers"])
    assert acc["n"] == 110 and acc["accuracy"] >= SELF_JUDGE_FLOOR


@pytest.mark.slow
def test_quick_eval_on_the_default_model(tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "eval",
            "--quick",
            "--methods",
            "unsteered,value_prompt,couple_lite",
            "--judge",
            "self",
            "--json",
            "--report",
            str(tmp_path),
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert set(out["methods"]) == {"unsteered", "value_prompt", "couple_lite"}
    rows = {(x["profile"], x["method"]): x for x in out["rows"]}
    assert len(rows) == 9
    for p in ("self_transcendence", "tradition_first", "care_security_power"):
        steered, plain = rows[(p, "couple_lite")], rows[(p, "unsteered")]
        assert steered["measured"] != plain["measured"]  # the vector reached the measurement
        assert 0 < steered["reached"] <= 1 and all(a.strip() for a in steered["answers"].values())
    assert out["judge"]["accuracy"] >= SELF_JUDGE_FLOOR and out["judge"]["n"] == 110
    assert (tmp_path / "report.md").exists() and (tmp_path / "radar_tradition_first.svg").exists()
