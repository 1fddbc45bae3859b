"""Is one method's change ρ really above another's? A paired bootstrap over target profiles, read
from a saved evaluation (``eval --report DIR`` writes DIR/results.json): the mean difference per
profile and its 95% percentile interval (scipy.stats.bootstrap, 10,000 resamples, seed 0).

    python bench/eval_bootstrap.py docs/eval/modes/results.json --pair couple_lite_hybrid:couple_lite+prompt [--metric change_spearman] [--json]
"""

from __future__ import annotations

import json
import math

import click
import numpy as np
from scipy.stats import bootstrap


def paired_difference(rows: list[dict], a: str, b: str, metric: str) -> dict:
    """Mean over profiles of a's metric minus b's, with its 95% bootstrap interval."""
    by: dict[str, dict[str, float]] = {}
    for r in rows:
        v = r.get(metric)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            by.setdefault(r["method"], {})[r["profile"]] = float(v)
    for m in (a, b):
        if m not in by:
            raise click.UsageError(f"no {metric} for method {m!r} in this run; it has {', '.join(sorted(by))}")
    profiles = sorted(set(by[a]) & set(by[b]))
    x = np.array([by[a][p] - by[b][p] for p in profiles])
    res = bootstrap((x,), np.mean, n_resamples=10_000, method="percentile", rng=np.random.default_rng(0))
    lo, hi = res.confidence_interval
    return {"a": a, "b": b, "metric": metric, "profiles": len(profiles), "mean_difference": float(x.mean()),
            "ci95": [float(lo), float(hi)], "beyond_noise": bool(lo > 0 or hi < 0)}


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option("--pair", "pairs", multiple=True, required=True, help="A:B, e.g. couple_lite:value_prompt (repeatable).")
@click.option("--metric", default="change_spearman", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(results, pairs, metric, as_json) -> None:
    try:
        rows = json.loads(open(results, encoding="utf-8").read())["rows"]
    except (ValueError, KeyError, TypeError) as e:
        raise click.UsageError(f"{results} is not an eval results.json ({e}); write one with eval --report DIR")
    out = []
    for p in pairs:
        a, sep, b = p.partition(":")
        if not sep or not a or not b:
            raise click.UsageError(f"--pair {p!r}: give two methods as A:B")
        out.append(paired_difference(rows, a, b, metric))
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for r in out:
        click.echo(f"{r['a']} - {r['b']}: {r['mean_difference']:+.2f} [{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] "
                   f"over {r['profiles']} profiles" + ("  (beyond noise)" if r["beyond_noise"] else ""))


if __name__ == "__main__":
    main()
