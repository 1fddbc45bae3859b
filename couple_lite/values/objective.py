"""Objectives: target levels for some values (1-6 scale) plus their relative priorities.

Inline forms (CLI): ``"benevolence=6,power=low"`` for levels, ``"benevolence>security>power"``
(ranks; ``=`` ties) or ``"benevolence:3,power:1"`` (weights) for priorities. Files: JSON or YAML
with keys ``targets`` (or ``values``), optional ``priority`` and ``system``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ..errors import ObjectiveError
from .systems import SCALE_MAX, SCALE_MIN, ValueSystem, canonical_name, load_value_system

__all__ = ["LEVEL_WORDS", "Objective", "parse_levels", "parse_priority", "load_objective", "make_objective"]

LEVEL_WORDS = {
    "lowest": 1.0,
    "none": 1.0,
    "very_low": 1.5,
    "low": 2.0,
    "medium": 3.5,
    "neutral": 3.5,
    "high": 5.0,
    "very_high": 5.5,
    "highest": 6.0,
    "max": 6.0,
    "supreme": 6.0,
}


class Objective(BaseModel):
    """Target levels (canonical name -> 1..6) and priority weights (> 0) for the same names."""

    system: str = "schwartz10"
    targets: dict[str, float] = Field(min_length=1)
    weights: dict[str, float]
    has_priorities: bool = False
    # the loaded system itself, for a user's own system that cannot be found again by its name
    value_system: ValueSystem | None = Field(None, exclude=True, repr=False)


def _level(text: str, name: str) -> float:
    word = canonical_name(text)
    if word in LEVEL_WORDS:
        return LEVEL_WORDS[word]
    try:
        x = float(text)
    except ValueError:
        raise ObjectiveError(
            f"level {text!r} for {name!r} is neither a number 1-6 nor one of {', '.join(LEVEL_WORDS)}"
        ) from None
    return check_level(x, name)


def check_level(x: float, name: str) -> float:
    """A finite level on the 1..6 scale, or ObjectiveError naming the value."""
    if not math.isfinite(x):
        raise ObjectiveError(f"level for {name!r} is {x}; give a finite number 1-6")
    if not SCALE_MIN <= x <= SCALE_MAX:
        raise ObjectiveError(
            f"level {x:g} for {name!r} is outside the scale {SCALE_MIN:g}-{SCALE_MAX:g} "
            f"(1 = not important at all, 6 = of supreme importance)"
        )
    return float(x)


def parse_levels(text: str | dict[str, Any], system: ValueSystem) -> dict[str, float]:
    """``"benevolence=6,power=low"`` (or a mapping) -> {canonical name: level}."""
    if isinstance(text, dict):
        items = []
        for k, v in text.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, str)):
                raise ObjectiveError(f"level of {str(k)!r} must be a number 1-6 or a word like 'high', got {v!r}")
            items.append((str(k), str(v)))
    elif not isinstance(text, str):
        raise ObjectiveError(f"value levels must be text like 'benevolence=6' or a mapping, got {type(text).__name__}")
    else:
        items = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in part:
                raise ObjectiveError(f"malformed level {part!r}: write name=level, e.g. 'benevolence=6,power=low'")
            k, v = part.split("=", 1)
            items.append((k.strip(), v.strip()))
    if not items:
        raise ObjectiveError("no value levels given: write e.g. 'benevolence=6,power=low'")
    out: dict[str, float] = {}
    for k, v in items:
        name = system.resolve(k)
        if name in out:
            raise ObjectiveError(f"value {name!r} is given twice")
        out[name] = _level(v, name)
    return out


MAX_RANKS = 64  # rank weights halve per rank: 2**-63 is already far below any other weight


def parse_priority(text: str | dict[str, Any], system: ValueSystem) -> dict[str, float]:
    """Ranks ``"a>b=c>d"`` (weights halve per rank) or weights ``"a:3,b:1"`` -> {name: weight}."""
    if isinstance(text, dict):
        pairs = [(str(k), v) for k, v in text.items()]
    elif not isinstance(text, str):
        raise ObjectiveError(
            f"priority must be text like 'benevolence>power' or a mapping of weights, got {type(text).__name__}"
        )
    elif ">" in text or ":" not in text:
        ranks = [[n for n in level.split("=") if n.strip()] for level in text.split(">")]
        if any(not r for r in ranks):
            raise ObjectiveError(f"malformed priority {text!r}: write e.g. 'benevolence>security>power'")
        if len(ranks) > MAX_RANKS:
            raise ObjectiveError(f"priority has {len(ranks)} ranks; at most {MAX_RANKS} are supported")
        pairs = [(n, 2.0 ** (len(ranks) - 1 - i)) for i, r in enumerate(ranks) for n in r]
    else:
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            k, _, v = part.partition(":")
            pairs.append((k, v))
    out: dict[str, float] = {}
    for k, v in pairs:
        name = system.resolve(k.strip())
        try:
            if isinstance(v, bool):
                raise TypeError
            w = float(v)
        except (TypeError, ValueError, OverflowError):
            raise ObjectiveError(f"priority weight {v!r} for {name!r} is not a number") from None
        if not math.isfinite(w) or w <= 0:
            raise ObjectiveError(f"priority weight for {name!r} must be a positive number, got {v!r}")
        if name in out:
            raise ObjectiveError(f"value {name!r} appears twice in the priority")
        out[name] = w
    return out


def make_objective(
    values: str | dict[str, Any],
    priority: str | dict[str, Any] | None = None,
    system: str | ValueSystem = "schwartz10",
) -> Objective:
    """Build a validated Objective; targets without a stated priority get the lowest weight."""
    vs = load_value_system(system)
    targets = parse_levels(values, vs)
    if not priority:
        return Objective(system=vs.name, targets=targets, weights=dict.fromkeys(targets, 1.0), value_system=vs)
    weights = parse_priority(priority, vs)
    stray = [n for n in weights if n not in targets]
    if stray:
        raise ObjectiveError(
            f"priority names {', '.join(stray)} without a target level; add e.g. '{stray[0]}=high' to the values"
        )
    low = min(weights.values())
    full = {k: weights.get(k, low) for k in targets}
    return Objective(system=vs.name, targets=targets, weights=full, has_priorities=True, value_system=vs)


def load_objective(path: str | Path, system: str | ValueSystem | None = None) -> Objective:
    """Read an objective from a JSON or YAML file."""
    import yaml  # only objective files need it

    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ObjectiveError(f"objective file {str(p)!r} not found") from None
    except UnicodeDecodeError:
        raise ObjectiveError(f"objective file {str(p)!r} is not UTF-8 text; save it as UTF-8 JSON or YAML") from None
    except OSError as e:
        raise ObjectiveError(f"objective file {str(p)!r} cannot be read ({e.strerror}); give a readable file") from None
    try:
        raw = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as e:
        raise ObjectiveError(f"objective file {str(p)!r} is not valid JSON/YAML: {e}".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise ObjectiveError(f"objective file {str(p)!r} must hold a mapping with a 'targets' key")
    targets = raw.get("targets", raw.get("values"))
    if not isinstance(targets, (dict, str)):
        raise ObjectiveError(f"objective file {str(p)!r} needs 'targets': a mapping of value name to level 1-6")
    unknown = set(raw) - {"targets", "values", "priority", "system"}
    if unknown:
        raise ObjectiveError(f"objective file {str(p)!r} has unknown keys: {', '.join(sorted(unknown))}")
    return make_objective(targets, raw.get("priority"), system or raw.get("system", "schwartz10"))
