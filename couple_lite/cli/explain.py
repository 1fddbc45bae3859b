"""``explain`` and ``systems``: the value model on its own, no language model needed."""

from __future__ import annotations

import click

from .._table import format_table
from ._common import print_json
from ._objective import read_objective

__all__ = ["explain", "systems"]

EDGES_SHOWN = 20  # explain --compare-scm: strongest edges in the table


@click.command()
@click.option("--values", "values_", help='Target levels 1-6 or words, e.g. "power=6,benevolence=high".')
@click.option("--priority", help='Priorities: "benevolence>security>power" or "benevolence:3,power:1".')
@click.option(
    "--objective",
    "objective_file",
    type=click.Path(dir_okay=False),
    help="Objective as a JSON/YAML file (keys: targets, priority, system).",
)
@click.option("--observed", help='Known/measured profile (abduction evidence), e.g. "security=4,power=2".')
@click.option(
    "--observed-sd",
    type=float,
    default=0.0,
    show_default=True,
    help="Measurement noise sd of each observed value (0 = exact).",
)
@click.option(
    "--system", default=None, help="Value system: schwartz10 (default), schwartz19, moral_foundations or a JSON file."
)
@click.option(
    "--plausibility",
    type=float,
    default=None,
    help="Price of implausible shifts when resolving conflicting priorities "
    "(default 0.1 with --priority; 0 meets every target exactly).",
)
@click.option(
    "--scm",
    "scm_choice",
    type=click.Choice(["prior", "model"]),
    default="prior",
    show_default=True,
    help="Value graph: psychology's prior, or the one fitted to how steering moves a model's values.",
)
@click.option(
    "--pack",
    "pack_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="With --scm model or --compare-scm: the pack whose response matrix gives the model's graph "
    "(default: the default model's shipped pack).",
)
@click.option("--compare-scm", is_flag=True, help="Also print both graphs' edges side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def explain(
    values_,
    priority,
    objective_file,
    observed,
    observed_sd,
    system,
    plausibility,
    scm_choice,
    pack_path,
    compare_scm,
    as_json,
):
    """Counterfactual value profile for an objective, with the causal paths that produce it.

    Example: couple-lite explain --values "power=6,benevolence=5" --observed "security=4" --json
    """
    from ..values import load_value_system, parse_levels, plan_counterfactual, prior_scm

    obj = read_objective(values_, priority, objective_file, system)
    vs = obj.value_system or load_value_system(obj.system)
    obs = parse_levels(observed, vs) if observed else None
    graphs = {"prior": prior_scm(vs)}
    if scm_choice == "model" or compare_scm:
        from ..engine.models import default_model_name
        from ..values import model_scm
        from ..vectors import default_pack_path, load_pack

        pack = load_pack(pack_path or default_pack_path(default_model_name(), vs.name))
        graphs["model"] = model_scm(pack.response, pack.value_system())
    plan = plan_counterfactual(obj, obs, observed_sd, scm=graphs[scm_choice], plausibility=plausibility)
    edges = None
    if compare_scm:
        from ..values import compare_edges

        edges = [
            {"from": e["from"], "to": e["to"], "prior": e["a"], "model": e["b"]}
            for e in compare_edges(graphs["prior"], graphs["model"])
        ]
    if as_json:
        print_json({**plan.model_dump(), "scm": scm_choice, **({"scm_edges": edges} if edges is not None else {})})
    else:
        click.echo(
            f"system: {plan.system}   mode: {plan.mode}"
            + (f" (plausibility {plan.plausibility:g})" if plan.mode == "prioritized" else "")
        )
        click.echo(plan.table())
        if edges is not None:
            click.echo(
                "\nvalue graphs (W[from, to]; prior: psychology's, model: how steering one value moves the "
                "others on this model):"
            )
            shown = edges[:EDGES_SHOWN]
            click.echo(
                format_table(
                    ["from", "to", "prior", "model"], [[e["from"], e["to"], e["prior"], e["model"]] for e in shown]
                )
            )
            if len(edges) > len(shown):
                click.echo(f"... {len(edges) - len(shown)} weaker edges (all in --json)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def systems(as_json):
    """List the built-in value systems and their values.

    Example: couple-lite systems --json
    """
    from ..values import BUILTIN_SYSTEMS, load_value_system

    data = {n: load_value_system(n) for n in BUILTIN_SYSTEMS}
    if as_json:
        print_json({n: [v.name for v in s.values] for n, s in data.items()})
        return
    for n, s in data.items():
        click.echo(f"{n}: {s.description}")
        for v in s.values:
            click.echo(f"  {v.name:<26} {v.definition}")
