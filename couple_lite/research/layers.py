"""Where values live (ValueLocate's question, per block): the held-out separability of each value's
direction at every block, from an extraction, as JSON, a table and a plot (``extract --report``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .._io import atomic_write
from .._table import format_table
from ..vectors import Extraction

__all__ = ["layer_table", "write_layer_report"]


def layer_table(ex: Extraction) -> dict:
    """Per block: the all-values held-out accuracy (a held-out difference closest to its own value's
    direction) and each value's pair accuracy (its held-out differences projecting positively);
    the block where the all-values accuracy peaks; the steered window. Pair accuracy alone is easy
    (a contrast pair's texts differ in words from block 1 on); the all-values accuracy says where a
    difference is specific to its value."""
    blocks = list(range(1, len(ex.value_accuracy)))
    return {
        "blocks": blocks,
        "value_accuracy": [float(ex.value_accuracy[b]) for b in blocks],
        "pair_accuracy": {v: [float(ex.pair_accuracy[i, b]) for b in blocks] for i, v in enumerate(ex.values)},
        "peak_block": int(blocks[int(np.argmax(ex.value_accuracy[1:]))]),
        "window": list(ex.layer_range),
        "chance": {"value_accuracy": 1 / len(ex.values), "pair_accuracy": 0.5},
    }


def write_layer_report(ex: Extraction, directory: str | Path) -> list[Path]:
    """``layers.json``, ``layers.md`` and (with the ``report`` extra) ``layers.svg`` in ``directory``."""
    d = Path(directory)
    t = layer_table(ex)
    header = ["block", "all values"] + [v[:8] for v in ex.values]
    rows = [
        [b, t["value_accuracy"][k]] + [t["pair_accuracy"][v][k] for v in ex.values] for k, b in enumerate(t["blocks"])
    ]
    md = [
        "# Where values live: held-out separability per block",
        "",
        f"Steered window: blocks {t['window'][0]}-{t['window'][1]}. 'all values': share of held-out pair "
        f"differences closest to their own value's direction (chance {t['chance']['value_accuracy']:.2f}); "
        "per value: share of its held-out differences projecting positively (chance 0.50).",
        "",
        "```",
        format_table(header, rows),
        "```",
        "",
        f"The all-values accuracy peaks at block {t['peak_block']} "
        f"({t['value_accuracy'][t['blocks'].index(t['peak_block'])]:.2f}). Pair accuracy is easy from block 1 "
        "(a pair's texts differ in words); the all-values accuracy says where a difference is specific to its value.",
        "",
    ]
    files = {"layers.json": json.dumps(t, indent=2), "layers.md": "\n".join(md)}
    try:
        from .plots import layers_svg

        files["layers.svg"] = layers_svg(
            ex.values, ex.pair_accuracy, ex.value_accuracy, ex.layer_range, "Held-out separability per block"
        )
        md.insert(2, "![separability per block](layers.svg)\n")
        files["layers.md"] = "\n".join(md)
    except ImportError:
        warnings.warn('layers.svg needs matplotlib: pip install -e ".[report]"', stacklevel=2)
    out = []
    for name, text in files.items():
        with atomic_write(d / name) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
        out.append(d / name)
    return out
