"""What a pack file must hold to be loaded: its metadata as a pydantic model, its arrays' shapes and
the ranges steering relies on. A pack that breaks any of them is one ControlVectorError naming the
first problem: a NaN dose, say, would silently lift the fluency cap."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ControlVectorError

__all__ = ["PackMeta", "check_pack", "ARRAYS", "REQUIRED_ARRAYS"]

# Ranges a pack must respect: wider than any real pack, narrow enough that a damaged one cannot lift
# the fluency cap or overflow the float32 control vector.
FLUENCY_LIMIT_RANGE = (1e-6, 100.0)  # doses, multiples of a block's norm (shipped packs: ~0.02-0.05)
RESPONSE_RANGE = (1e-9, 1e9)  # largest |R| entry (shipped: ~10)
MAX_MAGNITUDE = 1e6  # layer norms, unsteered profile and its sds (shipped: <= ~650)
UNIT_TOLERANCE = 1e-3  # direction rows are unit vectors (or zero) up to float32 rounding

REQUIRED_ARRAYS = ("directions", "layer_norms", "value_accuracy", "pair_accuracy", "removed")
ARRAYS = (*REQUIRED_ARRAYS, "response", "fluency_limit", "fluency_gram")  # with "meta": every member of a pack


class FluencyMeta(BaseModel):
    """``metrics["fluency"]``: the KL budget the cost model G is capped at, and how it was found."""

    model_config = ConfigDict(extra="allow", strict=True)

    budget: float = Field(gt=0, le=MAX_MAGNITUDE)


def _finite_levels(levels: dict[str, float] | None) -> dict[str, float] | None:
    if levels is not None and not all(math.isfinite(x) and abs(x) <= MAX_MAGNITUDE for x in levels.values()):
        raise ValueError(f"must give a finite number in -{MAX_MAGNITUDE:g}..{MAX_MAGNITUDE:g} for every value")
    return levels


class PackMetrics(BaseModel):
    """``metrics``: what calibration and the build recorded; the keys steering reads are checked."""

    model_config = ConfigDict(extra="allow", strict=True)

    fluency: FluencyMeta | None = None
    unsteered_profile: dict[str, float] | None = None
    unsteered_sd: dict[str, float] | None = None

    _levels = field_validator("unsteered_profile", "unsteered_sd")(_finite_levels)


class PackMeta(BaseModel):
    """The JSON metadata member of a pack (``meta``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    version: int
    model_sha256: str
    model_name: str
    architecture: str
    system: str
    values: list[str] = Field(min_length=1)
    layer_range: tuple[int, int]
    settings: dict[str, Any]
    response_instrument: str | None = None
    strength: float | None = None
    metrics: PackMetrics = Field(default_factory=PackMetrics)

    @field_validator("values")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("names a value twice")
        return v


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(x) for x in err["loc"]) or "meta"
    return f"metadata {where!r} is missing or invalid ({err['msg']})"


def check_pack(path: str, meta: bytes, data: dict[str, np.ndarray]) -> PackMeta:
    """The validated metadata (``meta``: the JSON member) of a pack, or one ControlVectorError
    naming the first damage."""

    def bad(what: str) -> ControlVectorError:
        return ControlVectorError(f"pack {path!r} is damaged: {what}; build it again (couple-lite pack build)")

    try:
        m = PackMeta.model_validate_json(meta)
    except ValidationError as e:
        raise bad(_first_error(e)) from None
    for key in REQUIRED_ARRAYS:
        if key not in data:
            raise bad(f"array {key!r} is missing")
    d = data["directions"]
    if d.ndim != 3 or d.shape[0] != len(m.values):
        raise bad(f"directions have shape {d.shape}, expected ({len(m.values)}, n_layer, n_embd)")
    V, L = len(m.values), d.shape[1]
    shapes = {
        "directions": d.shape,
        "layer_norms": (L,),
        "value_accuracy": (L,),
        "pair_accuracy": (V, L),
        "removed": (V, L),
        "response": (V, V),
        "fluency_limit": (V,),
        "fluency_gram": (V, V),
    }
    for key, shape in shapes.items():
        a = data.get(key)
        if a is None:
            continue
        if a.dtype.kind not in "fiu" or a.shape != shape:
            raise bad(f"array {key!r} has shape {a.shape} ({a.dtype}), expected {shape} numbers")
        if not np.all(np.isfinite(a)):
            raise bad(f"array {key!r} holds NaN or infinity")
    _check_ranges(data, m, L, bad)
    return m


def _check_ranges(data: dict[str, np.ndarray], m: PackMeta, L: int, bad) -> None:
    """The ranges steering relies on: beyond them the fluency cap is lifted or the vector overflows."""
    d = data["directions"]
    if "fluency_limit" in data and not np.all(
        (data["fluency_limit"] >= FLUENCY_LIMIT_RANGE[0]) & (data["fluency_limit"] <= FLUENCY_LIMIT_RANGE[1])
    ):
        raise bad(
            f"fluency limits must be positive, in {FLUENCY_LIMIT_RANGE[0]:g}..{FLUENCY_LIMIT_RANGE[1]:g} "
            f"(x the layer norm)"
        )
    if np.max(np.abs(d), initial=0) > 1 + UNIT_TOLERANCE or np.any(
        np.linalg.norm(d.astype(np.float64), axis=2) > 1 + UNIT_TOLERANCE
    ):
        raise bad("array 'directions' holds rows longer than 1 (directions are unit vectors)")
    if (
        "response" in data
        and not RESPONSE_RANGE[0] <= float(np.max(np.abs(data["response"]), initial=0)) <= RESPONSE_RANGE[1]
    ):
        raise bad(
            f"array 'response' is all (near) zero or beyond {RESPONSE_RANGE[1]:g}: its vectors move nothing "
            f"or overflow; calibrate again"
        )
    if "fluency_gram" in data:
        g = data["fluency_gram"].astype(np.float64)
        if m.metrics.fluency is None:
            raise bad("metrics 'fluency' must give the positive KL 'budget' its gram is capped at")
        if (
            not np.allclose(g, g.T, rtol=1e-6, atol=1e-12)
            or np.linalg.eigvalsh((g + g.T) / 2).min() <= 0
            or np.abs(g).max() > MAX_MAGNITUDE**2
        ):
            raise bad("array 'fluency_gram' must be symmetric positive definite (a KL cost is never negative)")
    lo, hi = m.layer_range
    if not 1 <= lo <= hi < L:
        raise bad(f"layer range {list(m.layer_range)} is not inside blocks 1..{L - 1}")
    norms = data["layer_norms"]
    if not (np.all((norms >= 0) & (norms <= MAX_MAGNITUDE)) and np.all(norms[lo : hi + 1] > 0)):
        raise bad(f"array 'layer_norms' must lie in 0..{MAX_MAGNITUDE:g}, positive in the layer range")
    for key, levels, low in (
        ("unsteered_profile", m.metrics.unsteered_profile, -MAX_MAGNITUDE),
        ("unsteered_sd", m.metrics.unsteered_sd, 0.0),
    ):
        if levels is not None and (set(m.values) - set(levels) or any(levels[v] < low for v in m.values)):
            raise bad(f"metrics {key!r} must give a finite number in {low:g}..{MAX_MAGNITUDE:g} for every value")
