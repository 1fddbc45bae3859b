"""``pack build``: a model to a calibrated value-vector pack in one command (``couple_lite.vectors.build``)."""

from __future__ import annotations

import click

from ._common import engine_for, parse_layers, print_json, progress

__all__ = ["pack"]


@click.group()
def pack():
    """Value-vector packs: build one for a model.

    Example: couple-lite pack build --model smollm2-135m -o my-pack.npz
    """


@pack.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True, help="Value system (built in).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Pack file to write (default: models/packs/<model>-<system>.npz).",
)
@click.option("--layers", default=None, help="Layer range FIRST-LAST (default: chosen from held-out separability).")
@click.option(
    "--budget-minutes",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Pick cheaper settings until the estimated build time fits, and say what they give up.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def build(model, system, output, layers, budget_minutes, as_json):
    """Extract, calibrate and budget a pack in one resumable command (an interrupted build resumes
    from <pack>.build/ when run again with the same options).

    Example: couple-lite pack build --model gemma3-270m --budget-minutes 10
    """
    from dataclasses import replace

    from ..values import load_value_system
    from ..vectors import BuildSettings, build_pack, default_pack_path, settings_within

    vs = load_value_system(system)
    engine = engine_for(model)
    name, sha = engine.identity
    settings, estimate = settings_within(
        engine, vs, budget_minutes, replace(BuildSettings(), layers=parse_layers(layers))
    )
    out = output or default_pack_path(name, vs.name)
    if not as_json:
        click.echo(
            f"building {out} for {name}: estimated {sum(estimate.values()) / 60:.1f} min "
            f"({', '.join(f'{k} {v / 60:.1f}' for k, v in estimate.items())})",
            err=True,
        )
        for g in settings.gave_up:
            click.echo(f"to fit {budget_minutes:g} min: {g}", err=True)
    bars: dict = {}

    def show(done: int, total: int, step: str) -> None:
        bars.setdefault(step, progress(step))(done, total)

    _, summary = build_pack(engine, vs, name, sha, out, settings, progress=show)
    summary["estimated_seconds"] = estimate
    if as_json:
        print_json(summary)
        return
    q = summary["quality"]
    took = ", ".join(f"{k} {v / 60:.1f} min" for k, v in summary["seconds"].items())
    click.echo(f"wrote {summary['pack']}{' (resumed)' if summary['resumed'] else ''}: {took}")
    click.echo(
        f"quality on the calibration items: reach {q['reach_mean']:+.2f} scale points, specificity "
        f"{q['specificity']:.2f}, own value largest in {q['rows_own_largest']}/{len(vs.names)} rows, at KL "
        f"{q['kl']:.2f} per value (outside items: python bench/reach.py --pack {summary['pack']})"
    )
