"""The instrument-units <-> 1-6 scale map."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from couple_lite.measure.scale import InstrumentScale

profiles = st.lists(st.floats(-50, 50), min_size=2, max_size=12).filter(lambda x: np.std(x) > 1e-3)


@given(profiles, st.floats(1, 6), st.floats(0.1, 2))
def test_the_unsteered_profile_gets_the_priors_mean_and_spread(x, mean, sd):
    u = InstrumentScale.matching(np.array(x), mean, sd)
    y = u.to_scale(x)
    assert np.isclose(y.mean(), mean) and np.isclose(y.std(), sd)


@given(profiles, st.floats(-5, 5))
def test_changes_map_linearly_and_back(x, d):
    u = InstrumentScale.matching(np.array(x), 3.5, 0.8)
    assert np.isclose(u.to_scale(np.array(x) + d) - u.to_scale(x), u.change_to_scale(d)).all()
    assert np.isclose(u.change_to_instrument(u.change_to_scale(d)), d)


def test_a_flat_profile_maps_one_to_one():
    u = InstrumentScale.matching(np.full(5, 2.0), 3.5, 0.8)
    assert u.factor == 1.0 and u.to_scale(2.0) == 3.5
