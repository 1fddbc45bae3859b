"""Steering vectors from directions, calibration mechanics and value-vector packs."""

from __future__ import annotations

import numpy as np
import pytest

from couple_lite.errors import ControlVectorError
from couple_lite.measure import measure
from couple_lite.values import load_value_system
from couple_lite.vectors import (
    CalibrationSettings,
    ValuePack,
    apply_calibration,
    calibrate,
    extract,
    load_pack,
    save_pack,
    specificity,
    steering_vector,
)
from couple_lite.vectors.calibration import MemoryCheckpoint, item_values
from couple_lite.vectors.response_fit import r_from_slopes
from tests.packs import calibrated_pack

MF = load_value_system("moral_foundations")


@pytest.fixture(scope="module")
def tiny_extraction(tiny_engine):
    return extract(tiny_engine, MF, "mean", "context", layers=(1, 2))


def test_steering_vector_is_linear_and_stays_in_range(tiny_extraction):
    ex = tiny_extraction
    a, b = np.eye(6)[0] * 0.1, np.eye(6)[3] * -0.2
    np.testing.assert_allclose(steering_vector(ex, a + b), steering_vector(ex, a) + steering_vector(ex, b), atol=1e-6)
    v = steering_vector(ex, a)
    assert not v[0].any() and not v[3].any()
    np.testing.assert_allclose(np.linalg.norm(v[1]), 0.1 * ex.layer_norms[1], rtol=1e-5)


def test_specificity_counts():
    R = np.array([[2.0, 1.0, 0.0], [0.5, -1.0, 0.2], [0.0, 0.1, 3.0]])
    s = specificity(R)
    assert s["rows_diag_largest"] == 2 and s["diag_positive"] == 2
    assert s["offdiag_mean_abs"] == pytest.approx((1 + 0 + 0.5 + 0.2 + 0 + 0.1) / 6)


def test_the_response_matrix_on_the_tiny_model(tiny_engine, tiny_extraction):
    memory = MemoryCheckpoint()
    cal = calibrate(
        tiny_engine, MF, tiny_extraction, CalibrationSettings("likelihood", (0.25, 0.5), budget=None), checkpoint=memory
    )
    R, sweep = cal.response, cal.sweep
    assert R.shape == (6, 6) and np.all(np.isfinite(R)) and np.abs(R).max() > 0
    assert cal.doses is None and cal.gram is None  # no budget asked for
    # the item slopes give R back (R is their per-value mean, ipsatised like the profile)
    slopes = np.array([memory.record["slopes"][v] for v in MF.names])
    np.testing.assert_allclose(r_from_slopes(slopes, item_values(MF), 6), R, atol=1e-9)
    assert set(sweep["care"]) == {"0.25", "0.5"}
    # the slope is the least-squares fit of the sweep: Σ s·change(s) / Σ s²
    fit = sum(s * sweep["care"][str(s)]["loyalty"] for s in (0.25, 0.5)) / (0.25**2 + 0.5**2)
    assert R[0, 2] == pytest.approx(fit)
    assert tiny_engine.control_vector is None  # always restored
    assert cal.response_fit is not None and cal.response_fit["alpha"] in cal.response_fit["alphas"]


def test_the_fluency_budget_gives_each_value_its_dose_and_a_positive_cost_model(tiny_engine, tiny_extraction):
    settings = CalibrationSettings("likelihood", (0.5,), budget=0.05, combined="cosines")
    cal = calibrate(tiny_engine, MF, tiny_extraction, settings)
    assert cal.doses.shape == (6,) and np.all(cal.doses > 0)
    assert np.all(np.linalg.eigvalsh(cal.gram) > 0) and len(cal.checks) == 6
    np.testing.assert_allclose(np.diag(cal.gram)[:1], 0.05 / cal.doses[:1] ** 2, rtol=0.2)  # floored eigenvalues aside
    pack = apply_calibration(ValuePack("ab" * 32, "tiny", "llama", "moral_foundations", tiny_extraction), cal)
    assert pack.fluency_budget == 0.05 and pack.metrics["fluency"]["combined"] == "cosines"
    assert pack.metrics["unsteered_profile"] == cal.unsteered.profile and pack.strength == 0.5


def test_probe_instrument_uses_the_directions(tiny_engine, tiny_extraction):
    from dataclasses import replace

    def levels(ex):
        prof = measure(tiny_engine, MF, "probe", extraction=ex)
        assert list(prof.profile) == MF.names
        return np.array(list(prof.profile.values()))

    base = levels(tiny_extraction)
    pooled = measure(tiny_engine, MF, "probe", extraction=tiny_extraction, variant="pooled")
    assert pooled.variant == "pooled" and np.allclose(list(pooled.profile.values()), base)  # nothing to pool
    assert np.ptp(base) > 0.1  # the directions separate the values (zero directions give all 3.5)
    # negated directions mirror the profile around the middle; swapped directions swap two values
    np.testing.assert_allclose(
        levels(replace(tiny_extraction, directions=-tiny_extraction.directions)) - 3.5, -(base - 3.5), atol=1e-6
    )
    swapped = tiny_extraction.directions.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    np.testing.assert_allclose(
        levels(replace(tiny_extraction, directions=swapped))[[1, 0, 2, 3, 4, 5]], base, atol=1e-6
    )


def test_pack_round_trip_and_model_checks(tmp_path, tiny_extraction):
    pack = calibrated_pack(
        tiny_extraction,
        "moral_foundations",
        np.eye(6) * 2.0,
        0.3,
        sha256="ab" * 32,
        strength=0.5,
        metrics={"specificity": {"ratio": 1.0}},
    )
    p = save_pack(pack, tmp_path / "p.npz")
    back = load_pack(p, "ab" * 32, 4, 64)
    np.testing.assert_array_equal(back.extraction.directions, tiny_extraction.directions)
    np.testing.assert_array_equal(back.response, pack.response)
    np.testing.assert_array_equal(back.gains, np.full(6, 2.0))
    assert back.extraction.layer_range == (1, 2) and back.values == MF.names and back.strength == 0.5
    assert [f.name for f in tmp_path.iterdir()] == ["p.npz"]
    with pytest.raises(ControlVectorError, match="made for model tiny"):
        load_pack(p, "cd" * 32)
    with pytest.raises(ControlVectorError, match="this model is"):
        load_pack(p, None, 30, 576)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ControlVectorError, match="not a value-vector pack"):
        load_pack(junk)
    with pytest.raises(ControlVectorError, match="not found"):
        load_pack(tmp_path / "none.npz")
