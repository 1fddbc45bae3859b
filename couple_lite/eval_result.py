"""What an evaluation run produced, as plain data: one row per (profile, method), a summary per
method, the issue's goals checked against the summary, and a terminal table."""

from __future__ import annotations

from pydantic import BaseModel

from .eval_metrics import mean_of
from .objective import Objective, make_objective
from .table import format_table

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
    "spearman": "spearman_named", "spearman_all": "spearman_all", "mae": "mae_named", "mae_all": "mae_all",
    "order_preserved": "order_preserved", "change_spearman": "change_spearman", "side_effect": "side_effect",
    "side_effect_error": "side_effect_error", "ppl_ratio": "ppl_ratio", "distinct2": "distinct2",
    "repetition": "repetition", "answer_spearman": "answer_spearman_named",
    "answer_change_spearman": "answer_change_spearman", "seconds_per_answer": "seconds_per_answer",
    "setup_seconds": "setup_seconds", "reached": "reached",
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

    def goals(self) -> list[dict]:
        """Issue 16's goals for couple_lite, each with its figure and whether it is met (None: a
        method it needs was not run). "Beyond" a method: the paired bootstrap interval of the
        change-ρ difference lies above 0."""
        from .eval_stats import paired_difference  # eval_stats reads this module's types

        m = self.methods
        ours = m.get("couple_lite")
        if not ours:
            return []

        def at_least(goal: str, value, bound: float, less: bool = False):
            met = None if value is None else (value <= bound if less else value >= bound)
            return {"goal": goal, "value": value, "met": met}

        modes = [k for k in ("couple_lite", "couple_lite_cf_prompt", "couple_lite_hybrid", "couple_lite_refined")
                 if k in m and m[k]["change_spearman"] is not None]
        best = max(modes, key=lambda k: m[k]["change_spearman"]) if modes else None
        out = [at_least("change rho (default mode) >= 0.6", ours["change_spearman"], 0.6),
               at_least(f"change rho of the best mode ({best}) >= 0.7", best and m[best]["change_spearman"], 0.7)]
        for other in ("value_prompt", "naive_vectors", "couple_lite_no_scm", "couple_lite_no_decouple",
                      "couple_lite_no_abduction", "couple_lite_full_r"):
            d = paired_difference(self, "couple_lite", other) if other in m else None
            out.append({"goal": f"change rho above {other} beyond its interval",
                        "value": None if d is None else d.mean, "met": None if d is None else d.low > 0})
        out += [at_least("answer-level change rho >= 0.4", ours["answer_change_spearman"], 0.4),
                at_least("Spearman on named values >= 0.5", ours["spearman"], 0.5),
                at_least("neutral-text perplexity <= 1.15x unsteered", ours["ppl_ratio"], 1.15, less=True)]
        if "prompt_counterfactual" in m:
            ratio = ours["seconds_per_answer"] / max(m["prompt_counterfactual"]["seconds_per_answer"], 1e-9)
            out.append(at_least("time per answer <= 0.4x prompt_counterfactual", ratio, 0.4, less=True))
        return out

    def table(self) -> str:
        """Methods as rows, the headline metrics as columns, then the goals."""
        heads = ["method", "spearman", "spearman_all", "mae", "order", "change_rho", "side_err", "ppl",
                 "distinct2", "answer_rho", "answer_chg", "s/answer"]
        rows = []
        for name, s in self.methods.items():
            rows.append([name] + [_f(s[k]) for k in ("spearman", "spearman_all", "mae", "order_preserved",
                                                     "change_spearman", "side_effect_error", "ppl_ratio", "distinct2",
                                                     "answer_spearman", "answer_change_spearman", "seconds_per_answer")])
        out = format_table(heads, rows)
        if self.judge:
            out += (f"\njudge {self.judge['name']}: accuracy {_f(self.judge['accuracy'])} on {self.judge['n']} "
                    f"labelled answers (chance {self.judge['chance']:.2f})")
        for g in self.goals():
            mark = "n/a" if g["met"] is None else ("met" if g["met"] else "NOT met")
            out += f"\ngoal: {g['goal']}: {_f(g['value'])} ({mark})"
        return out


def _f(x) -> str:
    return "-" if x is None else f"{x:.2f}"
