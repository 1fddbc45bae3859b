"""Where couple-lite reads and writes on disk: the model registry and shipped packs, the model cache,
and the caches of what it computed once (refined plans, relevance gates). One resolver, OS-aware
through platformdirs, with two environment overrides:

- ``COUPLE_LITE_MODEL_DIR``: the folder downloaded models live in;
- ``COUPLE_LITE_CACHE``: the folder of computed caches (``<it>/refine``, ``<it>/gate``).

Without them: models in ``models/cache`` of a source checkout, else in the per-user cache folder
(``~/.cache/couple-lite/models`` on Linux, ``~/Library/Caches/couple-lite/models`` on macOS,
``%LOCALAPPDATA%\\couple-lite\\models`` on Windows); computed caches beside them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from .errors import ModelFileError

__all__ = ["PACKAGE_DIR", "models_dir", "in_checkout", "user_cache_root", "model_cache_dir", "cache_dir"]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_MODELS = PACKAGE_DIR.parent / "models"  # a checkout: models/ at the top of the repository
WHEEL_MODELS = PACKAGE_DIR / "models"  # an installed wheel: the same folder, built in as package data
APP_NAME = "couple-lite"


@lru_cache(maxsize=1)
def models_dir() -> Path:
    """The folder with ``registry.json`` and ``packs/``: the wheel's package data when installed,
    else ``models/`` at the top of this checkout."""
    for d in (WHEEL_MODELS, REPO_MODELS):
        if (d / "registry.json").is_file():
            return d
    raise ModelFileError(f"no model registry found (looked in {WHEEL_MODELS} and {REPO_MODELS}); reinstall couple-lite")


def in_checkout() -> bool:
    """Whether couple-lite runs from a source checkout (not an installed wheel)."""
    return models_dir() == REPO_MODELS


def user_cache_root() -> Path:
    """The per-user cache folder of couple-lite (platformdirs decides where, per OS)."""
    from platformdirs import user_cache_path  # a few ms: only for a command that needs the cache

    return user_cache_path(APP_NAME, appauthor=False, opinion=False)


def model_cache_dir() -> Path:
    """Where downloaded models live: ``$COUPLE_LITE_MODEL_DIR``, else ``models/cache`` in a
    checkout, else ``models`` in the per-user cache (an installed wheel's folder may be read-only)."""
    env = os.environ.get("COUPLE_LITE_MODEL_DIR")
    if env:
        return Path(env).expanduser()
    return REPO_MODELS / "cache" if in_checkout() else user_cache_root() / "models"


def cache_dir(kind: str) -> Path:
    """Where couple-lite keeps what it computed once per model and pack (``kind``: "refine",
    "gate"): ``$COUPLE_LITE_CACHE/<kind>``, else ``<kind>`` in the per-user cache folder."""
    root = os.environ.get("COUPLE_LITE_CACHE")
    return (Path(root).expanduser() if root else user_cache_root()) / kind
