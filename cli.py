"""couple-lite command line: parse, call the library, print (tables for people, --json for programs).

Every library error becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys

import click

from couple_lite.errors import CoupleError


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except CoupleError as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(2)


def _print_json(obj) -> None:
    click.echo(json.dumps(obj, indent=2, sort_keys=False))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """couple-lite: steer a local language model toward a pluralistic value profile.

    Start with `python cli.py explain --values power=6` (no model needed) or
    `python cli.py info` (fetches and describes the default model).
    """


@main.command()
@click.option("--values", "values_", help='Target levels 1-6 or words, e.g. "power=6,benevolence=high".')
@click.option("--priority", help='Priorities: "benevolence>security>power" or "benevolence:3,power:1".')
@click.option("--objective", "objective_file", type=click.Path(dir_okay=False),
              help="Objective as a JSON/YAML file (keys: targets, priority, system).")
@click.option("--observed", help='Known/measured profile (abduction evidence), e.g. "security=4,power=2".')
@click.option("--observed-sd", type=float, default=0.0, show_default=True,
              help="Measurement noise sd of each observed value (0 = exact).")
@click.option("--system", default="schwartz10", show_default=True,
              help="Value system: schwartz10, schwartz19, moral_foundations or a JSON file.")
@click.option("--plausibility", type=float, default=None,
              help="Price of implausible shifts when resolving conflicting priorities "
                   "(default 0.1 with --priority; 0 meets every target exactly).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def explain(values_, priority, objective_file, observed, observed_sd, system, plausibility, as_json):
    """Counterfactual value profile for an objective, with the causal paths that produce it.

    Example: python cli.py explain --values "power=6,benevolence=5" --observed "security=4" --json
    """
    from couple_lite.objective import load_objective, make_objective, parse_levels
    from couple_lite.reasoning import plan_counterfactual
    from couple_lite.values import load_value_system

    if objective_file and values_:
        raise click.UsageError("give either --values or --objective, not both")
    if objective_file:
        obj = load_objective(objective_file, system if system != "schwartz10" else None)
        if priority:
            obj = make_objective(obj.targets, priority, obj.system)
    elif values_:
        obj = make_objective(values_, priority, system)
    else:
        raise click.UsageError('give target levels with --values "power=6" or --objective FILE')
    obs = parse_levels(observed, load_value_system(obj.system)) if observed else None
    plan = plan_counterfactual(obj, obs, observed_sd, plausibility=plausibility)
    if as_json:
        _print_json(plan.model_dump())
    else:
        click.echo(f"system: {plan.system}   mode: {plan.mode}"
                   + (f" (plausibility {plan.plausibility:g})" if plan.mode == "prioritized" else ""))
        click.echo(plan.table())


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def systems(as_json):
    """List the built-in value systems and their values.

    Example: python cli.py systems --json
    """
    from couple_lite.values import BUILTIN_SYSTEMS, load_value_system

    data = {n: load_value_system(n) for n in BUILTIN_SYSTEMS}
    if as_json:
        _print_json({n: [v.name for v in s.values] for n, s in data.items()})
        return
    for n, s in data.items():
        click.echo(f"{n}: {s.description}")
        for v in s.values:
            click.echo(f"  {v.name:<26} {v.definition}")


@main.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m, fetched on first use).")
@click.option("--n-gpu-layers", type=int, default=None, help="Layers to offload (default: all when GPU offload is available).")
@click.option("--check-steering", is_flag=True, help="Also check that control vectors move this model's logits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(model, n_gpu_layers, check_steering, as_json):
    """Describe llama-cpp-python, GPU offload and a model (fetching the default model if needed).

    Example: python cli.py info --json
    """
    from couple_lite.engine import Engine
    from couple_lite.model_store import resolve_model

    engine = Engine(resolve_model(model), n_ctx=512, n_gpu_layers=n_gpu_layers)
    data = engine.info()
    if check_steering:
        data["max_logit_change_under_test_vector"] = engine.check_steerable()
    if as_json:
        _print_json(data)
    else:
        for k, v in data.items():
            click.echo(f"{k:<20} {v}")


if __name__ == "__main__":
    main()
