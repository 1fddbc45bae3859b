"""couple_lite.compare: models' profiles side by side, paired differences and their errors, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from couple_lite.errors import CoupleError
from couple_lite.measure.instruments import MID, Item, Profile, load_items, measure
from couple_lite.research.compare import ModelProfile, compare_models, compare_profiles, write_compare_report
from couple_lite.values.systems import load_value_system

VS = load_value_system("schwartz10")


def _profile(scores: np.ndarray, items: list[Item]) -> Profile:
    """A profile built the way the item instruments build theirs: per-value means, centred."""
    raw = {v: float(np.mean([s for s, it in zip(scores, items) if it.value == v])) for v in VS.names}
    se = {
        v: float(np.std([s for s, it in zip(scores, items) if it.value == v], ddof=1) / math.sqrt(3)) for v in VS.names
    }
    centre = float(np.mean(list(raw.values())))
    return Profile(
        instrument="likelihood",
        system=VS.name,
        variant="default",
        profile={k: x - centre + MID for k, x in raw.items()},
        sd=se,
        raw_mean=centre,
        n_items=len(items),
        item_scores=scores.tolist(),
    )


ITEMS = [Item(text=f"{v} {k}", value=v) for v in VS.names for k in range(3)]


@given(st.lists(st.floats(-5, 5), min_size=60, max_size=60))
def test_the_difference_is_b_minus_a_and_its_paired_error_comes_from_the_item_differences(xs):
    a_scores, b_scores = np.array(xs[:30]), np.array(xs[30:])
    a, b = _profile(a_scores, ITEMS), _profile(b_scores, ITEMS)
    cmp = compare_profiles(
        [ModelProfile(model="a", sha256="0" * 64, profile=a), ModelProfile(model="b", sha256="1" * 64, profile=b)],
        ITEMS,
    )
    assert cmp.paired
    flat = len(set(a.profile.values())) == 1 or len(set(b.profile.values())) == 1
    assert (cmp.spearman["b"] is None) == flat  # undefined for a flat profile, never NaN
    for i, v in enumerate(VS.names):
        d = (b_scores[3 * i : 3 * i + 3] - b.raw_mean) - (a_scores[3 * i : 3 * i + 3] - a.raw_mean)
        assert cmp.difference["b"][v] == pytest.approx(b.profile[v] - a.profile[v], abs=1e-9)
        assert cmp.difference["b"][v] == pytest.approx(d.mean(), abs=1e-9)
        assert cmp.difference_se["b"][v] == pytest.approx(d.std(ddof=1) / math.sqrt(3), abs=1e-9)


def test_a_shift_shared_by_all_items_of_a_model_is_no_difference():
    rng = np.random.default_rng(0)
    a = rng.normal(size=30)
    cmp = compare_profiles(
        [
            ModelProfile(model="a", sha256="0" * 64, profile=_profile(a, ITEMS)),
            ModelProfile(model="b", sha256="1" * 64, profile=_profile(a + 2.5, ITEMS)),
        ],
        ITEMS,
    )
    assert max(abs(x) for x in cmp.difference["b"].values()) < 1e-9
    assert max(cmp.difference_se["b"].values()) < 1e-9
    assert cmp.spearman["b"] == pytest.approx(1.0)


def test_without_item_scores_the_errors_are_independent():
    rng = np.random.default_rng(1)
    a, b = _profile(rng.normal(size=30), ITEMS), _profile(rng.normal(size=30), ITEMS)
    a.item_scores = None
    cmp = compare_profiles(
        [ModelProfile(model="a", sha256="0" * 64, profile=a), ModelProfile(model="b", sha256="1" * 64, profile=b)],
        ITEMS,
    )
    assert not cmp.paired
    assert cmp.difference_se["b"]["power"] == pytest.approx(math.hypot(a.sd["power"], b.sd["power"]))


def test_profiles_measured_differently_or_alone_are_refused():
    a = _profile(np.arange(30.0), ITEMS)
    other = a.model_copy(update={"instrument": "questionnaire"})
    with pytest.raises(CoupleError, match="measured differently"):
        compare_profiles(
            [ModelProfile(model="a", sha256="0", profile=a), ModelProfile(model="b", sha256="1", profile=other)]
        )
    with pytest.raises(CoupleError, match="at least two models"):
        compare_profiles([ModelProfile(model="a", sha256="0", profile=a)])


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    from tests.tiny_model import write_tiny_llama

    d = tmp_path_factory.mktemp("cmp")
    return write_tiny_llama(d / "one.gguf", seed=0), write_tiny_llama(d / "two.gguf", seed=1)


SHORT = [it for v in VS.names for it in [i for i in load_items(VS)[0] if i.value == v][:2]]


def test_compare_models_measures_each_model_as_measure_does(two_models):
    from couple_lite.engine.engine import Engine

    cmp = compare_models(two_models, VS, "likelihood", items=SHORT, n_ctx=512, n_threads=2)
    assert [m.model for m in cmp.models] == ["one", "two"] and cmp.paired
    e = Engine(two_models[1], n_ctx=512, n_threads=2)
    try:
        alone = measure(e, VS, "likelihood", items=SHORT)
    finally:
        e.close()
    assert cmp.models[1].profile.profile == pytest.approx(alone.profile, abs=1e-6)
    assert max(abs(x) for x in cmp.difference["two"].values()) > 1e-3  # two random models differ


def test_the_same_file_twice_and_an_incomparable_instrument_are_refused(two_models):
    with pytest.raises(CoupleError, match="same file"):
        compare_models([two_models[0], two_models[0]], VS, items=SHORT)
    with pytest.raises(CoupleError, match="cannot compare models"):
        compare_models(two_models, VS, "probe", items=SHORT)


def test_the_report_has_a_table_json_and_a_radar_with_error_bands(two_models, tmp_path):
    cmp = compare_models(two_models, VS, "likelihood", items=SHORT, n_ctx=512, n_threads=2)
    files = {p.name: p for p in write_compare_report(cmp, tmp_path / "rep", command="python cli.py compare ...")}
    assert set(files) == {"compare.json", "compare.md", "compare.svg"}
    assert json.loads(files["compare.json"].read_text())["difference"]["two"].keys() == set(VS.names)
    svg = files["compare.svg"].read_text()
    assert all(f'id="{k}-{m}"' in svg for k in ("series", "band") for m in ("one", "two"))
    assert "two - one" in files["compare.md"].read_text()


def test_cli_compare(two_models, tmp_path, monkeypatch):
    from cli import main

    items = tmp_path / "items.csv"
    items.write_text("item,value\n" + "".join(f'"{it.text}",{it.value}\n' for it in SHORT), encoding="utf-8")
    r = CliRunner().invoke(
        main, ["compare", "--model", str(two_models[0]), "--model", str(two_models[1]), "--items", str(items), "--json"]
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.output[r.output.index("{") :])
    assert data["n_items"] == 20 and set(data["spearman"]) == {"two"}
    r = CliRunner().invoke(main, ["compare", "--model", str(two_models[0]), "--items", str(items)])
    assert r.exit_code == 2 and "at least twice" in r.output
    r = CliRunner().invoke(main, ["compare", "--model", str(two_models[0]), "--model", str(tmp_path / "none.gguf")])
    assert r.exit_code == 2 and "none.gguf' not found" in r.output and "Traceback" not in r.output
