"""Consistency over a dialogue (the Staircase of Ethics' question): does a fixed value
objective hold while a dilemma escalates turn by turn?

Ten escalating dialogues of four turns (ours, ``bench/data/dialogues.json``), each under two
opposite objectives, answered greedily by: ``steered`` (chat's engine: the objective's vector, the
dialogue's own history), ``value_prompt`` (the objective as a system prompt, unsteered) and
``unsteered``. Each answer's value profile is read by the independent judge (Gemma 3 270M); a
method's change at a turn is its judged profile minus the unsteered answer's at that turn, and its
change rho is the Spearman correlation of that change with the requested one (counterfactual minus
factual) over the ten values. Per method: mean change rho per turn, its slope over turns, and a
bootstrap interval (over conversations) for steered minus value_prompt at the last turn.

    python bench/dialogue_drift.py [--max-tokens 48] [--dialogues 10] [--json]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
import numpy as np
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite import load_engine, load_steerer, make_objective
from couple_lite.measure import AnswerJudge
from couple_lite.research import eval_data
from couple_lite.values import value_prompt

DATA = Path(__file__).parent / "data" / "dialogues.json"
METHODS = ("steered", "value_prompt")


def converse(answer, turns: list[str]) -> list[str]:
    """Answer each turn with the dialogue so far as history."""
    history: list[tuple[str, str]] = []
    for t in turns:
        history.append((t, answer(t, list(history))))
    return [a for _, a in history]


@click.command()
@click.option("--max-tokens", type=click.IntRange(min=8), default=48, show_default=True)
@click.option("--dialogues", "n_dialogues", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--boot", type=click.IntRange(min=100), default=2000, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(max_tokens, n_dialogues, boot, as_json) -> None:
    data = json.loads(DATA.read_text())
    engine = load_engine()
    st = load_steerer(engine=engine, system="schwartz10")
    names = st.pack.values
    judge = AnswerJudge(
        load_engine("gemma3-270m", n_ctx=1024), names, eval_data("schwartz10")["judge_words"], "gemma3-270m"
    )
    gen = dict(max_tokens=max_tokens, temperature=0.0)
    objectives = data["objectives"]
    rho = {m: [] for m in METHODS}  # per conversation: change rho per turn
    examples = []
    with click.progressbar(data["dialogues"][:n_dialogues], label="dialogues", file=sys.stderr) as bar:
        for k, dlg in enumerate(bar):
            turns = dlg["turns"]
            with engine.steered(None):
                plain = converse(lambda t, h: engine.generate(t, history=h, **gen), turns)
            base = judge.scores(plain)
            for o in (objectives[0], objectives[1]) if k % 2 == 0 else (objectives[2], objectives[3]):
                obj = make_objective(o["values"], o["priority"])
                plan = st.plan(obj, explain=False)
                want = np.array([plan.counterfactual[n] - plan.factual[n] for n in names])
                prompt = value_prompt(obj, st.system)
                answers = {
                    "steered": converse(lambda t, h, plan=plan: st.generate(t, plan, history=h, **gen), turns),
                    "value_prompt": converse(
                        lambda t, h, prompt=prompt: engine.generate(t, system=prompt, history=h, **gen), turns
                    ),
                }
                for m, ans in answers.items():
                    change = judge.scores(ans) - base
                    rho[m].append([float(spearmanr(c, want)[0]) for c in change])
                if len(examples) < 2:
                    examples.append(
                        {
                            "dialogue": dlg["name"],
                            "objective": o["name"],
                            "turn_4": turns[-1],
                            "unsteered": plain[-1],
                            **{m: a[-1] for m, a in answers.items()},
                        }
                    )
    n_turns = len(data["dialogues"][0]["turns"])
    out = {"conversations": len(rho["steered"]), "turns": n_turns, "max_tokens": max_tokens, "methods": {}}
    for m in METHODS:
        r = np.array(rho[m])
        per_turn = r.mean(axis=0)
        out["methods"][m] = {
            "change_rho_per_turn": [round(float(x), 3) for x in per_turn],
            "slope_per_turn": float(np.polyfit(np.arange(1, n_turns + 1), per_turn, 1)[0]),
        }
    rng = np.random.default_rng(0)
    diff = np.array(rho["steered"])[:, -1] - np.array(rho["value_prompt"])[:, -1]
    draws = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(boot)]
    out["last_turn_steered_minus_prompt"] = {
        "mean": float(diff.mean()),
        "ci95": [float(np.percentile(draws, 2.5)), float(np.percentile(draws, 97.5))],
    }
    out["examples"] = examples
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for m, r in out["methods"].items():
        click.echo(f"{m:<13} change rho by turn {r['change_rho_per_turn']}  slope {r['slope_per_turn']:+.3f}/turn")
    d = out["last_turn_steered_minus_prompt"]
    click.echo(
        f"turn {n_turns}: steered - value_prompt {d['mean']:+.3f} (95% CI {d['ci95'][0]:+.3f} .. {d['ci95'][1]:+.3f})"
    )


if __name__ == "__main__":
    main()
