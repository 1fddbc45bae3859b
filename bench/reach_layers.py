"""Where to steer: reach per block window at an equal fluency cost.

Extracts the shipped pack's kind of directions (context pairs, mean difference, confounds removed)
at every block once, then for each window of blocks scales the dose so the mean neutral-text NLL
rise over values equals ``--budget`` (nats/token; the shipped pack's cap costs 0.036), and measures
reach (bench/reach.py's figures) on our held-out items and, with ``--items``, on an outside item file.
The shipped pack's calibration supplies the instrument-to-scale mapping, so every window is read on
the same scale. Nothing here is fitted to the items: the dose is set on neutral text only.

    python bench/reach_layers.py [--windows 5-11,11-17,...] [--budget 0.036]
                                 [--items FILE --questionnaire PVQ40] [--json]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reach import only_questionnaire, reach

from couple_lite import load_engine, load_steerer
from couple_lite.research import eval_items
from couple_lite.vectors import NEUTRAL_TEXT, extract, steering_vector
from couple_lite.vectors import dose_for_budget as fluency_dose

PROBE_DOSE = 0.02  # strength at which each window's fluency cost is read before scaling to the budget


def window(ex, lo: int, hi: int):
    """The extraction restricted to blocks lo..hi (directions zero elsewhere)."""
    d = ex.directions.copy()
    keep = np.zeros(d.shape[1], dtype=bool)
    keep[lo : hi + 1] = True
    d[:, ~keep] = 0.0
    return dataclasses.replace(ex, directions=d, layer_range=(lo, hi))


def dose_for_budget(engine, ex, budget: float) -> float:
    """The strength whose mean NLL rise over single-value vectors is ``budget``, found by the library's
    bracketed search (at small doses the rise is near zero or negative, and one block's cost is far
    from quadratic, so an unguarded secant step from the probe can land several times over budget)."""
    base = engine.mean_nll(NEUTRAL_TEXT)

    def rise(s: float) -> float:
        out = []
        for i in range(len(ex.values)):
            c = np.zeros(len(ex.values))
            c[i] = s
            with engine.steered(steering_vector(ex, c)):
                out.append(engine.mean_nll(NEUTRAL_TEXT) - base)
        return float(np.mean(out))

    return fluency_dose(rise, budget, start=PROBE_DOSE, steps=12)[0]


@click.command()
@click.option("--windows", default="2-8,5-11,8-14,11-17,14-20,17-23,20-26,2-26", show_default=True)
@click.option("--budget", type=float, default=0.036, show_default=True, help="Mean NLL rise, nats/token.")
@click.option("--items", "items_file", default=None)
@click.option("--questionnaire", default=None)
@click.option("--json", "as_json", is_flag=True)
def main(windows: str, budget: float, items_file, questionnaire, as_json) -> None:
    engine = load_engine(n_ctx=2048)
    steerer = load_steerer(engine=engine, system="schwartz10")
    pack = steerer.pack
    full = extract(engine, steerer.system, "mean", "context", layers=(1, engine.n_layer - 2))
    sets = {"ours": eval_items(steerer.system)[0]}
    if items_file:
        f = only_questionnaire(Path(items_file), questionnaire) if questionnaire else items_file
        sets["outside"] = eval_items(steerer.system, f)[0]
    rows = []
    for w in windows.split(","):
        lo, hi = (int(x) for x in w.split("-"))
        ex = window(full, lo, hi)
        steerer.pack = dataclasses.replace(pack, extraction=ex)
        dose = dose_for_budget(engine, ex, budget)
        row = {"window": w, "dose": dose}
        for label, items in sets.items():
            r = reach(steerer, "likelihood", items, doses=np.full(len(ex.values), dose))
            row[label] = {k: r[k] for k in ("reach_mean", "specificity", "rows_own_largest", "nll_rise")}
            row[label]["own"] = {n: round(v["own"], 3) for n, v in r["per_value"].items()}
        rows.append(row)
        if not as_json:
            click.echo(
                f"{w:>6} dose {dose:.4f} "
                + "  ".join(
                    f"{k}: reach {row[k]['reach_mean']:+.3f} spec {row[k]['specificity']:.2f} "
                    f"rows {row[k]['rows_own_largest']}/10 "
                    f"nll {row[k]['nll_rise']:.3f}"
                    for k in sets
                ),
                err=False,
            )
    if as_json:
        click.echo(json.dumps({"budget": budget, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
