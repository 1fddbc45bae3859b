"""The evaluation report's plots, drawn with matplotlib (the optional ``report`` extra) as SVG text:
target-vs-measured radar, the methods' headline metrics, the response-matrix heatmap and the SCM
graph. Text stays text in the SVG (searchable, smaller); each plotted series, bar, cell and edge
carries an id, so the output can be checked by reading it back."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, cast

import matplotlib
import networkx as nx
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

if TYPE_CHECKING:
    from matplotlib.projections.polar import PolarAxes
    from matplotlib.typing import RcKeyType

__all__ = ["radar_svg", "heatmap_svg", "graph_svg", "bars_svg", "layers_svg", "COLOURS", "RADAR_SERIES"]

COLOURS = {
    "target": "#222222",
    "unsteered": "#999999",
    "value_prompt": "#e69f00",
    "prompt_counterfactual": "#cc79a7",
    "naive_vectors": "#56b4e9",
    "couple_lite": "#0072b2",
    "couple_lite+prompt": "#009e73",
}
OTHER_COLOUR = "#d55e00"
RADAR_SERIES = ("target", "unsteered", "value_prompt", "couple_lite", "couple_lite+prompt")
BAR_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7")
POSITIVE, NEGATIVE = "#0072b2", "#d55e00"  # SCM edge colours
# text as <text> elements, no random ids or dates: the same plot gives the same file
SVG_STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "couple-lite",
    "font.family": "sans-serif",
    "font.size": 9,
}


def _label(name: str) -> str:
    return name.replace("_", " ")


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    with matplotlib.rc_context(SVG_STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buf.getvalue()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(SVG_STYLE):
        return Figure(figsize=(width, height))


def _around(n: int) -> np.ndarray:
    """Angles of n values on a circle, the first at the top, then clockwise (system order)."""
    return np.pi / 2 - 2 * np.pi * np.arange(n) / n


def radar_svg(
    values: list[str], series: dict[str, dict[str, float]], title: str, bands: dict[str, dict[str, float]] | None = None
) -> str:
    """One closed line per series on a 1-6 radial scale, values around the circle in system order;
    ``bands`` (series -> value -> standard error) shades each line's ±1 se. Series without a colour of
    their own (models, other methods) take the bar palette in turn."""
    palette = iter(BAR_COLOURS + (OTHER_COLOUR,) * len(series))
    fig = _figure(6.4, 5.2)
    with matplotlib.rc_context(SVG_STYLE):
        ax = cast("PolarAxes", fig.add_subplot(projection="polar"))  # (the stubs return a plain Axes)
        ax.set_theta_zero_location("N")
        ax.set_theta_direction(-1)
        theta = 2 * np.pi * np.arange(len(values)) / len(values)
        closed = np.append(theta, theta[0])
        for name, prof in series.items():
            r = [min(max(prof[n], 1), 6) for n in values]
            colour = COLOURS.get(name) or next(palette)
            (line,) = ax.plot(
                closed,
                r + r[:1],
                color=colour,
                linewidth=2,
                linestyle="--" if name == "target" else "-",
                label=_label(name),
            )
            line.set_gid(f"series-{name}")
            if bands and name in bands:
                e = [bands[name][n] for n in values]
                lo = [min(max(x - d, 1), 6) for x, d in zip(r, e)]
                hi = [min(max(x + d, 1), 6) for x, d in zip(r, e)]
                ax.fill_between(closed, lo + lo[:1], hi + hi[:1], color=colour, alpha=0.2, linewidth=0).set_gid(
                    f"band-{name}"
                )
        ax.set_ylim(1, 6)
        ax.set_yticks(range(1, 7))
        ax.set_xticks(theta, [_label(n) for n in values])
        ax.tick_params(axis="x", pad=10)
        ax.set_title(title, loc="left", fontweight="bold")
        ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.0), frameon=False)
    return _svg(fig)


def heatmap_svg(values: list[str], R: np.ndarray, title: str) -> str:
    """R[i, j] (steer row i, measured column j) with a diverging colour scale, the numbers, and the
    diagonal (each vector's own value) outlined."""
    n = len(values)
    m = float(np.abs(R).max()) or 1.0
    fig = _figure(1.2 + 0.45 * n, 1.6 + 0.45 * n)
    with matplotlib.rc_context(SVG_STYLE):
        ax = fig.add_subplot()
        ax.imshow(R, cmap="bwr", vmin=-m, vmax=m)
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{R[i, j]:.1f}", ha="center", va="center", fontsize=7).set_gid(f"cell-{i}-{j}")
            ax.add_patch(Rectangle((i - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.5))
        labels = [_label(v) for v in values]
        ax.xaxis.tick_top()
        ax.xaxis.set_label_position("top")
        ax.set_xticks(range(n), labels, rotation=55, ha="left", rotation_mode="anchor")
        ax.set_yticks(range(n), labels)
        ax.set_xlabel("measured value")
        ax.set_ylabel("steered value")
        ax.set_title(title, loc="left", fontweight="bold", pad=12)
    return _svg(fig)


def graph_svg(values: list[str], W: np.ndarray, title: str, min_weight: float = 0.05) -> str:
    """The SCM's DAG on a circle (system order): arrow i -> j for W[i, j], width by |weight|, blue
    positive, red negative, labelled with the weight."""
    g = nx.DiGraph()
    g.add_nodes_from(values)
    weight = {(values[i], values[j]): float(W[i, j]) for i, j in zip(*np.nonzero(np.abs(W) >= min_weight))}
    edges = list(weight)
    ang = _around(len(values))
    pos = {v: (np.cos(a), np.sin(a)) for v, a in zip(values, ang)}
    fig = _figure(7.0, 6.6)
    with matplotlib.rc_context(SVG_STYLE):
        ax = fig.add_subplot()
        nx.draw_networkx_nodes(g, pos, ax=ax, node_size=700, node_color="#f5f5f5", edgecolors="#333333")
        arrows = nx.draw_networkx_edges(
            g,
            pos,
            ax=ax,
            edgelist=edges,
            width=[0.8 + 5 * abs(weight[e]) for e in edges],
            alpha=0.7,
            edge_color=[POSITIVE if weight[e] > 0 else NEGATIVE for e in edges],
            arrows=True,
            arrowsize=12,
            node_size=700,
        )
        for arrow, (a, b) in zip(arrows, edges):
            arrow.set_gid(f"edge-{a}-{b}")
        nx.draw_networkx_edge_labels(
            g,
            pos,
            ax=ax,
            edge_labels={e: f"{weight[e]:+.2f}" for e in edges},
            font_size=7,
            bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.8},
        )
        for v, a in zip(values, ang):  # names outside the circle, beyond their node
            ax.text(1.26 * np.cos(a), 1.17 * np.sin(a), _label(v), ha="center", va="center")
        ax.set_xlim(-1.45, 1.45)
        ax.set_ylim(-1.35, 1.35)
        ax.set_aspect("equal")
        ax.axis("off")
        ax.set_title(title, loc="left", fontweight="bold")
    return _svg(fig)


def bars_svg(methods: dict[str, dict], keys: tuple[str, ...], title: str) -> str:
    """Horizontal bars, one group per method (top to bottom in run order), one bar per metric key
    (range -1..1; a metric the method lacks is left out)."""
    bar = 0.8 / len(keys)
    fig = _figure(7.5, 1.0 + 0.22 * len(methods) * len(keys))
    with matplotlib.rc_context(SVG_STYLE):
        ax = fig.add_subplot()
        for k, key in enumerate(keys):
            for g, (name, s) in enumerate(methods.items()):
                v = s.get(key)
                if v is not None:
                    y = g - 0.4 + bar * (k + 0.5)
                    patch = ax.barh(y, max(-1.0, min(1.0, v)), height=bar * 0.9, color=BAR_COLOURS[k])[0]
                    patch.set_gid(f"bar-{name}-{key}")
        ax.axvline(0, color="#333333", linewidth=1)
        ax.set_xlim(-1, 1)
        ax.set_yticks(range(len(methods)), [_label(m) for m in methods])
        ax.invert_yaxis()
        ax.grid(axis="x", color="#eeeeee")
        ax.set_axisbelow(True)
        ax.legend(
            handles=[Patch(color=BAR_COLOURS[k], label=_label(key)) for k, key in enumerate(keys)],
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            frameon=False,
        )
        ax.set_title(title, loc="left", fontweight="bold")
    return _svg(fig)


def layers_svg(
    values: list[str], pair_accuracy: np.ndarray, value_accuracy: np.ndarray, window: tuple[int, int], title: str
) -> str:
    """Held-out separability per block: one line per value (share of its held-out pairs that project
    positively on its direction), the all-values accuracy in black, the steered window shaded."""
    layers = np.arange(1, pair_accuracy.shape[1])  # block 0 cannot be steered
    fig = _figure(7.5, 4.2)
    cmap = matplotlib.colormaps["tab10"]
    with matplotlib.rc_context(SVG_STYLE):
        ax = fig.add_subplot()
        ax.axvspan(window[0] - 0.5, window[1] + 0.5, color="#eeeeee", zorder=0)
        for k, v in enumerate(values):
            (line,) = ax.plot(layers, pair_accuracy[k, 1:], color=cmap(k % 10), linewidth=1.2, label=_label(v))
            line.set_gid(f"layers-{v}")
        (line,) = ax.plot(
            layers, value_accuracy[1:], color="black", linewidth=2.2, label="all values (own value closest)"
        )
        line.set_gid("layers-all")
        ax.axhline(1 / len(values), color="black", linestyle=":", linewidth=0.8)
        ax.set_xlabel("block")
        ax.set_ylabel("held-out accuracy")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, ncol=2, loc="lower right")
        ax.set_title(title, loc="left", fontweight="bold")
    return _svg(fig)
