"""Wall time of one steered answer by couple-lite vs COUPLE's three-call prompt recipe
(answer, abduce the values the answer expresses, rewrite under the re-planned priorities: the
evaluation's ``prompt_counterfactual`` method), on the same model, prompt, token budget and greedy
decoding; interleaved runs, medians.

    python bench/answer_cost.py [--runs 3] [--tokens 96] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import Engine, Steerer, load_engine, load_steerer, make_objective

PROMPT = "My neighbour asked me to help with their garden this weekend, but I had other plans. What should I do?"
VALUES, PRIORITY = "benevolence=6,hedonism=2", "benevolence>hedonism"


def prompt_recipe(engine: Engine, steerer: Steerer, tokens: int) -> str:
    """The evaluation's prompt_counterfactual method: answer, abduce the values, rewrite (three calls)."""
    from couple_lite.research import EvalContext, prompt_counterfactual_answer

    ctx = EvalContext(engine, steerer, steerer.system, dict(max_tokens=tokens, temperature=0.0))
    return prompt_counterfactual_answer(ctx, PROMPT, make_objective(VALUES, PRIORITY))


@click.command()
@click.option("--runs", default=3, show_default=True)
@click.option("--tokens", default=96, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(runs: int, tokens: int, as_json: bool) -> None:
    engine = load_engine()
    steerer = load_steerer(engine=engine, system="schwartz10")
    objective = make_objective(VALUES, PRIORITY)
    ours, recipe = [], []
    for i in range(runs):
        for kind in ("ours", "recipe") if i % 2 == 0 else ("recipe", "ours"):
            t0 = time.perf_counter()
            if kind == "ours":
                steerer.generate(PROMPT, steerer.plan(objective), max_tokens=tokens, temperature=0.0)
                ours.append(time.perf_counter() - t0)
            else:
                prompt_recipe(engine, steerer, tokens)
                recipe.append(time.perf_counter() - t0)
    result = {
        "ours_s": statistics.median(ours),
        "prompt_counterfactual_s": statistics.median(recipe),
        "ratio": statistics.median(ours) / statistics.median(recipe),
        "runs": runs,
        "tokens": tokens,
    }
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(
        f"one steered answer {result['ours_s']:.2f} s vs three-call prompt recipe "
        f"{result['prompt_counterfactual_s']:.2f} s: ratio {result['ratio']:.2f} (goal <= 0.4)"
    )


if __name__ == "__main__":
    main()
