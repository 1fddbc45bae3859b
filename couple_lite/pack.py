"""Value-vector packs: everything steering needs for one model, in one ``.npz`` file.

A pack holds the unit directions per value and layer, the layer range and layer norms (the unit
of strength), the response matrix R and gains (when calibrated), fluency limits, the extraction
settings and the sha256 of the model file it was made from; loading checks that hash and shape.
Written atomically; arrays only (no pickles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ControlVectorError
from .errors import OutputFileError
from .files import atomic_write
from .vectors import Extraction

__all__ = ["ValuePack", "save_pack", "load_pack", "default_pack_path", "PACK_VERSION"]

# 2: a fluency budget in KL with a per-value dose and a quadratic cost model for combined vectors
# (``fluency_gram``, ``metrics["fluency"]``), and the directions' provenance; version 1 packs still load
PACK_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Ranges a pack must respect on load (issue 14): wider than any real pack, narrow enough that a
# damaged one cannot lift the fluency cap or overflow the float32 control vector.
FLUENCY_LIMIT_RANGE = (1e-6, 100.0)  # multiples of a block's norm (shipped packs: ~0.02-0.05)
RESPONSE_RANGE = (1e-9, 1e9)  # largest |R| entry (shipped: ~10)
MAX_MAGNITUDE = 1e6  # layer norms, unsteered profile and its sds (shipped: <= ~650)
UNIT_TOLERANCE = 1e-3  # direction rows are unit vectors (or zero) up to float32 rounding


def default_pack_path(model_name: str, system: str) -> Path:
    """Where the pack for a model and value system lives: ``models/packs/<model>-<system>.npz``
    (in the checkout, or in the installed package)."""
    from .model_store import models_dir

    return models_dir() / "packs" / f"{model_name}-{system}.npz"



@dataclass
class ValuePack:
    """Directions + calibration for one model and value system."""

    model_sha256: str
    model_name: str
    architecture: str
    system: str
    extraction: Extraction
    response: np.ndarray | None = None  # (V, V): measured change of j per unit strength on i
    response_instrument: str | None = None
    strength: float | None = None  # sweep strength used for R
    fluency_limit: np.ndarray | None = None  # (V,) strength limit per value (v2: the dose at the KL budget)
    metrics: dict = field(default_factory=dict)
    fluency_gram: np.ndarray | None = None  # (V, V) KL cost of coefficients c is about cᵀ G c (v2)

    @property
    def fluency_budget(self) -> float | None:
        """The KL budget (nats/token) the gram's cost model is capped at, when the pack has one."""
        f = self.metrics.get("fluency")
        return float(f["budget"]) if self.fluency_gram is not None and isinstance(f, dict) else None

    @property
    def values(self) -> list[str]:
        return self.extraction.values

    def value_system(self):
        """The pack's value system: the definition it carries (a user's own system, written by
        ``extract --system FILE``), else the built-in one of its name."""
        from pydantic import ValidationError

        from .values import ValueSystem, load_value_system

        d = self.metrics.get("system_definition")
        if d is None:
            return load_value_system(self.system)
        try:
            vs = ValueSystem.model_validate(d)
        except ValidationError:
            vs = None
        if vs is None or vs.name != self.system or vs.names != self.values:
            raise ControlVectorError(f"pack for {self.system!r} carries a damaged value-system definition; "
                                     f"extract it again")
        return vs

    def calibration_items(self):
        """The user's own calibration items the pack carries (``extract --texts``), else None
        (then the system's shipped items are used)."""
        from .measure import Item

        raw = self.metrics.get("calibration_items")
        if raw is None:
            return None
        ok = isinstance(raw, list) and raw and all(
            isinstance(r, dict) and isinstance(r.get("text"), str) and r.get("value") in self.values for r in raw)
        if not ok:
            raise ControlVectorError(f"pack for {self.system!r} carries damaged calibration items; extract it again")
        return [Item(text=r["text"], value=r["value"]) for r in raw]

    @property
    def gains(self) -> np.ndarray | None:
        return None if self.response is None else np.diag(self.response).copy()


def save_pack(pack: ValuePack, path: str | Path) -> Path:
    ex = pack.extraction
    meta = {
        "version": PACK_VERSION, "model_sha256": pack.model_sha256, "model_name": pack.model_name,
        "architecture": pack.architecture, "system": pack.system, "values": ex.values,
        "layer_range": list(ex.layer_range), "settings": ex.settings,
        "response_instrument": pack.response_instrument, "strength": pack.strength, "metrics": pack.metrics,
    }
    arrays = {
        "directions": ex.directions.astype(np.float32), "layer_norms": ex.layer_norms.astype(np.float32),
        "value_accuracy": ex.value_accuracy, "pair_accuracy": ex.pair_accuracy, "removed": ex.removed,
        "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
    }
    if pack.response is not None:
        arrays["response"] = pack.response
    if pack.fluency_limit is not None:
        arrays["fluency_limit"] = pack.fluency_limit
    if pack.fluency_gram is not None:
        arrays["fluency_gram"] = pack.fluency_gram
    path = Path(path)
    def verify(tmp: str) -> None:  # read back every array: a short write must never replace a pack
        try:
            with np.load(tmp, allow_pickle=False) as z:
                ok = set(z.files) == set(arrays) and all(np.array_equal(z[k], arrays[k]) for k in arrays)
        except Exception:  # zipfile.BadZipFile, EOFError, OSError...: not what was written
            ok = False
        if not ok:
            raise OutputFileError(f"writing {str(path)!r} failed: the pack did not read back as written (disk full "
                                  f"or a file size limit?); the old file, if any, is unchanged")

    with atomic_write(path, suffix=".npz", verify=verify) as tmp:  # numpy would append .npz to any other name
        np.savez_compressed(tmp, **arrays)
    return path


def _validate(path: Path, meta: dict, data: dict) -> None:
    """Every field and array of a pack, or one ControlVectorError naming the first bad one: a NaN
    fluency limit, say, would silently lift the fluency cap."""
    def bad(what: str) -> ControlVectorError:
        return ControlVectorError(f"pack {str(path)!r} is damaged: {what}; extract and calibrate it again")

    for key, kind in (("values", list), ("model_sha256", str), ("model_name", str), ("architecture", str),
                      ("system", str), ("layer_range", list), ("settings", dict)):
        if not isinstance(meta.get(key), kind):
            raise bad(f"metadata {key!r} is missing or not a {kind.__name__}")
    if not isinstance(meta.get("metrics", {}), dict):
        raise bad("metadata 'metrics' is not a mapping")
    values = meta["values"]
    if not values or not all(isinstance(v, str) for v in values):
        raise bad("metadata 'values' must be a non-empty list of names")
    for key in ("directions", "layer_norms", "value_accuracy", "pair_accuracy", "removed"):
        if key not in data:
            raise bad(f"array {key!r} is missing")
    d = data["directions"]
    if d.ndim != 3 or d.shape[0] != len(values):
        raise bad(f"directions have shape {d.shape}, expected ({len(values)}, n_layer, n_embd)")
    V, L = len(values), d.shape[1]
    shapes = {"directions": d.shape, "layer_norms": (L,), "value_accuracy": (L,), "pair_accuracy": (V, L),
              "removed": (V, L), "response": (V, V), "fluency_limit": (V,), "fluency_gram": (V, V)}
    for key, shape in shapes.items():
        if key not in data:
            continue
        a = data[key]
        if a.dtype.kind not in "fiu" or a.shape != shape:
            raise bad(f"array {key!r} has shape {a.shape} ({a.dtype}), expected {shape} numbers")
        if not np.all(np.isfinite(a)):
            raise bad(f"array {key!r} holds NaN or infinity")
    if len(set(values)) != len(values):
        raise bad("metadata 'values' names a value twice")
    # ranges that steering relies on: beyond them the fluency cap is lifted or the vector overflows
    if "fluency_limit" in data and not np.all((data["fluency_limit"] >= FLUENCY_LIMIT_RANGE[0])
                                              & (data["fluency_limit"] <= FLUENCY_LIMIT_RANGE[1])):
        raise bad(f"fluency limits must be positive, in {FLUENCY_LIMIT_RANGE[0]:g}..{FLUENCY_LIMIT_RANGE[1]:g} "
                  f"(x the layer norm)")
    if np.max(np.abs(d), initial=0) > 1 + UNIT_TOLERANCE or \
            np.any(np.linalg.norm(d.astype(np.float64), axis=2) > 1 + UNIT_TOLERANCE):
        raise bad("array 'directions' holds rows longer than 1 (directions are unit vectors)")
    if "response" in data and not RESPONSE_RANGE[0] <= float(np.max(np.abs(data["response"]), initial=0)) <= RESPONSE_RANGE[1]:
        raise bad(f"array 'response' is all (near) zero or beyond {RESPONSE_RANGE[1]:g}: its vectors move nothing "
                  f"or overflow; calibrate again")
    if "fluency_gram" in data:
        g = data["fluency_gram"].astype(np.float64)
        budget = meta.get("metrics", {}).get("fluency", {}).get("budget") if isinstance(
            meta.get("metrics", {}).get("fluency"), dict) else None
        if not isinstance(budget, (int, float)) or isinstance(budget, bool) or not 0 < budget <= MAX_MAGNITUDE:
            raise bad("metrics 'fluency' must give the positive KL 'budget' its gram is capped at")
        if not np.allclose(g, g.T, rtol=1e-6, atol=1e-12) or np.linalg.eigvalsh((g + g.T) / 2).min() <= 0 \
                or np.abs(g).max() > MAX_MAGNITUDE ** 2:
            raise bad("array 'fluency_gram' must be symmetric positive definite (a KL cost is never negative)")
    lr = meta["layer_range"]
    if len(lr) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in lr) or not 1 <= lr[0] <= lr[1] < L:
        raise bad(f"layer range {lr} is not inside blocks 1..{L - 1}")
    norms = data["layer_norms"]
    if not (np.all((norms >= 0) & (norms <= MAX_MAGNITUDE)) and np.all(norms[lr[0]: lr[1] + 1] > 0)):
        raise bad(f"array 'layer_norms' must lie in 0..{MAX_MAGNITUDE:g}, positive in the layer range")
    for key, low in (("unsteered_profile", -MAX_MAGNITUDE), ("unsteered_sd", 0.0)):
        prof = meta.get("metrics", {}).get(key)
        if prof is not None and (not isinstance(prof, dict) or any(
                not isinstance(prof.get(v), (int, float)) or isinstance(prof.get(v), bool)
                or not np.isfinite(prof[v]) or not low <= prof[v] <= MAX_MAGNITUDE for v in values)):
            raise bad(f"metrics {key!r} must give a finite number in {low:g}..{MAX_MAGNITUDE:g} for every value")


def load_pack(path: str | Path, model_sha256: str | None = None, n_layer: int | None = None,
              n_embd: int | None = None) -> ValuePack:
    """Read a pack; with the model's hash/shape given, refuse a pack made for another model."""
    path = Path(path)
    if not path.exists():
        raise ControlVectorError(f"value-vector pack {str(path)!r} not found; make one with `python cli.py extract`")
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        meta = json.loads(bytes(data.pop("meta")).decode())
    except Exception as e:
        raise ControlVectorError(f"{str(path)!r} is not a readable value-vector pack ({type(e).__name__}: {e})") from None
    if not isinstance(meta, dict) or meta.get("version") not in READABLE_VERSIONS:
        version = meta.get("version") if isinstance(meta, dict) else None
        raise ControlVectorError(f"{str(path)!r} is pack version {version}, this couple-lite reads "
                                 f"{', '.join(map(str, READABLE_VERSIONS))}")
    _validate(path, meta, data)
    d = data["directions"]
    if model_sha256 and meta["model_sha256"] != model_sha256:
        raise ControlVectorError(
            f"pack {str(path)!r} was made for model {meta['model_name']} (sha256 {meta['model_sha256'][:12]}…), "
            f"not this model (sha256 {model_sha256[:12]}…); extract a pack for this model"
        )
    if (n_layer, n_embd) != (None, None) and d.shape[1:] != (n_layer, n_embd):
        raise ControlVectorError(f"pack {str(path)!r} is for ({d.shape[1]}, {d.shape[2]}) layers x width, "
                                 f"this model is ({n_layer}, {n_embd})")
    ex = Extraction(values=meta["values"], directions=d, layer_range=tuple(meta["layer_range"]),
                    layer_norms=data["layer_norms"], value_accuracy=data["value_accuracy"],
                    pair_accuracy=data["pair_accuracy"], removed=data["removed"], settings=meta["settings"])
    return ValuePack(model_sha256=meta["model_sha256"], model_name=meta["model_name"],
                     architecture=meta["architecture"], system=meta["system"], extraction=ex,
                     response=data.get("response"), response_instrument=meta.get("response_instrument"),
                     strength=meta.get("strength"), fluency_limit=data.get("fluency_limit"),
                     metrics=meta.get("metrics", {}), fluency_gram=data.get("fluency_gram"))
