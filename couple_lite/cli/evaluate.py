"""``eval``: how closely each steering method hits target value profiles, against baselines."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from ..measure import INSTRUMENTS
from ..research.methods import METHODS
from ._common import command_line, print_json, progress, steerer_for

__all__ = ["eval_"]


@click.command("eval")
@click.option(
    "--quick",
    is_flag=True,
    help="3 profiles, 2 items per value, 1 question each, short answers: checks the mechanics in a few minutes.",
)
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option(
    "--pack",
    "pack_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Value-vector pack (default: the shipped one).",
)
@click.option("--system", default="schwartz10", show_default=True)
@click.option(
    "--profiles",
    "profiles_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Target profiles JSON: a list of {name, values, priority}.",
)
@click.option(
    "--methods",
    default=None,
    help=f"Comma-separated methods (default: all): {', '.join(METHODS)}; vector methods also as "
    f"NAME@K, the vector multiplied by K (e.g. couple_lite@2).",
)
@click.option(
    "--items", type=click.Path(dir_okay=False), default=None, help="Outside items CSV instead of the held-out items."
)
@click.option("--instrument", type=click.Choice(list(INSTRUMENTS)), default="likelihood", show_default=True)
@click.option(
    "--judge",
    default="gemma3-270m",
    show_default=True,
    help="Answer judge: registered name or GGUF path, 'self' (the unsteered model) or 'none'.",
)
@click.option(
    "--max-tokens", type=click.IntRange(min=1), default=None, help="Tokens per answer (default 48; 24 with --quick)."
)
@click.option("--seed", type=click.IntRange(0, 2**32 - 2), default=0, show_default=True)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help='Write report.md, results.json and SVG plots here (plots need pip install -e ".[report]").',
)
@click.option(
    "--from-results",
    type=click.Path(dir_okay=False),
    default=None,
    help="Re-render a saved results.json (with --report or --json) instead of running.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_(
    quick,
    model,
    pack_path,
    system,
    profiles_file,
    methods,
    items,
    instrument,
    judge,
    max_tokens,
    seed,
    report_dir,
    from_results,
    as_json,
):
    """Measure how closely each method hits target value profiles (see the docs' evaluation page;
    the methods are listed under --methods).

    Example: couple-lite eval --quick --report /tmp/eval
    """
    from ..research import EvalResult, evaluate, summary_table, write_report

    if from_results:
        try:
            res = EvalResult.model_validate_json(Path(from_results).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise click.BadParameter(
                f"cannot read {from_results}: {str(e).splitlines()[0]}", param_hint="--from-results"
            ) from None
    else:
        res = evaluate(
            steerer_for(model, pack_path, system),
            profiles_file=profiles_file,
            methods=[m.strip() for m in methods.split(",") if m.strip()] if methods else None,
            items=items,
            instrument=instrument,
            judge=None if judge == "none" else judge,
            quick=quick,
            max_tokens=max_tokens,
            seed=seed,
            progress=progress("eval"),
        )
    if report_dir:
        with warnings.catch_warnings(record=True) as said:  # e.g. 'plots skipped': one line each
            warnings.simplefilter("always")
            path = write_report(res, report_dir, command=command_line())
        for w in said:
            click.echo(f"warning: {w.message}", err=True)
        click.echo(f"wrote {path}", err=True)
    if as_json:
        print_json(res.model_dump())
    else:
        click.echo(summary_table(res))
