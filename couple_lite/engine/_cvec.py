"""A llama.cpp context's control-vector slot: the checks a vector must pass, putting it on a
context (or taking it off), and taking it off only while a question is decoded."""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import llama_cpp
import numpy as np

from ..errors import ControlVectorError, EngineError

if TYPE_CHECKING:
    import numpy.typing as npt

    from ._arrays import F32Array

__all__ = ["checked_vector", "apply_vector", "unsteered"]


def checked_vector(vector: npt.ArrayLike, n_layer: int, n_embd: int, layers: tuple[int, int] | None = None) -> F32Array:
    """``vector`` as a float32 (n_layer, n_embd) copy, rows outside ``layers=(first, last)``
    (inclusive) zeroed; a ControlVectorError names what is wrong with it."""
    v = np.array(vector, dtype=np.float32)
    if v.shape != (n_layer, n_embd):
        raise ControlVectorError(f"control vector has shape {v.shape}, this model needs ({n_layer}, {n_embd})")
    if not np.all(np.isfinite(v)):
        raise ControlVectorError("control vector contains NaN or infinity")
    if np.any(v[0] != 0):
        raise ControlVectorError("row 0 of a control vector must be zero: llama.cpp cannot steer block 0")
    if layers is not None:
        lo, hi = layers
        if not 1 <= lo <= hi < n_layer:
            raise ControlVectorError(f"layer range {layers} must satisfy 1 <= first <= last < {n_layer}")
        keep = np.zeros(n_layer, dtype=bool)
        keep[lo : hi + 1] = True
        v[~keep] = 0.0
    return v


def apply_vector(ctx: llama_cpp.llama_context_p, vector: F32Array | None, n_embd: int) -> None:
    """Put a checked (n_layer, n_embd) vector on a context, or take any off with None (logits
    return exactly to the unsteered ones). The C buffer has n_layer - 1 rows: row r is added after
    block r + 1; all rows are always passed."""
    fn = llama_cpp.llama_set_adapter_cvec  # the pinned llama-cpp-python (>=0.3.17) names it so
    if vector is None:
        rc = fn(ctx, None, 0, n_embd, -1, -1)
    else:
        data = np.ascontiguousarray(vector[1:], dtype=np.float32)
        ptr = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        rc = fn(ctx, ptr, data.size, n_embd, 1, len(vector) - 1)
    if rc != 0:
        raise EngineError(f"llama.cpp rejected the control vector (code {rc}); wrong n_embd?")


@contextmanager
def unsteered(ctx: llama_cpp.llama_context_p, vector: F32Array | None, n_embd: int) -> Iterator[None]:
    """``vector`` off ``ctx`` for the block and back on after, whatever happens (the engine's
    "answer" scope decodes a question in here)."""
    apply_vector(ctx, None, n_embd)
    try:
        yield
    finally:
        apply_vector(ctx, vector, n_embd)
