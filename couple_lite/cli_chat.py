"""``chat``: an interactive steered conversation; the objective can change between turns."""

from __future__ import annotations

import click

from .cli_common import gate_on, planned
from .cli_objective import ablation_of, objective_and_steerer, steer_options
from .errors import CoupleError


@click.command()
@steer_options
def chat(values_, priority, objective_file, system, model, pack_path, max_tokens, temperature, seed,
         no_scm, no_decouple, no_abduction, delivery):
    """Interactive steered chat; change the objective between turns with /values ... (no reload).

    Example: python cli.py chat --values "universalism=6,power=1"   (then type; /values power=6; /quit)
    """
    from .objective import make_objective

    obj, st = objective_and_steerer(model, pack_path, values_, priority, objective_file, system)
    ablation = ablation_of(no_scm, no_decouple, no_abduction)
    plan = planned(st, obj, ablation, explain=False)
    history: list[tuple[str, str]] = []
    click.echo("steered chat: /values LEVELS [/priority P] to change the objective, /reset, /quit")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return
        if line == "/reset":
            history.clear()
            continue
        if line.startswith("/values"):
            parts = line.split("/priority")
            try:
                obj = make_objective(parts[0][len("/values"):].strip(), parts[1].strip() if len(parts) > 1 else None,
                                     obj.value_system or obj.system)
                plan = planned(st, obj, ablation, explain=False)
            except CoupleError as e:
                click.echo(f"error: {e}", err=True)
                continue
            click.echo("objective: " + ", ".join(f"{k}={v:g}" for k, v in obj.targets.items()))
            for w in plan.warnings:
                click.echo(f"warning: {w}", err=True)
            continue
        click.echo("model> ", nl=False)
        pieces = []
        try:
            for piece in st.stream(line, plan, delivery=delivery, gate=gate_on(), max_tokens=max_tokens,
                                   temperature=temperature, seed=seed, history=history):
                pieces.append(piece)
                click.echo(piece, nl=False)
        except KeyboardInterrupt:
            click.echo(" [interrupted]", nl=False)
        except CoupleError as e:
            click.echo(f"\nerror: {e}", err=True)
            continue
        click.echo()
        history.append((line, "".join(pieces)))
