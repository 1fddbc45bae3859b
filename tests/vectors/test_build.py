"""`pack build` on the tiny model: one command to a calibrated pack, resumable, within a time budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

import couple_lite.vectors.build as pb
import couple_lite.vectors.calibration as calibration
from cli import main
from couple_lite.errors import CoupleError
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.pack import load_pack

MF = load_value_system("moral_foundations")
FAST = pb.BuildSettings(pairs="context", layers=(1, 2), strengths=(0.25, 0.5), budget=0.05, combined="cosines")


@pytest.mark.slow
def test_a_build_writes_a_calibrated_pack_and_removes_its_work_folder(tiny_engine, tmp_path):
    out = tmp_path / "p.npz"
    seen = []
    _pack, summary = pb.build_pack(
        tiny_engine, MF, "tiny", "00" * 32, out, FAST, progress=lambda d, n, step: seen.append(step)
    )
    loaded = load_pack(out, "00" * 32)
    assert loaded.response.shape == (6, 6) and loaded.fluency_budget == 0.05
    assert loaded.metrics["response_fit"]["alpha"] in loaded.metrics["response_fit"]["alphas"]
    assert loaded.metrics["build"]["settings"]["pairs"] == "context" and not summary["resumed"]
    assert not (tmp_path / "p.npz.build").exists()
    assert {"hidden states", "response matrix", "fluency budget"} <= set(seen)
    q = summary["quality"]
    assert set(q) >= {"reach_mean", "specificity", "rows_own_largest", "kl"} and 0 <= q["rows_own_largest"] <= 6


@pytest.mark.slow
def test_an_interrupted_build_resumes_without_redoing_finished_values(tiny_engine, tmp_path, monkeypatch):
    out = tmp_path / "p.npz"
    real_row = calibration.response_row
    calls = {"rows": 0}

    def row_then_stop(*a, **k):
        calls["rows"] += 1
        if calls["rows"] == 3:
            raise KeyboardInterrupt  # Ctrl-C during the third value's row
        return real_row(*a, **k)

    monkeypatch.setattr(calibration, "response_row", row_then_stop)
    with pytest.raises(KeyboardInterrupt):
        pb.build_pack(tiny_engine, MF, "tiny", "00" * 32, out, FAST)
    record = json.loads((tmp_path / "p.npz.build" / "record.json").read_text())
    assert len(record["R"]) == 2 and not out.exists()
    assert len(list((tmp_path / "p.npz.build").glob("states-*.npz"))) == 7  # six values and the confounds

    import couple_lite.vectors.extraction as vectors

    computed, real_pair_states = [], vectors.pair_states
    monkeypatch.setattr(vectors, "pair_states", lambda engine, pairs, progress=None: computed.append(1))
    calls["rows"] = 100
    monkeypatch.setattr(
        calibration,
        "response_row",
        lambda *a, **k: (calls.__setitem__("rows", calls["rows"] + 1), real_row(*a, **k))[1],
    )
    pack, summary = pb.build_pack(tiny_engine, MF, "tiny", "00" * 32, out, FAST)
    assert summary["resumed"] and not computed  # every group's states came from the folder
    assert calls["rows"] == 100 + 4  # only the four unfinished values were measured
    monkeypatch.setattr(vectors, "pair_states", real_pair_states)
    fresh, _ = pb.build_pack(tiny_engine, MF, "tiny", "00" * 32, tmp_path / "fresh.npz", FAST)
    np.testing.assert_allclose(pack.response, fresh.response, atol=1e-9)


@pytest.mark.parametrize(
    "record, message",
    [
        (None, "no record of its settings"),
        ("[]", "is damaged"),
        ("{not json", "is damaged"),
        ('{"settings": {}}', "is damaged"),
    ],
)
def test_a_build_folder_of_unknown_origin_is_refused(tiny_engine, tmp_path, record, message):
    folder = tmp_path / "p.npz.build"
    folder.mkdir()
    np.savez(folder / "states-benevolence.npz", positive=np.zeros((1, 2, 3)), negative=np.zeros((1, 2, 3)))
    if record is not None:
        (folder / "record.json").write_text(record)
    with pytest.raises(CoupleError, match=message):
        pb.build_pack(tiny_engine, MF, "tiny", "00" * 32, tmp_path / "p.npz", FAST)


def test_a_build_with_other_settings_does_not_resume_another(tiny_engine, tmp_path):
    folder = tmp_path / "p.npz.build"
    folder.mkdir()
    (folder / "record.json").write_text(
        json.dumps(
            {
                "settings": {"pairs": "all"},
                "model_sha256": "00" * 32,
                **{k: {} for k in ("R", "slopes", "sweep", "doses", "gram")},
            }
        )
    )
    with pytest.raises(CoupleError, match="unfinished build with other settings"):
        pb.build_pack(tiny_engine, MF, "tiny", "00" * 32, tmp_path / "p.npz", FAST)


def test_a_time_budget_gives_up_the_costliest_settings_first_and_says_so(tiny_engine):
    s, est = pb.settings_within(tiny_engine, load_value_system("schwartz10"), 1e-6, speed=100.0)
    assert s.combined == "cosines" and s.strengths == (0.03,) and s.pairs == "context"
    assert len(s.gave_up) == 3 and "cosines" in s.gave_up[0]
    roomy, _ = pb.settings_within(tiny_engine, load_value_system("schwartz10"), 1e6, speed=100.0)
    assert roomy == pb.BuildSettings() and not roomy.gave_up
    assert set(est) == {"hidden states", "response matrix", "fluency budget"} and all(v > 0 for v in est.values())


@pytest.mark.slow
def test_pack_build_cli(tiny_model_path, tmp_path, monkeypatch):
    import couple_lite.engine.models as ms

    monkeypatch.setattr(ms, "model_identity", lambda p: ("tiny", "00" * 32))
    monkeypatch.setattr(pb, "BuildSettings", lambda: FAST)  # the tiny model needs strong doses
    out = tmp_path / "p.npz"
    r = CliRunner().invoke(
        main,
        [
            "pack",
            "build",
            "--model",
            str(tiny_model_path),
            "--system",
            "moral_foundations",
            "-o",
            str(out),
            "--layers",
            "1-2",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{") :])
    assert data["pack"] == str(out) and set(data["seconds"]) == set(data["estimated_seconds"])
    r = CliRunner().invoke(
        main,
        [
            "pack",
            "build",
            "--model",
            str(tiny_model_path),
            "--system",
            "moral_foundations",
            "-o",
            str(out),
            "--layers",
            "1-2",
        ],
    )
    assert r.exit_code == 0 and "quality on the calibration items: reach" in r.output
