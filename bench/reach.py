"""Reach: how far each value's vector moves its own value, and nothing else, at the fluency budget.

For each value alone: the pack's vector at the Steerer's fluency cap (the strength every plan is
capped to), the profile measured on held-out items (our evaluation items, never used in extraction
or calibration, or ``--items FILE``, e.g. an outside questionnaire passed by path), minus the
unsteered profile measured the same way; changes on the 1-6 scale through the Steerer's own
instrument-to-scale mapping. Fluency cost: the rise of mean negative log-likelihood per token of
fixed neutral text (nats/token; the budget the pack's cap was calibrated against).

Keys: ``reach_mean`` (own change, mean over values), ``specificity`` (mean own change / mean of the
mean |change| of the other values), ``rows_own_largest`` (values whose own change is the largest),
``nll_rise`` (mean neutral-text cost over values), ``kl`` (mean KL per token on the model's own
answers to everyday prompts, ``couple_lite.vectors.fluency``), ``per_value``; with ``--answers N`` also
``answer_reach``, ``answer_specificity``, ``answer_rows_own_largest`` from greedy answers to N
held-out everyday questions scored by an independent judge (judge units: PMI nats).

    python bench/reach.py [--pack PACK] [--items FILE.csv] [--instrument likelihood] [--scale-dose X]
                          [--answers N] [--json]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from couple_lite import Steerer, load_engine, load_steerer
from couple_lite.measure import INSTRUMENTS, measure
from couple_lite.research import eval_items
from couple_lite.vectors import NEUTRAL_TEXT, steering_vector


def answer_reach(
    steerer: Steerer, judge, questions: list[str], doses: np.ndarray, max_tokens: int = 64, progress=None
) -> dict:
    """On generated answers: each value's vector alone at its dose, greedy answers to everyday
    questions, scored by an independent judge (PMI of one word per value, ipsatised; judge units,
    not the 1-6 scale) minus the judge's scores of the unsteered answers."""
    engine, names = steerer.engine, steerer.pack.values

    def judged(vector) -> np.ndarray:
        with engine.steered(vector):
            answers = [engine.generate(q, max_tokens=max_tokens, temperature=0.0) for q in questions]
        return judge.scores(answers).mean(axis=0), answers

    base, base_answers = judged(None)
    per_value = {}
    for i, n in enumerate(names):
        coef = np.zeros(len(names))
        coef[i] = doses[i]
        scores, answers = judged(steering_vector(steerer.pack.extraction, coef))
        change = scores - base
        per_value[n] = {
            "own": float(change[i]),
            "others_mean_abs": float(np.mean(np.abs(np.delete(change, i)))),
            "largest": names[int(np.argmax(change))],
            "example": answers[0],
        }
        if progress:
            progress(i + 1, len(names))
    own = np.array([v["own"] for v in per_value.values()])
    other = np.array([v["others_mean_abs"] for v in per_value.values()])
    return {
        "answer_reach": float(own.mean()),
        "answer_specificity": float(own.mean() / max(other.mean(), 1e-12)),
        "answer_rows_own_largest": int(sum(v["largest"] == n for n, v in per_value.items())),
        "answer_per_value": per_value,
        "unsteered_example": base_answers[0],
        "n_questions": len(questions),
    }


def value_doses(steerer: Steerer, dose_scale: float = 1.0) -> np.ndarray:
    """Each value's strength when steered alone at the pack's fluency budget: its own dose where the
    pack records one per value (a KL budget), else one cap for every vector (the smallest of an
    older pack's limits, or 0.03 when it has none)."""
    pack = steerer.pack
    if pack.metrics.get("fluency", {}).get("per_value_dose") and pack.fluency_limit is not None:
        return np.asarray(pack.fluency_limit, dtype=np.float64) * dose_scale
    limit = float(np.min(pack.fluency_limit)) if pack.fluency_limit is not None else 0.03
    return np.full(len(pack.values), limit * dose_scale)


def reach(
    steerer: Steerer, instrument: str, items, dose_scale: float = 1.0, progress=None, doses: np.ndarray | None = None
) -> dict:
    """The reach figures of a Steerer's pack (see the module docstring)."""
    engine, pack, system = steerer.engine, steerer.pack, steerer.system
    names = pack.values
    doses = value_doses(steerer, dose_scale) if doses is None else np.asarray(doses, dtype=np.float64)

    def profile() -> np.ndarray:
        p = measure(engine, system, instrument, items=items, extraction=pack.extraction)
        return np.array([p.profile.get(n, np.nan) for n in names])

    base, base_nll = profile(), engine.mean_nll(NEUTRAL_TEXT)
    per_value, rows = {}, []
    for i, n in enumerate(names):
        coef = np.zeros(len(names))
        coef[i] = doses[i]
        with engine.steered(steering_vector(pack.extraction, coef)):
            change = steerer.units.change_to_scale(profile() - base)
            rise = engine.mean_nll(NEUTRAL_TEXT) - base_nll
        others = np.delete(change, i)
        per_value[n] = {
            "own": float(change[i]),
            "others_mean_abs": float(np.nanmean(np.abs(others))),
            "largest": names[int(np.nanargmax(change))],
            "nll_rise": float(rise),
            "change": dict(zip(names, map(float, change))),
        }
        rows.append(change)
        if progress:
            progress(i + 1, len(names))
    own = np.array([per_value[n]["own"] for n in names])
    other = np.array([per_value[n]["others_mean_abs"] for n in names])
    return {
        "reach_mean": float(np.nanmean(own)),
        "specificity": float(np.nanmean(own) / max(float(np.nanmean(other)), 1e-12)),
        "rows_own_largest": int(sum(per_value[n]["largest"] == n for n in names)),
        "n_values": len(names),
        "nll_rise": float(np.mean([per_value[n]["nll_rise"] for n in names])),
        "dose": float(np.mean(doses)),
        "doses": dict(zip(names, map(float, doses))),
        "per_value": per_value,
    }


def only_questionnaire(path: Path, name: str) -> Path:
    """A temporary copy of an item CSV with only the rows of ``name``'s questionnaires (comma-separated;
    nothing is kept after)."""
    import atexit
    import csv
    import tempfile

    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    keep = [r for r in rows if r.get("questionnaire") in {q.strip() for q in name.split(",")}]
    if not keep:
        raise click.UsageError(f"no row of {path} has questionnaire {name!r}")
    fd, tmp = tempfile.mkstemp(suffix=f"-{name}.csv")
    atexit.register(Path(tmp).unlink, missing_ok=True)
    with open(fd, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(keep[0]))
        w.writeheader()
        w.writerows(keep)
    return Path(tmp)


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--pack", "pack_path", default=None, help="Value-vector pack (default: the shipped one).")
@click.option(
    "--system",
    default="schwartz10",
    show_default=True,
    help="Value system of the pack (the default pack's; a --pack must hold it).",
)
@click.option(
    "--items", "items_file", default=None, help="Item CSV (item, value, agreement) instead of our held-out items."
)
@click.option(
    "--questionnaire",
    default=None,
    help="Keep only the CSV rows whose 'questionnaire' column is this (e.g. PVQ40; several: MFT08,MFT23).",
)
@click.option("--instrument", type=click.Choice(sorted(INSTRUMENTS)), default="likelihood", show_default=True)
@click.option("--scale-dose", type=float, default=1.0, show_default=True, help="Multiply the fluency-capped strength.")
@click.option(
    "--answers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Also judge greedy answers to this many held-out everyday questions per value (0: skip).",
)
@click.option("--judge", default="gemma3-270m", show_default=True, help="Answer judge: registered name or GGUF path.")
@click.option("--json", "as_json", is_flag=True)
def main(model, pack_path, system, items_file, questionnaire, instrument, scale_dose, answers, judge, as_json) -> None:
    from couple_lite.vectors import FluencyProbe

    if questionnaire:
        if not items_file:
            raise click.UsageError("--questionnaire filters an --items file; give one")
        items_file = only_questionnaire(Path(items_file), questionnaire)

    engine = load_engine(model, n_ctx=2048)
    steerer = load_steerer(engine=engine, pack=pack_path, system=system)
    pack = steerer.pack
    items, source = eval_items(steerer.system, items_file)
    t0 = time.perf_counter()
    with click.progressbar(length=len(pack.values), label="steering each value", file=sys.stderr) as bar:
        result = reach(steerer, instrument, items, scale_dose, progress=lambda done, total: bar.update(1))
    doses = np.array(list(result["doses"].values()))
    probe = FluencyProbe.build(engine)
    kls = []
    for i in range(len(pack.values)):
        coef = np.zeros(len(pack.values))
        coef[i] = doses[i]
        kls.append(probe.cost_of(steering_vector(pack.extraction, coef)))
        result["per_value"][pack.values[i]]["kl"] = kls[-1]
    result["kl"] = float(np.mean(kls))
    if answers:
        from couple_lite.measure import AnswerJudge
        from couple_lite.research import eval_data

        jengine = load_engine(judge, n_ctx=1024)
        words = eval_data(steerer.system.name)["judge_words"]
        aj = AnswerJudge(jengine, pack.values, words, judge)
        questions = eval_data(steerer.system.name)["questions"][:answers]
        with click.progressbar(length=len(pack.values), label="judging answers", file=sys.stderr) as bar:
            result.update(answer_reach(steerer, aj, questions, doses, progress=lambda d, t: bar.update(1)))
    result.update(
        items=source,
        n_items=len(items),
        instrument=instrument,
        pack=str(pack_path or "shipped"),
        seconds=round(time.perf_counter() - t0, 1),
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"{source}, {len(items)} items, {instrument}; mean dose {result['dose']:.4f} of the residual norm")
    click.echo(f"{'value':<15} {'own':>7} {'others':>7} {'largest':<15} {'nll rise':>8} {'kl':>7}")
    for n, r in result["per_value"].items():
        click.echo(
            f"{n:<15} {r['own']:+7.3f} {r['others_mean_abs']:7.3f} {r['largest']:<15} "
            f"{r['nll_rise']:8.3f} {r['kl']:7.3f}"
        )
    click.echo(
        f"reach_mean {result['reach_mean']:+.3f}  specificity {result['specificity']:.2f}  rows_own_largest "
        f"{result['rows_own_largest']}/{result['n_values']}  nll_rise {result['nll_rise']:.3f}  kl {result['kl']:.3f}  "
        f"({result['seconds']} s)"
    )
    if answers:
        click.echo(
            f"answers ({answers} questions, judge {judge}): answer_reach {result['answer_reach']:+.3f}  "
            f"answer_specificity {result['answer_specificity']:.2f}  answer_rows_own_largest "
            f"{result['answer_rows_own_largest']}/{result['n_values']}"
        )


if __name__ == "__main__":
    main()
