"""``chat``: an interactive steered conversation; the objective can change between turns."""

from __future__ import annotations

import click

from ..errors import CoupleError
from ._common import gate_on, planned
from ._objective import ablation_of, objective_and_steerer, steer_options


@click.command()
@steer_options
def chat(
    values_,
    priority,
    objective_file,
    system,
    model,
    pack_path,
    max_tokens,
    temperature,
    seed,
    no_scm,
    no_decouple,
    no_abduction,
    delivery,
):
    """Interactive steered chat; change the objective between turns with /values ... (no reload).

    Example: couple-lite chat --values "universalism=6,power=1"   (then type; /values power=6; /quit)
    """
    obj, st = objective_and_steerer(model, pack_path, values_, priority, objective_file, system)
    session = _Chat(
        st,
        obj,
        ablation_of(no_scm, no_decouple, no_abduction),
        dict(delivery=delivery, gate=gate_on(), max_tokens=max_tokens, temperature=temperature, seed=seed),
    )
    click.echo("steered chat: /values LEVELS [/priority P] to change the objective, /reset, /quit")
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            click.echo()
            return
        if line.startswith("/"):
            if session.command(line) == "quit":
                return
        elif line:
            session.reply(line)


COMMANDS = ("/values LEVELS [/priority P]", "/reset", "/quit")


class _Chat:
    """One conversation: the steerer, the objective and its plan, the turns so far."""

    def __init__(self, steerer, objective, ablation, generation: dict) -> None:
        self.steerer, self.objective, self.ablation, self.generation = steerer, objective, ablation, generation
        self.plan = planned(steerer, objective, ablation, explain=False)
        self.history: list[tuple[str, str]] = []

    def command(self, line: str) -> str | None:
        """A /command: change the objective, forget the turns or quit; anything else is one error line."""
        if line in ("/quit", "/exit"):
            return "quit"
        if line == "/reset":
            self.history.clear()
        elif line.startswith("/values"):
            self._objective(line)
        else:
            click.echo(f"error: unknown command {line.split()[0]!r}; use {', '.join(COMMANDS)}", err=True)
        return None

    def _objective(self, line: str) -> None:
        from ..values import make_objective

        levels, _, priority = line[len("/values") :].partition("/priority")
        try:
            objective = make_objective(
                levels.strip(), priority.strip() or None, self.objective.value_system or self.objective.system
            )
            self.plan = planned(self.steerer, objective, self.ablation, explain=False)
        except CoupleError as e:
            click.echo(f"error: {e}", err=True)
            return
        self.objective = objective
        click.echo("objective: " + ", ".join(f"{k}={v:g}" for k, v in objective.targets.items()))
        for w in self.plan.warnings:
            click.echo(f"warning: {w}", err=True)

    def reply(self, line: str) -> None:
        """The model's answer to ``line``, streamed; the turn is remembered unless it failed."""
        click.echo("model> ", nl=False)
        pieces = []
        try:
            for piece in self.steerer.stream(line, self.plan, history=self.history, **self.generation):
                pieces.append(piece)
                click.echo(piece, nl=False)
        except KeyboardInterrupt:
            click.echo(" [interrupted]", nl=False)
        except CoupleError as e:
            click.echo(f"\nerror: {e}", err=True)
            return
        click.echo()
        self.history.append((line, "".join(pieces)))
