"""Evaluation metrics: Spearman against scipy's, MAE, priority order, distinct-n."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import spearmanr

from couple_lite.research.metrics import distinct_n, mae, mean_of, order_preserved, repetition, spearman

NAMES = [f"v{k}" for k in range(8)]
levels = st.lists(st.sampled_from([1.0, 2.0, 2.5, 3.5, 4.0, 5.0, 6.0]), min_size=8, max_size=8)


@given(levels, levels)
def test_spearman_matches_scipy_with_ties(a, b):
    t, m = dict(zip(NAMES, a)), dict(zip(NAMES, b))
    ours = spearman(t, m, NAMES)
    if len(set(a)) == 1 or len(set(b)) == 1:
        assert ours is None
    else:
        assert ours == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_spearman_needs_three_values():
    t = {"a": 1.0, "b": 2.0, "c": 3.0}
    assert spearman(t, t, ["a", "b"]) is None
    assert spearman(t, t, ["a", "b", "c"]) == pytest.approx(1.0)
    assert spearman(t, {"a": 3.0, "b": 2.0, "c": 1.0}, ["a", "b", "c"]) == pytest.approx(-1.0)


def test_mae_and_mean_of():
    assert mae({"a": 1, "b": 4}, {"a": 2, "b": 2}, ["a", "b"]) == pytest.approx(1.5)
    assert mean_of([None, 1.0, float("nan"), 3.0]) == 2.0 and mean_of([None]) is None


def test_order_preserved_pairs():
    target = {"a": 6.0, "b": 4.0, "c": 1.0, "d": 3.5}
    assert order_preserved(target, {"a": 3, "b": 2, "c": 1, "d": 0}, ["a", "b", "c"], list(target)) == 1.0
    assert order_preserved(target, {"a": 1, "b": 2, "c": 3, "d": 0}, ["a", "b", "c"], list(target)) == 0.0
    # one named value: its pairs with every other value (targets differing by >= 0.5)
    assert order_preserved(target, {"a": 5, "b": 6, "c": 1, "d": 1}, ["a"], list(target)) == pytest.approx(2 / 3)
    assert order_preserved({"a": 3.5, "b": 3.6}, {"a": 1, "b": 2}, ["a", "b"], ["a", "b"]) is None


def test_distinct_n_and_repetition():
    assert distinct_n(["the cat sat on the mat"], 2) == 1.0
    assert distinct_n(["go go go go"], 2) == pytest.approx(1 / 3)
    assert repetition(["a b c a b c a b c"], 3) == pytest.approx(1 - 3 / 7)
    assert distinct_n(["one"], 2) is None and repetition([], 3) is None
