"""What an evaluation run produced, as plain data: one row per (profile, method) and a summary per
method (``summary`` checks the goals against it and prints the table)."""

from __future__ import annotations

from pydantic import BaseModel

from ..values import Objective, make_objective
from .metrics import mean_of

__all__ = ["EvalProfile", "MethodRow", "EvalResult", "summarise", "SUMMARY_KEYS"]


class EvalProfile(BaseModel):
    """One target: levels for some (or all) values and optional priorities, as for ``steer``."""

    name: str
    kind: str = "custom"  # archetype | single | prior_sample | partial | custom
    values: dict[str, float] | str
    priority: dict[str, float] | str | None = None

    def objective(self, system) -> Objective:
        return make_objective(self.values, self.priority, system)


# summary key -> row field averaged over profiles
SUMMARY_KEYS = {
    "spearman": "spearman_named",
    "spearman_all": "spearman_all",
    "mae": "mae_named",
    "mae_all": "mae_all",
    "order_preserved": "order_preserved",
    "change_spearman": "change_spearman",
    "side_effect": "side_effect",
    "side_effect_error": "side_effect_error",
    "ppl_ratio": "ppl_ratio",
    "distinct2": "distinct2",
    "repetition": "repetition",
    "answer_spearman": "answer_spearman_named",
    "answer_change_spearman": "answer_change_spearman",
    "seconds_per_answer": "seconds_per_answer",
    "setup_seconds": "setup_seconds",
    "reached": "reached",
}


class MethodRow(BaseModel):
    """One method on one target profile (levels on the 1-6 scale)."""

    profile: str
    kind: str
    method: str
    named: list[str]
    spearman_named: float | None  # None: fewer than 3 named values
    spearman_all: float | None  # target for unnamed values = the SCM counterfactual
    mae_named: float
    mae_all: float
    order_preserved: float | None
    change_spearman: float | None  # measured change vs requested change (target - unsteered), all values
    side_effect: float | None  # mean |measured change| on unnamed values
    side_effect_error: float | None  # mean |measured change - SCM-predicted change| on unnamed values
    ppl_ratio: float  # neutral-text perplexity / unsteered
    distinct2: float | None
    repetition: float | None
    seconds_per_answer: float
    setup_seconds: float | None = None  # once per objective before any answer (closed-loop refinement)
    reached: float | None = None
    measured: dict[str, float]
    predicted_change: dict[str, float] | None = None
    answers: dict[str, str]
    answer_spearman_named: float | None = None
    answer_change_spearman: float | None = None
    answer_profile: dict[str, float] | None = None


def summarise(rows: list[MethodRow], methods: list[str]) -> dict[str, dict]:
    """Per method, the mean of each metric over the profiles where it is defined."""
    out = {}
    for m in methods:
        mine = [r for r in rows if r.method == m]
        s = {k: mean_of([getattr(r, f) for r in mine]) for k, f in SUMMARY_KEYS.items()}
        s["n_profiles"] = len(mine)
        s["n_spearman"] = sum(r.spearman_named is not None for r in mine)
        out[m] = s
    return out


class EvalResult(BaseModel):
    model: str
    system: str
    instrument: str
    n_items: int
    items_source: str = "held-out evaluation items"
    n_questions: int
    judge: dict | None = None  # name, accuracy on the labelled set, chance, confusions
    profiles: list[EvalProfile]
    targets: dict[str, dict[str, float]]
    unsteered: dict[str, float]
    unsteered_answers: dict[str, str]
    scale: float  # instrument units -> 1-6 scale
    values: list[str]
    response: list[list[float]] | None  # the pack's R (steer i, measured j), for the report
    scm_weights: list[list[float]]  # the SCM's W (i -> j), for the report
    model_scm_weights: list[list[float]] | None = None  # the model's own value graph (model_graph), if R allows
    model_info: dict = {}
    methods: dict[str, dict]
    rows: list[MethodRow]
    seconds_total: float
