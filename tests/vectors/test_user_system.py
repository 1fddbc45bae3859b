"""A user's own value system, end to end: the guide's own JSON examples (docs/guide/value-systems.md)
work in `explain`, in the API and through extract, calibrate and steer, though no built-in system has
its name."""

from __future__ import annotations

import json
import re

from click.testing import CliRunner

from cli import main
from couple_lite import make_objective, plan_counterfactual
from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "guide" / "value-systems.md"


def _guide_section() -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text[text.index("## Your own value system") :]


def _guide_system(tmp_path):
    section = _guide_section()
    example = re.search(r"```json\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "mine.json"
    path.write_text(example, encoding="utf-8")
    return path, json.loads(example)


def test_the_guide_example_system_explains_from_the_cli(tmp_path):
    path, raw = _guide_system(tmp_path)
    r = CliRunner().invoke(main, ["explain", "--system", str(path), "--values", "honesty=6", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["system"] == raw["name"] and out["values"] == [v["name"] for v in raw["values"]]
    assert out["counterfactual"]["honesty"] == 6.0
    assert out["counterfactual"]["loyalty"] > out["factual"]["loyalty"]  # the honesty -> loyalty edge


def test_the_guide_example_system_plans_in_the_api(tmp_path):
    path, _raw = _guide_system(tmp_path)
    obj = make_objective("honesty=6", system=str(path))
    assert obj.system == "mine" and "value_system" not in obj.model_dump()
    plan = plan_counterfactual(obj)
    assert plan.counterfactual["honesty"] == 6.0 and set(plan.counterfactual) == {"honesty", "loyalty"}


def _guide_texts(tmp_path):
    section = _guide_section()
    example = re.findall(r"```json\n(.*?)```", section, re.S)[1]
    path = tmp_path / "mine-texts.json"
    path.write_text(example, encoding="utf-8")
    return path


def test_your_own_system_is_extracted_calibrated_and_steered_from_the_guide_s_files(
    tmp_path, tiny_model_path, monkeypatch
):
    """`extract --system mine.json --texts FILE`, `calibrate`, `steer` on the tiny model."""
    import couple_lite.engine.models as ms
    from couple_lite.vectors.pack import load_pack

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    monkeypatch.setenv("COUPLE_LITE_CACHE", str(tmp_path / "cache"))
    system, _ = _guide_system(tmp_path)
    texts = _guide_texts(tmp_path)
    pack = tmp_path / "mine.npz"
    model = ["--model", str(tiny_model_path), "--system", str(system)]
    run = CliRunner().invoke
    r = run(main, ["extract", *model, "--texts", str(texts), "--layers", "1-2", "-o", str(pack), "--json"])
    assert r.exit_code == 0, r.output
    p = load_pack(pack)
    assert p.system == "mine" and p.values == ["honesty", "loyalty"]
    assert p.value_system().names == ["honesty", "loyalty"] and len(p.calibration_items()) == 4
    r = run(
        main,
        [
            "calibrate",
            *model,
            "--pack",
            str(pack),
            "--instrument",
            "likelihood",
            "--strength",
            "0.25,0.5",
            "--no-fluency",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert len(out["response"]) == 2 and out["response_fit"]["items_per_value"] == 2
    system.unlink()  # the pack carries the system: steering needs only its name now
    r = run(
        main,
        [
            "steer",
            "Should I tell my friend?",
            "--model",
            str(tiny_model_path),
            "--system",
            "mine",
            "--pack",
            str(pack),
            "--values",
            "honesty=6",
            "--max-tokens",
            "4",
            "--refine",
            "1",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["coefficients"]["honesty"] != 0 and out["refinement"]["items"] == 4


def test_bad_texts_files_get_one_line_naming_the_place(tmp_path, tiny_model_path):
    system, _ = _guide_system(tmp_path)
    good = json.loads(_guide_texts(tmp_path).read_text(encoding="utf-8"))
    cases = [
        ({"pairs": {**good["pairs"], "courage": good["pairs"]["honesty"]}}, "names 'courage', not values of 'mine'"),
        ({"pairs": {"honesty": good["pairs"]["honesty"]}}, "pairs.loyalty has 0 entries; give at least 4"),
        ({"pairs": {**good["pairs"], "honesty": good["pairs"]["honesty"][:3]}}, "pairs.honesty has 3 entries"),
        ({"pairs": {**good["pairs"], "honesty": [["same", "same"]] * 4}}, "the same text on both sides"),
        ({"pairs": {**good["pairs"], "honesty": [["x", ""]] * 4}}, "needs non-empty texts"),
        ({"pairs": {**good["pairs"], "honesty": ["just one text"] * 4}}, "must be [positive, negative]"),
        (
            {"pairs": good["pairs"], "items": {"honesty": ["I am honest."], "loyalty": ["a", "b"]}},
            "items.honesty has 1 entries; give at least 2",
        ),
        ([1, 2], 'needs an object with "pairs"'),
    ]
    for k, (content, message) in enumerate(cases):
        path = tmp_path / f"bad{k}.json"
        path.write_text(json.dumps(content), encoding="utf-8")
        r = CliRunner().invoke(
            main,
            [
                "extract",
                "--model",
                str(tiny_model_path),
                "--system",
                str(system),
                "--texts",
                str(path),
                "-o",
                str(tmp_path / "x.npz"),
            ],
        )
        assert r.exit_code == 2 and message in r.output, (k, r.output)
        assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "x.npz").exists()
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    r = CliRunner().invoke(main, ["extract", "--system", str(system), "--texts", str(tmp_path / "broken.json")])
    assert r.exit_code == 2 and "is not valid JSON" in r.output
