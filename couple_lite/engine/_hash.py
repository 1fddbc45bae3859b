"""Model files' sha256, remembered by (path, size, mtime) in ``sha256-cache.json`` in a folder, so
that a large model file is hashed once per version rather than at every start.

A leaf module (no registry, no download): ``models`` passes the folder, its model cache.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["SHA_CACHE", "file_sha256", "cached_sha256", "remember_sha256"]

SHA_CACHE = "sha256-cache.json"  # in the model cache folder: hashes of model files seen before


def _hash_file(path: Path) -> str:
    import hashlib  # loads only when a file really is hashed

    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def _sha_key(path: Path) -> str:
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def _sha_cache(folder: Path) -> dict[str, object]:
    try:
        cache = json.loads((folder / SHA_CACHE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    return cache if isinstance(cache, dict) else {}


def cached_sha256(path: Path, folder: Path) -> str | None:
    """The remembered sha256 of this very version (path, size, mtime) of a file, without hashing."""
    digest = _sha_cache(folder).get(_sha_key(path))
    return digest if isinstance(digest, str) else None


def remember_sha256(path: Path, digest: str, folder: Path) -> None:
    """Remember ``digest`` for this version of the file (its older versions are forgotten)."""
    path = Path(path).resolve()
    cache = {k: v for k, v in _sha_cache(folder).items() if not k.startswith(f"{path}|")}
    cache[_sha_key(path)] = digest
    try:
        from .._io import atomic_write

        with atomic_write(folder / SHA_CACHE) as tmp:
            Path(tmp).write_text(json.dumps(cache, indent=1), encoding="utf-8")
    except OSError:  # a read-only cache folder: the file is hashed again next time
        pass


def file_sha256(path: str | os.PathLike[str], folder: Path) -> str:
    """The file's sha256: the remembered one for this version, else hashed now and remembered."""
    path = Path(path).resolve()
    digest = cached_sha256(path, folder)
    if digest is None:
        digest = _hash_file(path)
        remember_sha256(path, digest, folder)
    return digest
