"""Fewer, better items: the likelihood profile on the N most informative calibration
items per value (the pack's item information) against all of them -- time per profile and the
test-retest kept (Spearman over values between the default question and a paraphrased one, and
between the default and another question), unsteered.

    python bench/items_budget.py [--budgets 1,2,3,5] [--runs 3] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite import load_engine, load_value_system
from couple_lite.measure import informative_items, load_items, measure
from couple_lite.steering import pack_for


@click.command()
@click.option("--budgets", default="1,2,3,5", show_default=True, help="Items per value (5 = all built-in items).")
@click.option("--runs", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(budgets, runs, as_json) -> None:
    engine = load_engine()
    vs = load_value_system("schwartz10")
    pack, _ = pack_for(engine, vs.name)
    info = pack.metrics.get("item_information")
    if not info:
        raise click.ClickException("the pack has no item information: couple-lite calibrate --item-information")
    every = load_items(vs)[0]
    names = vs.names
    rows = []
    for n in (int(x) for x in budgets.split(",")):
        items = informative_items(every, info["items"], n)
        profiles, times = {}, []
        for variant in ("default", "paraphrase", "reversed"):
            for _ in range(runs if variant == "default" else 1):
                t0 = time.perf_counter()
                p = measure(engine, vs, "likelihood", items=items, variant=variant)
                if variant == "default":
                    times.append(time.perf_counter() - t0)
            profiles[variant] = np.array([p.profile[v] for v in names])
        rows.append(
            {
                "items_per_value": n,
                "items": len(items),
                "seconds": statistics.median(times),
                "retest_paraphrase": float(spearmanr(profiles["default"], profiles["paraphrase"])[0]),
                "retest_other_question": float(spearmanr(profiles["default"], profiles["reversed"])[0]),
                "profile": dict(zip(names, map(float, profiles["default"]))),
            }
        )
    full = max(rows, key=lambda r: r["items"])
    for r in rows:
        r["time_ratio"] = r["seconds"] / full["seconds"]
        r["agreement_with_all_items"] = float(spearmanr(list(r["profile"].values()), list(full["profile"].values()))[0])
    if as_json:
        click.echo(json.dumps({"rows": rows}, indent=2))
        return
    for r in rows:
        click.echo(
            f"{r['items_per_value']} per value ({r['items']} items): {r['seconds']:.2f} s ({r['time_ratio']:.2f}x), "
            f"retest paraphrase {r['retest_paraphrase']:+.2f}, other question {r['retest_other_question']:+.2f}, "
            f"rho with all items {r['agreement_with_all_items']:+.2f}"
        )


if __name__ == "__main__":
    main()
