"""Value systems and objectives: names, spellings, files, levels and priorities."""

from __future__ import annotations

import json

import pytest

from couple_lite.errors import ObjectiveError, ValueNameError, ValueSystemError
from couple_lite.values.objective import load_objective, make_objective
from couple_lite.values.systems import load_value_system


def test_builtin_systems():
    assert load_value_system().names == [
        "self_direction",
        "stimulation",
        "hedonism",
        "achievement",
        "power",
        "security",
        "conformity",
        "tradition",
        "benevolence",
        "universalism",
    ]
    assert load_value_system("schwartz19").dim == 19
    assert load_value_system("moral_foundations").names == [
        "care",
        "fairness",
        "loyalty",
        "authority",
        "sanctity",
        "liberty",
    ]


@pytest.mark.parametrize("spelling", ["Self-Direction", "self direction", "SELF_DIRECTION", "selfdirection"])
def test_name_spellings(spelling):
    assert load_value_system().resolve(spelling) == "self_direction"


def test_unknown_name_lists_valid_names_and_closest():
    with pytest.raises(ValueNameError, match=r"Did you mean 'benevolence'\?.*Valid names: self_direction"):
        load_value_system().resolve("benevolance")


def test_user_system_from_json(tmp_path):
    p = tmp_path / "mine.json"
    p.write_text(
        json.dumps(
            {
                "name": "mine",
                "values": [
                    {"name": "honesty", "definition": "Telling the truth."},
                    {"name": "loyalty", "definition": "Standing by one's people.", "mean": 4.0},
                ],
            }
        )
    )
    vs = load_value_system(p)
    assert vs.names == ["honesty", "loyalty"]
    p.write_text(
        json.dumps(
            {"name": "mine", "values": [{"name": "Honesty", "definition": "x"}, {"name": "b", "definition": "y"}]}
        )
    )
    with pytest.raises(ValueSystemError, match="snake_case"):
        load_value_system(p)
    p.write_text("{not json")
    with pytest.raises(ValueSystemError, match="not valid JSON"):
        load_value_system(p)
    with pytest.raises(ValueSystemError, match="not found"):
        load_value_system(tmp_path / "missing.json")
    with pytest.raises(ValueSystemError, match="Did you mean 'schwartz10'"):
        load_value_system("schwarz10")


def test_levels_words_and_priorities():
    obj = make_objective("benevolence=6, security=high, power=low", "benevolence>security>power")
    assert obj.targets == {"benevolence": 6.0, "security": 5.0, "power": 2.0}
    assert obj.weights["benevolence"] > obj.weights["security"] > obj.weights["power"]
    obj = make_objective("care=5,liberty=2", "care:3,liberty:1", system="moral_foundations")
    assert obj.weights == {"care": 3.0, "liberty": 1.0}
    obj = make_objective("power=1", None)
    assert obj.weights == {"power": 1.0} and not obj.has_priorities


@pytest.mark.parametrize(
    "values,priority,msg",
    [
        ("power=7", None, "outside the scale"),
        ("power=0.5", None, "outside the scale"),
        ("power=nan", None, "finite"),
        ("power=huge", None, "neither a number"),
        ("power", None, "name=level"),
        ("power=2,Power=3", None, "given twice"),
        ("power=6", "power>security", "without a target level"),
        ("power=6", "power:-1", "positive"),
        ("", None, "no value levels"),
    ],
)
def test_malformed_objectives(values, priority, msg):
    with pytest.raises(ObjectiveError, match=msg):
        make_objective(values, priority)


def test_objective_files(tmp_path):
    y = tmp_path / "o.yaml"
    y.write_text("targets:\n  benevolence: 6\n  power: low\npriority: benevolence>power\n")
    obj = load_objective(y)
    assert obj.targets == {"benevolence": 6.0, "power": 2.0} and obj.has_priorities
    j = tmp_path / "o.json"
    j.write_text(json.dumps({"system": "moral_foundations", "targets": {"care": 6}}))
    assert load_objective(j).system == "moral_foundations"
    j.write_text(json.dumps({"targets": {"care": 6}, "extra": 1}))
    with pytest.raises(ObjectiveError, match="unknown keys: extra"):
        load_objective(j)
    j.write_text("[1, 2]")
    with pytest.raises(ObjectiveError, match="mapping"):
        load_objective(j)
    with pytest.raises(ObjectiveError, match="not found"):
        load_objective(tmp_path / "nope.yaml")
