"""Control-vector GGUF files: exact round trip, llama.cpp's rules, other tools' files, errors."""

from __future__ import annotations

import gguf
import numpy as np
import pytest

from couple_lite.engine.control_vector import read_control_vector, write_control_vector
from couple_lite.errors import ControlVectorError


def sample(n_layer=4, n_embd=64, rows=(1, 3)):
    v = np.zeros((n_layer, n_embd), dtype=np.float32)
    rng = np.random.default_rng(0)
    for r in rows:
        v[r] = rng.standard_normal(n_embd)
    return v


def write_raw(path, tensors: dict, arch="controlvector", hint="llama"):
    """A file written directly with gguf, as repeng's export_gguf and llama.cpp's tools do."""
    w = gguf.GGUFWriter(str(path), arch)
    w.add_string("controlvector.model_hint", hint)
    w.add_uint32("controlvector.layer_count", len(tensors))
    for name, data in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_round_trip_is_exact_and_follows_llama_cpp_rules(tmp_path):
    v = sample()
    p = write_control_vector(tmp_path / "v.gguf", v, "llama")
    np.testing.assert_array_equal(read_control_vector(p, 4, 64, "llama"), v)
    r = gguf.GGUFReader(str(p))
    assert bytes(r.fields["general.architecture"].parts[-1]) == b"controlvector"
    assert [t.name for t in r.tensors] == ["direction.1", "direction.3"]  # no direction.0
    assert all(t.tensor_type == gguf.GGMLQuantizationType.F32 and len(t.shape) == 1 for t in r.tensors)
    assert int(r.fields["controlvector.layer_count"].parts[-1][0]) == 2
    assert list(tmp_path.iterdir()) == [p]  # no temp files left


def test_repeng_style_file_loads(tmp_path):
    rng = np.random.default_rng(1)
    dirs = {f"direction.{il}": rng.standard_normal(64).astype(np.float32) for il in range(1, 4)}
    p = write_raw(tmp_path / "repeng.gguf", dirs, hint="llama")
    out = read_control_vector(p, 4, 64, "llama")
    assert not out[0].any()
    np.testing.assert_array_equal(out[2], dirs["direction.2"])


@pytest.mark.parametrize(
    "tensors,msg",
    [
        ({"direction.0": np.ones(64, np.float32)}, "direction.0"),
        ({"direction.9": np.ones(64, np.float32)}, "only 4 blocks"),
        ({"direction.1": np.ones(32, np.float32)}, "float32 of length 64"),
        ({"direction.1": np.ones(64, np.float16)}, "float32 of length 64"),
        ({"direction.1": np.full(64, np.nan, np.float32)}, "NaN"),
        ({"weights.1": np.ones(64, np.float32)}, "unknown tensor"),
    ],
)
def test_bad_files_are_rejected(tmp_path, tensors, msg):
    p = write_raw(tmp_path / "bad.gguf", tensors)
    with pytest.raises(ControlVectorError, match=msg):
        read_control_vector(p, 4, 64, "llama")


def test_wrong_model_and_corrupt_files(tmp_path):
    p = write_control_vector(tmp_path / "v.gguf", sample(), "gemma3")
    with pytest.raises(ControlVectorError, match="made for a 'gemma3' model"):
        read_control_vector(p, 4, 64, "llama")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(p.read_bytes()[:200])
    with pytest.raises(ControlVectorError, match="not a readable GGUF"):
        read_control_vector(cut, 4, 64)
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"hello world" * 10)
    with pytest.raises(ControlVectorError, match="not a readable GGUF"):
        read_control_vector(junk, 4, 64)
    with pytest.raises(ControlVectorError, match="not found"):
        read_control_vector(tmp_path / "none.gguf", 4, 64)
    model = write_raw(tmp_path / "model.gguf", {}, arch="llama")
    with pytest.raises(ControlVectorError, match="not a control vector"):
        read_control_vector(model, 4, 64)


def test_rejected_vectors_write_nothing(tmp_path):
    bad = sample()
    bad[2, 0] = np.inf
    with pytest.raises(ControlVectorError, match="NaN or infinity"):
        write_control_vector(tmp_path / "v.gguf", bad, "llama")
    with pytest.raises(ControlVectorError, match="row 0"):
        write_control_vector(tmp_path / "v.gguf", np.ones((4, 64), np.float32), "llama")
    assert list(tmp_path.iterdir()) == []


def test_write_failing_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    """The disk fills after the header: the half-written temporary is removed, the old file stays."""
    old = write_control_vector(tmp_path / "v.gguf", sample(), "llama")
    before = old.read_bytes()

    def fail_midway(self, *args, **kwargs):
        self.fout[0].write(b"partial tensor data")  # some bytes reach the temporary file first
        self.fout[0].flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", fail_midway)
    with pytest.raises(OSError, match="No space left"):
        write_control_vector(tmp_path / "v.gguf", sample(rows=(2,)), "llama")
    assert list(tmp_path.iterdir()) == [old]  # no temporary left beside it
    assert old.read_bytes() == before
    monkeypatch.undo()
    np.testing.assert_array_equal(read_control_vector(old, 4, 64, "llama"), sample())


def test_file_applies_like_the_matrix(tiny_engine, tmp_path):
    v = sample()
    p = write_control_vector(tmp_path / "v.gguf", v, tiny_engine.architecture)
    loaded = read_control_vector(p, tiny_engine.n_layer, tiny_engine.n_embd, tiny_engine.architecture)
    with tiny_engine.steered(v):
        a = tiny_engine.logits(["hello"])
    with tiny_engine.steered(loaded):
        b = tiny_engine.logits(["hello"])
    np.testing.assert_array_equal(a, b)
