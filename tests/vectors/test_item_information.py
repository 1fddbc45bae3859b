"""item_selection: the most informative calibration items per value (measure --items-budget)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import CoupleError
from couple_lite.measure import Item, informative_items, load_items
from couple_lite.vectors import item_information
from couple_lite.vectors.pack import save_pack
from tests.steering.test_steerer import MF, make_pack


@pytest.fixture(scope="module")
def extraction(tiny_engine):
    from couple_lite.vectors.extraction import extract

    return extract(tiny_engine, MF, "mean", "context", layers=(1, 2))


def test_top_items_per_value_in_their_own_order():
    items = [Item(text=f"{v} {k}", value=v, agreement=1) for v in ("care", "fairness") for k in range(3)]
    info = {"care 0": 1.0, "care 1": 3.0, "care 2": 2.0, "fairness 0": -1.0, "fairness 1": 0.5, "fairness 2": 0.0}
    assert [it.text for it in informative_items(items, info, 2)] == ["care 1", "care 2", "fairness 1", "fairness 2"]
    assert len(informative_items(items, info, 10)) == 6
    with pytest.raises(CoupleError, match="at least 1"):
        informative_items(items, info, 0)
    with pytest.raises(CoupleError, match="does not cover 1"):
        informative_items(items, {k: v for k, v in info.items() if k != "care 0"}, 1)


def test_information_is_own_response_minus_the_others(tiny_engine, extraction):
    items = load_items(MF)[0]
    doses = np.full(len(MF.names), 0.05)
    info = item_information(tiny_engine, MF, extraction, doses, items)
    assert set(info) == {it.text for it in items} and all(np.isfinite(list(info.values())))
    assert len(set(np.round(list(info.values()), 9))) > len(items) // 2  # the items differ


def test_measure_items_budget_cli(tiny_model_path, extraction, tmp_path, monkeypatch):
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    pack = make_pack(extraction)
    items = load_items(MF)[0]
    base = [
        "measure",
        "--model",
        str(tiny_model_path),
        "--system",
        "moral_foundations",
        "--instrument",
        "likelihood",
        "--pack",
        str(save_pack(pack, tmp_path / "bare.npz")),
        "--items-budget",
        "1",
    ]
    r = CliRunner().invoke(main, base)
    assert r.exit_code == 2 and "calibrate --item-information" in r.output
    pack.metrics["item_information"] = {"items": {it.text: float(k) for k, it in enumerate(items)}}
    base[base.index("--pack") + 1] = str(save_pack(pack, tmp_path / "info.npz"))
    r = CliRunner().invoke(main, base + ["--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output[r.output.index("{") :])["n_items"] == len(MF.names)
    r = CliRunner().invoke(main, base + ["--instrument", "questionnaire"])
    assert r.exit_code == 2 and "likelihood" in r.output
