"""``compare``: several models' value profiles, measured alike, side by side (``couple_lite.compare``)."""

from __future__ import annotations

import click

from ..measure import VARIANTS
from ..research.compare import COMPARABLE_INSTRUMENTS
from ._common import THREADS_OPTION, command_line, engine_options, print_json, progress

__all__ = ["compare"]


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
    help="GGUF path or registered name; give it two or more times (the first is the reference).",
)
@click.option("--system", default="schwartz10", show_default=True, help="Value system: a built-in name or a JSON file.")
@click.option("--instrument", type=click.Choice(list(COMPARABLE_INSTRUMENTS)), default="likelihood", show_default=True)
@click.option(
    "--items",
    type=click.Path(dir_okay=False),
    default=None,
    help="Outside items CSV (columns item, value, agreement) instead of the built-in items.",
)
@click.option("--variant", type=click.Choice(list(VARIANTS)), default="default", show_default=True)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help='Write compare.md, compare.json and a radar plot compare.svg here (the plot needs ".[report]").',
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@THREADS_OPTION
def compare(models, system, instrument, items, variant, report_dir, as_json):
    """Measure each model's value profile with the same instrument and items, and print each
    model's levels and its difference from the first model, with standard errors.

    Example: couple-lite compare --model smollm2-135m --model gemma3-270m --report /tmp/compare
    """
    from .._table import format_table
    from ..measure import load_items
    from ..research.compare import compare_models, comparison_rows, rank_text, write_compare_report
    from ..values import load_value_system

    if len(models) < 2:
        raise click.UsageError("give --model at least twice: a comparison needs two or more models")
    vs = load_value_system(system)
    item_list, skipped = load_items(vs, items) if items else (None, 0)
    cmp = compare_models(
        models,
        vs,
        instrument,
        items=item_list,
        variant=variant,
        progress=None if as_json else progress("models"),
        **engine_options(),
    )
    written = write_compare_report(cmp, report_dir, command_line()) if report_dir else []
    if as_json:
        print_json(cmp.model_dump() | {"skipped_rows": skipped, "report": [str(p) for p in written]})
        return
    click.echo(
        f"{cmp.system}, {instrument} ({variant}), {cmp.n_items} prompts per model; levels are relative "
        "priorities (ipsatised per model)" + (f"; {skipped} rows of other value systems skipped" if skipped else "")
    )
    click.echo(format_table(*comparison_rows(cmp)))
    for m, r in cmp.spearman.items():
        click.echo(f"rank correlation of {m} with {cmp.models[0].model}: {rank_text(r)}")
    if written:
        click.echo(f"wrote {', '.join(str(p) for p in written)}")
