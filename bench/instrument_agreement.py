"""Agreement between measurement instruments, and test-retest, on the default model and pack.

For the unsteered model and under one steering objective, measures the value profile with every
instrument (plus the outside ValueBench items in ../shared/data when present) and prints Spearman
correlations between instruments: of the profiles, and of the changes steering caused. Then
repeats each instrument with paraphrased prompts and a reversed scale/labels (test-retest).

    python bench/instrument_agreement.py [--values "tradition=6,self_direction=1"] [--json]

The steered condition uses the steering pipeline (``Steerer``) with the shipped, calibrated pack.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import click
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite.engine import Engine  # noqa: E402
from couple_lite.measure import load_items, measure  # noqa: E402
from couple_lite.model_store import model_identity, resolve_model  # noqa: E402
from couple_lite.objective import make_objective, parse_levels  # noqa: E402
from couple_lite.steering import Steerer  # noqa: E402
from couple_lite.pack import default_pack_path, load_pack  # noqa: E402
from couple_lite.values import load_value_system  # noqa: E402

OUTSIDE = ROOT.parent / "shared" / "data" / "valuebench_value_items.csv"


def rho(a: dict, b: dict, names) -> float:
    return float(spearmanr([a[n] for n in names], [b[n] for n in names])[0])


@click.command()
@click.option("--values", "values_", default="tradition=6,self_direction=1", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(values_: str, as_json: bool) -> None:
    vs = load_value_system("schwartz10")
    path = resolve_model(None)
    name, sha = model_identity(path)
    engine = Engine(path)
    pack = load_pack(default_pack_path(name, vs.name), sha, engine.n_layer, engine.n_embd)
    levels = parse_levels(values_, vs)
    steerer = Steerer(engine, pack, name)
    plan = steerer.plan(make_objective(values_, None, vs), explain=False)
    vector = steerer.vector(plan)
    outside = load_items(vs, OUTSIDE)[0] if OUTSIDE.exists() else None
    instruments = [("questionnaire", None), ("forced_choice", None), ("likelihood", None), ("probe", None)]
    if outside:
        instruments.append(("questionnaire", "valuebench"))
    t0 = time.perf_counter()
    profiles: dict[str, dict[str, dict]] = {"unsteered": {}, "steered": {}}
    for cond in profiles:
        with engine.steered(vector if cond == "steered" else None):
            for inst, items in instruments:
                key = inst if items is None else f"{inst}:{items}"
                click.echo(f"measuring {cond} {key} ...", err=True)
                p = measure(engine, vs, inst, items=outside if items else None, extraction=pack.extraction)
                profiles[cond][key] = p.profile
    names = vs.names
    keys = list(profiles["unsteered"])
    change = {k: {n: profiles["steered"][k][n] - profiles["unsteered"][k][n] for n in names} for k in keys}
    agreement = {
        "unsteered": {f"{a} ~ {b}": rho(profiles["unsteered"][a], profiles["unsteered"][b], names) for a, b in itertools.combinations(keys, 2)},
        "steered": {f"{a} ~ {b}": rho(profiles["steered"][a], profiles["steered"][b], names) for a, b in itertools.combinations(keys, 2)},
        "change": {f"{a} ~ {b}": rho(change[a], change[b], names) for a, b in itertools.combinations(keys, 2)},
    }
    target = {n: levels.get(n, 3.5) for n in names}
    hit = {k: rho(change[k], target, names) for k in keys}
    retest = {}
    for inst in ("questionnaire", "forced_choice", "likelihood"):
        for variant in ("paraphrase", "reversed"):
            click.echo(f"measuring retest {inst} {variant} ...", err=True)
            p = measure(engine, vs, inst, variant=variant)
            retest[f"{inst}: default ~ {variant}"] = rho(profiles["unsteered"][inst], p.profile, names)
    result = {"objective": values_, "coefficients": plan.coefficients, "reached": plan.reached, "agreement": agreement,
              "change_vs_objective": hit, "retest": retest, "profiles": profiles,
              "seconds": time.perf_counter() - t0}
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for section, rows in agreement.items():
        click.echo(f"\nSpearman between instruments ({section}, {len(names)} values):")
        for k, r in rows.items():
            click.echo(f"  {k:<48} {r:+.2f}")
    click.echo(f"\nSpearman of the steering change with the objective ({values_}, others at 3.5):")
    for k, r in hit.items():
        click.echo(f"  {k:<48} {r:+.2f}")
    click.echo("\nTest-retest (Spearman, unsteered):")
    for k, r in retest.items():
        click.echo(f"  {k:<48} {r:+.2f}")
    click.echo(f"\n{result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
