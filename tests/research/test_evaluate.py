"""The evaluation's mechanics on the tiny model with a synthetic calibrated Schwartz-10 pack
(no numeric thresholds on steering quality: the tiny model has no values)."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import CoupleError, ObjectiveError, ValueSystemError
from couple_lite.measure import AnswerJudge
from couple_lite.research import (
    METHODS,
    QUICK_PROFILES,
    EvalResult,
    builtin_profiles,
    eval_data,
    eval_items,
    load_profiles,
    method,
    run_eval,
    summary_table,
)
from couple_lite.steering import Steerer
from couple_lite.values import load_value_system, make_objective, value_prompt
from couple_lite.vectors import save_pack
from couple_lite.vectors.extraction import extract
from tests.packs import calibrated_pack

S10 = load_value_system("schwartz10")
PLOTS = importlib.util.find_spec("matplotlib") is not None


@pytest.fixture(scope="module")
def engine(long_engine):
    return long_engine


@pytest.fixture(scope="module")
def pack(tiny_engine):
    ex = extract(tiny_engine, S10, "mean", "context", layers=(1, 2))
    rng = np.random.default_rng(1)
    R = np.eye(10) * 4 + rng.normal(scale=0.5, size=(10, 10))
    base = dict(zip(S10.names, 3.5 + rng.normal(scale=0.3, size=10)))
    return calibrated_pack(ex, "schwartz10", R, 0.05, unsteered=base)


def test_builtin_profiles_cover_the_kinds_the_issue_names():
    ps = builtin_profiles(S10)
    kinds = [p.kind for p in ps]
    assert len(ps) >= 15 and len({p.name for p in ps}) == len(ps)
    assert kinds.count("archetype") == 4 and kinds.count("single") >= 3 and kinds.count("prior_sample") >= 3
    partial = [p for p in ps if p.kind == "partial"]
    assert partial and all(3 <= len(p.objective(S10).targets) <= 5 and p.objective(S10).has_priorities for p in partial)
    assert set(QUICK_PROFILES) <= {p.name for p in ps}
    assert builtin_profiles(S10)[8].values == ps[8].values  # prior samples are seeded
    with pytest.raises(ValueSystemError, match="--profiles"):
        builtin_profiles(load_value_system("schwartz19"))


def test_moral_foundations_has_built_in_targets_and_evaluation_data():
    mf = load_value_system("moral_foundations")
    ps = builtin_profiles(mf)
    kinds = [p.kind for p in ps]
    assert len(ps) == 17 and len({p.name for p in ps}) == 17
    assert kinds.count("archetype") == 4 and kinds.count("single") == 4 and kinds.count("prior_sample") == 4
    for p in ps:  # every target is a valid objective of the system, partial ones with priorities
        obj = p.objective(mf)
        assert obj.targets and (p.kind != "partial" or obj.has_priorities)
    data = eval_data("moral_foundations")
    assert set(data["items"]) == set(mf.names) == set(data["labelled_answers"]) == set(data["judge_words"])
    assert all(len(v) >= 4 for v in data["items"].values()) and len(data["questions"]) >= 30
    assert sum(map(len, data["labelled_answers"].values())) >= 60


@pytest.mark.parametrize("name", ["schwartz10", "moral_foundations"])
def test_eval_items_are_held_out_from_extraction_and_calibration_items(name):
    from couple_lite.measure import builtin_items
    from couple_lite.vectors.texts import value_pairs

    vs = load_value_system(name)
    items, source = eval_items(vs)
    assert len(items) == 4 * len(vs.names) and "held-out" in source
    used = {t for ts in builtin_items(name).values() for t in ts}
    used |= {x for ps in value_pairs(vs, "all").values() for p in ps for x in (p.positive, p.negative, p.question)}
    assert not used & {it.text for it in items}
    # nor do they share a phrase: no five words in a row of an item appear in a training text
    import re

    def grams(t, n=5):
        w = re.findall(r"[a-z']+", t.lower())
        return {tuple(w[i : i + n]) for i in range(len(w) - n + 1)}

    seen = set().union(*map(grams, used))
    data = eval_data(name)
    shared = [t for t in [it.text for it in items] if grams(t) & seen]
    assert not shared, shared
    assert len(eval_items(vs, per_value=2)[0]) == 2 * len(vs.names)
    assert len(data["questions"]) >= 30


def test_load_profiles_errors(tmp_path):
    good = tmp_path / "p.json"
    good.write_text(json.dumps([{"name": "x", "values": "power=6,benevolence=2", "priority": "power>benevolence"}]))
    assert load_profiles(good)[0].objective(S10).targets == {"power": 6.0, "benevolence": 2.0}
    for text, msg in [("[", "not valid JSON"), ("[]", "non-empty list"), ('[{"values": "power=6"}]', "name")]:
        bad = tmp_path / "b.json"
        bad.write_text(text)
        with pytest.raises(ObjectiveError, match=msg):
            load_profiles(bad)
    with pytest.raises(CoupleError, match="not found"):
        load_profiles(tmp_path / "missing.json")


def test_method_names():
    assert method("couple_lite") is METHODS["couple_lite"]
    assert callable(method("couple_lite@2"))
    for bad, msg in [
        ("nope", "unknown method"),
        ("value_prompt@2", "only vector methods"),
        ("couple_lite@-1", "positive number"),
        ("couple_lite@x", "positive number"),
    ]:
        with pytest.raises(CoupleError, match=msg):
            method(bad)


def test_value_prompt_orders_by_priority():
    text = value_prompt(make_objective("power=1,benevolence=6,security=5", "benevolence>security>power"), S10)
    assert text.index("benevolence") < text.index("security") < text.index("power")
    assert "not important at all" in text and "of the highest importance" in text


def test_judge_scores_are_centred_and_accuracy_is_reported(tiny_engine):
    data = eval_data("schwartz10")
    judge = AnswerJudge(tiny_engine, S10.names, data["judge_words"], "tiny")
    s = judge.scores(["Help your neighbour.", "Take the risk!"])
    assert s.shape == (2, 10) and np.allclose(s.sum(axis=1), 0, atol=1e-9)
    acc = judge.accuracy(data["labelled_answers"])
    pairs = [(v, a) for v in S10.names for a in data["labelled_answers"][v]]
    top = judge.scores([a for _, a in pairs]).argmax(axis=1)  # recomputed: top-1 against the labels
    assert acc["accuracy"] == pytest.approx(np.mean([S10.names[k] == v for k, (v, _) in zip(top, pairs)]))
    assert acc["n"] == 110 and acc["chance"] == pytest.approx(0.1)
    assert len(acc["confusions"]) == round((1 - acc["accuracy"]) * 110)


class KeywordEngine:
    """A stand-in judge model: log P(word) is a fixed preference per word, +2 when the answer
    contains the word; the preference is what the PMI against a content-free answer must cancel."""

    def __init__(self, bias):
        self.bias, self.vocab = bias, {}

    def tokenize(self, text, add_bos=True):
        return [self.vocab.setdefault(text, len(self.vocab))]  # every word one token of its own

    def steered(self, vector):
        from contextlib import nullcontext

        return nullcontext()

    def option_logprobs(self, prompts, options, chat=True):
        return np.array([[b + 2.0 * (o.strip() in p) for o, b in zip(options, self.bias)] for p in prompts])


def test_judge_accuracy_is_one_for_a_perfect_judge_and_zero_for_mislabelled_answers():
    words = eval_data("schwartz10")["judge_words"]
    judge = AnswerJudge(KeywordEngine(np.linspace(0, 9, 10)), S10.names, words, "keyword")
    answers = {v: [f"Choose {words[v]} every time."] for v in S10.names}
    acc = judge.accuracy(answers)
    assert acc == {"accuracy": 1.0, "n": 10, "chance": 0.1, "confusions": []}
    shifted = {v: answers[S10.names[(k + 1) % 10]] for k, v in enumerate(S10.names)}  # every label wrong
    acc = judge.accuracy(shifted)
    assert acc["accuracy"] == 0.0 and acc["confusions"][0] == f"{S10.names[0]} -> {S10.names[1]}"


@pytest.mark.slow
def test_run_eval_mechanics(engine, pack, tmp_path):
    tiny_engine = engine
    st = Steerer(engine, pack, "tiny")
    profiles = [p for p in builtin_profiles(S10) if p.name in QUICK_PROFILES]
    items, _ = eval_items(S10, per_value=1)
    judge = AnswerJudge(tiny_engine, S10.names, eval_data("schwartz10")["judge_words"], "tiny")
    seen = []
    methods = list(METHODS) + ["couple_lite@2"]
    res = run_eval(
        tiny_engine,
        st,
        profiles,
        methods,
        items=items,
        questions=eval_data("schwartz10")["questions"],
        judge=judge,
        questions_per_profile=1,
        max_tokens=4,
        progress=lambda d, t, _label: seen.append((d, t)),
    )
    assert seen[-1] == (len(profiles) * len(methods) + 1,) * 2
    assert len(res.rows) == len(profiles) * len(methods) and set(res.methods) == set(methods)
    for s in res.methods.values():
        assert {"spearman", "mae", "order_preserved", "seconds_per_answer"} <= set(s)
    by = {(r.profile, r.method): r for r in res.rows}
    for p in profiles:
        assert by[(p.name, "unsteered")].ppl_ratio == 1.0
        assert by[(p.name, "unsteered")].measured == res.unsteered
        unsteered = by[(p.name, "unsteered")]
        assert all(res.unsteered_answers[q] == a for q, a in unsteered.answers.items())
        assert unsteered.seconds_per_answer > 0
        # the target keeps the objective's levels on named values
        for n, lvl in p.objective(S10).targets.items():
            assert res.targets[p.name][n] == lvl
    # a vector method really changes the measured profile; @2 doubles the vector's predicted change
    r1, r2 = by[("self_transcendence", "couple_lite")], by[("self_transcendence", "couple_lite@2")]
    assert r1.measured != res.unsteered
    assert r2.reached == pytest.approx(2 * r1.reached)
    assert all(r2.predicted_change[n] == pytest.approx(2 * r1.predicted_change[n]) for n in S10.names)
    assert tiny_engine.control_vector is None  # every condition restored the model
    # the result round-trips through JSON (the report can be re-rendered) and renders a table
    again = EvalResult.model_validate_json(res.model_dump_json())
    assert again.methods == res.methods and "couple_lite" in summary_table(again) and "goal:" in summary_table(again)

    from couple_lite.research.report import write_report

    path = write_report(res, tmp_path / "rep")
    names = {f.name for f in (tmp_path / "rep").iterdir()}
    md = path.read_text()
    assert {"report.md", "results.json"} <= names and "## Goals" in md and "| couple_lite |" in md
    if PLOTS:  # the report extra (CI installs it); without it tests/research/test_report.py checks the report's note
        assert {"methods.svg", "response_matrix.svg", "scm_graph.svg"} <= names
        assert {f"radar_{p.name}.svg" for p in profiles} <= names
        assert "radar_self_transcendence.svg" in md
    assert not [f for f in names if f.startswith(".")]  # no temporary files left
    # every image the report links is a file it wrote (a result without R has no heat map to link)
    for result, where in ((res, tmp_path / "rep"), (res.model_copy(update={"response": None}), tmp_path / "rep2")):
        md = write_report(result, where).read_text()
        linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md))
        assert (linked or not PLOTS) and linked <= {f.name for f in where.iterdir()}
    assert "response_matrix.svg" not in (tmp_path / "rep2" / "report.md").read_text()


@pytest.mark.slow
def test_eval_cli_quick_json_and_report(tiny_model_path, pack, tmp_path, monkeypatch):
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    pack_file = save_pack(pack, tmp_path / "tiny-s10.npz")
    common = ["eval", "--model", str(tiny_model_path), "--pack", str(pack_file)]
    r = CliRunner().invoke(
        main,
        [
            *common,
            "--quick",
            "--methods",
            "unsteered,couple_lite,value_prompt",
            "--judge",
            "self",
            "--max-tokens",
            "4",
            "--json",
            "--report",
            str(tmp_path / "r"),
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert set(out["methods"]) == {"unsteered", "couple_lite", "value_prompt"}
    assert len(out["rows"]) == 9 and out["judge"]["n"] == 110
    assert (tmp_path / "r" / "report.md").exists()
    r = CliRunner().invoke(main, ["eval", "--from-results", str(tmp_path / "r" / "results.json")])
    assert r.exit_code == 0 and "couple_lite" in r.output
    r = CliRunner().invoke(main, [*common, "--quick", "--methods", "couple_lite,bogus", "--judge", "none"])
    assert r.exit_code == 2 and "unknown method 'bogus'" in r.output
    r = CliRunner().invoke(main, ["eval", "--from-results", str(tmp_path / "nothing.json")])
    assert r.exit_code == 2 and "cannot read" in r.output


def test_eval_cli_on_moral_foundations(tiny_engine, tiny_model_path, tmp_path, monkeypatch):
    """The second value system end to end on the tiny model: its own targets, held-out items,
    questions and labelled answers (72, judged by the model itself)."""
    import couple_lite.engine.models as ms

    mf = load_value_system("moral_foundations")
    ex = extract(tiny_engine, mf, "mean", "context", layers=(1, 2))
    R = np.eye(6) * 4 + np.random.default_rng(2).normal(scale=0.3, size=(6, 6))
    base = dict.fromkeys(mf.names, 3.5)
    mf_pack = calibrated_pack(ex, "moral_foundations", R, 0.05, unsteered=base)
    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    pack_file = save_pack(mf_pack, tmp_path / "tiny-mf.npz")
    r = CliRunner().invoke(
        main,
        [
            "eval",
            "--model",
            str(tiny_model_path),
            "--pack",
            str(pack_file),
            "--system",
            "moral_foundations",
            "--quick",
            "--methods",
            "unsteered,couple_lite",
            "--judge",
            "self",
            "--max-tokens",
            "4",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    profiles = {x["profile"] for x in out["rows"]}
    assert profiles <= {p.name for p in builtin_profiles(mf)} and len(profiles) == 3
    assert out["judge"]["n"] == 72 and out["system"] == "moral_foundations"
