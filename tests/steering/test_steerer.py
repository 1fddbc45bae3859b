"""The steering pipeline on the tiny model with a synthetic, calibrated pack."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.engine.control_vector import read_control_vector
from couple_lite.errors import ControlVectorError, ObjectiveError
from couple_lite.steering.steerer import Ablation, Steerer
from couple_lite.values.objective import make_objective
from couple_lite.values.prior import prior_scm
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.extraction import extract
from couple_lite.vectors.pack import save_pack
from tests.packs import calibrated_pack

MF = load_value_system("moral_foundations")
NAMES = MF.names


@pytest.fixture(scope="module")
def extraction(tiny_engine):
    return extract(tiny_engine, MF, "mean", "context", layers=(1, 2))


def make_pack(extraction, R=None, doses=10.0, base=None):
    rng = np.random.default_rng(0)
    R = np.eye(6) * 4 + rng.normal(scale=0.8, size=(6, 6)) if R is None else R
    base = base or dict(zip(NAMES, 3.5 + rng.normal(scale=0.3, size=6)))
    return calibrated_pack(extraction, "moral_foundations", R, doses, unsteered=base)


def test_decoupled_coefficients_reproduce_the_counterfactual_change(tiny_engine, extraction):
    st = Steerer(tiny_engine, make_pack(extraction))
    plan = st.plan(make_objective("care=6,authority=2", system=MF))
    assert plan.reached == 1.0 and not plan.warnings
    # the calibration predicts the counterfactual profile (ridge is tiny): side effects compensated
    for n in NAMES:
        assert plan.predicted[n] == pytest.approx(plan.counterfactual[n], abs=0.05)
    assert plan.counterfactual["care"] == pytest.approx(6.0)
    v = st.vector(plan)
    assert v.shape == (tiny_engine.n_layer, tiny_engine.n_embd) and not v[0].any()


def test_ablations(tiny_engine, extraction):
    st = Steerer(tiny_engine, make_pack(extraction))
    obj = make_objective("care=6", system=MF)
    full = st.plan(obj)
    no_scm = st.plan(obj, Ablation(scm=False))
    assert {n for n in NAMES if no_scm.counterfactual[n] != no_scm.factual[n]} == {"care"}
    assert any(abs(full.counterfactual[n] - full.factual[n]) > 0.05 for n in NAMES if n != "care")
    plain = st.plan(obj, Ablation(decouple=False))
    i = NAMES.index("care")
    delta = st.units.change_to_instrument(plain.counterfactual["care"] - plain.factual["care"])
    assert plain.coefficients["care"] == pytest.approx(delta / st.pack.response[i, i])
    prior = st.plan(obj, Ablation(abduction=False))
    np.testing.assert_allclose([prior.factual[n] for n in NAMES], prior_scm(MF).mean, atol=1e-9)


def test_fluency_cap_is_reported_and_enforced(tiny_engine, extraction):
    pack = make_pack(extraction, doses=1e-3)
    st = Steerer(tiny_engine, pack)
    plan = st.plan(make_objective("care=6,authority=1", system=MF))
    assert plan.reached < 1 and any("the fluency budget" in w for w in plan.warnings)
    c = np.array([plan.coefficients[n] for n in NAMES])
    assert c @ pack.fluency_gram @ c == pytest.approx(pack.fluency_budget, rel=1e-9)


def test_a_kl_budget_caps_the_predicted_cost_of_the_combined_vector(tiny_engine, extraction, tmp_path):
    """A v2 pack: each value's own dose, and the combination capped at cᵀ G c = budget (a pair of
    values that cost more together than apart gets less of each)."""
    from couple_lite.vectors.pack import load_pack

    pack = make_pack(extraction)
    doses = np.array([0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    budget = 0.1
    G = np.diag(budget / doses**2)
    G[0, 1] = G[1, 0] = 0.5 * np.sqrt(G[0, 0] * G[1, 1])
    pack.fluency_limit, pack.fluency_gram = doses, G
    pack.metrics["fluency"] = {"budget": budget, "per_value_dose": True}
    path = save_pack(pack, tmp_path / "v2.npz")
    loaded = load_pack(path)
    assert loaded.fluency_budget == budget and np.array_equal(loaded.fluency_gram, G)
    st = Steerer(tiny_engine, loaded)
    plan = st.plan(make_objective("care=6,fairness=1", system=MF))
    c = np.array([plan.coefficients[n] for n in NAMES])
    assert plan.reached < 1 and c @ G @ c == pytest.approx(budget, rel=1e-9)
    assert any("x the fluency budget; steering at the budget reaches" in w for w in plan.warnings)
    small = st.plan(make_objective(f"care={plan.factual['care'] + 0.01:.4f}", system=MF))
    assert small.reached == 1.0  # well inside the budget: nothing is cut
    bad = dict(G=-G)
    pack.fluency_gram = bad["G"]
    save_pack(pack, tmp_path / "bad.npz")
    with pytest.raises(ControlVectorError, match="positive definite"):
        load_pack(tmp_path / "bad.npz")


def test_a_value_the_vectors_cannot_raise_is_reported(tiny_engine, extraction):
    R = np.eye(6) * 3
    R[0, 0] = -1.0
    st = Steerer(tiny_engine, make_pack(extraction, R=R))
    plan = st.plan(make_objective("care=6", system=MF))
    assert any("care" in w and "cannot be reached" in w for w in plan.warnings)
    with pytest.raises(ObjectiveError, match="care: .*cannot be reached"):
        st.plan(make_objective("care=6", system=MF), strict=True)


def test_streaming_restores_the_model_and_can_be_cancelled(tiny_engine, extraction):
    st = Steerer(tiny_engine, make_pack(extraction))
    plan = st.plan(make_objective("care=6", system=MF))
    gen = dict(max_tokens=12, temperature=0.0)
    assert st.generate("hello", plan, **gen) != st.generate("hello", None, **gen)
    assert tiny_engine.control_vector is None
    stop = threading.Event()
    pieces = []
    for piece in st.stream("hello", plan, cancel=stop, **gen):
        pieces.append(piece)
        stop.set()
    assert len(pieces) == 1 and tiny_engine.control_vector is None
    with pytest.raises(ObjectiveError, match="prompt is empty"):
        st.generate("  ", plan)


def test_pack_requirements(tiny_engine, extraction):
    bare = make_pack(extraction)
    bare.response = None
    with pytest.raises(ControlVectorError, match="not calibrated"):
        Steerer(tiny_engine, bare)
    with pytest.raises(ObjectiveError, match="pack for 'moral_foundations'"):
        Steerer(tiny_engine, make_pack(extraction)).plan(make_objective("power=6"))


@pytest.fixture()
def pack_file(extraction, tmp_path):
    return save_pack(make_pack(extraction), tmp_path / "tiny-mf.npz")


def test_steer_export_and_chat_cli(tiny_model_path, pack_file, tmp_path, monkeypatch):
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    run = CliRunner().invoke
    common = ["--model", str(tiny_model_path), "--pack", str(pack_file), "--objective"]
    obj = tmp_path / "o.yaml"
    obj.write_text("system: moral_foundations\ntargets: {care: 6, authority: 2}\npriority: care>authority\n")
    r = run(main, ["steer", "hello", *common, str(obj), "--max-tokens", "8", "--json", "--baseline"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    for key in ("text", "objective", "factual", "counterfactual", "coefficients", "model", "baseline"):
        assert key in out
    r = run(main, ["steer", "hello", *common, str(obj), "--max-tokens", "8", "--explain"])
    assert r.exit_code == 0 and "coefficient" in r.output
    r = run(main, ["steer", "hello", *common, str(obj), "--max-tokens", "8", "--scope", "answer", "--json"])
    assert r.exit_code == 0, r.output
    r = run(main, ["steer", "hello", *common, str(obj), "--scope", "question"])
    assert r.exit_code == 2 and "'question' is not one of 'all', 'answer'" in r.output
    gguf_out = tmp_path / "v.gguf"
    r = run(main, ["export", *common, str(obj), "-o", str(gguf_out)])
    assert r.exit_code == 0, r.output
    v = read_control_vector(gguf_out, 4, 64, "llama")
    assert np.abs(v).max() > 0
    r = run(
        main,
        ["chat", *common, str(obj), "--max-tokens", "4"],
        input="hi\n/values care=2,loyalty=6\n/values nonsense=3\n/priority care\n/unknowncmd x\nagain\n/quit\n",
    )
    assert r.exit_code == 0, r.output
    assert "objective: care=2, loyalty=6" in r.output and "unknown value 'nonsense'" in r.output
    assert "unknown command '/priority'" in r.output and "unknown command '/unknowncmd'" in r.output
    assert r.output.count("model>") == 2  # a /command is never sent to the model


def test_steer_cli_errors(tiny_model_path, pack_file, tmp_path):
    run = CliRunner().invoke
    r = run(
        main,
        [
            "steer",
            "hello",
            "--model",
            str(tiny_model_path),
            "--pack",
            str(pack_file),
            "--values",
            "care=6",
            "--system",
            "moral_foundations",
        ],
    )
    assert r.exit_code == 2 and "made for model tiny" in r.output  # the tiny file's real hash differs
    obj = tmp_path / "o.yaml"
    obj.write_text("targets: {care: 6}\n")
    r = run(main, ["steer", "hello", "--values", "care=6", "--objective", str(obj)])
    assert r.exit_code == 2 and "not both" in r.output
    r = run(
        main,
        [
            "steer",
            "",
            "--model",
            str(tiny_model_path),
            "--pack",
            str(pack_file),
            "--values",
            "care=6",
            "--system",
            "moral_foundations",
        ],
    )
    assert r.exit_code == 2 and "prompt is empty" in r.output
    # the model is on disk, so it loads while a worker parses the objective: its error still wins
    r = run(
        main,
        [
            "steer",
            "hello",
            "--model",
            str(tiny_model_path),
            "--pack",
            str(pack_file),
            "--values",
            "kare=6",
            "--system",
            "moral_foundations",
        ],
    )
    assert r.exit_code == 2 and "unknown value 'kare'" in r.output and "care" in r.output


def test_a_stream_started_in_one_thread_can_be_finished_in_another(tiny_engine, extraction):
    """it used to block forever in clear_control_vector, the vector left applied."""
    from concurrent.futures import ThreadPoolExecutor

    st = Steerer(tiny_engine, make_pack(extraction))
    plan = st.plan(make_objective("care=6", system=MF))
    gen = dict(max_tokens=8, temperature=0.0)
    whole = st.generate("hello", plan, **gen)
    with ThreadPoolExecutor(1) as a, ThreadPoolExecutor(1) as b:
        stream = st.stream("hello", plan, **gen)
        first = a.submit(next, stream).result(timeout=30)
        assert tiny_engine.control_vector is not None  # steered while the answer is under way
        rest = b.submit(lambda: "".join(stream)).result(timeout=30)
        assert first + rest == whole
        assert tiny_engine.control_vector is None
        # the locks are free again for any thread
        assert a.submit(lambda: st.generate("hello", None, **gen)).result(timeout=30)
        # a stream abandoned in one thread and closed in another also restores the model
        stream = st.stream("hello", plan, **gen)
        a.submit(next, stream).result(timeout=30)
        b.submit(stream.close).result(timeout=30)
        assert tiny_engine.control_vector is None
        assert b.submit(lambda: st.generate("hello", None, **gen)).result(timeout=30)


def test_n_ctx_bounds_the_prompt_and_is_named_in_the_error(tiny_model_path, pack_file, monkeypatch):
    """the 'raise n_ctx' advice has an option behind it."""
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    run = CliRunner().invoke
    common = [
        "--model",
        str(tiny_model_path),
        "--pack",
        str(pack_file),
        "--values",
        "care=6",
        "--system",
        "moral_foundations",
        "--max-tokens",
        "4",
        "--temperature",
        "0",
    ]
    long_prompt = "tell me more " * 60  # ~800 byte tokens on the tiny byte-level vocabulary
    r = run(main, ["steer", long_prompt, *common, "--n-ctx", "256"])
    assert r.exit_code == 2 and "--n-ctx" in r.output and "Traceback" not in r.output
    r = run(main, ["steer", long_prompt, *common, "--n-ctx", "2048"])
    assert r.exit_code == 0, r.output
    r = run(main, ["steer", "hi", *common, "--n-ctx", "8"])
    assert r.exit_code == 2 and "--n-ctx" in r.output  # below the option's minimum: a usage error


def test_the_model_s_own_value_graph_can_plan_the_counterfactual(tiny_engine, extraction):
    pack = make_pack(extraction)
    obj = make_objective("care=6", system=MF)
    a, b = Steerer(tiny_engine, pack), Steerer(tiny_engine, pack, scm="model")
    prior, model = a.plan(obj), b.plan(obj)
    assert model.counterfactual["care"] == pytest.approx(6.0)
    assert model.counterfactual != prior.counterfactual
    np.testing.assert_allclose(b.factual, a.factual)  # same mean and variances: the same 1-6 scale
    with pytest.raises(ObjectiveError, match="scm must be one of"):
        Steerer(tiny_engine, pack, scm="people")
