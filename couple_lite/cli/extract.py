"""``extract``: value directions from the model's hidden states, written as a pack (not yet calibrated)."""

from __future__ import annotations

import click

from ..vectors import EXTRACTORS, PAIR_KINDS
from ._common import engine_for, parse_layers, print_json, progress

__all__ = ["extract"]


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option(
    "--system",
    default="schwartz10",
    show_default=True,
    help="Value system: a built-in name, or your own system's JSON file (then give --texts).",
)
@click.option(
    "--texts",
    "texts_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Your own contrast texts (JSON: pairs and calibration items per value; see README, Your own "
    "value system) instead of the shipped ones.",
)
@click.option("--method", type=click.Choice(list(EXTRACTORS)), default="mean", show_default=True)
@click.option(
    "--pairs",
    type=click.Choice(list(PAIR_KINDS)),
    default="context",
    show_default=True,
    help="context: same situation, value honoured or not; varied: 68 pairs per value in five registers "
    "(schwartz10, moral_foundations); all: context + varied (the shipped pack's); persona: 'you value X' prompts.",
)
@click.option("--layers", default=None, help="Layer range FIRST-LAST (default: chosen from held-out separability).")
@click.option("--keep-confounds", is_flag=True, help="Do not project out confound and common-mode directions.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Pack file to write (default: models/packs/<model>-<system>.npz).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write the per-block held-out separability of each value here (layers.json/.md/.svg).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def extract(model, system, texts_file, method, pairs, layers, keep_confounds, output, report_dir, as_json):
    """Extract value directions from the model's hidden states and write a value-vector pack.

    Example: couple-lite extract --pairs all --method ovr --layers 11-17 -o models/packs/mine.npz
    (the shipped pack's recipe)
    """
    from ..values import BUILTIN_SYSTEMS, load_value_system
    from ..vectors import ValuePack, default_pack_path, load_texts, save_pack
    from ..vectors import extract as run_extract

    vs = load_value_system(system)
    texts = load_texts(texts_file, vs) if texts_file else None  # checked before the model loads
    engine = engine_for(model)
    name, sha = engine.identity
    ex = run_extract(
        engine,
        vs,
        method,
        pairs,
        parse_layers(layers),
        remove=not keep_confounds,
        progress=progress("hidden states"),
        texts=texts,
    )
    metrics = {}
    if vs.name not in BUILTIN_SYSTEMS or str(system).lower().endswith(".json"):  # the pack carries the system
        metrics["system_definition"] = vs.model_dump(mode="json")
    if texts and texts["items"]:
        metrics["calibration_items"] = [{"text": t, "value": v} for v, ts in texts["items"].items() for t in ts]
    path = save_pack(
        ValuePack(sha, name, engine.architecture, vs.name, ex, metrics=metrics),
        output or default_pack_path(name, vs.name),
    )
    lo, hi = ex.layer_range
    data = {
        "pack": str(path),
        "layer_range": [lo, hi],
        "settings": ex.settings,
        "heldout_value_accuracy": float(ex.value_accuracy[lo : hi + 1].mean()),
        "removed_share": dict(zip(ex.values, map(float, ex.removed[:, lo : hi + 1].mean(axis=1)))),
    }
    if report_dir:
        from ..research import write_layer_report

        data["report"] = [str(p) for p in write_layer_report(ex, report_dir)]
    if as_json:
        print_json(data)
        return
    from .._table import format_table

    click.echo(
        f"wrote {path}: layers {lo}-{hi}, held-out value accuracy {data['heldout_value_accuracy']:.2f} "
        f"(chance {1 / len(ex.values):.2f})"
    )
    rows = [
        [v, float(ex.pair_accuracy[i, lo : hi + 1].mean()), data["removed_share"][v]] for i, v in enumerate(ex.values)
    ]
    click.echo(format_table(["value", "held-out pair accuracy", "share removed as confound"], rows))
