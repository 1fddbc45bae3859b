"""Is one method's change ρ really above another's? A paired bootstrap over target profiles, read
from a saved evaluation (``eval --report DIR`` writes DIR/results.json): the mean difference per
profile and its 95% percentile interval (scipy.stats.bootstrap, 10,000 resamples, seed 0).

    python bench/eval_bootstrap.py docs/evaluation/schwartz10/results.json \
        --pair couple_lite_hybrid:couple_lite+prompt [--metric change_spearman] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from pydantic import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite.research import PAIRED_METRICS, EvalResult, paired_difference


@click.command()
@click.argument("results", type=click.Path(exists=True, dir_okay=False))
@click.option("--pair", "pairs", multiple=True, required=True, help="A:B, e.g. couple_lite:value_prompt (repeatable).")
@click.option("--metric", type=click.Choice(PAIRED_METRICS), default="change_spearman", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(results, pairs, metric, as_json) -> None:
    try:
        res = EvalResult.model_validate_json(Path(results).read_text(encoding="utf-8"))
    except (ValidationError, UnicodeDecodeError) as e:
        raise click.UsageError(
            f"{results} is not an eval results.json ({type(e).__name__}); write one with eval --report DIR"
        ) from None
    out = []
    for p in pairs:
        a, sep, b = p.partition(":")
        if not sep or not a or not b:
            raise click.UsageError(f"--pair {p!r}: give two methods as A:B")
        for m in (a, b):
            if m not in res.methods:
                raise click.UsageError(f"method {m!r} is not in this run; it has {', '.join(res.methods)}")
        d = paired_difference(res, a, b, metric)
        if d is None:
            raise click.UsageError(f"{a} and {b} share fewer than 3 profiles with a {metric}")
        out.append(
            {
                "a": a,
                "b": b,
                "metric": metric,
                "profiles": d.profiles,
                "mean_difference": d.mean,
                "ci95": [d.low, d.high],
                "beyond_noise": d.beyond_noise,
            }
        )
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for r in out:
        click.echo(
            f"{r['a']} - {r['b']}: {r['mean_difference']:+.2f} [{r['ci95'][0]:+.2f}, {r['ci95'][1]:+.2f}] "
            f"over {r['profiles']} profiles" + ("  (beyond noise)" if r["beyond_noise"] else "")
        )


if __name__ == "__main__":
    main()
