"""End to end on the real default model with the shipped value-vector pack."""

from __future__ import annotations

import numpy as np
import pytest

from couple_lite.engine.models import model_identity
from couple_lite.measure.instruments import measure
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.calibration import steering_vector
from couple_lite.vectors.pack import default_pack_path, load_pack

pytestmark = pytest.mark.real_model


@pytest.mark.slow
@pytest.mark.parametrize("value", ["tradition", "self_direction"])
def test_a_strong_value_vector_raises_its_own_value(real_engine, value):
    vs = load_value_system("schwartz10")
    name, sha = model_identity(real_engine.model_path)
    pack = load_pack(default_pack_path(name, vs.name), sha, real_engine.n_layer, real_engine.n_embd)
    base = measure(real_engine, vs, "likelihood")
    coef = np.zeros(len(pack.values))
    coef[pack.values.index(value)] = 0.05
    with real_engine.steered(steering_vector(pack.extraction, coef)):
        steered = measure(real_engine, vs, "likelihood")
    change = {n: steered.profile[n] - base.profile[n] for n in vs.names}
    others = np.mean([c for n, c in change.items() if n != value])
    assert change[value] > others
    assert change[value] > 0
