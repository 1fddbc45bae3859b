"""Measurement instruments, items and the Bradley-Terry fit."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from couple_lite.errors import CoupleError
from couple_lite.measure.instruments import INSTRUMENTS, VARIANTS, bradley_terry, load_items, measure
from couple_lite.values.systems import load_value_system

MF = load_value_system("moral_foundations")


def test_bradley_terry_recovers_a_known_ranking():
    rng = np.random.default_rng(0)
    true = rng.normal(size=8)
    i, j = np.array([(a, b) for a in range(8) for b in range(8) if a != b]).T
    p = 1 / (1 + np.exp(-(true[i] - true[j])))  # exact soft outcomes
    s, se = bradley_terry(8, np.r_[i, j], np.r_[j, i], np.r_[p, 1 - p], ridge=1e-6)
    np.testing.assert_allclose(s, true - true.mean(), atol=1e-3)
    assert spearmanr(s, true)[0] == pytest.approx(1.0)
    assert np.all(se > 0)


def test_our_items_cover_every_value_with_at_least_four():
    for system in ("schwartz10", "schwartz19", "moral_foundations"):
        vs = load_value_system(system)
        items, skipped = load_items(vs)
        counts = {v: sum(it.value == v for it in items) for v in vs.names}
        assert min(counts.values()) >= 4 and skipped == 0


def test_outside_items_csv(tmp_path):
    p = tmp_path / "items.csv"
    p.write_text(
        "questionnaire,item,value,agreement,question\n"
        "X,I care a lot about others.,Care,1,q\n"
        "X,Fairness is overrated.,Fairness,-1,q\n"
        "X,I like rules.,Conformity,1,q\n"
        "X,Clean living matters.,Purity,1,q\n"
    )
    items, skipped = load_items(MF, p)
    assert [(it.value, it.agreement) for it in items] == [("care", 1), ("fairness", -1), ("sanctity", 1)]
    assert skipped == 1
    with pytest.raises(CoupleError, match="not found"):
        load_items(MF, tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(CoupleError, match="columns item, value"):
        load_items(MF, bad)
    other = tmp_path / "other.csv"
    other.write_text("item,value\nI like rules.,Conformity\n")
    with pytest.raises(CoupleError, match="no item"):
        load_items(MF, other)


@pytest.mark.parametrize("instrument", ["questionnaire", "forced_choice", "likelihood"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_instruments_on_the_tiny_model(tiny_engine, instrument, variant):
    prof = measure(tiny_engine, MF, instrument, variant=variant)
    assert list(prof.profile) == MF.names
    vals = np.array(list(prof.profile.values()))
    assert np.all(np.isfinite(vals))
    assert np.ptp(vals) > 1e-4  # the model's answers separate the values (a flat 3.5 would not)
    assert vals.mean() == pytest.approx(3.5, abs=1e-9)  # ipsatised / centred
    assert all(np.isfinite(v) and v >= 0 for v in prof.sd.values())
    if instrument == "questionnaire":
        assert 1 <= prof.raw_mean <= 6
        assert prof.n_items == 24
    if instrument == "forced_choice":
        assert prof.n_items == 6 * 5  # every ordered pair


def test_likelihood_is_the_models_own_log_probability(tiny_engine):
    """Recomputed from the engine: per value, the mean log-probability per token of its items as the
    answer to the self-description question, centred on the values' mean and placed at 3.5."""
    from couple_lite.measure import SELF_QUESTIONS

    items, _ = load_items(MF)
    lp = tiny_engine.answer_logprob([SELF_QUESTIONS["default"]] * len(items), [it.text for it in items])
    raw = {v: np.mean([x for x, it in zip(lp, items) if it.value == v]) for v in MF.names}
    centre = np.mean(list(raw.values()))
    prof = measure(tiny_engine, MF, "likelihood")
    for v in MF.names:
        assert prof.profile[v] == pytest.approx(raw[v] - centre + 3.5, abs=1e-9)
    assert prof.raw_mean == pytest.approx(centre)


def test_questionnaire_reverse_scored_items(tiny_engine):
    items, _ = load_items(MF)
    flipped = [it.model_copy(update={"agreement": -1}) for it in items]
    a = measure(tiny_engine, MF, "questionnaire", items=items)
    b = measure(tiny_engine, MF, "questionnaire", items=flipped)
    assert b.raw_mean == pytest.approx(7 - a.raw_mean)
    for v in MF.names:
        assert b.profile[v] - 3.5 == pytest.approx(-(a.profile[v] - 3.5))


def test_unknown_instrument_and_probe_without_pack(tiny_engine):
    with pytest.raises(CoupleError, match="unknown instrument"):
        measure(tiny_engine, MF, "tarot")
    with pytest.raises(CoupleError, match="needs value directions"):
        measure(tiny_engine, MF, "probe")
    with pytest.raises(CoupleError, match="unknown variant"):
        measure(tiny_engine, MF, "questionnaire", variant="upside_down")
    assert set(INSTRUMENTS) == {"questionnaire", "forced_choice", "likelihood", "probe"}


def test_outside_items_that_miss_a_value(tiny_engine, tmp_path):
    p = tmp_path / "items.csv"
    p.write_text("item,value\nI care.,Care\nI am fair.,Fairness\n")
    items, _ = load_items(MF, p)
    prof = measure(tiny_engine, MF, "questionnaire", items=items)
    assert set(prof.profile) == {"care", "fairness"}
    assert set(prof.missing) == {"loyalty", "authority", "sanctity", "liberty"}


def test_pooled_likelihood_averages_each_item_over_the_templates(tiny_engine):
    """The pooled variant: every item's log-probability averaged over the self-description
    questions, then per value and ipsatised as usual."""
    from couple_lite.measure.instruments import _SELF_POOL

    items, _ = load_items(MF)
    texts = [it.text for it in items]
    lp = np.mean([tiny_engine.answer_logprob([q] * len(items), texts) for q in _SELF_POOL], axis=0)
    raw = {v: np.mean([x for x, it in zip(lp, items) if it.value == v]) for v in MF.names}
    centre = np.mean(list(raw.values()))
    prof = measure(tiny_engine, MF, "likelihood", variant="pooled")
    assert len(_SELF_POOL) >= 5 and prof.variant == "pooled"
    for v in MF.names:
        assert prof.profile[v] == pytest.approx(raw[v] - centre + 3.5, abs=1e-9)
    single = measure(tiny_engine, MF, "likelihood")
    assert prof.profile != single.profile  # the other templates changed something


def test_pooled_questionnaire_averages_both_scale_directions(tiny_engine):
    items, _ = load_items(MF)
    parts = [measure(tiny_engine, MF, "questionnaire", variant=v) for v in ("default", "paraphrase", "reversed")]
    pooled = measure(tiny_engine, MF, "questionnaire", variant="pooled")
    want = np.mean([p.item_scores for p in parts], axis=0)
    assert np.allclose(pooled.item_scores, want)
    assert pooled.raw_mean == pytest.approx(
        np.mean([np.mean([x for x, it in zip(want, items) if it.value == v]) for v in MF.names])
    )
    fc = measure(tiny_engine, MF, "forced_choice", variant="pooled")
    fc_parts = [measure(tiny_engine, MF, "forced_choice", variant=v) for v in ("default", "paraphrase", "reversed")]
    for v in MF.names:
        assert fc.profile[v] == pytest.approx(np.mean([p.profile[v] for p in fc_parts]))
        # the templates ask the same comparisons: their errors are not independent, so no ÷√3
        assert fc.sd[v] == pytest.approx(np.mean([p.sd[v] for p in fc_parts]))


@pytest.mark.parametrize("instrument", ["questionnaire", "forced_choice"])
def test_the_instrument_functions_accept_the_pooled_variant(tiny_engine, instrument):
    """INSTRUMENTS is public: called directly with variant="pooled" it pools as measure() does."""
    direct = INSTRUMENTS[instrument](tiny_engine, MF, variant="pooled")
    assert (
        direct.variant == "pooled" and direct.profile == measure(tiny_engine, MF, instrument, variant="pooled").profile
    )


def test_pooled_templates_counts_what_the_pooled_variant_averages():
    from couple_lite.errors import CoupleError
    from couple_lite.measure.instruments import _SELF_POOL, pooled_templates

    assert pooled_templates("likelihood") == len(_SELF_POOL) >= 5
    assert pooled_templates("questionnaire") == pooled_templates("forced_choice") == 3
    assert pooled_templates("probe") == 1  # one set of neutral prompts: nothing to pool
    with pytest.raises(CoupleError, match="unknown instrument"):
        pooled_templates("ouija")
