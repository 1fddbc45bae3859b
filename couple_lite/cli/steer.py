"""``steer``, ``export`` and ``decide``: a value objective applied to the model."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import click

from .._table import format_table
from ._common import N_CTX_OPTION, THREADS_OPTION, gate_on, planned, print_json, steerer_for
from ._objective import ablation_of, objective_and_steerer, objective_options, read_objective, steer_options

__all__ = ["steer", "export", "decide"]


@click.command()
@click.argument("prompt")
@steer_options
@click.option("--explain", "show_explain", is_flag=True, help="Also print the counterfactual table and causal paths.")
@click.option("--baseline", is_flag=True, help="Also print the unsteered answer for comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def steer(
    prompt,
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
    show_explain,
    baseline,
    as_json,
):
    """Answer PROMPT with the model steered toward a value objective (streamed).

    Example: couple-lite steer "How should I spend my weekend?" --values "benevolence=6,power=1" --explain
    """
    if not prompt.strip():
        raise click.UsageError("the prompt is empty; give a question or an instruction")
    obj, st = objective_and_steerer(model, pack_path, values_, priority, objective_file, system)
    from ..steering.gate import THRESHOLD

    relevance = st.relevance(prompt) if gate_on() else None  # before planning: a gated prompt skips --refine
    steered = relevance is None or relevance >= THRESHOLD
    plan = planned(st, obj, ablation_of(no_scm, no_decouple, no_abduction), refine=steered)
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    answer = _Answer(
        st,
        prompt,
        plan,
        steered,
        delivery,
        dict(max_tokens=max_tokens, temperature=temperature, seed=seed),
        None if relevance is None else {"relevance": relevance, "steered": steered},
    )
    if as_json:
        print_json(answer.as_json(baseline))
    else:
        answer.show(show_explain, baseline)


@dataclass
class _Answer:
    """What ``steer`` prints: the plan, the answer (streamed for people) and its context."""

    steerer: Any
    prompt: str
    plan: Any  # SteeringPlan
    steered: bool  # False: the relevance gate answers unsteered
    delivery: str
    generation: dict[str, Any]
    gate: dict[str, Any] | None

    @property
    def words(self) -> str | None:
        """The system prompt of --mode prompt|hybrid."""
        return self.steerer.system_prompt(self.plan) if self.delivery != "vector" and self.steered else None

    def as_json(self, baseline: bool) -> dict[str, Any]:
        st, plan, used = self.steerer, self.plan, self.plan if self.steered else None
        data = {
            "text": st.generate(self.prompt, used, delivery=self.delivery, **self.generation),
            "objective": plan.objective.model_dump(),
            "factual": plan.factual,
            "counterfactual": plan.counterfactual,
            "coefficients": plan.coefficients,
            "model": plan.model,
            "predicted": plan.predicted,
            "reached": plan.reached,
            "warnings": plan.warnings,
            "explanation": plan.explanation,
            "scope": st.engine.steer_scope,
            "delivery": self.delivery,
            "system_prompt": self.words,
            "refinement": plan.refinement,
            "gate": self.gate,
        }
        if baseline:
            data["baseline"] = st.generate(self.prompt, None, **self.generation)
        return data

    def show(self, explain: bool, baseline: bool) -> None:
        if explain:
            click.echo(self.plan.table() + "\n")
            if self.words:
                click.echo(f"system prompt (--mode {self.delivery}):\n{self.words}\n")
            if self.gate:
                how = "steered\n" if self.steered else "answered unsteered\n"
                click.echo(f"gate: value-relevance {self.gate['relevance']:.2f} -> " + how)
        try:
            if baseline:
                click.echo("unsteered: ", nl=False)
                for piece in self.steerer.stream(self.prompt, None, **self.generation):
                    click.echo(piece, nl=False)
                click.echo("\n\nsteered: " if self.steered else "\n\ngated (answered unsteered): ", nl=False)
            used = self.plan if self.steered else None
            for piece in self.steerer.stream(self.prompt, used, delivery=self.delivery, **self.generation):
                click.echo(piece, nl=False)
            click.echo()
        except KeyboardInterrupt:  # the engine has already restored the unsteered model
            click.echo("\n[interrupted]", err=True)
            sys.exit(130)


@click.command()
@objective_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Control-vector .gguf to write.")
@THREADS_OPTION
@N_CTX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def export(values_, priority, objective_file, system, model, pack_path, output, as_json):
    """Write the control vector for an objective as a llama.cpp control-vector file.

    Example: couple-lite export --values "benevolence=6,power=1" -o benevolent.gguf
    (then: llama-cli -m MODEL.gguf --control-vector benevolent.gguf)
    """
    from ..engine import write_control_vector

    obj = read_objective(values_, priority, objective_file, system)
    st = steerer_for(model, pack_path, obj.system)
    plan = st.plan(obj, explain=False, strict=True)
    path = write_control_vector(output, st.vector(plan), st.engine.architecture)
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        print_json(
            {
                "path": str(path),
                "coefficients": plan.coefficients,
                "reached": plan.reached,
                "model": plan.model,
                "model_path": str(st.engine.model_path),
            }
        )
    else:
        lo, hi = st.pack.extraction.layer_range
        click.echo(
            f"wrote {path} (blocks {lo}-{hi}); use it with: llama-cli -m {st.engine.model_path} --control-vector {path}"
        )


@click.command()
@click.argument("question")
@click.option("--option", "options", multiple=True, required=True, help="A choice (repeat: 2 to 12).")
@objective_options
@THREADS_OPTION
@N_CTX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def decide(question, options, values_, priority, objective_file, system, model, pack_path, as_json):
    """Rank QUESTION's options by the steered model's preference, beside the unsteered ranking.

    Example: couple-lite decide "A friend needs help moving on my day off." --option "Help them move"
    --option "Keep the day for myself" --values "benevolence=6,hedonism=2"
    """
    from ..steering import decide as run_decide

    obj = read_objective(values_, priority, objective_file, system)
    st = steerer_for(model, pack_path, obj.system)
    plan = st.plan(obj, strict=True)
    d = run_decide(st, question, options, plan)
    if as_json:
        print_json(
            {
                **d.model_dump(),
                "objective": obj.model_dump(),
                "counterfactual": plan.counterfactual,
                "explanation": plan.explanation,
            }
        )
        return
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(
        format_table(
            ["option", "rank", "score", "unsteered rank", "unsteered score"],
            [[o.text, o.rank, o.score, o.unsteered_rank, o.unsteered_score] for o in d.options],
        )
    )
    click.echo(
        ("steering changed the choice" if d.changed else "steering kept the unsteered choice")
        + "; moved by: "
        + (", ".join(f"{n} {m:+.3f}" for n, m in list(d.moved_by.items())[:4]) or "nothing")
    )
