"""Value systems: ordered value names with definitions and structure metadata.

Built-in systems live as JSON files in ``couple_lite/data`` and load through the same validated
path as a user's own JSON file, so the format the documentation describes is the one we use.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from .._data import data_path
from ..errors import ValueNameError, ValueSystemError

__all__ = [
    "SCALE_MIN",
    "SCALE_MAX",
    "ValueDef",
    "ValueSystem",
    "BUILTIN_SYSTEMS",
    "load_value_system",
    "canonical_name",
]

SCALE_MIN = 1.0  # "not important at all", as in the Portrait Values Questionnaire
SCALE_MAX = 6.0  # "of supreme importance"

BUILTIN_SYSTEMS = ("schwartz10", "schwartz19", "moral_foundations")


def canonical_name(text: str) -> str:
    """'Self-Direction' / 'self direction' / 'SELF_DIRECTION' -> 'self_direction'."""
    return re.sub(r"[^a-z0-9]+", "_", text.strip().lower()).strip("_")


class ValueDef(BaseModel):
    """One value: canonical name, a one-line definition and where it sits in the structure."""

    name: str
    definition: str
    angle: float | None = Field(None, description="position on the circumplex, degrees")
    group: str | None = Field(None, description="higher-order group")
    mean: float = Field(3.5, ge=SCALE_MIN, le=SCALE_MAX, description="prior mean, 1-6 scale")
    sd: float = Field(0.8, gt=0, le=5, description="prior standard deviation")
    aliases: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _snake_case(cls, v: str) -> str:
        if not v or canonical_name(v) != v:
            raise ValueError(f"value name {v!r} must be snake_case (e.g. {canonical_name(v)!r})")
        return v


class ValueSystem(BaseModel):
    """An ordered set of values plus the prior structure the SCM is derived from.

    ``correlations`` (optional) overrides the prior correlation matrix; ``edges`` (optional)
    fixes the prior DAG as [parent, child] pairs; ``order`` (optional) is the causal order used
    when no edges are given.
    """

    name: str
    description: str = ""
    values: list[ValueDef] = Field(min_length=2)
    circumplex: tuple[float, float] | None = Field(
        None, description="(a, b) in r = a + b*cos(angle difference) for the prior correlations"
    )
    group_correlation: tuple[float, float] = Field(
        (0.5, 0.15), description="(within, between) group prior correlations"
    )
    correlations: list[list[float]] | None = None
    order: list[str] | None = None
    edges: list[tuple[str, str]] | None = None

    @model_validator(mode="after")
    def _check(self) -> ValueSystem:
        names = [v.name for v in self.values]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate value names: {', '.join(dupes)}")
        own = {v.name for v in self.values}
        clash = sorted(
            {canonical_name(a) for v in self.values for a in v.aliases if canonical_name(a) in own - {v.name}}
        )
        if clash:
            raise ValueError(f"aliases {', '.join(clash)} are also names of other values; drop or rename them")
        if any(v.angle is not None and not math.isfinite(v.angle) for v in self.values):
            raise ValueError("angles must be finite numbers of degrees")
        if self.correlations is not None:
            d = len(names)
            if len(self.correlations) != d or any(len(r) != d for r in self.correlations):
                raise ValueError(f"correlations must be a {d}x{d} matrix (one row per value)")
            if any(not math.isfinite(x) for r in self.correlations for x in r):
                raise ValueError("correlations contain NaN or infinity")
        for listed in (self.order or []), [n for e in (self.edges or []) for n in e]:
            unknown = sorted(set(listed) - set(names))
            if unknown:
                raise ValueError(f"order/edges name unknown values: {', '.join(unknown)}")
        if self.order is not None and sorted(self.order) != sorted(names):
            raise ValueError("order must list every value exactly once")
        return self

    # -- names ---------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return [v.name for v in self.values]

    @property
    def dim(self) -> int:
        return len(self.values)

    def index(self, name: str) -> int:
        """Position of a value, matching case-insensitively and common spellings."""
        return self.names.index(self.resolve(name))

    def resolve(self, name: str) -> str:
        """Canonical name for a user spelling; raises ValueNameError listing the valid names."""
        key = canonical_name(name)
        for v in self.values:
            if key == v.name or key in (canonical_name(a) for a in v.aliases):
                return v.name
        squashed = key.replace("_", "")
        for v in self.values:
            if squashed == v.name.replace("_", ""):
                return v.name
        close = difflib.get_close_matches(key, self.names, n=1, cutoff=0.5)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueNameError(
            f"unknown value {name!r} in value system {self.name!r}.{hint} Valid names: {', '.join(self.names)}"
        )

    def definition(self, name: str) -> str:
        return self.values[self.index(name)].definition


@cache
def _builtin(name: str) -> ValueSystem:
    return _load_path(data_path(f"{name}.json"))


def _load_path(path: Path) -> ValueSystem:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueSystemError(
            f"value-system file {str(path)!r} not found; give a built-in name "
            f"({', '.join(BUILTIN_SYSTEMS)}) or the path of a JSON file"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise ValueSystemError(f"value-system file {str(path)!r} is not valid JSON (UTF-8 expected): {e}") from None
    except OSError as e:  # a directory, an unreadable file
        raise ValueSystemError(
            f"value-system file {str(path)!r} cannot be read ({e.strerror}); give the path of a readable JSON file"
        ) from None
    try:
        return ValueSystem.model_validate(raw)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise ValueSystemError(
            f"value-system file {str(path)!r} is invalid at {where}: {first['msg']} "
            f"(see the guide's 'Your own value system' page)"
        ) from None


def load_value_system(spec: str | Path | ValueSystem = "schwartz10") -> ValueSystem:
    """A built-in system by name (default ``schwartz10``), or a user's JSON file by path."""
    if isinstance(spec, ValueSystem):
        return spec
    text = str(spec)
    if canonical_name(text) in BUILTIN_SYSTEMS and not Path(text).suffix:
        return _builtin(canonical_name(text))
    if Path(text).suffix.lower() == ".json" or Path(text).exists():
        return _load_path(Path(text))
    close = difflib.get_close_matches(canonical_name(text), BUILTIN_SYSTEMS, n=1, cutoff=0.5)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueSystemError(
        f"unknown value system {text!r}.{hint} Use one of {', '.join(BUILTIN_SYSTEMS)} or the path of a JSON file"
    )
