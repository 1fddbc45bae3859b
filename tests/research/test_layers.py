"""layer_report: per-block held-out separability of each value (extract --report)."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.research.layers import layer_table, write_layer_report
from couple_lite.vectors.extraction import Extraction


def fake_extraction(n_layer=6):
    rng = np.random.default_rng(0)
    values = ["a", "b", "c"]
    value_acc = np.array([0.0, 0.3, 0.5, 0.9, 0.6, 0.4])[:n_layer]
    return Extraction(
        values=values,
        directions=np.zeros((3, n_layer, 4)),
        layer_range=(2, 4),
        layer_norms=np.ones(n_layer),
        value_accuracy=value_acc,
        pair_accuracy=rng.uniform(0.5, 1.0, (3, n_layer)),
        removed=np.zeros((3, n_layer)),
        settings={},
    )


def test_the_table_reads_the_extraction_s_held_out_accuracies():
    ex = fake_extraction()
    t = layer_table(ex)
    assert t["blocks"] == [1, 2, 3, 4, 5] and t["peak_block"] == 3 and t["window"] == [2, 4]
    assert t["value_accuracy"] == pytest.approx(ex.value_accuracy[1:].tolist())
    assert t["pair_accuracy"]["b"] == pytest.approx(ex.pair_accuracy[1, 1:].tolist())


def test_the_report_files_and_the_plot(tmp_path):
    pytest.importorskip("matplotlib")
    ex = fake_extraction()
    names = sorted(p.name for p in write_layer_report(ex, tmp_path))
    assert names == ["layers.json", "layers.md", "layers.svg"]
    assert json.loads((tmp_path / "layers.json").read_text())["peak_block"] == 3
    svg = (tmp_path / "layers.svg").read_text()
    assert set(re.findall(r'id="(layers-[a-z]+)"', svg)) == {"layers-a", "layers-b", "layers-c", "layers-all"}
    assert "peaks at block 3 (0.90)" in (tmp_path / "layers.md").read_text()


def test_without_matplotlib_the_table_is_still_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.delitem(sys.modules, "couple_lite.report_plots", raising=False)
    with pytest.warns(UserWarning, match="needs matplotlib"):
        names = sorted(p.name for p in write_layer_report(fake_extraction(), tmp_path))
    assert names == ["layers.json", "layers.md"]


def test_extract_report_on_the_tiny_model(tiny_model_path, tmp_path):
    r = CliRunner().invoke(
        main,
        [
            "extract",
            "--model",
            str(tiny_model_path),
            "--system",
            "moral_foundations",
            "-o",
            str(tmp_path / "p.npz"),
            "--report",
            str(tmp_path / "rep"),
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert any(p.endswith("layers.json") for p in out["report"])
    t = json.loads((tmp_path / "rep" / "layers.json").read_text())
    assert set(t["pair_accuracy"]) == {"care", "fairness", "loyalty", "authority", "sanctity", "liberty"}
