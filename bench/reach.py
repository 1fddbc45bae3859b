"""Reach: how far each value's vector moves its own value, and nothing else, at the fluency budget.

For each value alone: the pack's vector at the Steerer's fluency cap (the strength every plan is
capped to), the profile measured on held-out items (our evaluation items, never used in extraction
or calibration, or ``--items FILE``, e.g. an outside questionnaire passed by path), minus the
unsteered profile measured the same way; changes on the 1-6 scale through the Steerer's own
instrument-to-scale mapping. Fluency cost: the rise of mean negative log-likelihood per token of
fixed neutral text (nats/token; the budget the pack's cap was calibrated against).

Keys: ``reach_mean`` (own change, mean over values), ``specificity`` (mean own change / mean of the
mean |change| of the other values), ``rows_own_largest`` (values whose own change is the largest),
``nll_rise`` (mean fluency cost over values), ``per_value``.

    python bench/reach.py [--pack PACK] [--items FILE.csv] [--instrument likelihood] [--scale-dose X] [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite.calibrate import NEUTRAL_TEXT  # noqa: E402
from couple_lite.evaluate import eval_items  # noqa: E402
from couple_lite.measure import INSTRUMENTS, measure  # noqa: E402
from couple_lite.model_store import model_identity, resolve_model  # noqa: E402
from couple_lite.pack import default_pack_path, load_pack  # noqa: E402
from couple_lite.steering import Steerer  # noqa: E402
from couple_lite.vectors import steering_vector  # noqa: E402


def reach(steerer: Steerer, instrument: str, items, dose_scale: float = 1.0, progress=None) -> dict:
    """The reach figures of a Steerer's pack (see the module docstring)."""
    engine, pack, system = steerer.engine, steerer.pack, steerer.system
    names = pack.values
    dose = (steerer._limit or 0.03) * dose_scale  # strength: share of each block's residual norm

    def profile() -> np.ndarray:
        p = measure(engine, system, instrument, items=items, extraction=pack.extraction)
        return np.array([p.profile.get(n, np.nan) for n in names])

    base, base_nll = profile(), engine.mean_nll(NEUTRAL_TEXT)
    per_value, rows = {}, []
    for i, n in enumerate(names):
        coef = np.zeros(len(names))
        coef[i] = dose
        with engine.steered(steering_vector(pack.extraction, coef)):
            change = (profile() - base) * steerer.scale
            rise = engine.mean_nll(NEUTRAL_TEXT) - base_nll
        others = np.delete(change, i)
        per_value[n] = {"own": float(change[i]), "others_mean_abs": float(np.nanmean(np.abs(others))),
                        "largest": names[int(np.nanargmax(change))], "nll_rise": float(rise),
                        "change": dict(zip(names, map(float, change)))}
        rows.append(change)
        if progress:
            progress(i + 1, len(names))
    own = np.array([per_value[n]["own"] for n in names])
    other = np.array([per_value[n]["others_mean_abs"] for n in names])
    return {
        "reach_mean": float(np.nanmean(own)),
        "specificity": float(np.nanmean(own) / max(float(np.nanmean(other)), 1e-12)),
        "rows_own_largest": int(sum(per_value[n]["largest"] == n for n in names)),
        "n_values": len(names),
        "nll_rise": float(np.mean([per_value[n]["nll_rise"] for n in names])),
        "dose": dose,
        "per_value": per_value,
    }


def only_questionnaire(path: Path, name: str) -> Path:
    """A temporary copy of an item CSV with only one questionnaire's rows (nothing is kept after)."""
    import atexit
    import csv
    import tempfile

    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("questionnaire") == name]
    if not keep:
        raise click.UsageError(f"no row of {path} has questionnaire {name!r}")
    fd, tmp = tempfile.mkstemp(suffix=f"-{name}.csv")
    atexit.register(Path(tmp).unlink, missing_ok=True)
    with open(fd, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(keep[0]))
        w.writeheader()
        w.writerows(keep)
    return Path(tmp)


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--pack", "pack_path", default=None, help="Value-vector pack (default: the shipped one).")
@click.option("--items", "items_file", default=None, help="Item CSV (item, value, agreement) instead of our held-out items.")
@click.option("--questionnaire", default=None, help="Keep only the CSV rows whose 'questionnaire' column is this (e.g. PVQ40).")
@click.option("--instrument", type=click.Choice(sorted(INSTRUMENTS)), default="likelihood", show_default=True)
@click.option("--scale-dose", type=float, default=1.0, show_default=True, help="Multiply the fluency-capped strength.")
@click.option("--json", "as_json", is_flag=True)
def main(model, pack_path, items_file, questionnaire, instrument, scale_dose, as_json) -> None:
    from couple_lite.engine import Engine

    if questionnaire:
        if not items_file:
            raise click.UsageError("--questionnaire filters an --items file; give one")
        items_file = only_questionnaire(Path(items_file), questionnaire)

    path = resolve_model(model)
    name, sha = model_identity(path)
    engine = Engine(path, n_ctx=2048)
    pack = load_pack(pack_path or default_pack_path(name, "schwartz10"), sha, engine.n_layer, engine.n_embd)
    steerer = Steerer(engine, pack, name)
    items, source = eval_items(steerer.system, items_file)
    t0 = time.perf_counter()
    with click.progressbar(length=len(pack.values), label="steering each value", file=sys.stderr) as bar:
        result = reach(steerer, instrument, items, scale_dose, progress=lambda done, total: bar.update(1))
    result.update(items=source, n_items=len(items), instrument=instrument, pack=str(pack_path or "shipped"),
                  seconds=round(time.perf_counter() - t0, 1))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{source}, {len(items)} items, {instrument}; dose {result['dose']:.4f} of the residual norm")
    click.echo(f"{'value':<15} {'own':>7} {'others':>7} {'largest':<15} {'nll rise':>8}")
    for n, r in result["per_value"].items():
        click.echo(f"{n:<15} {r['own']:+7.3f} {r['others_mean_abs']:7.3f} {r['largest']:<15} {r['nll_rise']:8.3f}")
    click.echo(f"reach_mean {result['reach_mean']:+.3f}  specificity {result['specificity']:.2f}  rows_own_largest "
               f"{result['rows_own_largest']}/{result['n_values']}  nll_rise {result['nll_rise']:.3f}  ({result['seconds']} s)")


if __name__ == "__main__":
    main()
