"""Evaluation report: a markdown file with SVG plots (written by hand: no plotting dependency).

``write_report(result, directory)`` writes ``report.md``, ``results.json`` (the whole result, so
the report can be re-rendered) and the plots: target-vs-achieved radar per profile, the methods'
headline metrics, the response-matrix heatmap and the SCM graph with edge weights. Atomic per file.
"""

from __future__ import annotations

import math
from html import escape
from pathlib import Path

import numpy as np

from .eval_result import EvalResult
from .files import atomic_write

__all__ = ["write_report", "radar_svg", "heatmap_svg", "graph_svg", "bars_svg"]

COLOURS = {"target": "#222222", "unsteered": "#999999", "value_prompt": "#e69f00", "prompt_counterfactual": "#cc79a7",
           "naive_vectors": "#56b4e9", "couple_lite": "#0072b2", "couple_lite+prompt": "#009e73"}
RADAR_SERIES = ("target", "unsteered", "value_prompt", "couple_lite", "couple_lite+prompt")


def _svg(w: int, h: int, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="sans-serif" font-size="11">\n<rect width="{w}" height="{h}" fill="white"/>\n'
            + "\n".join(body) + "\n</svg>\n")


def _label(name: str) -> str:
    return escape(name.replace("_", " "))


def radar_svg(values: list[str], series: dict[str, dict[str, float]], title: str) -> str:
    """One polygon per series on a 1-6 radial scale, values around the circle in system order."""
    w, h, cx, cy, r = 460, 400, 200, 210, 140
    ang = [-math.pi / 2 + 2 * math.pi * k / len(values) for k in range(len(values))]
    body = [f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>']
    for lvl in range(1, 7):
        rr = r * (lvl - 1) / 5
        pts = " ".join(f"{cx + rr * math.cos(a):.1f},{cy + rr * math.sin(a):.1f}" for a in ang)
        body.append(f'<polygon points="{pts}" fill="none" stroke="#dddddd"/>')
    for a, n in zip(ang, values):
        body.append(f'<line x1="{cx}" y1="{cy}" x2="{cx + r * math.cos(a):.1f}" y2="{cy + r * math.sin(a):.1f}" stroke="#dddddd"/>')
        anchor = "start" if math.cos(a) > 0.2 else "end" if math.cos(a) < -0.2 else "middle"
        body.append(f'<text x="{cx + (r + 10) * math.cos(a):.1f}" y="{cy + (r + 12) * math.sin(a) + 4:.1f}" '
                    f'text-anchor="{anchor}">{_label(n)}</text>')
    for k, (name, prof) in enumerate(series.items()):
        col = COLOURS.get(name, "#d55e00")
        pts = " ".join(f"{cx + r * (min(max(prof[n], 1), 6) - 1) / 5 * math.cos(a):.1f},"
                       f"{cy + r * (min(max(prof[n], 1), 6) - 1) / 5 * math.sin(a):.1f}" for a, n in zip(ang, values))
        dash = ' stroke-dasharray="5,3"' if name == "target" else ""
        body.append(f'<polygon points="{pts}" fill="none" stroke="{col}" stroke-width="2"{dash}/>')
        body.append(f'<line x1="375" y1="{40 + 16 * k}" x2="395" y2="{40 + 16 * k}" stroke="{col}" stroke-width="2"{dash}/>'
                    f'<text x="400" y="{44 + 16 * k}">{_label(name)}</text>')
    return _svg(w, h, body)


def heatmap_svg(values: list[str], R: np.ndarray, title: str) -> str:
    """R[i, j] (steer row i, measured column j) with a diverging colour scale and the numbers."""
    n, cell, left, top = len(values), 38, 110, 120
    m = float(np.abs(R).max()) or 1.0
    body = [f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
            f'<text x="10" y="{top + n * cell // 2}" transform="rotate(-90 10 {top + n * cell // 2})">steered value</text>',
            f'<text x="{left + n * cell // 2}" y="34" text-anchor="middle">measured value</text>']
    for j, v in enumerate(values):
        x = left + j * cell + cell / 2
        body.append(f'<text x="{x}" y="{top - 6}" transform="rotate(-55 {x} {top - 6})">{_label(v)}</text>')
    for i, v in enumerate(values):
        body.append(f'<text x="{left - 4}" y="{top + i * cell + cell / 2 + 4}" text-anchor="end">{_label(v)}</text>')
        for j in range(n):
            t = float(R[i, j]) / m
            fill = (f"rgb(255,{int(255 * (1 - t))},{int(255 * (1 - t))})" if t > 0
                    else f"rgb({int(255 * (1 + t))},{int(255 * (1 + t))},255)")
            stroke = ' stroke="black" stroke-width="1.5"' if i == j else ' stroke="white"'
            body.append(f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell}" height="{cell}" fill="{fill}"{stroke}/>'
                        f'<text x="{left + j * cell + cell / 2}" y="{top + i * cell + cell / 2 + 4}" text-anchor="middle" '
                        f'font-size="9">{R[i, j]:.1f}</text>')
    return _svg(left + n * cell + 20, top + n * cell + 20, body)


def graph_svg(values: list[str], W: np.ndarray, title: str, min_weight: float = 0.05) -> str:
    """The SCM's DAG on a circle (system order): arrow i -> j for W[i, j], width by |weight|,
    blue positive, red negative, labelled with the weight."""
    w, h, cx, cy, r = 560, 520, 280, 270, 200
    ang = [-math.pi / 2 + 2 * math.pi * k / len(values) for k in range(len(values))]
    pos = [(cx + r * math.cos(a), cy + r * math.sin(a)) for a in ang]
    body = [f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
            '<defs><marker id="a" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" '
            'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>']
    for i, j in zip(*np.nonzero(np.abs(W) >= min_weight)):
        (x1, y1), (x2, y2) = pos[i], pos[j]
        d = math.hypot(x2 - x1, y2 - y1) or 1
        ux, uy = (x2 - x1) / d, (y2 - y1) / d
        a, b = (x1 + 22 * ux, y1 + 22 * uy), (x2 - 24 * ux, y2 - 24 * uy)
        col = "#0072b2" if W[i, j] > 0 else "#d55e00"
        body.append(f'<line x1="{a[0]:.1f}" y1="{a[1]:.1f}" x2="{b[0]:.1f}" y2="{b[1]:.1f}" stroke="{col}" '
                    f'stroke-width="{0.8 + 5 * abs(W[i, j]):.1f}" stroke-opacity="0.7" marker-end="url(#a)"/>')
        mx, my = (a[0] + b[0]) / 2 - 8 * uy, (a[1] + b[1]) / 2 + 8 * ux
        body.append(f'<text x="{mx:.1f}" y="{my:.1f}" font-size="9" fill="{col}" text-anchor="middle">{W[i, j]:+.2f}</text>')
    for (x, y), n in zip(pos, values):
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="20" fill="#f5f5f5" stroke="#333"/>'
                    f'<text x="{x:.1f}" y="{y + 34 if y > cy else y - 26:.1f}" text-anchor="middle">{_label(n)}</text>')
    return _svg(w, h, body)


def bars_svg(methods: dict[str, dict], keys: tuple[str, ...], title: str) -> str:
    """Horizontal bars, one group per method, one bar per metric key (range -1..1)."""
    left, bar, gap, scale = 190, 12, 10, 150
    cols = ("#0072b2", "#e69f00", "#009e73", "#cc79a7")
    h = 60 + len(methods) * (len(keys) * bar + gap)
    zero = left + scale
    body = [f'<text x="10" y="18" font-size="13" font-weight="bold">{escape(title)}</text>',
            f'<line x1="{zero}" y1="30" x2="{zero}" y2="{h - 10}" stroke="#333"/>',
            f'<text x="{left}" y="{h - 2}">-1</text><text x="{zero + scale - 6}" y="{h - 2}">1</text>']
    for k, key in enumerate(keys):
        body.append(f'<rect x="{left + 320 + 0}" y="{24 + 14 * k}" width="10" height="10" fill="{cols[k]}"/>'
                    f'<text x="{left + 334}" y="{33 + 14 * k}">{_label(key)}</text>')
    y = 40 + 14 * max(len(keys) - 2, 0)
    for name, s in methods.items():
        body.append(f'<text x="{left - 6}" y="{y + len(keys) * bar / 2 + 4}" text-anchor="end">{_label(name)}</text>')
        for k, key in enumerate(keys):
            v = s.get(key)
            if v is not None:
                x0, x1 = sorted((zero, zero + scale * max(-1.0, min(1.0, v))))
                body.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 0.5):.1f}" height="{bar - 2}" fill="{cols[k]}"/>')
            y += bar
        y += gap
    return _svg(left + 2 * scale + 150, y + 20, body)


def _f(x, digits: int = 2) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def _md_table(heads: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    return out + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def _limits(res: EvalResult) -> list[str]:
    """Evidence for what limits couple_lite, computed from the run itself."""
    rows = [r for r in res.rows if r.method == "couple_lite"]
    if not rows:
        return []
    out = []
    reached = [r.reached for r in rows if r.reached is not None]
    if reached:
        out.append(f"- **Steering strength (fluency cap)**: the solved vector is scaled down to the pack's fluency "
                   f"limit; on average {100 * np.mean(reached):.0f}% of it is kept (median "
                   f"{100 * np.median(reached):.0f}%), i.e. the objectives ask for {1 / max(np.mean(reached), 1e-9):.1f}× "
                   f"what this model tolerates. Neutral-text perplexity under couple_lite is "
                   f"{res.methods['couple_lite']['ppl_ratio']:.2f}× unsteered.")
    doses = [(m, s) for m, s in res.methods.items() if m.startswith("couple_lite@")]
    if doses:
        ours = res.methods["couple_lite"]
        parts = [f"×1: Spearman {_f(ours['spearman'])}, change ρ {_f(ours['change_spearman'])}, perplexity "
                 f"{_f(ours['ppl_ratio'])}×, distinct-2 {_f(ours['distinct2'])}"]
        parts += [f"×{m.split('@')[1]}: Spearman {_f(s['spearman'])}, change ρ {_f(s['change_spearman'])}, "
                  f"perplexity {_f(s['ppl_ratio'])}×, distinct-2 {_f(s['distinct2'])}" for m, s in doses]
        out.append("- **Beyond the cap** (the same vectors multiplied, `couple_lite@K`): " + "; ".join(parts) + ".")
    pred = np.array([[r.predicted_change[n] for n in res.values] for r in rows if r.predicted_change])
    meas = np.array([[r.measured[n] - res.unsteered[n] for n in res.values] for r in rows if r.predicted_change])
    want = np.array([[res.targets[r.profile][n] - res.unsteered[n] for n in res.values] for r in rows if r.predicted_change])
    if len(pred):
        c = np.corrcoef(pred.ravel(), meas.ravel())[0, 1] if pred.std() > 0 and meas.std() > 0 else float("nan")
        out.append(f"- **Size of the change**: requested change (target − unsteered) has mean |Δ| "
                   f"{np.abs(want).mean():.2f} scale points; calibration predicted {np.abs(pred).mean():.2f}; "
                   f"measured {np.abs(meas).mean():.2f} on held-out items (correlation predicted vs measured "
                   f"{c:.2f} over {pred.size} value×profile cells). The unsteered profile's ranking dominates the "
                   f"level Spearman when the change is this small.")
    if res.response is not None:
        R = np.array(res.response)
        diag, off = np.diag(R), np.abs(R[~np.eye(len(R), dtype=bool)])
        own = int((R.argmax(axis=1) == np.arange(len(R))).sum())
        out.append(f"- **Vectors (specificity)**: the response matrix has mean diagonal {diag.mean():.2f} vs mean "
                   f"|off-diagonal| {off.mean():.2f}; {own}/{len(R)} vectors move their own value most "
                   f"(see the heatmap). Values whose row peaks elsewhere cannot be raised without their neighbours.")
    mi = res.model_info
    if mi:
        out.append(f"- **Model size**: {mi.get('architecture')} with {mi.get('n_layer')} blocks of width "
                   f"{mi.get('n_embd')} ({mi.get('file_size', 0) / 1e6:.0f} MB file).")
    if res.judge:
        out.append(f"- **Answer judge**: {res.judge['name']} labels our labelled answers with accuracy "
                   f"{_f(res.judge['accuracy'])} (chance {res.judge['chance']:.2f}); answer-level figures are only as "
                   f"good as that.")
    return out


def write_report(res: EvalResult, directory: str | Path, command: str = "python cli.py eval") -> Path:
    """Write report.md, results.json and the SVG plots into ``directory``; returns the report path."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    files["methods.svg"] = bars_svg(res.methods, ("spearman", "change_spearman", "answer_change_spearman"),
                                    "Per method: Spearman (named values), change vs requested, answer change")
    if res.response is not None:
        files["response_matrix.svg"] = heatmap_svg(res.values, np.array(res.response), "Response matrix R (per unit strength)")
    files["scm_graph.svg"] = graph_svg(res.values, np.array(res.scm_weights), "Value SCM (edge i -> j: weight W[i, j])")
    for p in res.profiles:
        name = p.name
        series = {"target": res.targets[name], "unsteered": res.unsteered}
        series.update({r.method: r.measured for r in res.rows if r.profile == name and r.method in RADAR_SERIES})
        files[f"radar_{name}.svg"] = radar_svg(res.values, series, f"{name}: target vs measured")

    L = [f"# couple-lite evaluation: {res.model}, {res.system}", "",
         f"Command: `{command}`  ", f"Instrument: {res.instrument} on {res.n_items} {res.items_source}; "
         f"{len(res.profiles)} target profiles; {res.n_questions} everyday questions for the answer check; "
         f"total time {res.seconds_total / 60:.1f} min.", "", "## Goals (couple_lite)", ""]
    for g in res.goals():
        mark = "n/a" if g["met"] is None else ("met" if g["met"] else "**not met**")
        L.append(f"- {g['goal']}: {_f(g['value'])} — {mark}")
    keys = ("spearman", "spearman_all", "mae", "mae_all", "order_preserved", "change_spearman", "side_effect",
            "side_effect_error", "ppl_ratio", "distinct2", "repetition", "answer_spearman", "answer_change_spearman",
            "seconds_per_answer")
    L += ["", "## Methods", "", "Means over profiles (Spearman on named values needs ≥ 3 named values: "
          f"{next(iter(res.methods.values()))['n_spearman']} of {len(res.profiles)} profiles).", ""]
    L += _md_table(["method", *keys], [[m, *(_f(s[k]) for k in keys)] for m, s in res.methods.items()])
    L += ["", "![methods](methods.svg)", "", "## What limits it", "", *_limits(res), "",
          "## Per profile", "", "Spearman on named values / change Spearman (all values) per method.", ""]
    methods = list(res.methods)
    by = {(r.profile, r.method): r for r in res.rows}
    rows = []
    for p in res.profiles:
        name = p.name
        rows.append([name, ", ".join(by[(name, methods[0])].named)] +
                    [f"{_f(by[(name, m)].spearman_named)} / {_f(by[(name, m)].change_spearman)}" for m in methods])
    L += _md_table(["profile", "named", *methods], rows)
    L += ["", "## Target vs measured", ""] + [f"![{k}]({k})" for k in files if k.startswith("radar_")]
    L += ["", "## Calibration and causal model", ""]
    if "response_matrix.svg" in files:  # only a calibrated pack's run has R to draw
        L += ["![response matrix](response_matrix.svg)", ""]
    L += ["![SCM graph](scm_graph.svg)", "", "## Sample answers", ""]
    for p in res.profiles[:3]:
        name = p.name
        for q in list(by[(name, methods[0])].answers)[:1]:
            L += [f"**{name}** — *{q}*", ""]
            for m in methods:
                text = " ".join(by[(name, m)].answers[q].split())
                L.append(f"- {m}: {escape(text[:300], quote=False)}")
            L.append("")
    files["report.md"] = "\n".join(L) + "\n"
    files["results.json"] = res.model_dump_json(indent=1)
    for name, text in files.items():
        with atomic_write(d / name) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    return d / "report.md"
