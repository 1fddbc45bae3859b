"""Packs that passed the first validation but still broke steering (found by the structured fuzzer in
test_fuzz_readers.py): a zero response matrix (LinAlgError), negative layer norms or a vanishing
fluency limit (the fluency cap silently lifted, like a NaN fluency limit once did), magnitudes that
overflow to inf/NaN vectors, duplicate or reordered value names (values silently mixed up)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from couple_lite.errors import ControlVectorError
from couple_lite.values.objective import make_objective
from couple_lite.vectors.pack import default_pack_path, load_pack

SHIPPED = default_pack_path("smollm2-135m", "schwartz10")


def _arrays():
    with np.load(SHIPPED, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    return data, json.loads(bytes(data.pop("meta")).decode())


def _scaled(key, factor):
    return lambda d, m: d.__setitem__(key, d[key].astype(np.float64) * factor)


def _metric(key, name, x):
    return lambda d, m: m["metrics"][key].__setitem__(name, x)


def _swap_values(d, m):
    v = m["values"]
    v[0], v[1] = v[1], v[0]


DAMAGE = {
    "zero response": (_scaled("response", 0.0), "'response'"),
    "vanishing response": (_scaled("response", 1e-30), "'response'"),
    "huge response": (_scaled("response", 1e300), "'response'"),
    "negative layer norms": (_scaled("layer_norms", -1.0), "'layer_norms'"),
    "huge layer norms": (_scaled("layer_norms", 1e30), "'layer_norms'"),
    "non-unit directions": (_scaled("directions", 1e30), "'directions'"),
    "vanishing fluency limit": (_scaled("fluency_limit", 1e-300), "fluency limits"),
    "huge fluency limit": (_scaled("fluency_limit", 1e300), "fluency limits"),
    "huge unsteered profile": (_metric("unsteered_profile", "power", 1e300), "unsteered_profile"),
    "huge unsteered sd": (_metric("unsteered_sd", "power", 1e300), "unsteered_sd"),
    "negative unsteered sd": (_metric("unsteered_sd", "power", -1.0), "unsteered_sd"),
    "duplicate value names": (lambda d, m: m["values"].__setitem__(1, m["values"][0]), "'values'"),
}


def _write(tmp_path: Path, data, meta) -> Path:
    out = tmp_path / "p.npz"
    np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **data)
    return out


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damage_that_would_break_steering_is_refused_on_load(case, tmp_path):
    data, meta = _arrays()
    damage, msg = DAMAGE[case]
    damage(data, meta)
    with pytest.raises(ControlVectorError, match="damaged") as e:
        load_pack(_write(tmp_path, data, meta))
    assert msg in str(e.value)


class _FakeEngine(SimpleNamespace):
    def mark_steerable(self):
        pass


def test_a_pack_whose_values_are_out_of_the_systems_order_is_refused(tmp_path):
    """The SCM works in the system's order, the pack's arrays in the pack's: a swap would steer
    stimulation when self-direction is asked for."""
    from couple_lite.steering.steerer import Steerer

    data, meta = _arrays()
    _swap_values(data, meta)
    pack = load_pack(_write(tmp_path, data, meta))
    with pytest.raises(ControlVectorError, match="order"):
        Steerer(_FakeEngine(model_path=tmp_path / "m.gguf"), pack, "m")


def test_the_shipped_pack_steers_within_its_cap_without_numeric_warnings(tmp_path):
    from couple_lite.steering.steerer import Steerer

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pack = load_pack(SHIPPED)
        st = Steerer(_FakeEngine(model_path=tmp_path / "m.gguf"), pack, "m")
        plan = st.plan(make_objective("power=6,benevolence=1"))
        v = st.vector(plan)
    assert np.all(np.isfinite(v)) and plan.reached < 1  # this objective needs more than the budget
    c = np.array([plan.coefficients[n] for n in pack.values])
    assert pack.fluency_budget is not None  # the shipped pack is v2: the KL cost model caps it
    assert c @ pack.fluency_gram @ c <= pack.fluency_budget * (1 + 1e-6)
