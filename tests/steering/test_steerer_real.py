"""End to end: the README's steer command on the real default model with the shipped pack."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main

pytestmark = pytest.mark.real_model


def test_steer_command_prints_a_steered_answer_that_differs_from_the_baseline():
    r = CliRunner().invoke(
        main,
        [
            "steer",
            "How should I spend my weekend?",
            "--values",
            "tradition=6,self_direction=1",
            "--max-tokens",
            "40",
            "--temperature",
            "0",
            "--baseline",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert len(out["text"].split()) >= 5
    assert out["text"] != out["baseline"]
    assert out["coefficients"]["tradition"] > 0 > out["coefficients"]["self_direction"]


@pytest.mark.slow
def test_the_gate_answers_a_factual_question_unsteered_and_steers_advice(tmp_path, monkeypatch):
    """Side effects on neutral prompts: with --gate on, an everyday factual question
    comes back exactly as the unsteered model answers it; an advice question is steered."""
    monkeypatch.setenv("COUPLE_LITE_CACHE", str(tmp_path))
    common = ["--values", "tradition=6,self_direction=1", "--max-tokens", "24", "--temperature", "0", "--json"]
    r = CliRunner().invoke(
        main, ["steer", "How many wheels does a bicycle have?", *common, "--gate", "on", "--baseline"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["gate"]["steered"] is False and out["text"] == out["baseline"]
    r = CliRunner().invoke(
        main, ["steer", "Should I move abroad for a job or stay near my family?", *common, "--gate", "on", "--baseline"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["gate"]["steered"] is True and out["gate"]["relevance"] >= 0.5 and out["text"] != out["baseline"]


def test_the_second_architecture_steers_with_its_shipped_pack_and_no_chat_template():
    """gemma3-270m (Gemma 3, a base model without a chat template): its shipped pack
    loads against the model file, steering changes the answer, and the plain-text answer ends
    before the model writes the user's next turn."""
    r = CliRunner().invoke(
        main,
        [
            "steer",
            "How should I spend my weekend?",
            "--model",
            "gemma3-270m",
            "--values",
            "tradition=6,self_direction=1",
            "--max-tokens",
            "40",
            "--temperature",
            "0",
            "--baseline",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["text"] != out["baseline"]
    assert "\nUser:" not in out["text"] and "\nUser:" not in out["baseline"]
    assert out["coefficients"]["tradition"] > 0 > out["coefficients"]["self_direction"]


def test_the_second_value_system_steers_with_its_shipped_pack():
    """moral_foundations end to end: its shipped pack for the default model loads, the
    plan raises the foundation asked for and lowers the one asked down, and the answer changes."""
    r = CliRunner().invoke(
        main,
        [
            "steer",
            "My friend asked me to cover for him with our boss. What should I do?",
            "--system",
            "moral_foundations",
            "--values",
            "fairness=6,loyalty=2",
            "--max-tokens",
            "32",
            "--temperature",
            "0",
            "--baseline",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["text"] != out["baseline"]
    assert out["coefficients"]["fairness"] > 0 > out["coefficients"]["loyalty"]
