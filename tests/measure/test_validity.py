"""The validity statistics: confusion tables, judge reports, Cohen's kappa, convergent validity."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couple_lite.errors import CoupleError
from couple_lite.measure.validity import cohen_kappa, confusion, convergent, judge_agreement, judge_report, retest

VALUES = ["a", "b", "c"]


def test_judge_report_counts_each_answer_once():
    scores = np.array([[3, 1, 0], [0, 2, 1], [0, 5, 1], [1, 0, 2]], dtype=float)  # predicted: a b b c
    r = judge_report(scores, [0, 1, 2, 2], VALUES)
    assert r["accuracy"] == pytest.approx(0.75) and r["n"] == 4 and r["chance"] == pytest.approx(1 / 3)
    assert r["confusion"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert r["recall"] == {"a": 1.0, "b": 1.0, "c": 0.5}


def test_kappa_known_values():
    assert cohen_kappa([0, 1, 2, 0], [0, 1, 2, 0], 3) == pytest.approx(1.0)
    # observed 0.5, expected 0.5 (both raters split evenly): no agreement beyond chance
    assert cohen_kappa([0, 0, 1, 1], [0, 1, 0, 1], 2) == pytest.approx(0.0)
    assert cohen_kappa([0, 1], [1, 0], 2) == pytest.approx(-1.0)
    assert np.isnan(cohen_kappa([0, 0], [0, 0], 2))  # one label only: chance agreement is 1
    assert np.isnan(cohen_kappa([], [], 2))


@settings(max_examples=60, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=40))
def test_kappa_is_symmetric_and_bounded(pairs):
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    k = cohen_kappa(a, b, 4)
    assert np.isnan(k) or (-1 - 1e-9 <= k <= 1 + 1e-9)
    assert k == pytest.approx(cohen_kappa(b, a, 4), nan_ok=True)
    assert confusion(a, b, 4).sum() == len(pairs)


def test_judge_agreement_of_a_judge_with_itself_is_perfect():
    s = np.random.default_rng(0).normal(size=(8, 3))
    s[np.arange(8), np.arange(8) % 3] += 3  # every label used
    a = judge_agreement(s, s)
    assert a["kappa"] == pytest.approx(1.0) and a["top1_agree"] == 1.0 and a["mean_spearman"] == pytest.approx(1.0)


def test_convergent_per_value_and_pooled():
    rng = np.random.default_rng(0)
    ours = rng.normal(size=(9, 3))
    outside = ours.copy()
    outside[:, 1] = -ours[:, 1]  # b measures the opposite
    outside[:, 2] = np.nan  # c has no outside items
    r = convergent(ours, outside, VALUES)
    assert r["per_value"]["a"] == pytest.approx(1.0) and r["per_value"]["b"] == pytest.approx(-1.0)
    assert r["per_value"]["c"] is None and r["median"] == pytest.approx(0.0)
    # pooled over a and b after centring: a's cells agree, b's are mirrored, so r = (Σa² - Σb²)/(Σa² + Σb²)
    ca, cb = ours[:, 0] - ours[:, 0].mean(), ours[:, 1] - ours[:, 1].mean()
    assert r["pooled"] == pytest.approx((ca @ ca - cb @ cb) / (ca @ ca + cb @ cb))
    flat = convergent(np.ones((4, 3)), rng.normal(size=(4, 3)), VALUES)  # no spread: no correlation
    assert flat["per_value"] == {"a": None, "b": None, "c": None} and flat["median"] is None


def test_retest_on_shared_names():
    assert retest({"a": 1, "b": 2, "c": 3}, {"c": 9, "b": 5, "a": 0}) == pytest.approx(1.0)


def test_convergent_with_a_missing_cell_keeps_the_value_in_the_pooled_r():
    """One condition without an outside level drops that cell on both sides, not the whole value."""
    ours = np.random.default_rng(1).normal(size=(9, 2))
    outside = ours.copy()
    outside[0, 1] = np.nan
    r = convergent(ours, outside, ["a", "b"])
    assert r["per_value"] == {"a": pytest.approx(1.0), "b": pytest.approx(1.0)}
    assert r["pooled"] == pytest.approx(1.0)  # b still counts, its eight other cells agreeing exactly
    with pytest.raises(CoupleError, match="levels must both be"):
        convergent(ours, outside[:, :1], ["a", "b"])


def test_bad_labels_and_scores_are_refused():
    with pytest.raises(CoupleError, match="true labels but"):
        confusion([0, 1], [0], 3)
    with pytest.raises(CoupleError, match="value indices 0..2"):
        confusion([-1], [0], 3)
    with pytest.raises(CoupleError, match="value indices"):
        cohen_kappa([3], [0], 3)
    with pytest.raises(CoupleError, match="must be"):
        judge_report(np.zeros((2, 3)), [0], VALUES)  # two answers, one label
    with pytest.raises(CoupleError, match="NaN"):
        judge_report(np.array([[0.1, np.nan, 0.5]]), [2], VALUES)  # a NaN would win argmax
    with pytest.raises(CoupleError, match="at least one answer"):
        judge_agreement(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(CoupleError, match="must be"):
        judge_agreement(np.zeros((2, 3)), np.zeros((3, 3)))


def test_retest_needs_two_shared_values_and_a_spread():
    with pytest.raises(CoupleError, match="at least 2"):
        retest({"a": 1}, {"a": 2, "b": 3})
    assert np.isnan(retest({"a": 1, "b": 1}, {"a": 0, "b": 2}))  # a flat profile ranks nothing
