"""End to end: the README's steer command on the real default model with the shipped pack."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main

pytestmark = pytest.mark.real_model


def test_steer_command_prints_a_steered_answer_that_differs_from_the_baseline():
    r = CliRunner().invoke(main, ["steer", "How should I spend my weekend?", "--values",
                                  "tradition=6,self_direction=1", "--max-tokens", "40",
                                  "--temperature", "0", "--baseline", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{"):])
    assert len(out["text"].split()) >= 5
    assert out["text"] != out["baseline"]
    assert out["coefficients"]["tradition"] > 0 > out["coefficients"]["self_direction"]
