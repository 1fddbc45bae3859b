"""Evaluation report: ``write_report(result, directory)`` writes ``report.md``, ``results.json`` (the
whole result, so the report can be re-rendered) and SVG plots (``report_plots``: target-vs-measured
radar per profile, the methods' headline metrics, the response-matrix heatmap and the SCM graph).
The plots need matplotlib (the ``report`` extra); without it the report says so and links no image.
Atomic per file.
"""

from __future__ import annotations

import warnings
from html import escape
from importlib import import_module
from pathlib import Path

import numpy as np

from .._io import atomic_write
from . import stats
from .result import EvalResult
from .summary import goals

__all__ = ["write_report", "PLOTS_HINT"]

PLOTS_INSTALL = 'pip install -e ".[report]"'
PLOTS_HINT = f"plots skipped: they need matplotlib ({PLOTS_INSTALL})"


def _fmt(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _md_table(heads: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _limits(res: EvalResult) -> list[str]:
    """Evidence for what limits couple_lite, from the run itself (figures: ``eval_stats``)."""
    if not any(r.method == "couple_lite" for r in res.rows):
        return []
    out = []
    cap = stats.fluency_cap(res)
    if cap:
        out.append(
            f"- **Steering strength (fluency cap)**: the solved vector is scaled down to the pack's fluency "
            f"limit; on average {100 * cap.mean:.0f}% of it is kept (median {100 * cap.median:.0f}%), i.e. the "
            f"objectives ask for {cap.asked:.1f}× what this model tolerates. Neutral-text perplexity under "
            f"couple_lite is {cap.ppl_ratio:.2f}× unsteered."
        )
    doses = stats.doses(res)
    if doses:
        ours = res.methods["couple_lite"]
        parts = [
            f"×{k}: Spearman {_fmt(s['spearman'])}, change ρ {_fmt(s['change_spearman'])}, perplexity "
            f"{_fmt(s['ppl_ratio'])}×, distinct-2 {_fmt(s['distinct2'])}"
            for k, s in [("1", ours), *doses]
        ]
        out.append("- **Beyond the cap** (the same vectors multiplied, `couple_lite@K`): " + "; ".join(parts) + ".")
    ch = stats.change_size(res)
    if ch:
        out.append(
            f"- **Size of the change**: requested change (target − unsteered) has mean |Δ| "
            f"{ch.requested:.2f} scale points; calibration predicted {ch.predicted:.2f}; "
            f"measured {ch.measured:.2f} on held-out items (correlation predicted vs measured "
            f"{ch.correlation:.2f} over {ch.cells} value×profile cells). The unsteered profile's ranking "
            f"dominates the level Spearman when the change is this small."
        )
    sp = stats.response_specificity(res)
    if sp:
        out.append(
            f"- **Vectors (specificity)**: the response matrix has mean diagonal {sp['diag_mean']:.2f} vs mean "
            f"|off-diagonal| {sp['offdiag_mean_abs']:.2f}; {sp['rows_diag_largest']}/{sp['n_values']} vectors "
            f"move their own value most (see the heatmap). Values whose row peaks elsewhere cannot be raised "
            f"without their neighbours."
        )
    mi = res.model_info
    if mi:
        out.append(
            f"- **Model size**: {mi.get('architecture')} with {mi.get('n_layer')} blocks of width "
            f"{mi.get('n_embd')} ({mi.get('file_size', 0) / 1e6:.0f} MB file)."
        )
    if res.judge:
        out.append(
            f"- **Answer judge**: {res.judge['name']} labels our labelled answers with accuracy "
            f"{_fmt(res.judge['accuracy'])} (chance {res.judge['chance']:.2f}); answer-level figures are only as "
            f"good as that."
        )
    return out


def _plots(res: EvalResult) -> dict[str, str]:
    """File name -> SVG text of every plot, or {} (with a warning) when matplotlib is not installed."""
    try:
        import_module("matplotlib")  # the optional ``report`` extra
    except ImportError:
        warnings.warn(PLOTS_HINT, stacklevel=3)
        return {}
    from . import plots as rp

    files = {
        "methods.svg": rp.bars_svg(
            res.methods,
            ("spearman", "change_spearman", "answer_change_spearman"),
            "Per method: Spearman (named values), change vs requested, answer change",
        )
    }
    if res.response is not None:
        files["response_matrix.svg"] = rp.heatmap_svg(
            res.values, np.array(res.response), "Response matrix R (per unit strength)"
        )
    files["scm_graph.svg"] = rp.graph_svg(
        res.values, np.array(res.scm_weights), "Value SCM (edge i -> j: weight W[i, j])"
    )
    if res.model_scm_weights is not None:
        files["scm_graph_model.svg"] = rp.graph_svg(
            res.values,
            np.array(res.model_scm_weights),
            "The model's own value graph (from R: how steering one value moves the others; not people's values)",
        )
    for p in res.profiles:
        series = {"target": res.targets[p.name], "unsteered": res.unsteered}
        series.update({r.method: r.measured for r in res.rows if r.profile == p.name and r.method in rp.RADAR_SERIES})
        files[f"radar_{p.name}.svg"] = rp.radar_svg(res.values, series, f"{p.name}: target vs measured")
    return files


def _image(files: dict[str, str], name: str, alt: str) -> list[str]:
    """A markdown image link, only for a plot that is written."""
    return [f"![{alt}]({name})", ""] if name in files else []


def _differences(res: EvalResult) -> list[str]:
    """couple_lite against each other method, paired over profiles, with 95% bootstrap intervals."""
    if "couple_lite" not in res.methods:
        return []
    rows = []
    for other in (m for m in res.methods if m not in ("couple_lite", "unsteered")):
        cells = [stats.paired_difference(res, "couple_lite", other, k) for k in ("change_spearman", "spearman_named")]
        if any(cells):
            rows.append(
                [
                    other,
                    *(
                        "–"
                        if d is None
                        else f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]" + (" *" if d.beyond_noise else "")
                        for d in cells
                    ),
                ]
            )
    if not rows:
        return []
    return [
        "## couple_lite against the others",
        "",
        "Mean over profiles of couple_lite's figure minus the other method's, with its 95% interval "
        f"(paired bootstrap over profiles, {stats.BOOTSTRAP_RESAMPLES:,} resamples); * marks an "
        "interval that excludes 0.",
        "",
        *_md_table(["method", "change ρ: couple_lite − it", "Spearman (named): couple_lite − it"], rows),
        "",
    ]


METHOD_KEYS = (
    "spearman",
    "spearman_all",
    "mae",
    "mae_all",
    "order_preserved",
    "change_spearman",
    "side_effect",
    "side_effect_error",
    "ppl_ratio",
    "distinct2",
    "repetition",
    "answer_spearman",
    "answer_change_spearman",
    "seconds_per_answer",
    "setup_seconds",
)  # the report's method table


def write_report(res: EvalResult, directory: str | Path, command: str = "couple-lite eval") -> Path:
    """Write report.md, results.json and the SVG plots into ``directory``; returns the report path.
    Without matplotlib it warns (``PLOTS_HINT``), says so in report.md and writes no plot."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files = _plots(res)
    L = [
        *_heading(res, command, plotted=bool(files)),
        *_goals(res),
        *_methods(res, files),
        *_differences(res),
        "## What limits it",
        "",
        *_limits(res),
        "",
        *_per_profile(res),
        *_figures(files),
        *_samples(res),
    ]
    files["report.md"] = "\n".join(L) + "\n"
    files["results.json"] = res.model_dump_json(indent=1)
    for name, text in files.items():
        with atomic_write(d / name) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    return d / "report.md"


def _heading(res: EvalResult, command: str, plotted: bool) -> list[str]:
    out = [
        f"# couple-lite evaluation: {res.model}, {res.system}",
        "",
        f"Command: `{command}`  ",
        f"Instrument: {res.instrument} on {res.n_items} {res.items_source}; {len(res.profiles)} target profiles; "
        f"{res.n_questions} everyday questions for the answer check; total time {res.seconds_total / 60:.1f} min.",
        "",
    ]
    return out if plotted else [*out, f"*Plots skipped: they need matplotlib (`{PLOTS_INSTALL}`).*", ""]


def _goals(res: EvalResult) -> list[str]:
    out = ["## Goals (couple_lite)", ""]
    for g in goals(res):
        mark = "n/a" if g["met"] is None else ("met" if g["met"] else "**not met**")
        out.append(f"- {g['goal']}: {_fmt(g['value'])} — {mark}")
    return out


def _methods(res: EvalResult, files: dict[str, str]) -> list[str]:
    n_spearman = next(iter(res.methods.values()))["n_spearman"]
    return [
        "",
        "## Methods",
        "",
        f"Means over profiles (Spearman on named values needs ≥ 3 named values: {n_spearman} of "
        f"{len(res.profiles)} profiles).",
        "",
        *_md_table(["method", *METHOD_KEYS], [[m, *(_fmt(s[k]) for k in METHOD_KEYS)] for m, s in res.methods.items()]),
        "",
        *_image(files, "methods.svg", "methods"),
    ]


def _per_profile(res: EvalResult) -> list[str]:
    methods = list(res.methods)
    by = {(r.profile, r.method): r for r in res.rows}
    rows = [
        [p.name, ", ".join(by[(p.name, methods[0])].named)]
        + [f"{_fmt(by[(p.name, m)].spearman_named)} / {_fmt(by[(p.name, m)].change_spearman)}" for m in methods]
        for p in res.profiles
    ]
    return [
        "## Per profile",
        "",
        "Spearman on named values / change Spearman (all values) per method.",
        "",
        *_md_table(["profile", "named", *methods], rows),
    ]


def _figures(files: dict[str, str]) -> list[str]:
    if not files:
        return [""]
    return [
        "",
        "## Target vs measured",
        "",
        *[f"![{k}]({k})" for k in files if k.startswith("radar_")],
        "",
        "## Calibration and causal model",
        "",
        *_image(files, "response_matrix.svg", "response matrix"),  # only a calibrated pack's run has R to draw
        *_image(files, "scm_graph.svg", "SCM graph"),
        *_image(files, "scm_graph_model.svg", "the model's own value graph"),
    ]


def _samples(res: EvalResult) -> list[str]:
    methods = list(res.methods)
    by = {(r.profile, r.method): r for r in res.rows}
    out = ["## Sample answers", ""]
    for p in res.profiles[:3]:
        for q in list(by[(p.name, methods[0])].answers)[:1]:
            out += [f"**{p.name}** — *{q}*", ""]
            for m in methods:
                text = " ".join(by[(p.name, m)].answers[q].split())
                out.append(f"- {m}: {escape(text[:300], quote=False)}")
            out.append("")
    return out
