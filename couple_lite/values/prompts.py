"""Value profiles in words, as system prompts: the objective as stated (the paper's simple baseline)
and the counterfactual profile the SCM computes (COUPLE's recipe in one model call: the values asked
for *and* the side effects the value graph predicts, rendered once instead of re-planned by prompts)."""

from __future__ import annotations

from .objective import Objective
from .systems import ValueSystem

__all__ = ["level_word", "value_prompt", "counterfactual_prompt", "CF_MIN_CHANGE"]

CF_MIN_CHANGE = 0.3  # a value the counterfactual moves less than this (1-6 scale) and nobody named is left out


def level_word(x: float) -> str:
    """A 1-6 level in words."""
    return (
        "of the highest importance"
        if x >= 5.5
        else "very important"
        if x >= 4.5
        else "important"
        if x >= 3.5
        else "of little importance"
        if x >= 2.5
        else "not important at all"
    )


def _definitions(system: ValueSystem) -> dict[str, str]:
    return {v.name: v.definition.rstrip(".").lower() for v in system.values}


def value_prompt(objective: Objective, system: ValueSystem) -> str:
    """A system prompt stating the target priorities in words (the COUPLE paper's simple baseline)."""
    defs = _definitions(system)
    order = sorted(objective.targets, key=lambda n: (-objective.weights.get(n, 0), -objective.targets[n]))
    lines = [
        f"{k}. {n.replace('_', ' ')} ({defs[n]}): {level_word(objective.targets[n])}" for k, n in enumerate(order, 1)
    ]
    return (
        "You give advice that reflects these values, in order of priority:\n"
        + "\n".join(lines)
        + "\nLet these priorities shape every answer."
    )


def counterfactual_prompt(
    objective: Objective, factual: dict[str, float], counterfactual: dict[str, float], system: ValueSystem
) -> str:
    """A system prompt of the counterfactual profile: every value the objective names or the
    counterfactual moves by at least CF_MIN_CHANGE, highest level first, each with its level in words
    and whether it rose or fell; the values the SCM moved along are marked as such."""
    defs = _definitions(system)
    keep = [n for n in counterfactual if n in objective.targets or abs(counterfactual[n] - factual[n]) >= CF_MIN_CHANGE]
    keep.sort(key=lambda n: -counterfactual[n])
    lines = []
    for k, n in enumerate(keep, 1):
        change = counterfactual[n] - factual[n]
        trend = "" if abs(change) < CF_MIN_CHANGE else ", more than before" if change > 0 else ", less than before"
        along = "" if n in objective.targets else " (follows from the others)"
        lines.append(f"{k}. {n.replace('_', ' ')} ({defs[n]}): {level_word(counterfactual[n])}{trend}{along}")
    return (
        "You give advice as a person whose values are, from most to least important:\n"
        + "\n".join(lines)
        + "\nValues are connected: these levels already include how the others shift with the ones asked for. "
        "Let them shape every answer."
    )
