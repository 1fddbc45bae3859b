"""Models compared (the cultural PVQ study's use case): each model's value profile measured with one
instrument on one set of items, and each model's difference from the first with its standard error.

Profiles are ipsatised per model (centred on the model's own mean, as PVQ scoring does), so a
comparison reads *relative* priorities: "B puts tradition higher among its values than A does",
not "B has more of every value". Differences are paired over the shared items where the instrument
scores items (likelihood, questionnaire), which cancels what the items themselves contribute."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from .._io import write_text
from .._table import format_table
from ..engine import Engine, model_identity, resolve_model
from ..errors import CoupleError
from ..measure import INSTRUMENTS, Item, Profile, load_items, measure
from ..values import ValueSystem

__all__ = [
    "ModelProfile",
    "Comparison",
    "COMPARABLE_INSTRUMENTS",
    "compare_profiles",
    "compare_models",
    "comparison_rows",
    "rank_text",
    "write_compare_report",
]

# the probe's scale is per model (its largest projection is set to reach 1 or 6) and it needs each
# model's own pack: its levels cannot be compared across models
COMPARABLE_INSTRUMENTS = tuple(k for k in INSTRUMENTS if k != "probe")


class ModelProfile(BaseModel):
    """One model's measured profile, named by the model and identified by its file's sha256."""

    model: str
    sha256: str
    profile: Profile


class Comparison(BaseModel):
    """Every model's profile; for each model after the first, per value: its level minus the first
    model's, the standard error of that difference, and the rank correlation of the two profiles."""

    system: str
    instrument: str
    variant: str
    n_items: int
    models: list[ModelProfile]
    difference: dict[str, dict[str, float]]
    difference_se: dict[str, dict[str, float]]
    spearman: dict[str, float | None]  # None where a profile is flat (no ranks to correlate)
    paired: bool  # True: differences paired over the shared items


def _paired_se(a: Profile, b: Profile, items: Sequence[Item], value: str) -> float:
    """The standard error of (b - a) at ``value``, paired over its items (each model's scores centred
    on that model's own mean, as its profile is)."""
    idx = [i for i, it in enumerate(items) if it.value == value]
    if len(idx) < 2:
        return 0.0
    d = (np.asarray(b.item_scores)[idx] - b.raw_mean) - (np.asarray(a.item_scores)[idx] - a.raw_mean)
    return float(d.std(ddof=1) / math.sqrt(len(idx)))


def compare_profiles(models: Sequence[ModelProfile], items: Sequence[Item] | None = None) -> Comparison:
    """Differences from the first model. Paired standard errors where every profile has item scores
    for the same ``items``; otherwise the two profiles' errors are taken as independent."""
    if len(models) < 2:
        raise CoupleError("a comparison needs at least two models; pass --model twice or more")
    first = models[0].profile
    for m in models[1:]:
        p = m.profile
        if (p.system, p.instrument, p.variant, p.n_items) != (
            first.system,
            first.instrument,
            first.variant,
            first.n_items,
        ):
            raise CoupleError(
                f"{m.model!r} was measured differently from {models[0].model!r}; measure every model "
                "with the same system, instrument, variant and items"
            )
    paired = items is not None and all(
        m.profile.item_scores is not None and len(m.profile.item_scores) == len(items) for m in models
    )
    from scipy.stats import spearmanr  # ~0.7 s to import: only a comparison ranks

    shared = [v for v in first.profile if all(v in m.profile.profile for m in models)]
    diff, se, rho = {}, {}, {}
    for m in models[1:]:
        p = m.profile
        diff[m.model] = {v: p.profile[v] - first.profile[v] for v in shared}
        se[m.model] = {
            v: _paired_se(first, p, items, v) if paired and items is not None else math.hypot(first.sd[v], p.sd[v])
            for v in shared
        }
        x, y = [first.profile[v] for v in shared], [p.profile[v] for v in shared]
        rho[m.model] = float(spearmanr(x, y)[0]) if len(set(x)) > 1 and len(set(y)) > 1 else None
    return Comparison(
        system=first.system,
        instrument=first.instrument,
        variant=first.variant,
        n_items=first.n_items,
        models=list(models),
        difference=diff,
        difference_se=se,
        spearman=rho,
        paired=paired,
    )


def compare_models(
    models: Sequence[str | Path],
    system: ValueSystem,
    instrument: str = "likelihood",
    *,
    items: list[Item] | None = None,
    variant: str = "default",
    progress: Callable[[int, int, str], None] | None = None,
    **engine_options,
) -> Comparison:
    """Load each model in turn (one in memory at a time), measure it, and compare. ``models`` are GGUF
    paths or registered names; ``engine_options`` go to every ``Engine`` (n_threads, n_ctx, ...)."""
    if instrument not in COMPARABLE_INSTRUMENTS:
        raise CoupleError(
            f"instrument {instrument!r} cannot compare models (its scale is per model); "
            f"use one of {', '.join(COMPARABLE_INSTRUMENTS)}"
        )
    paths = [resolve_model(m) for m in models]
    idents = [model_identity(p) for p in paths]
    seen: dict[str, str] = {}
    for m, (_, sha) in zip(models, idents):
        if sha in seen:
            raise CoupleError(f"{str(m)!r} is the same file as {seen[sha]!r}; compare different models")
        seen[sha] = str(m)
    items = items or load_items(system)[0]
    out = []
    for k, (path, (name, sha)) in enumerate(zip(paths, idents)):
        if progress:
            progress(k, len(paths), name)
        engine = Engine(path, **engine_options)
        try:
            prof = measure(engine, system, instrument, items=items, variant=variant)
        finally:
            engine.close()
        out.append(ModelProfile(model=name, sha256=sha, profile=prof))
    if progress:
        progress(len(paths), len(paths), "")
    return compare_profiles(out, items)


def comparison_rows(cmp: Comparison) -> tuple[list[str], list[list]]:
    """A table: per value, each model's level ± se, then each later model's difference ± its se."""
    first = cmp.models[0]
    header = (
        ["value"] + [f"{m.model} (± se)" for m in cmp.models] + [f"{m.model} - {first.model}" for m in cmp.models[1:]]
    )
    rows = []
    for v in cmp.difference[cmp.models[1].model]:
        rows.append(
            [v]
            + [f"{m.profile.profile[v]:.2f} ± {m.profile.sd[v]:.2f}" for m in cmp.models]
            + [f"{cmp.difference[m.model][v]:+.2f} ± {cmp.difference_se[m.model][v]:.2f}" for m in cmp.models[1:]]
        )
    return header, rows


def rank_text(r: float | None) -> str:
    """A rank correlation for people: signed, two decimals, or why there is none."""
    return "undefined (a flat profile)" if r is None else f"{r:+.2f}"


def write_compare_report(cmp: Comparison, directory: str | Path, command: str = "") -> list[Path]:
    """``compare.json``, ``compare.md`` and (with the ``report`` extra) ``compare.svg``, a radar of
    every model's profile with ±1 se bands, in ``directory``."""
    d = Path(directory)
    header, rows = comparison_rows(cmp)
    md = [
        f"# Models compared: {cmp.system}, {cmp.instrument} instrument ({cmp.variant}), {cmp.n_items} prompts",
        "",
        *([f"Command: `{command}`", ""] if command else []),
        "Levels are ipsatised per model (relative priorities). Differences are "
        + ("paired over the shared items." if cmp.paired else "taken with independent standard errors."),
        "",
        "```",
        format_table(header, rows),
        "```",
        "",
        *[f"- rank correlation of {m} with {cmp.models[0].model}: {rank_text(r)}" for m, r in cmp.spearman.items()],
        "",
    ]
    files = {"compare.json": cmp.model_dump_json(indent=2)}
    try:
        from .plots import radar_svg

        values = list(cmp.difference[cmp.models[1].model])
        files["compare.svg"] = radar_svg(
            values,
            {m.model: m.profile.profile for m in cmp.models},
            f"{cmp.system}: value profiles ({cmp.instrument})",
            bands={m.model: m.profile.sd for m in cmp.models},
        )
        md.insert(2, "![value profiles](compare.svg)\n")
    except ImportError:
        warnings.warn('compare.svg needs matplotlib: pip install -e ".[report]"', stacklevel=2)
    files["compare.md"] = "\n".join(md)
    for name, text in files.items():
        write_text(d / name, text)
    return [d / name for name in files]
