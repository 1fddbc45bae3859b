"""couple-lite command line: parse, call the library, print (tables for people, --json for programs).

Every library error becomes one line on stderr and exit status 2. This module holds the group and
the everyday commands (explain, systems, steer, export, decide, info); ``cli_research`` holds extract,
calibrate, measure and eval, ``cli_chat`` the chat and ``cli_serve`` the server, each imported only
when named (``LAZY_COMMANDS``); the shared helpers live in ``cli_common`` and, for the steering
commands' objective and options, ``cli_objective``.
"""

from __future__ import annotations

import sys

import click

from .cli_common import N_CTX_OPTION, THREADS_OPTION, LazyGroup, gate_on, load_steerer, planned, print_json, threads
from .cli_objective import ablation_of, objective_and_steerer, objective_options, read_objective, steer_options
from .table import format_table

# research commands: name -> "module:attribute", imported when named
RESEARCH_COMMANDS = {"extract": ".cli_research:extract", "calibrate": ".cli_research:calibrate",
                     "measure": ".cli_research:measure", "eval": ".cli_research:eval_"}
LAZY_COMMANDS = {**RESEARCH_COMMANDS, "serve": ".cli_serve:serve", "chat": ".cli_chat:chat", "pack": ".cli_pack:pack",
                 "compare": ".cli_compare:compare"}
EDGES_SHOWN = 20  # explain --compare-scm: strongest edges in the table


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--system", default=None,
              help="Value system: schwartz10 (default), schwartz19, moral_foundations or a JSON file.")
@click.option("--plausibility", type=float, default=None,
              help="Price of implausible shifts when resolving conflicting priorities "
                   "(default 0.1 with --priority; 0 meets every target exactly).")
@click.option("--scm", "scm_choice", type=click.Choice(["prior", "model"]), default="prior", show_default=True,
              help="Value graph: psychology's prior, or the one fitted to how steering moves a model's values.")
@click.option("--pack", "pack_path", type=click.Path(dir_okay=False), default=None,
              help="With --scm model or --compare-scm: the pack whose response matrix gives the model's graph "
                   "(default: the default model's shipped pack).")
@click.option("--compare-scm", is_flag=True, help="Also print both graphs' edges side by side.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def explain(values_, priority, objective_file, observed, observed_sd, system, plausibility, scm_choice, pack_path,
            compare_scm, as_json):
    """Counterfactual value profile for an objective, with the causal paths that produce it.

    Example: python cli.py explain --values "power=6,benevolence=5" --observed "security=4" --json
    """
    from .objective import parse_levels
    from .prior import prior_scm
    from .reasoning import plan_counterfactual
    from .values import load_value_system

    obj = read_objective(values_, priority, objective_file, system)
    vs = obj.value_system or load_value_system(obj.system)
    obs = parse_levels(observed, vs) if observed else None
    graphs = {"prior": prior_scm(vs)}
    if scm_choice == "model" or compare_scm:
        from .model_graph import model_scm
        from .model_store import default_model_name
        from .pack import default_pack_path, load_pack

        graphs["model"] = model_scm(load_pack(pack_path or default_pack_path(default_model_name(), vs.name)))
    plan = plan_counterfactual(obj, obs, observed_sd, scm=graphs[scm_choice], plausibility=plausibility)
    edges = None
    if compare_scm:
        from .model_graph import compare_edges

        edges = [{"from": e["from"], "to": e["to"], "prior": e["a"], "model": e["b"]}
                 for e in compare_edges(graphs["prior"], graphs["model"])]
    if as_json:
        print_json({**plan.model_dump(), "scm": scm_choice, **({"scm_edges": edges} if edges is not None else {})})
    else:
        click.echo(f"system: {plan.system}   mode: {plan.mode}"
                   + (f" (plausibility {plan.plausibility:g})" if plan.mode == "prioritized" else ""))
        click.echo(plan.table())
        if edges is not None:
            click.echo("\nvalue graphs (W[from, to]; prior: psychology's, model: how steering one value moves the "
                       "others on this model):")
            shown = edges[:EDGES_SHOWN]
            click.echo(format_table(["from", "to", "prior", "model"], [[e["from"], e["to"], e["prior"], e["model"]]
                                                                        for e in shown]))
            if len(edges) > len(shown):
                click.echo(f"... {len(edges) - len(shown)} weaker edges (all in --json)")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def systems(as_json):
    """List the built-in value systems and their values.

    Example: python cli.py systems --json
    """
    from .values import BUILTIN_SYSTEMS, load_value_system

    data = {n: load_value_system(n) for n in BUILTIN_SYSTEMS}
    if as_json:
        print_json({n: [v.name for v in s.values] for n, s in data.items()})
        return
    for n, s in data.items():
        click.echo(f"{n}: {s.description}")
        for v in s.values:
            click.echo(f"  {v.name:<26} {v.definition}")


@main.command()
@click.argument("prompt")
@steer_options
@click.option("--explain", "show_explain", is_flag=True, help="Also print the counterfactual table and causal paths.")
@click.option("--baseline", is_flag=True, help="Also print the unsteered answer for comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def steer(prompt, values_, priority, objective_file, system, model, pack_path, max_tokens, temperature, seed,
          no_scm, no_decouple, no_abduction, delivery, show_explain, baseline, as_json):
    """Answer PROMPT with the model steered toward a value objective (streamed).

    Example: python cli.py steer "How should I spend my weekend?" --values "benevolence=6,power=1" --explain
    """
    if not prompt.strip():
        raise click.UsageError("the prompt is empty; give a question or an instruction")
    obj, st = objective_and_steerer(model, pack_path, values_, priority, objective_file, system)
    from .gate import THRESHOLD

    relevance = st.relevance(prompt) if gate_on() else None  # before planning: a gated prompt skips --refine
    steered = relevance is None or relevance >= THRESHOLD
    plan = planned(st, obj, ablation_of(no_scm, no_decouple, no_abduction), refine=steered)
    gen = dict(max_tokens=max_tokens, temperature=temperature, seed=seed)
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    used = plan if steered else None
    words = st.system_prompt(plan) if delivery != "vector" and steered else None
    gate = None if relevance is None else {"relevance": relevance, "steered": steered}
    if as_json:
        data = {"text": st.generate(prompt, used, delivery=delivery, **gen), "objective": obj.model_dump(),
                "factual": plan.factual, "counterfactual": plan.counterfactual, "coefficients": plan.coefficients,
                "model": plan.model, "predicted": plan.predicted, "reached": plan.reached, "warnings": plan.warnings,
                "explanation": plan.explanation, "scope": st.engine.steer_scope, "delivery": delivery,
                "system_prompt": words, "refinement": plan.refinement, "gate": gate}
        if baseline:
            data["baseline"] = st.generate(prompt, None, **gen)
        print_json(data)
        return
    if show_explain:
        click.echo(plan.table() + "\n")
        if words:
            click.echo(f"system prompt (--mode {delivery}):\n{words}\n")
        if gate:
            click.echo(f"gate: value-relevance {relevance:.2f} -> " + ("steered\n" if used else "answered unsteered\n"))
    try:
        if baseline:
            click.echo("unsteered: ", nl=False)
            for piece in st.stream(prompt, None, **gen):
                click.echo(piece, nl=False)
            click.echo("\n\nsteered: " if steered else "\n\ngated (answered unsteered): ", nl=False)
        for piece in st.stream(prompt, used, delivery=delivery, **gen):
            click.echo(piece, nl=False)
        click.echo()
    except KeyboardInterrupt:  # the engine has already restored the unsteered model
        click.echo("\n[interrupted]", err=True)
        sys.exit(130)


@main.command()
@objective_options
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True, help="Control-vector .gguf to write.")
@THREADS_OPTION
@N_CTX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def export(values_, priority, objective_file, system, model, pack_path, output, as_json):
    """Write the control vector for an objective as a llama.cpp control-vector file.

    Example: python cli.py export --values "benevolence=6,power=1" -o benevolent.gguf
    (then: llama-cli -m MODEL.gguf --control-vector benevolent.gguf)
    """
    from .control_vector import write_control_vector

    obj = read_objective(values_, priority, objective_file, system)
    st = load_steerer(model, pack_path, obj.system)
    plan = st.plan(obj, explain=False, strict=True)
    path = write_control_vector(output, st.vector(plan), st.engine.architecture)
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    if as_json:
        print_json({"path": str(path), "coefficients": plan.coefficients, "reached": plan.reached,
                     "model": plan.model, "model_path": str(st.engine.model_path)})
    else:
        lo, hi = st.pack.extraction.layer_range
        click.echo(f"wrote {path} (blocks {lo}-{hi}); use it with: llama-cli -m {st.engine.model_path} "
                   f"--control-vector {path}")


@main.command()
@click.argument("question")
@click.option("--option", "options", multiple=True, required=True, help="A choice (repeat: 2 to 12).")
@objective_options
@THREADS_OPTION
@N_CTX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def decide(question, options, values_, priority, objective_file, system, model, pack_path, as_json):
    """Rank QUESTION's options by the steered model's preference, beside the unsteered ranking.

    Example: python cli.py decide "A friend needs help moving on my day off." --option "Help them move"
    --option "Keep the day for myself" --values "benevolence=6,hedonism=2"
    """
    from .decide import decide as run_decide

    obj = read_objective(values_, priority, objective_file, system)
    st = load_steerer(model, pack_path, obj.system)
    plan = st.plan(obj, strict=True)
    d = run_decide(st, question, options, plan)
    if as_json:
        print_json({**d.model_dump(), "objective": obj.model_dump(), "counterfactual": plan.counterfactual,
                    "explanation": plan.explanation})
        return
    for w in plan.warnings:
        click.echo(f"warning: {w}", err=True)
    click.echo(format_table(["option", "rank", "score", "unsteered rank", "unsteered score"],
                            [[o.text, o.rank, o.score, o.unsteered_rank, o.unsteered_score] for o in d.options]))
    click.echo(("steering changed the choice" if d.changed else "steering kept the unsteered choice") + "; moved by: "
               + (", ".join(f"{n} {m:+.3f}" for n, m in list(d.moved_by.items())[:4]) or "nothing"))


@main.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m, fetched on first use).")
@click.option("--n-gpu-layers", type=int, default=None, help="Layers to offload (default: all when GPU offload is available).")
@click.option("--check-steering", is_flag=True, help="Also check that control vectors move this model's logits.")
@THREADS_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def info(model, n_gpu_layers, check_steering, as_json):
    """Describe llama-cpp-python, GPU offload and a model (fetching the default model if needed).

    Example: python cli.py info --json
    """
    from .engine import Engine
    from .model_store import resolve_model

    engine = Engine(resolve_model(model), n_ctx=512, n_gpu_layers=n_gpu_layers, n_threads=threads())
    data = engine.info()
    if check_steering:
        data["max_logit_change_under_test_vector"] = engine.check_steerable()
    if as_json:
        print_json(data)
    else:
        for k, v in data.items():
            if k == "extra_buffer_types":
                v = f"{'on' if v['enabled'] else 'off'} ({v['reason']})"
            elif isinstance(v, dict):
                v = ", ".join(f"{a}={b}" for a, b in v.items())
            click.echo(f"{k:<20} {v}")
