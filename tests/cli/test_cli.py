"""The CLI: explain (JSON contract, the done-when example), info errors, one-line errors, help."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_power_six_moves_neighbours_up_and_opposites_down():
    r = run("explain", "--values", "power=6", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    for key in ("system", "values", "factual", "counterfactual", "counterfactual_sd", "interventions"):
        assert key in out
    cf, f = out["counterfactual"], out["factual"]
    assert cf["power"] == pytest.approx(6.0)
    assert out["interventions"] == {"power": 6.0}
    for n in ("achievement", "hedonism"):
        assert cf[n] > f[n]
    for n in ("universalism", "benevolence"):
        assert cf[n] < f[n] - 0.5


def test_observed_profile_is_the_factual_world():
    r = run("explain", "--values", "power=6", "--observed", "security=4,Benevolence=5.5", "--json")
    out = json.loads(r.output)
    assert out["factual"]["security"] == pytest.approx(4.0)
    assert out["factual"]["benevolence"] == pytest.approx(5.5)
    assert out["factual_sd"]["security"] == pytest.approx(0.0, abs=1e-6)


def test_table_and_priorities():
    r = run("explain", "--values", "power=6,universalism=6", "--priority", "power>universalism")
    assert r.exit_code == 0
    assert "prioritized" in r.output and "universalism" in r.output and "->" in r.output


def test_objective_file(tmp_path):
    p = tmp_path / "o.yaml"
    p.write_text("system: moral_foundations\ntargets:\n  care: 6\n")
    r = run("explain", "--objective", str(p), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["system"] == "moral_foundations"


@pytest.mark.parametrize(
    "args,msg",
    [
        (["--values", "powr=6"], "Did you mean 'power'"),
        (["--values", "power=9"], "outside the scale"),
        (["--values", "power=6", "--observed", "security=nan"], "finite"),
        (["--values", "power=6", "--observed", "security=9"], "outside the scale"),
        (["--values", "power=6", "--observed", "security=4,security=5"], "given twice"),
        (["--values", "power=6", "--system", "nope"], "unknown value system"),
        (["--objective", "/no/such/file.yaml"], "not found"),
        (["--values", "power=6", "--plausibility", "-1"], "plausibility"),
    ],
)
def test_errors_are_one_line_and_exit_nonzero(args, msg):
    r = run("explain", *args)
    assert r.exit_code == 2
    assert msg in r.output
    assert "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("model,msg", [("/no/such/model.gguf", "not found"), ("nosuch", "unknown model")])
def test_info_errors(model, msg, tmp_path):
    r = run("info", "--model", model)
    assert r.exit_code == 2 and msg in r.output and "Traceback" not in r.output


def test_info_on_a_non_gguf_file(tmp_path):
    p = tmp_path / "m.gguf"
    p.write_bytes(b"PK\x03\x04 not a model")
    r = run("info", "--model", str(p))
    assert r.exit_code == 2 and "not a GGUF file" in r.output


def test_help_lists_commands_with_examples():
    r = run("--help")
    assert "explain" in r.output
    from couple_lite.cli import COMMANDS

    assert set(main.list_commands(None)) == set(COMMANDS)
    for cmd in COMMANDS:
        assert "Example:" in run(cmd, "--help").output, cmd


def test_eval_help_lists_every_method_of_the_registry():
    from couple_lite.research.methods import METHODS

    text = " ".join(run("eval", "--help").output.split())  # unwrapped
    assert all(f" {m}," in text or f" {m};" in text for m in METHODS)


def test_extract_calibrate_measure_on_the_tiny_model(tiny_model_path, tmp_path):
    pack = tmp_path / "tiny.npz"
    common = ["--model", str(tiny_model_path), "--system", "moral_foundations"]
    r = run("extract", *common, "--layers", "1-2", "-o", str(pack), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["layer_range"] == [1, 2] and pack.exists()
    r = run("calibrate", *common, "--pack", str(pack), "--instrument", "likelihood", "--strength", "0.5", "--json")
    assert r.exit_code == 0, r.output
    cal = json.loads(r.output[r.output.index("{") :])
    assert len(cal["response"]) == 6 and set(cal["fluency_limit"]) == set(cal["values"])
    r = run("measure", *common, "--pack", str(pack), "--values", "care=6", "--instrument", "likelihood", "--json")
    assert r.exit_code == 0, r.output
    m = json.loads(r.output[r.output.index("{") :])
    for key in ("profile", "sd", "instrument", "n_items"):
        assert key in m
    r = run("measure", *common, "--instrument", "questionnaire")
    assert r.exit_code == 0 and "care" in r.output


def test_measure_errors(tiny_model_path, tmp_path):
    common = ["--model", str(tiny_model_path), "--system", "moral_foundations"]
    r = run("measure", *common, "--instrument", "probe", "--pack", str(tmp_path / "none.npz"))
    assert r.exit_code == 2 and "not found" in r.output
    r = run("measure", *common, "--items", str(tmp_path / "none.csv"))
    assert r.exit_code == 2 and "not found" in r.output
    r = run("extract", *common, "--layers", "0-9", "-o", str(tmp_path / "x.npz"))
    assert r.exit_code == 2 and "layer range" in r.output and not (tmp_path / "x.npz").exists()


def test_serve_without_the_server_extra_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed: import raises ImportError
    r = run("serve", "--port", "0")
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1] == (
        'error: serve needs the server extra (uvicorn is missing): pip install "couple-lite[server]"'
    )


def test_serve_refuses_an_empty_api_key():
    r = run("serve", "--api-key", " ")
    assert r.exit_code == 2 and "the API key is empty" in r.output
