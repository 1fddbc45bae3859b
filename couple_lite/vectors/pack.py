"""Value-vector packs: everything steering needs for one model, in one ``.npz`` file.

A pack holds the unit directions per value and layer, the layer range and layer norms (the unit
of strength), the response matrix R, each value's dose and the cost model of the fluency budget
(when calibrated), the extraction settings and the sha256 of the model file it was made from;
loading checks that hash and shape. Written atomically; arrays only (no pickles). The format is
version 2 (``PACK_VERSION``); what each member must hold is in ``_pack_checks``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write
from .._paths import models_dir
from ..errors import ControlVectorError, OutputFileError
from ..measure import Item
from ..values import ValueSystem, load_value_system
from ._pack_checks import ARRAYS, check_pack
from .extraction import Extraction

__all__ = ["ValuePack", "save_pack", "load_pack", "default_pack_path", "PACK_VERSION"]

PACK_VERSION = 2  # 2: a fluency budget in KL with a per-value dose and a cost model for combined vectors
MAX_MEMBER_BYTES = 1 << 30  # a pack member's declared size, checked before it is decompressed
MAX_META_BYTES = 16 << 20


def default_pack_path(model_name: str, system: str) -> Path:
    """Where the pack for a model and value system ships: ``models/packs/<model>-<system>.npz``
    (in the checkout, or in the installed package)."""
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
    fluency_limit: np.ndarray | None = None  # (V,) each value's dose: its strength at the KL budget
    metrics: dict = field(default_factory=dict)
    fluency_gram: np.ndarray | None = None  # (V, V) KL cost of coefficients c is about cᵀ G c

    @property
    def fluency_budget(self) -> float | None:
        """The KL budget (nats/token) the gram's cost model is capped at, when the pack has one."""
        f = self.metrics.get("fluency")
        return float(f["budget"]) if self.fluency_gram is not None and isinstance(f, dict) else None

    @property
    def values(self) -> list[str]:
        return self.extraction.values

    def value_system(self) -> ValueSystem:
        """The pack's value system: the definition it carries (a user's own system, written by
        ``extract --system FILE``), else the built-in one of its name."""
        from pydantic import ValidationError

        d = self.metrics.get("system_definition")
        if d is None:
            return load_value_system(self.system)
        try:
            vs = ValueSystem.model_validate(d)
        except ValidationError:
            vs = None
        if vs is None or vs.name != self.system or vs.names != self.values:
            raise ControlVectorError(
                f"pack for {self.system!r} carries a damaged value-system definition; extract it again"
            )
        return vs

    def calibration_items(self) -> list[Item] | None:
        """The user's own calibration items the pack carries (``extract --texts``), else None
        (then the system's shipped items are used)."""
        raw = self.metrics.get("calibration_items")
        if raw is None:
            return None
        ok = (
            isinstance(raw, list)
            and raw
            and all(
                isinstance(r, dict) and isinstance(r.get("text"), str) and r.get("value") in self.values for r in raw
            )
        )
        if not ok:
            raise ControlVectorError(f"pack for {self.system!r} carries damaged calibration items; extract it again")
        return [Item(text=r["text"], value=r["value"]) for r in raw]

    @property
    def gains(self) -> np.ndarray | None:
        return None if self.response is None else np.diag(self.response).copy()


def save_pack(pack: ValuePack, path: str | Path) -> Path:
    """Write ``pack`` atomically (read back before it replaces an old file); returns the path."""
    ex = pack.extraction
    meta = {
        "version": PACK_VERSION,
        "model_sha256": pack.model_sha256,
        "model_name": pack.model_name,
        "architecture": pack.architecture,
        "system": pack.system,
        "values": ex.values,
        "layer_range": list(ex.layer_range),
        "settings": ex.settings,
        "response_instrument": pack.response_instrument,
        "strength": pack.strength,
        "metrics": pack.metrics,
    }
    # arrays, typed Any: mypy would match ``**arrays`` below against savez_compressed's allow_pickle too
    arrays: dict[str, Any] = {
        "directions": ex.directions.astype(np.float32),
        "layer_norms": ex.layer_norms.astype(np.float32),
        "value_accuracy": ex.value_accuracy,
        "pair_accuracy": ex.pair_accuracy,
        "removed": ex.removed,
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
            raise OutputFileError(
                f"writing {str(path)!r} failed: the pack did not read back as written (disk full "
                f"or a file size limit?); the old file, if any, is unchanged"
            )

    with atomic_write(path, suffix=".npz", verify=verify) as tmp:  # numpy would append .npz to any other name
        np.savez_compressed(tmp, **arrays)
    return path


def _read_members(path: Path) -> tuple[bytes, dict[str, np.ndarray]]:
    """The metadata and arrays of a pack file: only the members the format defines, each checked
    against its declared size before it is decompressed."""
    where = str(path)
    if not zipfile.is_zipfile(path):
        raise ControlVectorError(f"{where!r} is not a value-vector pack (not an .npz archive)")
    with np.load(path, allow_pickle=False) as z:
        infos = {i.filename: i for i in z.zip.infolist()}
        unknown = sorted(n for n in infos if n.removesuffix(".npy") not in (*ARRAYS, "meta"))
        if unknown:
            raise ControlVectorError(
                f"{where!r} holds members a pack does not have ({', '.join(unknown[:3])}); "
                "it is not a couple-lite pack, or was altered"
            )
        for name, info in infos.items():
            limit = MAX_META_BYTES if name == "meta.npy" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise ControlVectorError(
                    f"{where!r}: member {name} declares {info.file_size} bytes, more than a pack "
                    f"holds ({limit}); the file is damaged or not a pack"
                )
        data = {k: z[k] for k in z.files}
    return bytes(data.pop("meta")), data


def load_pack(
    path: str | Path, model_sha256: str | None = None, n_layer: int | None = None, n_embd: int | None = None
) -> ValuePack:
    """Read a pack; with the model's hash/shape given, refuse a pack made for another model."""
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "not found"
        raise ControlVectorError(f"value-vector pack {str(path)!r} {what}; build one with `couple-lite pack build`")
    try:
        raw, data = _read_members(path)
        meta = json.loads(raw.decode())
    except ControlVectorError:
        raise
    except Exception as e:  # zipfile.BadZipFile, KeyError (no meta), ValueError, OSError...: not a pack
        raise ControlVectorError(
            f"{str(path)!r} is not a readable value-vector pack ({type(e).__name__}: {e})"
        ) from None
    _check_version(path, meta)
    m = check_pack(str(path), raw, data)
    d = data["directions"]
    if model_sha256 and m.model_sha256 != model_sha256:
        raise ControlVectorError(
            f"pack {str(path)!r} was made for model {m.model_name} (sha256 {m.model_sha256[:12]}…), "
            f"not this model (sha256 {model_sha256[:12]}…); build a pack for this model (couple-lite pack build)"
        )
    if (n_layer, n_embd) != (None, None) and d.shape[1:] != (n_layer, n_embd):
        raise ControlVectorError(
            f"pack {str(path)!r} is for ({d.shape[1]}, {d.shape[2]}) layers x width, "
            f"this model is ({n_layer}, {n_embd})"
        )
    ex = Extraction(
        values=list(m.values),
        directions=d,
        layer_range=m.layer_range,
        layer_norms=data["layer_norms"],
        value_accuracy=data["value_accuracy"],
        pair_accuracy=data["pair_accuracy"],
        removed=data["removed"],
        settings=meta["settings"],
    )
    return ValuePack(
        model_sha256=m.model_sha256,
        model_name=m.model_name,
        architecture=m.architecture,
        system=m.system,
        extraction=ex,
        response=data.get("response"),
        response_instrument=m.response_instrument,
        strength=m.strength,
        fluency_limit=data.get("fluency_limit"),
        metrics=meta.get("metrics", {}),
        fluency_gram=data.get("fluency_gram"),
    )


def _check_version(path: Path, meta: object) -> None:
    """Only the format this couple-lite writes loads; an older pack gets the command that rebuilds it."""
    version = meta.get("version") if isinstance(meta, dict) else None
    if version == 1:
        raise ControlVectorError(
            f"{str(path)!r} is a version 1 pack from an older couple-lite; build it again with "
            f"`couple-lite pack build -o {path}`"
        )
    if version != PACK_VERSION:
        raise ControlVectorError(
            f"{str(path)!r} is pack version {version}, this couple-lite reads version {PACK_VERSION}"
        )
