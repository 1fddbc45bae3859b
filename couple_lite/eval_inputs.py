"""What an evaluation runs on: the target profiles (built in or from a file) and, per value system,
the held-out items, everyday questions, labelled answers and judge words (``data/eval_<system>.json``,
never used in extraction or calibration; ``eval_items`` swaps in an outside CSV)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import CoupleError, ObjectiveError, ValueSystemError
from .eval_result import EvalProfile
from .measure import Item, load_items
from .values import ValueSystem

__all__ = ["QUICK_PROFILES", "eval_data", "has_eval_data", "eval_items", "builtin_profiles", "load_profiles"]

_DATA = Path(__file__).parent / "data"
QUICK_PROFILES = ("self_transcendence", "tradition_first", "care_security_power")  # --quick's targets


@lru_cache(maxsize=None)
def eval_data(system: str) -> dict:
    """Held-out items, everyday questions, labelled answers and judge words for a value system."""
    path = _DATA / f"eval_{system}.json"
    if not path.exists():
        raise ValueSystemError(f"no evaluation data ships for {system!r} (only schwartz10); pass --items "
                               f"and --profiles, and --judge none")
    return json.loads(path.read_text(encoding="utf-8"))


def eval_items(system: ValueSystem, path: str | Path | None = None, per_value: int | None = None) -> tuple[list[Item], str]:
    """The held-out evaluation items (or an outside CSV), optionally the first ``per_value`` per
    value; returns the items and a description of where they come from."""
    if path is not None:
        items, skipped = load_items(system, path)
        source = f"items from {Path(path).name}" + (f" ({skipped} rows naming other values skipped)" if skipped else "")
    else:
        items = [Item(text=t, value=v) for v, ts in eval_data(system.name)["items"].items() for t in ts]
        source = "held-out evaluation items (never used in extraction or calibration)"
    if per_value:
        counts: dict[str, int] = {}
        kept = []
        for it in items:
            counts[it.value] = counts.get(it.value, 0) + 1
            if counts[it.value] <= per_value:
                kept.append(it)
        items = kept
    return items, source


def has_eval_data(system: str) -> bool:
    """Whether evaluation data ships for this value system (only schwartz10 does)."""
    return (_DATA / f"eval_{system}.json").exists()


def builtin_profiles(system: ValueSystem, n_prior: int = 4, seed: int = 0) -> list[EvalProfile]:
    """17 targets for Schwartz-10: the four higher-order archetypes, four single-value emphases,
    ``n_prior`` full profiles sampled from the SCM prior and five partial objectives with priorities."""
    if system.name != "schwartz10":
        raise ValueSystemError(f"built-in target profiles exist for schwartz10 only; pass --profiles for {system.name}")
    from .prior import prior_scm

    P = EvalProfile
    out = [
        P(name="openness_to_change", kind="archetype", values="self_direction=6,stimulation=6,hedonism=5,security=2,conformity=2,tradition=2"),
        P(name="conservation", kind="archetype", values="security=6,conformity=6,tradition=6,self_direction=2,stimulation=2"),
        P(name="self_enhancement", kind="archetype", values="power=6,achievement=6,universalism=2,benevolence=2"),
        P(name="self_transcendence", kind="archetype", values="universalism=6,benevolence=6,achievement=2,power=1"),
        P(name="benevolence_first", kind="single", values="benevolence=6"),
        P(name="tradition_first", kind="single", values="tradition=6"),
        P(name="stimulation_first", kind="single", values="stimulation=6"),
        P(name="achievement_first", kind="single", values="achievement=6"),
    ]
    scm = prior_scm(system)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(scm.mean, scm.cov, size=n_prior)
    for k, d in enumerate(draws):
        levels = {n: float(np.round(np.clip(x, 1, 6), 1)) for n, x in zip(system.names, d)}
        out.append(P(name=f"prior_sample_{k + 1}", kind="prior_sample", values=levels))
    out += [
        P(name="care_security_power", kind="partial", values="benevolence=6,security=5,power=1",
          priority="benevolence>security>power"),
        P(name="independent_achiever", kind="partial", values="self_direction=6,achievement=5,conformity=2",
          priority="self_direction>achievement>conformity"),
        P(name="green_traditionalist", kind="partial", values="universalism=6,tradition=5,hedonism=2,power=1",
          priority="universalism>tradition>power>hedonism"),
        P(name="safe_and_kind", kind="partial", values="security=6,benevolence=5,stimulation=2",
          priority="security>benevolence>stimulation"),
        P(name="bon_vivant", kind="partial", values="hedonism=6,stimulation=5,achievement=4,tradition=2,conformity=1",
          priority="hedonism>stimulation>conformity>achievement=tradition"),
    ]
    return out


def load_profiles(path: str | Path) -> list[EvalProfile]:
    """Target profiles from JSON: a list of {name, values, priority?} (values and priority as in
    ``steer``: "a=6,b=low" / "a>b" strings or maps)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CoupleError(f"profiles file {str(p)!r} not found") from None
    except json.JSONDecodeError as e:
        raise ObjectiveError(f"profiles file {str(p)!r} is not valid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(raw, dict):
        raw = raw.get("profiles", raw)
    if not isinstance(raw, list) or not raw:
        raise ObjectiveError(f"profiles file {str(p)!r} must hold a non-empty list of {{name, values, priority}}")
    try:
        return [EvalProfile.model_validate(r) for r in raw]
    except ValueError as e:
        first = str(e).splitlines()[:3]
        raise ObjectiveError(f"profiles file {str(p)!r}: {' '.join(first)}") from None
