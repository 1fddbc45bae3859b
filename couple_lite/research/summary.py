"""The evaluation's goals checked against a run's summary, and the table a person reads."""

from __future__ import annotations

from .._table import format_table
from .result import EvalResult
from .stats import paired_difference

__all__ = ["goals", "summary_table"]


def goals(res: EvalResult) -> list[dict]:
    """The evaluation's goals for couple_lite, each with its figure and whether it is met (None: a
    method it needs was not run). "Beyond" a method: the paired bootstrap interval of the
    change-ρ difference lies above 0."""
    m = res.methods
    ours = m.get("couple_lite")
    if not ours:
        return []

    def at_least(goal: str, value, bound: float, less: bool = False):
        met = None if value is None else (value <= bound if less else value >= bound)
        return {"goal": goal, "value": value, "met": met}

    modes: list[str] = [
        k
        for k in ("couple_lite", "couple_lite_cf_prompt", "couple_lite_hybrid", "couple_lite_refined")
        if k in m and m[k]["change_spearman"] is not None
    ]
    best = max(modes, key=lambda k: m[k]["change_spearman"]) if modes else None
    out = [
        at_least("change rho (default mode) >= 0.6", ours["change_spearman"], 0.6),
        at_least(f"change rho of the best mode ({best}) >= 0.7", best and m[best]["change_spearman"], 0.7),
    ]
    for other in (
        "value_prompt",
        "naive_vectors",
        "couple_lite_no_scm",
        "couple_lite_no_decouple",
        "couple_lite_no_abduction",
        "couple_lite_full_r",
    ):
        d = paired_difference(res, "couple_lite", other) if other in m else None
        out.append(
            {
                "goal": f"change rho above {other} beyond its interval",
                "value": None if d is None else d.mean,
                "met": None if d is None else d.low > 0,
            }
        )
    out += [
        at_least("answer-level change rho >= 0.4", ours["answer_change_spearman"], 0.4),
        at_least("Spearman on named values >= 0.5", ours["spearman"], 0.5),
        at_least("neutral-text perplexity <= 1.15x unsteered", ours["ppl_ratio"], 1.15, less=True),
    ]
    if "prompt_counterfactual" in m:
        ratio = ours["seconds_per_answer"] / max(m["prompt_counterfactual"]["seconds_per_answer"], 1e-9)
        out.append(at_least("time per answer <= 0.4x prompt_counterfactual", ratio, 0.4, less=True))
    return out


def summary_table(res: EvalResult) -> str:
    """Methods as rows, the headline metrics as columns, then the goals."""
    heads = [
        "method",
        "spearman",
        "spearman_all",
        "mae",
        "order",
        "change_rho",
        "side_err",
        "ppl",
        "distinct2",
        "answer_rho",
        "answer_chg",
        "s/answer",
    ]
    rows = []
    for name, s in res.methods.items():
        rows.append(
            [name]
            + [
                _fmt(s[k])
                for k in (
                    "spearman",
                    "spearman_all",
                    "mae",
                    "order_preserved",
                    "change_spearman",
                    "side_effect_error",
                    "ppl_ratio",
                    "distinct2",
                    "answer_spearman",
                    "answer_change_spearman",
                    "seconds_per_answer",
                )
            ]
        )
    out = format_table(heads, rows)
    if res.judge:
        out += (
            f"\njudge {res.judge['name']}: accuracy {_fmt(res.judge['accuracy'])} on {res.judge['n']} "
            f"labelled answers (chance {res.judge['chance']:.2f})"
        )
    for g in goals(res):
        mark = "n/a" if g["met"] is None else ("met" if g["met"] else "NOT met")
        out += f"\ngoal: {g['goal']}: {_fmt(g['value'])} ({mark})"
    return out


def _fmt(x) -> str:
    return "-" if x is None else f"{x:.2f}"
