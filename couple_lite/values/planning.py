"""The counterfactual step of COUPLE in closed form: objective + evidence -> counterfactual profile.

Given a value system's SCM, an objective (targets with priorities) and optionally an observed
profile, abduct the noise, intervene, predict every value and explain the result. Objectives
without priorities are hard interventions (every target met exactly); objectives with priorities
use the prioritized intervention, which trades conflicting targets off against plausibility.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from .._table import format_table
from .explanation import ValueExplanation, explain, path_text
from .inference import Intervention, abduct, counterfactual, prioritized_intervention
from .objective import Objective, check_level
from .prior import prior_scm
from .scm import LinearGaussianSCM
from .systems import load_value_system

__all__ = ["CounterfactualPlan", "plan_counterfactual", "DEFAULT_PLAUSIBILITY"]

DEFAULT_PLAUSIBILITY = 0.1  # used when an objective states priorities and no value is given


class CounterfactualPlan(BaseModel):
    """Everything the counterfactual step decided, as plain data (name -> number maps)."""

    system: str
    values: list[str]
    objective: Objective
    mode: str  # "hard" or "prioritized"
    plausibility: float
    observed: dict[str, float]
    factual: dict[str, float]
    factual_sd: dict[str, float]
    counterfactual: dict[str, float]
    counterfactual_sd: dict[str, float]
    interventions: dict[str, float]  # hard: the level set; prioritized: the shift applied
    explanation: list[dict[str, Any]]

    def table(self) -> str:
        """Value, factual, target, counterfactual ± sd, change and the strongest causal path."""
        rows = []
        for e in self.explanation:
            n = e["value"]
            how = path_text(e["paths"][0]["path"], e["paths"][0]["effect"]) if e["paths"] else ""
            target = self.objective.targets.get(n)
            rows.append(
                [
                    n,
                    self.factual[n],
                    "" if target is None else target,
                    f"{self.counterfactual[n]:.2f} ± {self.counterfactual_sd[n]:.2f}",
                    f"{e['change']:+.2f}",
                    how,
                ]
            )
        return format_table(["value", "factual", "target", "counterfactual", "change", "main path"], rows)

    def delta(self) -> dict[str, float]:
        """Counterfactual minus factual, per value: what steering has to change."""
        return {k: self.counterfactual[k] - self.factual[k] for k in self.values}


def plan_counterfactual(
    objective: Objective,
    observed: Mapping[str, float] | None = None,
    obs_sd: Mapping[str, float] | float = 0.0,
    scm: LinearGaussianSCM | None = None,
    plausibility: float | None = None,
    top_paths: int = 3,
) -> CounterfactualPlan:
    """Abduct from ``observed`` (prior mean when None), intervene per the objective, predict;
    ``top_paths=0`` skips the explanation (the fast path used when re-steering)."""
    vs = objective.value_system or load_value_system(objective.system)
    scm = scm or prior_scm(vs)
    observed = {vs.resolve(k): check_level(float(v), k) for k, v in (observed or {}).items()}
    if isinstance(obs_sd, Mapping):
        obs_sd = {vs.resolve(k): float(v) for k, v in obs_sd.items()}
    factual = abduct(scm, observed, obs_sd)
    prioritized = objective.has_priorities or plausibility is not None
    lam = (DEFAULT_PLAUSIBILITY if plausibility is None else plausibility) if prioritized else 0.0
    if prioritized:
        iv = prioritized_intervention(scm, factual, objective.targets, objective.weights, lam)
        applied = dict(iv.shift)
    else:
        iv = Intervention(hard=dict(objective.targets))
        applied = dict(iv.hard)
    cf = counterfactual(scm, factual, iv)
    rows: list[ValueExplanation] = explain(scm, cf, top=top_paths) if top_paths > 0 else []
    names = list(scm.names)
    fsd = factual.cov.diagonal().clip(0) ** 0.5
    return CounterfactualPlan(
        system=vs.name,
        values=names,
        objective=objective,
        mode="prioritized" if prioritized else "hard",
        plausibility=lam,
        observed=observed,
        factual=dict(zip(names, map(float, factual.mean))),
        factual_sd=dict(zip(names, map(float, fsd))),
        counterfactual=dict(zip(names, map(float, cf.mean))),
        counterfactual_sd=dict(zip(names, map(float, cf.sd))),
        interventions=applied,
        explanation=[
            {
                "value": r.name,
                "change": r.change,
                "contributions": r.contributions,
                "paths": [{"path": list(p.path), "effect": p.effect} for p in r.paths],
            }
            for r in rows
        ],
    )
