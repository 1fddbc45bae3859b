"""The evaluation report on a small synthetic result (no model): the statistics it quotes, its SVG
plots read back, and the report without matplotlib (report.md and results.json, no image linked)."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import CoupleError
from couple_lite.research import stats as eval_stats
from couple_lite.research.report import PLOTS_HINT, _differences, write_report
from couple_lite.research.result import EvalProfile, EvalResult, MethodRow, summarise
from couple_lite.vectors.calibration import specificity

SVG = "{http://www.w3.org/2000/svg}"
VALUES = ["self_direction", "power", "security", "benevolence"]
METHODS = ["unsteered", "value_prompt", "couple_lite", "couple_lite@2"]
R = np.array([[4.0, -1.0, 0.5, 0.2], [0.3, 3.0, 1.5, -0.7], [-0.2, 2.0, 1.0, 0.1], [0.0, -0.4, 0.3, 2.5]])
W = np.array([[0, 0.3, 0.01, 0], [0, 0, 0.2, -0.4], [0, 0, 0, 0.06], [0, 0, 0, 0]])  # 4 edges >= 0.05


def _row(profile: str, method: str, k: int) -> MethodRow:
    rng = np.random.default_rng(k)
    vector = "couple_lite" in method
    return MethodRow(
        profile=profile,
        kind="custom",
        method=method,
        named=VALUES[:3],
        spearman_named=None if method == "unsteered" else float(rng.uniform(-1, 1)),
        spearman_all=0.1,
        mae_named=1.0,
        mae_all=1.0,
        order_preserved=0.5,
        change_spearman=None if method == "unsteered" else 0.3,
        side_effect=0.1,
        side_effect_error=0.2,
        ppl_ratio=1.0 + 0.1 * k,
        distinct2=0.9,
        repetition=0.0,
        seconds_per_answer=0.5,
        reached=0.1 * (k + 1) if vector else None,
        measured={n: 3.5 + 0.1 * k * j for j, n in enumerate(VALUES)},
        predicted_change={n: 0.05 * (k + j) for j, n in enumerate(VALUES)} if vector else None,
        answers={"What now?": f"answer {k} of {method}"},
    )


@pytest.fixture()
def result() -> EvalResult:
    profiles = [EvalProfile(name="kind", values="benevolence=6,power=1"), EvalProfile(name="safe", values="security=6")]
    rows = [_row(p.name, m, 4 * i + j) for i, p in enumerate(profiles) for j, m in enumerate(METHODS)]
    return EvalResult(
        model="tiny",
        system="schwartz10",
        instrument="likelihood",
        n_items=8,
        n_questions=1,
        profiles=profiles,
        targets={p.name: {n: 2.0 + j for j, n in enumerate(VALUES)} for p in profiles},
        unsteered=dict.fromkeys(VALUES, 3.5),
        unsteered_answers={"What now?": "answer"},
        scale=1.0,
        values=VALUES,
        response=R.tolist(),
        scm_weights=W.tolist(),
        model_scm_weights=(W * 0.5).tolist(),
        methods=summarise(rows, METHODS),
        rows=rows,
        seconds_total=1.0,
    )


def test_the_statistics_the_report_quotes(result):
    cap = eval_stats.fluency_cap(result)
    reached = [r.reached for r in result.rows if r.method == "couple_lite"]  # profiles' couple_lite rows: k = 2, 6
    assert reached == pytest.approx([0.3, 0.7])
    assert (cap.mean, cap.median, cap.asked) == pytest.approx((0.5, 0.5, 2.0))
    assert cap.ppl_ratio == result.methods["couple_lite"]["ppl_ratio"]
    assert [k for k, _ in eval_stats.doses(result)] == ["2"]
    ch = eval_stats.change_size(result)
    rows = [r for r in result.rows if r.method == "couple_lite"]
    pred = np.array([[r.predicted_change[n] for n in VALUES] for r in rows])
    meas = np.array([[r.measured[n] - 3.5 for n in VALUES] for r in rows])
    assert ch.cells == 8 and ch.requested == pytest.approx(np.mean(np.abs([[2 - 3.5 + j for j in range(4)]] * 2)))
    assert (ch.predicted, ch.measured) == pytest.approx((np.abs(pred).mean(), np.abs(meas).mean()))
    assert ch.correlation == pytest.approx(np.corrcoef(pred.ravel(), meas.ravel())[0, 1])
    assert eval_stats.response_specificity(result) == specificity(R)
    assert eval_stats.response_specificity(result.model_copy(update={"response": None})) is None
    assert eval_stats.fluency_cap(result, "value_prompt") is None and eval_stats.change_size(result, "nope") is None


def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return root


def _ids(root: ET.Element, prefix: str) -> list[str]:
    return [g.get("id") for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(prefix)]


def _texts(root: ET.Element) -> list[str]:
    return [t.text for t in root.iter(f"{SVG}text") if t.text]


def test_plots_read_back_as_svg_with_one_element_per_thing_drawn(result):
    pytest.importorskip("matplotlib")
    from couple_lite.research import plots as rp

    labels = [v.replace("_", " ") for v in VALUES]
    series = {"target": result.targets["kind"], "unsteered": result.unsteered, "couple_lite": result.rows[2].measured}
    radar = _svg(rp.radar_svg(VALUES, series, "kind: target vs measured"))
    assert _ids(radar, "series-") == ["series-target", "series-unsteered", "series-couple_lite"]
    assert set(labels) | {"kind: target vs measured", "target", "couple lite"} <= set(_texts(radar))

    heat = _svg(rp.heatmap_svg(VALUES, R, "R"))
    cells = _ids(heat, "cell-")
    assert len(cells) == R.size
    assert [f"{x:.1f}" for x in R.ravel()] == [t for t in _texts(heat) if re.fullmatch(r"-?\d+\.\d", t)]
    assert _texts(heat).count("self direction") == 2  # a row and a column label

    graph = _svg(rp.graph_svg(VALUES, W, "SCM"))
    assert sorted(_ids(graph, "edge-")) == sorted(
        ["edge-self_direction-power", "edge-power-security", "edge-power-benevolence", "edge-security-benevolence"]
    )
    assert {"+0.30", "+0.20", "-0.40", "+0.06"} <= set(_texts(graph)) and set(labels) <= set(_texts(graph))
    assert "+0.01" not in _texts(graph)  # below the drawing threshold

    keys = ("spearman", "change_spearman", "answer_change_spearman")
    bars = _svg(rp.bars_svg(result.methods, keys, "methods"))
    drawn = [(m, k) for m, s in result.methods.items() for k in keys if s.get(k) is not None]
    assert sorted(_ids(bars, "bar-")) == sorted(f"bar-{m}-{k}" for m, k in drawn)
    assert {"unsteered", "couple lite@2", "change spearman", "answer change spearman"} <= set(_texts(bars))


def test_the_report_links_exactly_the_plots_it_wrote(result, tmp_path):
    pytest.importorskip("matplotlib")
    md = write_report(result, tmp_path).read_text()
    linked = set(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md))
    written = {f.name for f in tmp_path.iterdir() if f.suffix == ".svg"}
    assert (
        linked
        == written
        == {
            "methods.svg",
            "response_matrix.svg",
            "scm_graph.svg",
            "scm_graph_model.svg",
            "radar_kind.svg",
            "radar_safe.svg",
        }
    )
    for name in written:
        _svg((tmp_path / name).read_text())
    assert PLOTS_HINT not in md and "skipped" not in md


def test_without_matplotlib_the_report_says_so_and_links_no_image(result, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.warns(UserWarning, match=re.escape('pip install -e ".[report]"')):
        md = write_report(result, tmp_path / "r").read_text()
    assert sorted(f.name for f in (tmp_path / "r").iterdir()) == ["report.md", "results.json"]
    assert "![" not in md and 'pip install -e ".[report]"' in md
    assert "## Methods" in md and "| couple_lite |" in md and "## Sample answers" in md
    assert EvalResult.model_validate_json((tmp_path / "r" / "results.json").read_text()) == result

    # the command line: the same, and the hint is one line on stderr
    (tmp_path / "saved.json").write_text(result.model_dump_json())
    r = CliRunner().invoke(
        main, ["eval", "--from-results", str(tmp_path / "saved.json"), "--report", str(tmp_path / "c")]
    )
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines().count(f"warning: {PLOTS_HINT}") == 1 and "Traceback" not in r.output
    assert sorted(f.name for f in (tmp_path / "c").iterdir()) == ["report.md", "results.json"]


def test_paired_differences_resample_profiles_and_say_when_they_are_beyond_noise(result):
    names = [f"p{i}" for i in range(6)]
    profiles = [EvalProfile(name=n, values="security=6") for n in names]
    rows = []
    for i, n in enumerate(names):
        for m, cs in (
            ("value_prompt", 0.1 * i),
            ("couple_lite", 0.1 * i + 0.2 + 0.02 * (-1) ** i),
            ("couple_lite+prompt", 0.1 * i + (0.3 if i % 2 else -0.3)),
        ):
            rows.append(_row(n, m, i).model_copy(update={"profile": n, "method": m, "change_spearman": cs}))
    res = result.model_copy(
        update={
            "profiles": profiles,
            "rows": rows,
            "methods": summarise(rows, ["value_prompt", "couple_lite", "couple_lite+prompt"]),
        }
    )
    d = eval_stats.paired_difference(res, "couple_lite", "value_prompt")
    assert d.profiles == 6 and d.mean == pytest.approx(0.2) and d.low <= d.mean <= d.high
    assert d.beyond_noise and d.low > 0.17 and d.high < 0.23  # every profile +0.18 or +0.22
    loose = eval_stats.paired_difference(res, "couple_lite+prompt", "value_prompt")  # +-0.3 alternating
    assert loose.mean == pytest.approx(0.0) and not loose.beyond_noise
    assert eval_stats.paired_difference(result, "couple_lite", "value_prompt") is None  # only 2 profiles
    with pytest.raises(CoupleError, match="not a per-profile figure"):
        eval_stats.paired_difference(res, "couple_lite", "value_prompt", "answers")
    text = "\n".join(_differences(res))
    assert "| value_prompt | +0.20 [" in text and "] * |" in text
