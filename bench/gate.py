"""The relevance gate (``steer --gate on``) on prompts it was not trained on, and its side effects.

- held-out gate prompts (the last quarter of each list in ``gate_prompts.json``): share of advice
  prompts steered, share of factual prompts left unsteered;
- the evaluation's 30 everyday questions (written for the evaluation, never seen by the gate):
  share steered;
- side effects: for each held-out factual prompt, is the greedy answer under an objective with the
  gate on identical to the unsteered answer, and how many differ with the gate off;
- cost: seconds to fit the gate (once per model and pack, then cached) and per prompt.

    python bench/gate.py [--values "tradition=6,self_direction=1"] [--tokens 32] [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import load_steerer, make_objective
from couple_lite.research import eval_data
from couple_lite.steering import RelevanceGate
from couple_lite.steering.gate import HELD_OUT_SHARE, THRESHOLD, gate_prompts


@click.command()
@click.option("--values", default="tradition=6,self_direction=1", show_default=True)
@click.option("--tokens", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(values, tokens, as_json):
    st = load_steerer()
    t0 = time.perf_counter()
    gate = RelevanceGate.fit(st.engine, st.pack.extraction)
    fit_s = time.perf_counter() - t0
    st._gate = gate
    data = gate_prompts()
    held = {k: v[len(v) - len(v) // HELD_OUT_SHARE :] for k, v in data.items()}
    questions = eval_data("schwartz10")["questions"]
    t0 = time.perf_counter()
    p_q = gate.relevance(st.engine, st.pack.extraction, questions)
    per_prompt = (time.perf_counter() - t0) / len(questions)
    p_v = gate.relevance(st.engine, st.pack.extraction, held["value"])
    p_n = gate.relevance(st.engine, st.pack.extraction, held["neutral"])
    plan = st.plan(make_objective(values, None, "schwartz10"), explain=False)
    gen = dict(max_tokens=tokens, temperature=0.0)
    same_gated = same_ungated = 0
    examples = []
    for q in held["neutral"]:
        base = st.generate(q, None, **gen)
        gated = st.generate(q, plan, gate=True, **gen)
        ungated = st.generate(q, plan, **gen)
        same_gated += gated == base
        same_ungated += ungated == base
        if ungated != base and len(examples) < 3:
            examples.append({"prompt": q, "unsteered": base, "steered_without_gate": ungated, "with_gate": gated})
    out = {
        "held_out_value_steered": float((p_v >= THRESHOLD).mean()),
        "n_value": len(p_v),
        "held_out_neutral_unsteered": float((p_n < THRESHOLD).mean()),
        "n_neutral": len(p_n),
        "eval_questions_steered": float((p_q >= THRESHOLD).mean()),
        "n_eval_questions": len(p_q),
        "eval_questions_lowest_relevance": float(p_q.min()),
        "neutral_answers_identical_with_gate": same_gated / len(held["neutral"]),
        "neutral_answers_identical_without_gate": same_ungated / len(held["neutral"]),
        "objective": values,
        "answer_tokens": tokens,
        "fit_seconds": fit_s,
        "seconds_per_prompt": per_prompt,
        "examples": examples,
    }
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for k, v in out.items():
        if k != "examples":
            click.echo(f"{k:42s} {v:.3f}" if isinstance(v, float) else f"{k:42s} {v}")


if __name__ == "__main__":
    main()
