"""Extraction methods, confound removal, layer choice and split hygiene."""

from __future__ import annotations

import numpy as np
import pytest

from couple_lite.errors import CoupleError, ValueSystemError
from couple_lite.values.systems import BUILTIN_SYSTEMS, load_value_system
from couple_lite.vectors.extraction import EXTRACTORS, choose_layers, extract, remove_components
from couple_lite.vectors.texts import confound_pairs, value_pairs


def synthetic(seed=0, n=40, d=16):
    rng = np.random.default_rng(seed)
    true = rng.standard_normal(d)
    true /= np.linalg.norm(true)
    base = rng.standard_normal((n, d))
    pos = base + 2.0 * true + 0.3 * rng.standard_normal((n, d))
    neg = base + 0.3 * rng.standard_normal((n, d))
    # the other values' mean positive states: the shared base plus each one's own direction
    own = rng.standard_normal((9, d))
    own -= np.outer(own @ true, true)  # orthogonal to this value's
    others = base.mean(axis=0) + 2.0 * own / np.linalg.norm(own, axis=1, keepdims=True)
    return pos, neg, true, others


@pytest.mark.parametrize("method", list(EXTRACTORS))
def test_extractors_find_the_planted_direction_with_the_right_sign(method):
    pos, neg, true, others = synthetic()
    d = EXTRACTORS[method](pos, neg, others)
    cos = d @ true / np.linalg.norm(d)
    assert cos > 0.8


def test_one_vs_rest_cancels_what_all_values_share():
    """A register every value's positive texts share (here: a common offset) moves the paired
    difference but not the one-vs-rest direction."""
    pos, neg, true, others = synthetic()
    rng = np.random.default_rng(5)
    shared = rng.standard_normal(pos.shape[1])
    shared -= (shared @ true) * true
    shared *= 3.0 / np.linalg.norm(shared)
    ovr = EXTRACTORS["ovr"](pos + shared, neg, others + shared)
    paired = EXTRACTORS["mean"](pos + shared, neg, others + shared)
    assert ovr @ true / np.linalg.norm(ovr) > 0.9 > paired @ true / np.linalg.norm(paired)


def test_remove_components_projects_out_confounds_and_common_mode():
    rng = np.random.default_rng(1)
    conf = rng.standard_normal((2, 32))
    conf /= np.linalg.norm(conf, axis=1, keepdims=True)
    dirs = rng.standard_normal((5, 32)) + 3 * conf[0]  # every value shares confound 0
    cleaned, removed = remove_components(dirs, conf)
    assert np.abs(cleaned @ conf.T).max() < 1e-9
    unit = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
    assert abs(cleaned.sum(axis=0) @ unit.mean(axis=0)) < 1e-8  # common mode gone
    assert np.all((removed > 0.1) & (removed <= 1))
    _only_conf, r = remove_components(conf[:1] * 2.0, conf)
    assert r[0] == pytest.approx(1.0)


def test_choose_layers_never_takes_block_zero_or_the_last():
    score = np.array([9.0, 0.1, 0.2, 0.9, 1.0, 0.8, 0.1, 9.0])
    assert choose_layers(score, 3) == (3, 5)
    lo, hi = choose_layers(np.ones(8), 20)
    assert lo >= 1 and hi <= 6


@pytest.mark.parametrize("system", BUILTIN_SYSTEMS)
@pytest.mark.parametrize("kind", ["context", "persona"])
def test_split_hygiene(system, kind):
    vs = load_value_system(system)
    pairs = value_pairs(vs, kind)
    assert list(pairs) == vs.names
    for v, ps in pairs.items():
        train = [p for p in ps if not p.held_out]
        held = [p for p in ps if p.held_out]
        assert train and held, v
        sentences = lambda group: {(p.positive, p.negative, p.system_pos) for p in group}
        assert not sentences(train) & sentences(held)  # no behaviour/persona in both splits


def test_confounds_and_unknown_kinds():
    assert set(confound_pairs()) == {"agree", "tone", "length"}
    with pytest.raises(ValueSystemError, match="unknown pair kind"):
        value_pairs(load_value_system(), "rumours")


def test_extract_on_the_tiny_model(tiny_engine):
    vs = load_value_system("moral_foundations")
    ex = extract(tiny_engine, vs, "mean", "context", layers=(1, 2))
    V, L, D = len(vs.names), tiny_engine.n_layer, tiny_engine.n_embd
    assert ex.directions.shape == (V, L, D) and ex.values == vs.names
    norms = np.linalg.norm(ex.directions, axis=2)
    np.testing.assert_allclose(norms[:, 1:3], 1.0, atol=1e-5)
    assert not norms[:, [0, 3]].any()
    assert ex.layer_range == (1, 2)
    assert ex.value_accuracy.shape == (L,) and ex.pair_accuracy.shape == (V, L)
    assert np.all((ex.removed[:, 1:] > 0) & (ex.removed[:, 1:] < 1))
    assert ex.settings["n_heldout_pairs"] > 0
    auto = extract(tiny_engine, vs, "probe", "persona")
    assert 1 <= auto.layer_range[0] <= auto.layer_range[1] <= L - 2
    with pytest.raises(CoupleError, match="unknown extraction method"):
        extract(tiny_engine, vs, "magic")
