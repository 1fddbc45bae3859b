"""Re-steer latency: a new objective applied to a loaded model (SCM counterfactual + coefficient
solve + vector + apply + cache reset), 10 values, over many random objectives; no generation.

    python bench/resteer.py [--runs 200] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import load_engine, load_steerer, make_objective


@click.command()
@click.option("--runs", default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(runs: int, as_json: bool) -> None:
    engine = load_engine(n_ctx=512)
    st = load_steerer(engine=engine, system="schwartz10")
    pack = st.pack
    rng = np.random.default_rng(0)
    names = pack.values
    objectives = []
    for _ in range(runs):
        k = rng.integers(1, 5)
        chosen = rng.choice(names, size=k, replace=False)
        levels = ",".join(f"{n}={rng.integers(1, 7)}" for n in chosen)
        objectives.append(make_objective(levels, ">".join(chosen)))
    engine.set_control_vector(st.vector(st.plan(objectives[0], explain=False)))  # warm-up
    times, plan_times = [], []
    for obj in objectives:
        t0 = time.perf_counter()
        plan = st.plan(obj, explain=False)
        t1 = time.perf_counter()
        engine.set_control_vector(st.vector(plan))
        t2 = time.perf_counter()
        times.append((t2 - t0) * 1e3)
        plan_times.append((t1 - t0) * 1e3)
    engine.clear_control_vector()
    result = {
        "median_ms": statistics.median(times),
        "p95_ms": float(np.percentile(times, 95)),
        "plan_median_ms": statistics.median(plan_times),
        "runs": runs,
        "values": len(names),
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(
            f"re-steer ({len(names)} values, {runs} objectives): median {result['median_ms']:.2f} ms, "
            f"p95 {result['p95_ms']:.2f} ms (of which planning {result['plan_median_ms']:.2f} ms); goal <= 2 ms"
        )


if __name__ == "__main__":
    main()
