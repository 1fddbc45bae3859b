"""What the steering commands share: reading an objective (with the value system a user's pack
carries), loading the Steerer beside it, the ablation flags, and the common steering options."""

from __future__ import annotations

import sys

import click

from ._common import (
    GATE_OPTION,
    N_CTX_OPTION,
    REFINE_OPTION,
    SCM_OPTION,
    SCOPE_OPTION,
    THREADS_OPTION,
    engine_options,
    steerer_for,
)

__all__ = [
    "read_objective",
    "system_for",
    "objective_and_steerer",
    "ablation_of",
    "STEER_OPTIONS",
    "OBJECTIVE_OPTIONS",
    "objective_options",
    "steer_options",
]


def read_objective(values_, priority, objective_file, system):
    from ..values import load_objective, make_objective

    if objective_file and values_:
        raise click.UsageError("give either --values or --objective, not both (they would conflict)")
    if objective_file:
        obj = load_objective(objective_file, system)
        return make_objective(obj.targets, priority, obj.value_system or obj.system) if priority else obj
    if not values_:
        raise click.UsageError('give target levels with --values "benevolence=6,power=1" or --objective FILE')
    return make_objective(values_, priority, system or "schwartz10")


def system_for(system, pack_path):
    """The value system objectives are read in: as given, or -- when the name is neither built in
    nor a file -- the one a ``--pack`` of that name carries (a user's own system)."""
    if not (system and pack_path):
        return system
    from ..errors import ValueSystemError
    from ..values import canonical_name, load_value_system

    try:
        return load_value_system(system)
    except ValueSystemError:
        from ..vectors import load_pack

        pack = load_pack(pack_path)
        if pack.system != canonical_name(system):
            raise
        return pack.value_system()


def planning(values_, priority, objective_file, system):
    """The objective, with the modules that plan steering imported (pydantic, the SCM)."""
    obj = read_objective(values_, priority, objective_file, system)
    from .. import steering  # noqa: F401

    return obj


def objective_and_steerer(model, pack_path, values_, priority, objective_file, system):
    """The objective and a Steerer. With the model already on disk, llama.cpp loads it on this
    thread (its C loader releases the GIL) while a worker parses the objective and imports the
    planning modules -- a fifth of `steer`'s start-up. Otherwise the objective is checked first,
    so that a bad one fails before any download."""
    from ..engine.models import local_model

    system = system_for(system, pack_path)
    path = local_model(model)
    if path is None:
        obj = read_objective(values_, priority, objective_file, system)
        return obj, steerer_for(model, pack_path, obj.system)
    from concurrent.futures import ThreadPoolExecutor

    from ..engine import Engine  # its Python side before the overlap: only C runs alongside

    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)  # else the loader waits up to 5 ms for the GIL after each C call
    with ThreadPoolExecutor(1, thread_name_prefix="couple-lite-plan") as pool:
        job = pool.submit(planning, values_, priority, objective_file, system)
        try:
            engine = Engine(path, **engine_options())
        finally:
            sys.setswitchinterval(switch)
        obj = job.result()
    return obj, steerer_for(model, pack_path, obj.system, engine)


def ablation_of(no_scm, no_decouple, no_abduction):
    from ..steering import Ablation

    return Ablation(scm=not no_scm, decouple=not no_decouple, abduction=not no_abduction)


STEER_OPTIONS = [
    click.option("--values", "values_", help='Target levels, e.g. "benevolence=6,power=1".'),
    click.option("--priority", help='Priorities, e.g. "benevolence>power".'),
    click.option("--objective", "objective_file", type=click.Path(dir_okay=False), help="Objective JSON/YAML file."),
    click.option("--system", default=None, help="Value system of the objective and pack (default: schwartz10)."),
    click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m)."),
    click.option(
        "--pack",
        "pack_path",
        type=click.Path(dir_okay=False),
        default=None,
        help="Value-vector pack (default: the shipped one).",
    ),
    click.option("--max-tokens", type=click.IntRange(min=1), default=160, show_default=True),
    click.option(
        "--temperature", type=click.FloatRange(min=0, max=100), default=0.7, show_default=True, help="0 = greedy."
    ),
    click.option("--seed", type=click.IntRange(0, 2**32 - 2), default=0, show_default=True),
    click.option("--no-scm", is_flag=True, help="Ablation: change only the named values."),
    click.option("--no-decouple", is_flag=True, help="Ablation: per-value gains instead of solving with all of R."),
    click.option("--no-abduction", is_flag=True, help="Ablation: population prior as the factual profile."),
    THREADS_OPTION,
    N_CTX_OPTION,
    SCOPE_OPTION,
    SCM_OPTION,
    REFINE_OPTION,
    GATE_OPTION,
    click.option(
        "--mode",
        "delivery",
        type=click.Choice(["vector", "prompt", "hybrid"]),
        default="vector",
        show_default=True,
        help="How the plan reaches the model: its control vector, its counterfactual profile as a system "
        "prompt (COUPLE's recipe in one call), or both.",
    ),
]


OBJECTIVE_OPTIONS = STEER_OPTIONS[:6]  # --values, --priority, --objective, --system, --model, --pack


def objective_options(f):
    for opt in reversed(OBJECTIVE_OPTIONS):
        f = opt(f)
    return f


def steer_options(f):
    for opt in reversed(STEER_OPTIONS):
        f = opt(f)
    return f
