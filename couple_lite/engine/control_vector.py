"""llama.cpp control-vector files (``--control-vector``; the format repeng's ``export_gguf`` writes).

A GGUF with ``general.architecture = "controlvector"``, ``controlvector.model_hint`` and
``controlvector.layer_count``, and one float32 1-D tensor ``direction.<N>`` of n_embd per steered
block N >= 1 (added at the output of block N). In memory a vector is an (n_layer, n_embd) matrix
whose row 0 is zero. Writing is atomic; reading rejects anything llama.cpp would reject and
anything that does not fit the model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .._io import atomic_write
from ..errors import ControlVectorError, OutputFileError

if TYPE_CHECKING:
    from ._arrays import AnyArray, F32Array

__all__ = ["write_control_vector", "read_control_vector"]

_NAME = re.compile(r"^direction\.(0|[1-9]\d*)$")  # llama.cpp's names: no leading zeros, so no two name one block


def write_control_vector(path: str | Path, vector: AnyArray, model_hint: str) -> Path:
    """Write the non-zero rows of ``vector`` (n_layer, n_embd) as a control-vector GGUF."""
    import gguf

    v = np.asarray(vector, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] < 2:
        raise ControlVectorError(f"control vector must be (n_layer, n_embd), got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ControlVectorError("control vector contains NaN or infinity; nothing written")
    if np.any(v[0] != 0):
        raise ControlVectorError("row 0 must be zero: llama.cpp rejects a file with direction.0")
    rows = [il for il in range(1, v.shape[0]) if np.any(v[il] != 0)]
    path = Path(path)

    def verify(tmp: str) -> None:  # read back: a short write must never be renamed into place
        try:
            back = read_control_vector(tmp, v.shape[0], v.shape[1])
            ok = np.array_equal(back, v * np.isin(np.arange(v.shape[0]), rows)[:, None])
        except ControlVectorError:
            ok = False
        if not ok:
            raise OutputFileError(
                f"writing {str(path)!r} failed: the file did not read back as written (disk "
                f"full or a file size limit?); the old file, if any, is unchanged"
            )

    with atomic_write(path, verify=verify) as tmp:
        w = gguf.GGUFWriter(tmp, "controlvector")
        w.add_string("controlvector.model_hint", model_hint)
        w.add_uint32("controlvector.layer_count", len(rows))
        for il in rows:
            w.add_tensor(f"direction.{il}", np.ascontiguousarray(v[il]))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    return path


def read_control_vector(path: str | Path, n_layer: int, n_embd: int, architecture: str | None = None) -> F32Array:
    """Read a control-vector file into an (n_layer, n_embd) matrix, checking it fits the model."""
    import gguf

    path = Path(path)
    if not path.exists():
        raise ControlVectorError(f"control-vector file {str(path)!r} not found")
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as e:  # gguf raises ValueError, struct errors, OSError... on corrupt files
        raise ControlVectorError(f"{str(path)!r} is not a readable GGUF file ({type(e).__name__}: {e})") from None
    fields = reader.fields

    def text(key: str) -> str | None:
        f = fields.get(key)
        return None if f is None else bytes(f.parts[f.data[0]]).decode("utf-8", "replace")

    arch = text("general.architecture")
    if arch != "controlvector":
        raise ControlVectorError(f"{str(path)!r} is a {arch!r} GGUF, not a control vector")
    hint = text("controlvector.model_hint")
    if architecture and hint and hint != architecture:
        raise ControlVectorError(
            f"{str(path)!r} was made for a {hint!r} model, this model is {architecture!r}; "
            f"use a vector extracted from this model"
        )
    out = np.zeros((n_layer, n_embd), dtype=np.float32)
    seen: set[int] = set()
    for t in reader.tensors:
        m = _NAME.match(t.name)
        if not m:
            raise ControlVectorError(f"{str(path)!r} holds an unknown tensor {t.name!r}; expected direction.<N>")
        il = int(m.group(1))
        if il in seen:
            raise ControlVectorError(f"{str(path)!r} holds block {il} twice; write each direction.<N> once")
        seen.add(il)
        if il == 0:
            raise ControlVectorError(f"{str(path)!r} holds direction.0; block 0 cannot be steered")
        if il >= n_layer:
            raise ControlVectorError(f"{str(path)!r} steers block {il}, but this model has only {n_layer} blocks")
        data = np.asarray(t.data)
        if t.tensor_type != gguf.GGMLQuantizationType.F32 or data.size != n_embd or len(t.shape) != 1:
            raise ControlVectorError(
                f"tensor {t.name} in {str(path)!r} must be float32 of length {n_embd} "
                f"(got {t.tensor_type.name}, {data.size} values); was it made for another model?"
            )
        if not np.all(np.isfinite(data)):
            raise ControlVectorError(f"tensor {t.name} in {str(path)!r} contains NaN or infinity")
        out[il] = data.reshape(-1)
    return out
