"""What an evaluation runs on: the target profiles (built in or from a file) and, per value system,
the held-out items, everyday questions, labelled answers and judge words (``data/eval_<system>.json``,
never used in extraction or calibration; ``eval_items`` swaps in an outside CSV)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .._data import has_data, read_json
from ..errors import CoupleError, ObjectiveError, ValueSystemError
from ..measure import Item, load_items
from ..values import ValueSystem, prior_scm
from .result import EvalProfile

__all__ = ["QUICK_PROFILES", "eval_data", "has_eval_data", "eval_items", "builtin_profiles", "load_profiles"]

QUICK_PROFILES = ("self_transcendence", "tradition_first", "care_security_power")  # --quick's targets


def eval_data(system: str) -> dict:
    """Held-out items, everyday questions, labelled answers and judge words for a value system."""
    if not has_eval_data(system):
        raise ValueSystemError(
            f"no evaluation data ships for {system!r} (schwartz10 and moral_foundations have it); pass --items "
            f"and --profiles, and --judge none"
        )
    data: dict = read_json(f"eval_{system}.json")
    return data


def eval_items(
    system: ValueSystem, path: str | Path | None = None, per_value: int | None = None
) -> tuple[list[Item], str]:
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
    """Whether evaluation data ships for this value system (schwartz10 and moral_foundations)."""
    return has_data(f"eval_{system}.json")


# fixed targets per value system: (name, kind, values, priority); prior samples are added after the singles
_FIXED = {
    "schwartz10": [
        (
            "openness_to_change",
            "archetype",
            "self_direction=6,stimulation=6,hedonism=5,security=2,conformity=2,tradition=2",
            None,
        ),
        ("conservation", "archetype", "security=6,conformity=6,tradition=6,self_direction=2,stimulation=2", None),
        ("self_enhancement", "archetype", "power=6,achievement=6,universalism=2,benevolence=2", None),
        ("self_transcendence", "archetype", "universalism=6,benevolence=6,achievement=2,power=1", None),
        ("benevolence_first", "single", "benevolence=6", None),
        ("tradition_first", "single", "tradition=6", None),
        ("stimulation_first", "single", "stimulation=6", None),
        ("achievement_first", "single", "achievement=6", None),
        ("care_security_power", "partial", "benevolence=6,security=5,power=1", "benevolence>security>power"),
        (
            "independent_achiever",
            "partial",
            "self_direction=6,achievement=5,conformity=2",
            "self_direction>achievement>conformity",
        ),
        (
            "green_traditionalist",
            "partial",
            "universalism=6,tradition=5,hedonism=2,power=1",
            "universalism>tradition>power>hedonism",
        ),
        ("safe_and_kind", "partial", "security=6,benevolence=5,stimulation=2", "security>benevolence>stimulation"),
        (
            "bon_vivant",
            "partial",
            "hedonism=6,stimulation=5,achievement=4,tradition=2,conformity=1",
            "hedonism>stimulation>conformity>achievement=tradition",
        ),
    ],
    # the groups of Moral Foundations research: individualizing (care, fairness), binding (loyalty,
    # authority, sanctity) and liberty, and the profiles that contrast them
    "moral_foundations": [
        ("individualizing", "archetype", "care=6,fairness=6,loyalty=2,authority=2,sanctity=2", None),
        ("binding", "archetype", "loyalty=6,authority=6,sanctity=6,liberty=2", None),
        ("libertarian", "archetype", "liberty=6,care=2,loyalty=2,authority=1,sanctity=1", None),
        ("all_foundations", "archetype", "care=5,fairness=5,loyalty=5,authority=5,sanctity=5,liberty=5", None),
        ("care_first", "single", "care=6", None),
        ("loyalty_first", "single", "loyalty=6", None),
        ("sanctity_first", "single", "sanctity=6", None),
        ("liberty_first", "single", "liberty=6", None),
        ("care_fairness_authority", "partial", "care=6,fairness=5,authority=1", "care>fairness>authority"),
        ("loyal_rebel", "partial", "loyalty=6,liberty=5,authority=1", "loyalty>liberty>authority"),
        ("orderly_fair", "partial", "authority=6,fairness=5,liberty=2", "authority>fairness>liberty"),
        ("pure_and_free", "partial", "sanctity=6,liberty=5,care=4,loyalty=2", "sanctity>liberty>care>loyalty"),
        ("fair_dealer", "partial", "fairness=6,loyalty=4,sanctity=2,care=3", "fairness>loyalty>care>sanctity"),
    ],
}


def builtin_profiles(system: ValueSystem, n_prior: int = 4, seed: int = 0) -> list[EvalProfile]:
    """The built-in targets of a value system (schwartz10: 17; moral_foundations: 17): archetypes of
    its higher-order groups, single-value emphases, ``n_prior`` full profiles sampled from the SCM
    prior (seeded) and partial objectives with priorities."""
    if system.name not in _FIXED:
        raise ValueSystemError(
            f"built-in target profiles exist for {', '.join(_FIXED)} only; pass --profiles for {system.name}"
        )
    fixed = [
        EvalProfile(name=n, kind=k, values=v, **({"priority": p} if p else {})) for n, k, v, p in _FIXED[system.name]
    ]
    scm = prior_scm(system)
    rng = np.random.default_rng(seed)
    samples = []
    for k, d in enumerate(rng.multivariate_normal(scm.mean, scm.cov, size=n_prior)):
        levels = {n: float(np.round(np.clip(x, 1, 6), 1)) for n, x in zip(system.names, d)}
        samples.append(EvalProfile(name=f"prior_sample_{k + 1}", kind="prior_sample", values=levels))
    cut = next((i for i, p in enumerate(fixed) if p.kind == "partial"), len(fixed))
    return fixed[:cut] + samples + fixed[cut:]


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
