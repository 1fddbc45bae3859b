"""The package's data files (``couple_lite/data``): value systems, contrast texts, evaluation items,
gate prompts. Every layer that reads one goes through here, so the folder is named once."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["DATA_DIR", "data_path", "has_data", "read_json"]

DATA_DIR = Path(__file__).resolve().parent / "data"


def data_path(name: str) -> Path:
    """The path of a shipped data file, e.g. ``data_path("schwartz10.json")``."""
    return DATA_DIR / name


def has_data(name: str) -> bool:
    """Whether a data file ships (e.g. the varied pairs exist for some systems only)."""
    return data_path(name).is_file()


@cache
def read_json(name: str) -> Any:
    """A shipped JSON file, parsed once per process (callers must not modify what it returns)."""
    return json.loads(data_path(name).read_text(encoding="utf-8"))
