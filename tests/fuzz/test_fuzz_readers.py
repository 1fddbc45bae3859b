"""Structured property-based fuzzing of the readers: inputs that parse far enough to
reach the validation and the code behind it -- value systems that load and are then planned with,
packs whose fields and arrays are replaced one by one and then steered with, control-vector files
with arbitrary tensors and metadata, YAML objectives, raw bytes as CSV/JSON/YAML. Every input either
works or raises our typed error (CoupleError), never anything else. The byte-level fuzzers live in
test_bad_input.py and test_pack_validation.py."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from couple_lite.errors import ControlVectorError, CoupleError
from couple_lite.measure.instruments import load_items
from couple_lite.values.objective import load_objective, make_objective
from couple_lite.values.systems import load_value_system
from couple_lite.vectors.pack import default_pack_path, load_pack

SCHWARTZ = load_value_system("schwartz10")
SHIPPED = default_pack_path("smollm2-135m", "schwartz10")


def fuzz(n: int) -> settings:
    """n examples (derandomized by the conftest profile), no deadline."""
    return settings(
        max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
    )


JSONISH = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8),
    ),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=6), c, max_size=3)),
    max_leaves=6,
)


def _file(data: bytes, name: str) -> tuple[tempfile.TemporaryDirectory, Path]:
    d = tempfile.TemporaryDirectory()
    path = Path(d.name) / name
    path.write_bytes(data)
    return d, path


# -- value systems that load, then are used ----------------------------------------------------

NAMES = ["a", "b", "c", "d", "e"]
NUM = st.one_of(st.floats(-1e6, 1e6), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10))


@st.composite
def systems(draw):
    n = draw(st.integers(2, 5))
    names = NAMES[:n]
    values = []
    for name in names:
        v = {"name": name, "definition": "x"}
        for key, strat in (
            ("angle", NUM),
            ("mean", st.floats(0.5, 6.5)),
            ("sd", st.floats(-0.1, 6)),
            ("group", st.sampled_from(["g", "h"])),
            ("aliases", st.lists(st.sampled_from(["A", "z", "b"]), max_size=2)),
        ):
            if draw(st.booleans()):
                v[key] = draw(strat)
        values.append(v)
    raw = {"name": draw(st.sampled_from(["mine", "schwartz10", "x y"])), "values": values}
    if draw(st.booleans()):
        raw["correlations"] = draw(
            st.lists(st.lists(st.floats(-1.5, 1.5), min_size=n, max_size=n), min_size=n, max_size=n)
        )
    if draw(st.booleans()):
        raw["edges"] = draw(st.lists(st.tuples(st.sampled_from(names), st.sampled_from(names)), max_size=4))
    if draw(st.booleans()):
        raw["order"] = draw(st.permutations(names))
    if draw(st.booleans()):
        raw["circumplex"] = [draw(st.floats(-1.5, 1.5)), draw(st.floats(-1.5, 1.5))]
    if draw(st.booleans()):
        raw["group_correlation"] = [draw(st.floats(-1.5, 1.5)), draw(st.floats(-1.5, 1.5))]
    return raw


@fuzz(200)
@given(
    systems(),
    st.dictionaries(st.sampled_from(NAMES), st.floats(0, 7), min_size=1, max_size=3),
    st.booleans(),
    st.dictionaries(st.sampled_from(NAMES), st.floats(0, 7), max_size=2),
    st.floats(0, 2),
)
def test_fuzz_value_systems_load_and_plan(raw, targets, prioritize, observed, obs_sd):
    """A loaded system is also usable: SCM, objective, counterfactual -- or a typed error."""
    from couple_lite.values.planning import plan_counterfactual

    d, path = _file(json.dumps(raw).encode(), "mine.json")
    with d, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # overflow/invalid in numpy is a bug here too
        try:
            vs = load_value_system(path)
            priority = ">".join(targets) if prioritize else None
            obj = make_objective(dict(targets.items()), priority, system=str(path))
            obs = {vs.resolve(k): v for k, v in observed.items()} or None
            plan = plan_counterfactual(obj, obs, obs_sd)
            assert set(plan.counterfactual) == set(vs.names)
            assert all(np.isfinite(x) for x in plan.counterfactual.values())
        except CoupleError:
            pass


# -- packs: replace fields and arrays, then steer with what loads -------------------------------

with np.load(SHIPPED, allow_pickle=False) as _z:
    PACK_ARRAYS = {k: _z[k] for k in _z.files if k != "meta"}
    PACK_META = json.loads(bytes(_z["meta"]).decode())
ARRAY_KEYS = sorted(PACK_ARRAYS)
META_KEYS = sorted(PACK_META) + ["metrics.unsteered_profile", "metrics.unsteered_sd"]


@st.composite
def arrays(draw, like: np.ndarray):
    kind = draw(st.sampled_from(["scale", "fill", "shape", "dtype", "poke"]))
    a = like.astype(np.float64)
    if kind == "scale":
        return a * draw(st.sampled_from([0.0, -1.0, 1e-30, 1e30, 1e300]))
    if kind == "fill":
        return np.full(like.shape, draw(st.sampled_from([0.0, -1.0, np.nan, np.inf, 1e-300])))
    if kind == "shape":
        shape = draw(st.lists(st.integers(0, 12), max_size=3))
        return np.ones(shape)
    if kind == "dtype":
        return like.astype(draw(st.sampled_from([np.int8, bool, np.complex64, str, np.float16])))
    idx = tuple(draw(st.integers(0, max(s - 1, 0))) for s in like.shape)
    if like.size:
        a[idx] = draw(st.sampled_from([np.nan, -np.inf, 0.0, -5.0, 1e308]))
    return a


@st.composite
def pack_mutations(draw):
    data = dict(PACK_ARRAYS)
    meta = json.loads(json.dumps(PACK_META))
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            key = draw(st.sampled_from(ARRAY_KEYS))
            if draw(st.integers(0, 5)) == 0:
                data.pop(key, None)
            else:
                data[key] = draw(arrays(PACK_ARRAYS[key]))
        else:
            key = draw(st.sampled_from(META_KEYS))
            target, _, sub = key.partition(".")
            holder = meta.get("metrics") if sub else meta
            if not isinstance(holder, dict):
                continue
            k = sub or target
            if sub and isinstance(holder.get(k), dict) and draw(st.booleans()):
                inner = dict(holder[k])
                inner[draw(st.sampled_from(sorted(inner) or ["x"]))] = draw(NUM)
                holder[k] = inner
            elif draw(st.integers(0, 4)) == 0:
                holder.pop(k, None)
            else:
                holder[k] = draw(JSONISH)
    return data, meta


class _FakeEngine(SimpleNamespace):
    """What a Steerer needs from an engine to plan and build vectors (no model)."""

    def mark_steerable(self):
        pass


@fuzz(200)
@given(pack_mutations(), st.sampled_from(["power=6", "benevolence=6,power=1", "universalism=1"]))
def test_fuzz_pack_fields_load_and_steer(mutation, values):
    from couple_lite.steering.steerer import Steerer

    data, meta = mutation
    buf = json.dumps(meta).encode()
    d, path = _file(b"", "p.npz")
    with d, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        np.savez(path, meta=np.frombuffer(buf, dtype=np.uint8), **data)
        try:
            pack = load_pack(
                path, n_layer=PACK_ARRAYS["directions"].shape[1], n_embd=PACK_ARRAYS["directions"].shape[2]
            )
        except ControlVectorError:
            return
        try:
            st_ = Steerer(_FakeEngine(model_path=Path(d.name) / "model.gguf"), pack, "m")
            plan = st_.plan(make_objective(values), strict=False)
            vec = st_.vector(plan)
        except CoupleError:
            return
        assert np.all(np.isfinite(vec)) and np.all(vec[0] == 0)
        if pack.fluency_budget is not None:  # v2: the predicted KL cost holds the budget
            c = np.array([plan.coefficients[n] for n in pack.values])
            assert c @ pack.fluency_gram @ c <= pack.fluency_budget * (1 + 1e-6) + 1e-12
        else:  # no budget to cap at: steered as solved, and the plan says so
            assert plan.reached == 1.0 and any("no fluency budget" in w for w in plan.warnings)


# -- control-vector files with arbitrary tensors and metadata ----------------------------------

TENSOR_NAMES = st.one_of(
    st.sampled_from(
        [
            "direction.0",
            "direction.1",
            "direction.3",
            "direction.4",
            "direction.01",
            "direction.-1",
            "direction.",
            "token_embd.weight",
        ]
    ),
    st.from_regex(r"direction\.[0-9]{1,3}", fullmatch=True),
)


@st.composite
def cv_files(draw):
    meta = {}
    if draw(st.integers(0, 5)):
        meta["arch"] = draw(st.sampled_from(["controlvector", "llama", ""]))
    tensors = []
    for _ in range(draw(st.integers(0, 4))):
        dtype = draw(st.sampled_from([np.float32, np.float32, np.float16, np.int32, np.float64]))
        shape = draw(st.sampled_from([(64,), (64,), (32,), (65,), (2, 32), (1, 64), (0,)]))
        value = draw(st.sampled_from([0.5, -1.0, 0.0, np.nan, np.inf, 1e38]))
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/1e38 cast to int32/float16 on purpose
            tensors.append((draw(TENSOR_NAMES), np.full(shape, value).astype(dtype)))
    hint = draw(st.one_of(st.none(), st.sampled_from(["llama", "qwen2", ""])))
    count = draw(st.one_of(st.none(), st.integers(0, 2**31)))
    return meta, tensors, hint, count


@fuzz(200)
@given(cv_files(), st.sampled_from([None, "llama"]))
def test_fuzz_control_vector_structure(spec, architecture):
    import gguf

    from couple_lite.engine.control_vector import read_control_vector

    meta, tensors, hint, count = spec
    d, path = _file(b"", "cv.gguf")
    with d:
        try:
            w = gguf.GGUFWriter(str(path), meta.get("arch", "controlvector"))
            if hint is not None:
                w.add_string("controlvector.model_hint", hint)
            if count is not None:
                w.add_uint32("controlvector.layer_count", count)
            for name, t in tensors:
                w.add_tensor(name, t)
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()
        except Exception:  # the writer refuses (duplicate names, odd dtypes): not our reader's input
            assume(False)
        try:
            v = read_control_vector(path, 4, 64, architecture)
        except ControlVectorError:
            return
        assert v.shape == (4, 64) and v.dtype == np.float32 and np.all(np.isfinite(v)) and np.all(v[0] == 0)


# -- objectives: YAML text, raw bytes, any system argument -------------------------------------

YAML_PIECES = st.sampled_from(
    [
        "targets:",
        "  power: 6",
        "  benevolence: high",
        "  power: !!python/object:os.system ls",
        "priority: power",
        "priority: {power: 2}",
        "system: schwartz19",
        "system: /nonexistent.json",
        "system: [1]",
        "values: power=6",
        "targets: {power: .nan}",
        "targets: {power: 1e400}",
        "targets: {2020-01-01: 6}",
        "targets: &a {power: *a}",
        "- 1",
        "? [a]",
        "targets: {power: 0x6}",
        "%YAML 1.1",
        "---",
        "...",
        "\t",
        "targets: {}",
        "priority: a>>b",
    ]
)


@fuzz(200)
@given(st.lists(YAML_PIECES, max_size=6), st.text(max_size=20), st.sampled_from(["o.yaml", "o.json", "o.yml"]))
def test_fuzz_yaml_objective_files(lines, noise, name):
    d, path = _file(("\n".join(lines) + noise).encode("utf-8", "surrogatepass"), name)
    with d:
        try:
            obj = load_objective(path)
        except CoupleError:
            return
        assert obj.targets and all(1 <= x <= 6 for x in obj.targets.values())


@fuzz(150)
@given(st.binary(max_size=200), st.sampled_from(["o.yaml", "o.json", "i.csv", "s.json"]))
def test_fuzz_raw_bytes_as_any_input_file(data, name):
    d, path = _file(data, name)
    with d:
        try:
            if name.startswith("o."):
                load_objective(path)
            elif name == "i.csv":
                load_items(SCHWARTZ, path)
            else:
                load_value_system(path)
        except CoupleError:
            pass


@fuzz(150)
@given(st.text(max_size=30), st.one_of(st.none(), st.text(max_size=20)), st.text(max_size=40))
def test_fuzz_objective_with_any_system_argument(values, priority, system):
    try:
        make_objective(values, priority, system)
    except CoupleError:
        pass
