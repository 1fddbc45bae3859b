"""Packs are validated on load: every damaged field or array is one
ControlVectorError, never a silent change of behaviour (a NaN fluency limit used to lift the cap) or
a raw traceback."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from couple_lite.errors import ControlVectorError
from couple_lite.vectors.pack import default_pack_path, load_pack

SHIPPED = default_pack_path("smollm2-135m", "schwartz10")


def _arrays():
    with np.load(SHIPPED, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    return data, json.loads(bytes(data.pop("meta")).decode())


def _write(tmp_path, data, meta, name="p.npz"):
    out = tmp_path / name
    np.savez(out, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **data)
    return out


def test_the_shipped_pack_is_valid():
    assert load_pack(SHIPPED).fluency_limit is not None


def _nan_limit(d, m):
    d["fluency_limit"] = d["fluency_limit"].copy()
    d["fluency_limit"][3] = np.nan


def _del_meta(key):
    return lambda d, m: m.pop(key)


def _set_meta(key, value):
    return lambda d, m: m.__setitem__(key, value)


def _set_array(key, fn):
    return lambda d, m: d.__setitem__(key, fn(d[key]))


DAMAGE = {
    "nan fluency limit": (_nan_limit, "'fluency_limit' holds NaN"),
    "negative fluency limit": (_set_array("fluency_limit", lambda a: -a), "positive"),
    "missing system": (_del_meta("system"), "'system'"),
    "values a string": (_set_meta("values", "power"), "'values'"),
    "model name a number": (_set_meta("model_name", 3), "'model_name'"),
    "short layer norms": (_set_array("layer_norms", lambda a: a[:5]), "'layer_norms'"),
    "5x5 response": (_set_array("response", lambda a: a[:5, :5]), "'response'"),
    "text response": (_set_array("response", lambda a: a.astype(str)), "'response'"),
    "inf direction": (_set_array("directions", lambda a: np.where(a == a.max(), np.inf, a)), "'directions'"),
    "missing removed": (lambda d, m: d.pop("removed"), "'removed'"),
    "layer range outside the model": (_set_meta("layer_range", [11, 40]), "layer range"),
    "layer range of floats": (_set_meta("layer_range", [11.5, 17]), "layer_range"),
    "profile missing a value": (lambda d, m: m["metrics"]["unsteered_profile"].pop("power"), "unsteered_profile"),
    "metrics a list": (_set_meta("metrics", []), "'metrics'"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_each_kind_of_damage_is_one_clear_error(case, tmp_path):
    data, meta = _arrays()
    damage, msg = DAMAGE[case]
    damage(data, meta)
    with pytest.raises(ControlVectorError, match="damaged") as e:
        load_pack(_write(tmp_path, data, meta))
    assert msg in str(e.value)


def test_damaged_packs_fail_on_the_cli_with_one_line_and_write_nothing(tmp_path):
    from click.testing import CliRunner

    from cli import main

    data, meta = _arrays()
    _nan_limit(data, meta)
    bad = _write(tmp_path, data, meta)
    out = tmp_path / "cv.gguf"
    r = CliRunner().invoke(main, ["export", "--values", "benevolence=6", "--pack", str(bad), "-o", str(out)])
    assert r.exit_code == 2 and "damaged" in r.output and not out.exists()


@settings(max_examples=150)
@given(st.binary(min_size=0, max_size=64), st.integers(min_value=0, max_value=10**6))
def test_fuzz_corrupted_pack_bytes_load_or_raise_our_error(tmp_path_factory, junk, at):
    """Overwrite bytes at a random place of the shipped pack: it loads or raises ControlVectorError."""
    raw = bytearray(SHIPPED.read_bytes())
    at %= len(raw)
    raw[at : at + len(junk)] = junk
    path = tmp_path_factory.mktemp("fuzz") / "p.npz"
    path.write_bytes(bytes(raw))
    try:
        load_pack(path)
    except ControlVectorError:
        pass


def test_a_version_1_pack_is_one_line_saying_how_to_rebuild_it(tmp_path):
    data, meta = _arrays()
    meta["version"] = 1
    with pytest.raises(ControlVectorError, match="version 1 pack from an older couple-lite; build it again") as e:
        load_pack(_write(tmp_path, data, meta))
    assert "couple-lite pack build" in str(e.value) and "\n" not in str(e.value)
    meta["version"] = 3
    with pytest.raises(ControlVectorError, match="pack version 3, this couple-lite reads version 2"):
        load_pack(_write(tmp_path, data, meta, "v3.npz"))


def test_members_a_pack_does_not_define_are_refused_before_anything_is_decompressed(tmp_path):
    import zipfile

    path = tmp_path / "extra.npz"
    path.write_bytes(SHIPPED.read_bytes())
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("zeros.npy", b"\0" * (1 << 20))  # compresses to a few kB: a zip bomb in small
    with pytest.raises(ControlVectorError, match="holds members a pack does not have"):
        load_pack(path)


def test_a_member_declaring_more_than_a_pack_holds_is_refused(tmp_path, monkeypatch):
    from couple_lite.vectors import pack as pack_module

    monkeypatch.setattr(pack_module, "MAX_MEMBER_BYTES", 1000)  # the shipped directions are larger
    with pytest.raises(ControlVectorError, match="declares .* bytes, more than a pack holds"):
        load_pack(SHIPPED)


def test_random_bytes_are_not_a_pack_and_not_a_pickle(tmp_path):
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ControlVectorError, match="not a value-vector pack") as e:
        load_pack(path)
    assert "pickle" not in str(e.value)
