"""``calibrate``: a pack's response matrix and fluency budget, the same pipeline ``pack build`` runs."""

from __future__ import annotations

import click

from ..measure import INSTRUMENTS
from ..vectors import KL_BUDGET, SWEEP_STRENGTHS
from ._common import engine_for, pack_for_engine, print_json, progress

__all__ = ["calibrate"]


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True)
@click.option(
    "--pack", "pack_path", type=click.Path(dir_okay=False), default=None, help="Pack to calibrate (updated in place)."
)
@click.option("--instrument", type=click.Choice(list(INSTRUMENTS)), default="likelihood", show_default=True)
@click.option(
    "--strength",
    default=",".join(map(str, SWEEP_STRENGTHS)),
    show_default=True,
    help="Sweep strength(s), comma-separated (share of the residual norm per steered block).",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0, min_open=True, max=10),
    default=KL_BUDGET,
    show_default=True,
    help="Fluency budget: mean KL per token (nats) on the model's own answers to everyday prompts.",
)
@click.option(
    "--fast-budget",
    is_flag=True,
    help="Combined-vector costs from the vectors' cosines instead of "
    "steering each pair of values (saves ~3 min on the default model).",
)
@click.option("--no-fluency", is_flag=True, help="Skip the fluency budget (the pack keeps the one it has).")
@click.option(
    "--item-information",
    "item_info_only",
    is_flag=True,
    help="Only measure how informative each calibration item is (for measure --items-budget) and store it; "
    "R and the budget are kept.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calibrate(model, system, pack_path, instrument, strength, budget, fast_budget, no_fluency, item_info_only, as_json):
    """Measure the response matrix R (steer each value, measure all) and the fluency budget; store them in the pack.

    The same calibration `couple-lite pack build` runs after extraction. Example:
    couple-lite calibrate --pack mine.npz --instrument likelihood --strength 0.015,0.03 --budget 0.1
    """
    from ..errors import CoupleError
    from ..measure import builtin_items
    from ..values import load_value_system
    from ..vectors import CalibrationSettings, apply_calibration, save_pack
    from ..vectors import calibrate as run_calibration

    load_value_system(system)  # an unknown system is one line before the model loads

    doses = _strengths(strength)
    engine = engine_for(model)
    pack, path = pack_for_engine(pack_path, engine, system)
    vs = pack.value_system()
    if item_info_only:
        return _item_information(engine, vs, pack, path, as_json)
    items = pack.calibration_items()  # a user's own items, else the system's shipped ones
    if items is None:
        try:
            builtin_items(vs.name)
        except CoupleError:
            raise click.UsageError(
                f"{vs.name!r} has no shipped calibration items: extract its pack with --texts "
                'FILE whose "items" give at least two statements per value'
            ) from None
    settings = CalibrationSettings(
        instrument, doses, None if no_fluency else budget, "cosines" if fast_budget else "pairs"
    )
    bars: dict = {}
    cal = run_calibration(
        engine,
        vs,
        pack.extraction,
        settings,
        items=items,
        progress=lambda d, n, step: bars.setdefault(step, progress(step))(d, n),
    )
    save_pack(apply_calibration(pack, cal), path)
    data = {
        "pack": str(path),
        "instrument": instrument,
        "strengths": list(doses),
        "values": pack.values,
        "response": cal.response.tolist(),
        "specificity": pack.metrics["specificity"],
        "response_fit": pack.metrics.get("response_fit"),
        "fluency_limit": None if pack.fluency_limit is None else dict(zip(pack.values, map(float, pack.fluency_limit))),
    }
    if as_json:
        print_json(data)
    else:
        _show(data, path)


def _strengths(text: str) -> tuple[float, ...]:
    """--strength: comma-separated shares of the residual norm, each in (0, 1)."""
    try:
        doses = tuple(float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter("strengths must be numbers, e.g. 0.015,0.03", param_hint="--strength") from None
    if not doses or any(not 0 < d < 1 for d in doses):
        raise click.BadParameter(
            "strengths must lie between 0 and 1 (share of the residual norm)", param_hint="--strength"
        )
    return doses


def _show(data: dict, path) -> None:
    """The calibration for people: R's specificity, R itself and the cross-validated shrinkage."""
    from .._table import format_table

    sp, values, R = data["specificity"], data["values"], data["response"]
    click.echo(
        f"updated {path}; R per unit strength on {data['instrument']}: diagonal mean {sp['diag_mean']:.2f}, "
        f"off-diagonal mean |.| {sp['offdiag_mean_abs']:.2f}, own value largest in {sp['rows_diag_largest']}/"
        f"{sp['n_values']} rows"
    )
    short = [v[:6] for v in values]
    click.echo(
        format_table(["steer \\ measured"] + short, [[v] + list(map(float, R[i])) for i, v in enumerate(values)])
    )
    fit = data["response_fit"]
    if fit:
        click.echo(
            f"decoupled solve: off-diagonal kept at {fit['alpha']:.1f} (cross-validated on the calibration items: "
            f"score {max(fit['score']):.3f} vs the diagonal's {fit['diagonal']:.3f} and all of R's {fit['full']:.3f})"
        )


def _item_information(engine, vs, pack, path, as_json):
    import numpy as np

    from ..vectors import item_information, save_pack

    if pack.response is None:
        raise click.UsageError("calibrate the pack first (the item information uses its doses)")
    doses = pack.fluency_limit if pack.fluency_budget is not None else np.full(len(pack.values), pack.strength)
    info = item_information(engine, vs, pack.extraction, np.asarray(doses), progress=progress("item information"))
    pack.metrics["item_information"] = {
        "instrument": "likelihood",
        "items": info,
        "doses": dict(zip(pack.values, map(float, doses))),
    }
    save_pack(pack, path)
    if as_json:
        print_json({"pack": str(path), "item_information": info})
        return
    ranked = sorted(info.items(), key=lambda kv: -kv[1])
    click.echo(
        f"updated {path}: information of {len(info)} calibration items; most informative: "
        + "; ".join(f"{t[:40]!r} {x:+.2f}" for t, x in ranked[:3])
    )
