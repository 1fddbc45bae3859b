"""End to end: `eval --quick` on the real default model with the shipped pack (mechanics; the
steering-quality figures come from the full run in docs/eval, not from thresholds here)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main

pytestmark = pytest.mark.real_model


def test_quick_eval_on_the_default_model(tmp_path):
    r = CliRunner().invoke(main, ["eval", "--quick", "--methods", "unsteered,value_prompt,couple_lite",
                                  "--judge", "self", "--json", "--report", str(tmp_path)])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{"):])
    assert set(out["methods"]) == {"unsteered", "value_prompt", "couple_lite"}
    rows = {(x["profile"], x["method"]): x for x in out["rows"]}
    assert len(rows) == 9
    for p in ("self_transcendence", "tradition_first", "care_security_power"):
        steered, plain = rows[(p, "couple_lite")], rows[(p, "unsteered")]
        assert steered["measured"] != plain["measured"]  # the vector reached the measurement
        assert 0 < steered["reached"] <= 1 and all(a.strip() for a in steered["answers"].values())
    assert 0 <= out["judge"]["accuracy"] <= 1 and out["judge"]["n"] == 30
    assert (tmp_path / "report.md").exists() and (tmp_path / "radar_tradition_first.svg").exists()
