"""``measure``: the model's value profile, unsteered or steered."""

from __future__ import annotations

import click

from ..measure import HALF_RANGE, INSTRUMENTS, MID, VARIANTS
from ._common import SCOPE_OPTION, engine_for, pack_for_engine, print_json

__all__ = ["measure"]

UNCALIBRATED_STRENGTH = 0.03  # measure --values with a pack that has no R: strength at either end of the scale


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True)
@click.option(
    "--pack",
    "pack_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Value-vector pack (for --values and the probe).",
)
@click.option(
    "--values",
    "values_",
    default=None,
    help='Steer before measuring, e.g. "power=6" (the steering pipeline when the pack is calibrated).',
)
@click.option(
    "--strength",
    type=float,
    default=UNCALIBRATED_STRENGTH,
    show_default=True,
    help="Uncalibrated pack only: strength x (level-3.5)/2.5 per named value.",
)
@click.option(
    "--instrument",
    type=click.Choice(list(INSTRUMENTS)),
    default="likelihood",
    show_default=True,
    help="How to measure (likelihood: the validated one; see the docs' validity page).",
)
@click.option(
    "--items", type=click.Path(dir_okay=False), default=None, help="Outside items CSV (columns item, value, agreement)."
)
@click.option(
    "--variant",
    type=click.Choice(list(VARIANTS)),
    default="default",
    show_default=True,
    help="Prompt wording (paraphrase), reversed scale/labels (for test-retest), or pooled: averaged over "
    "several templates and both answer orders (steadier, 3-5x slower).",
)
@click.option(
    "--items-budget",
    type=click.IntRange(min=1),
    default=None,
    help="Likelihood instrument: only the N most informative calibration items per value (the pack's "
    "calibrate --item-information).",
)
@SCOPE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def measure(model, system, pack_path, values_, strength, instrument, items, variant, items_budget, as_json):
    """Measure the model's value profile (1-6 scale, ipsatised), unsteered or steered.

    Example: couple-lite measure --instrument forced_choice --json
    """
    import numpy as np

    from ..measure import informative_items, load_items
    from ..measure import measure as run_measure
    from ..values import load_value_system, make_objective, parse_levels
    from ..vectors import steering_vector

    vs = load_value_system(system)
    if items_budget and (instrument != "likelihood" or items):
        raise click.UsageError(
            "--items-budget selects among the built-in calibration items of the likelihood "
            "instrument: use --instrument likelihood and no --items"
        )
    engine = engine_for(model)
    pack = None
    if values_ or instrument == "probe" or pack_path or items_budget:
        pack, _ = pack_for_engine(pack_path, engine, vs.name)
    item_list, skipped = load_items(vs, items) if items else (None, 0)
    if items_budget:
        info = pack.metrics.get("item_information")
        if not info:
            raise click.UsageError("this pack has no item information; run `couple-lite calibrate --item-information`")
        item_list = informative_items(load_items(vs)[0], info["items"], items_budget)
    vector = None
    if values_ and pack.response is not None:  # calibrated pack: the full steering pipeline
        from ..steering import Steerer

        st = Steerer(engine, pack, engine.identity[0])
        vector = st.vector(st.plan(make_objective(values_, None, vs), explain=False))
    elif values_:  # uncalibrated pack: full strength at either end of the scale, none at its middle
        levels = parse_levels(values_, vs)
        coef = np.array([strength * (levels[v] - MID) / HALF_RANGE if v in levels else 0.0 for v in pack.values])
        vector = steering_vector(pack.extraction, coef)
    with engine.steered(vector):
        prof = run_measure(
            engine, vs, instrument, items=item_list, variant=variant, extraction=pack.extraction if pack else None
        )
    data = prof.model_dump() | {"skipped_rows": skipped, "steered": values_}
    if as_json:
        print_json(data)
        return
    from .._table import format_table

    click.echo(
        f"{instrument} ({variant}), {prof.n_items} prompts"
        + (f", steered: {values_}" if values_ else "")
        + (f", raw mean {prof.raw_mean:.2f}" if prof.raw_mean is not None else "")
        + (f", {skipped} rows of other value systems skipped" if skipped else "")
    )
    click.echo(format_table(["value", "level", "± se"], [[v, prof.profile[v], prof.sd[v]] for v in prof.profile]))
    if prof.missing:
        click.echo(f"no items for: {', '.join(prof.missing)}")
