"""A user's own value system, end to end (issue 14, item 2): the README's own JSON example works in
`explain` and in the API, though no built-in system has its name."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from cli import main
from couple_lite import make_objective, plan_counterfactual
from tests.conftest import ROOT


def _readme_system(tmp_path):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Your own value system"):]
    example = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "mine.json"
    path.write_text(example, encoding="utf-8")
    return path, json.loads(example)


def test_the_readme_example_system_explains_from_the_cli(tmp_path):
    path, raw = _readme_system(tmp_path)
    r = CliRunner().invoke(main, ["explain", "--system", str(path), "--values", "honesty=6", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["system"] == raw["name"] and out["values"] == [v["name"] for v in raw["values"]]
    assert out["counterfactual"]["honesty"] == 6.0
    assert out["counterfactual"]["loyalty"] > out["factual"]["loyalty"]  # the honesty -> loyalty edge


def test_the_readme_example_system_plans_in_the_api(tmp_path):
    path, raw = _readme_system(tmp_path)
    obj = make_objective("honesty=6", system=str(path))
    assert obj.system == "mine" and "value_system" not in obj.model_dump()
    plan = plan_counterfactual(obj)
    assert plan.counterfactual["honesty"] == 6.0 and set(plan.counterfactual) == {"honesty", "loyalty"}
