"""How much to steer: reach and answers at several KL budgets.

For each budget (mean KL per token on the model's own answers to everyday prompts, see
``couple_lite.vectors.fluency``), every value's dose is searched so its vector alone costs the budget;
then reach on our held-out items and, with ``--items``, an outside file; the judge's answer-level
reach on ``--answers`` held-out everyday questions; and, to be read by a person, greedy answers of
a few values to a few prompts, with the unsteered model's NLL of each steered answer (how
plausible the text itself is, whatever it says).

    python bench/budget_study.py [--pack PACK] [--directions PACK] [--budgets 0.05,0.1,0.2,0.4]
                                 [--items FILE --questionnaire PVQ40]
                                 [--answers 10] [--read tradition,power,benevolence] [--scope all|answer] [--json]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import get_args

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reach import answer_reach, only_questionnaire, reach

from couple_lite import Steerer, load_engine, load_pack
from couple_lite.engine import SteerScope
from couple_lite.research import eval_data, eval_items
from couple_lite.steering import pack_for
from couple_lite.vectors import FluencyProbe, dose_for_budget, steering_vector

# prompts for reading (ours; neither evaluation questions nor the budget's prompts)
READ_PROMPTS = (
    "What should I do this weekend?",
    "How should I choose my next job?",
    "What is the best way to spend a bonus?",
)


@click.command()
@click.option("--pack", "pack_path", default=None)
@click.option(
    "--directions",
    "directions_path",
    default=None,
    help="An uncalibrated pack (from `extract` or direction_study --save-dir) whose directions replace "
    "--pack's; --pack still gives the instrument scale, so no calibration is needed first.",
)
@click.option("--budgets", default="0.05,0.1,0.2,0.4", show_default=True)
@click.option("--items", "items_file", default=None)
@click.option("--questionnaire", default=None)
@click.option("--answers", type=int, default=10, show_default=True)
@click.option("--read", "read_values", default="tradition,power,benevolence,stimulation", show_default=True)
@click.option(
    "--scope",
    type=click.Choice(get_args(SteerScope)),
    default="all",
    show_default=True,
    help="Where the vector is added: every position, or only the answer (the question unsteered); "
    "doses are searched, items scored and answers written under it.",
)
@click.option("--json", "as_json", is_flag=True)
def main(pack_path, directions_path, budgets, items_file, questionnaire, answers, read_values, scope, as_json) -> None:
    from couple_lite.measure import AnswerJudge

    engine = load_engine(n_ctx=2048, steer_scope=scope)
    name, sha = engine.identity
    pack, _ = pack_for(engine, "schwartz10", pack_path)
    if directions_path:
        other = load_pack(directions_path, sha, engine.n_layer, engine.n_embd)
        if other.values != pack.values:
            raise click.UsageError(f"{directions_path} steers {other.values}, --pack {pack.values}")
        pack = dataclasses.replace(pack, extraction=other.extraction)
    steerer = Steerer(engine, pack, name)
    names = pack.values
    sets = {"ours": eval_items(steerer.system)[0]}
    if items_file:
        f = only_questionnaire(Path(items_file), questionnaire) if questionnaire else items_file
        sets["outside"] = eval_items(steerer.system, f)[0]
    probe = FluencyProbe.build(engine)
    judge = None
    if answers:
        jengine = load_engine("gemma3-270m", n_ctx=1024)
        judge = AnswerJudge(jengine, names, eval_data(steerer.system.name)["judge_words"], "gemma3-270m")
    questions = eval_data(steerer.system.name)["questions"][:answers]
    with engine.steered(None):
        unsteered = {p: engine.generate(p, max_tokens=60, temperature=0.0) for p in READ_PROMPTS}
    rows = []
    for b in (float(x) for x in budgets.split(",")):
        doses, costs = np.zeros(len(names)), np.zeros(len(names))
        for i in range(len(names)):
            e = np.eye(len(names))[i]
            doses[i], costs[i] = dose_for_budget(
                lambda s, e=e: probe.cost_of(steering_vector(pack.extraction, s * e)), b
            )
        row = {"budget": b, "doses": dict(zip(names, map(float, doses))), "kl": dict(zip(names, map(float, costs)))}
        for label, items in sets.items():
            r = reach(steerer, "likelihood", items, doses=doses)
            row[label] = {k: r[k] for k in ("reach_mean", "specificity", "rows_own_largest", "nll_rise")}
            row[label]["own"] = {n: round(v["own"], 3) for n, v in r["per_value"].items()}
        if judge is not None:
            a = answer_reach(steerer, judge, questions, doses)
            row["answers"] = {k: a[k] for k in ("answer_reach", "answer_specificity", "answer_rows_own_largest")}
            row["answers"]["own"] = {n: round(v["own"], 3) for n, v in a["answer_per_value"].items()}
        row["read"] = {}
        for v in read_values.split(","):
            i = names.index(v)
            coef = np.zeros(len(names))
            coef[i] = doses[i]
            with engine.steered(steering_vector(pack.extraction, coef)):
                texts = {p: engine.generate(p, max_tokens=60, temperature=0.0) for p in READ_PROMPTS}
            with engine.steered(None):
                nll = float(-np.mean(engine.answer_logprob(list(texts), list(texts.values()))))
            row["read"][v] = {"answers": texts, "unsteered_nll": nll}
        rows.append(row)
        click.echo(
            f"budget {b}: mean dose {doses.mean():.4f} "
            + "  ".join(
                f"{k}: reach {row[k]['reach_mean']:+.3f} spec {row[k]['specificity']:.2f} "
                f"rows {row[k]['rows_own_largest']}"
                for k in sets
            )
            + (
                f"  answers: reach {row['answers']['answer_reach']:+.3f} spec "
                f"{row['answers']['answer_specificity']:.2f} rows {row['answers']['answer_rows_own_largest']}"
                if judge
                else ""
            ),
            err=True,
        )
    with engine.steered(None):
        base_nll = float(-np.mean(engine.answer_logprob(list(unsteered), list(unsteered.values()))))
    out = {"scope": scope, "unsteered": {"answers": unsteered, "unsteered_nll": base_nll}, "rows": rows}
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"unsteered (NLL {base_nll:.2f}): " + " | ".join(unsteered.values()))
    for row in rows:
        for v, r in row["read"].items():
            click.echo(f"[{row['budget']}] {v} (NLL {r['unsteered_nll']:.2f}): " + " | ".join(r["answers"].values()))


if __name__ == "__main__":
    main()
