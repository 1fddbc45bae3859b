"""``pack build``'s time: measured per step against its own estimate, and estimated per model.

With a build (the default): builds a pack for ``--model`` into a temporary folder and reports each
step's seconds beside the estimate made before it started, the settings a ``--budget-minutes``
gave up, and the pack's quality keys. With ``--estimate-only``: only the estimate, for each
``--model`` given (the model is loaded and its speed measured; nothing is built), labelled as such.
Extraction against llama.cpp's own ``llama-cvector-generator`` is ``bench/extract_vs_cvector_generator.py``.

    python bench/pack_build.py [--model NAME|PATH ...] [--budget-minutes M] [--estimate-only] [--json]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import load_engine, load_value_system
from couple_lite.vectors import BuildSettings, build_pack, settings_within


@click.command()
@click.option("--model", "models", multiple=True, default=("smollm2-135m",), show_default=True)
@click.option("--system", default="schwartz10", show_default=True)
@click.option("--budget-minutes", type=float, default=None)
@click.option("--estimate-only", is_flag=True)
@click.option("--json", "as_json", is_flag=True)
def main(models, system, budget_minutes, estimate_only, as_json):
    vs = load_value_system(system)
    out = []
    for model in models:
        engine = load_engine(model)
        name, sha = engine.identity
        settings, est = settings_within(engine, vs, budget_minutes, BuildSettings())
        row = {
            "model": name,
            "file_size": engine.info()["file_size"],
            "estimated_seconds": est,
            "estimated_total_min": sum(est.values()) / 60,
            "gave_up": list(settings.gave_up),
            "kind": "estimate" if estimate_only else "measured",
        }
        if not estimate_only:
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                _, summary = build_pack(engine, vs, name, sha, Path(tmp) / "p.npz", settings)
                row.update(
                    seconds=summary["seconds"], total_min=(time.perf_counter() - t0) / 60, quality=summary["quality"]
                )
        engine.close()
        out.append(row)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for r in out:
        line = f"{r['model']}: estimated {r['estimated_total_min']:.1f} min"
        if "total_min" in r:
            line += (
                f", measured {r['total_min']:.1f} min ("
                + ", ".join(f"{k} {v / 60:.1f}/{r['estimated_seconds'][k] / 60:.1f}" for k, v in r["seconds"].items())
                + " measured/estimated)"
            )
        click.echo(line + (f"; gave up: {'; '.join(r['gave_up'])}" if r["gave_up"] else ""))


if __name__ == "__main__":
    main()
