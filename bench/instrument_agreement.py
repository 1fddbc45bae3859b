"""How far each instrument can be trusted: the validity table.

1. **Judges**: every answer judge (default: Gemma 3 270M and the unsteered default model itself)
   on the labelled answers of the evaluation data (written to express one value each, never used to
   tune anything): top-1 accuracy, recall per value, the confusion table, and the two judges'
   agreement (Cohen's kappa of their top-1 values, mean per-answer Spearman of their scores).
2. **Convergent validity per value**: the model in several conditions (unsteered, and each value's
   vector alone at +dose and -dose, the pack's fluency dose), measured by each instrument on our
   items and on the outside items (../shared/data, written by others: PVQ-40 for schwartz10, the
   MFQ and MFQ-2 items for moral_foundations); per value, Pearson r across conditions between our
   measurement and the outside items' (the same instrument on them; forced choice, which has no
   items, against the outside items' pooled likelihood).
3. **Test-retest** on the unsteered model: Spearman between a single template's profile and the
   other wordings (paraphrase) and answer orders (reversed scale/labels); for the pooled variant,
   the Spearman-Brown reliability of the average of its k templates from their mean correlation.

    python bench/instrument_agreement.py [--system schwartz10|moral_foundations] [--judges gemma3-270m,self]
        [--signs +-] [--instruments likelihood,likelihood:pooled,...] [--json] [--out FILE.json]
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from couple_lite import Steerer, load_engine, load_steerer, load_value_system
from couple_lite.measure import INSTRUMENTS, AnswerJudge, load_items, measure, pooled_templates
from couple_lite.measure.validity import convergent, judge_agreement, judge_report, retest
from couple_lite.research import eval_data
from couple_lite.vectors import steering_vector

OUTSIDE = ROOT.parent / "shared" / "data" / "valuebench_value_items.csv"
QUESTIONNAIRES = {"schwartz10": ("PVQ40",), "moral_foundations": ("MFT08", "MFT23")}
DEFAULT_INSTRUMENTS = "likelihood,likelihood:pooled,questionnaire,questionnaire:pooled,forced_choice"


def outside_items(vs):
    """The outside items of this value system's questionnaires (others' rows dropped)."""
    from reach import only_questionnaire  # bench/reach.py: a temporary CSV of the chosen questionnaires

    keep = QUESTIONNAIRES.get(vs.name)
    if not keep or not OUTSIDE.exists():
        return None
    return load_items(vs, only_questionnaire(OUTSIDE, ",".join(keep)))[0]


def judges_section(vs, judge_names: list[str], default_engine, default_name: str) -> dict:
    data = eval_data(vs.name)
    labelled = data["labelled_answers"]
    answers = [a for v in vs.names for a in labelled.get(v, [])]
    true = [i for i, v in enumerate(vs.names) for _ in labelled.get(v, [])]
    out, scores = {}, {}
    for jn in judge_names:
        if jn == "self":
            engine, name = default_engine, default_name
        else:
            engine = load_engine(jn)
            name = engine.identity[0]
        click.echo(f"judge {name} on {len(answers)} labelled answers ...", err=True)
        scores[name] = AnswerJudge(engine, vs.names, data["judge_words"], name).scores(answers)
        out[name] = judge_report(scores[name], true, vs.names)
    agree = {f"{a} ~ {b}": judge_agreement(scores[a], scores[b]) for a, b in itertools.combinations(scores, 2)}
    return {"judges": out, "agreement": agree, "n_answers": len(answers)}


def conditions_section(steerer: Steerer, instruments: list[str], ours, outside, signs: str) -> dict:
    """Every instrument on our items and the outside items, in every steering condition."""
    from reach import value_doses  # bench/reach.py: the pack's per-value fluency doses

    engine, pack, vs = steerer.engine, steerer.pack, steerer.system
    names, doses = pack.values, value_doses(steerer)
    conds = [("unsteered", None)]
    for i, n in enumerate(names):
        for sign in signs:
            coef = np.zeros(len(names))
            coef[i] = doses[i] * (1 if sign == "+" else -1)
            conds.append((f"{n}{sign}", steering_vector(pack.extraction, coef)))
    # forced choice has no items: the outside items' pooled likelihood is its criterion (outside side only)
    criterion_only = (
        ["likelihood:pooled"] if "forced_choice" in instruments and "likelihood:pooled" not in instruments else []
    )
    keys = list(dict.fromkeys(instruments)) + criterion_only
    levels: dict[str, dict[str, list]] = {}
    with click.progressbar(conds, label="conditions", file=sys.stderr) as bar:
        for _, vector in bar:
            with engine.steered(vector):
                for key in keys:
                    inst, _, variant = key.partition(":")
                    for where, items in (("ours", ours), ("outside", outside)):
                        if (
                            items is None
                            or (inst == "forced_choice" and where == "outside")
                            or (key in criterion_only and where == "ours")
                        ):
                            continue
                        p = measure(
                            engine,
                            vs,
                            inst,
                            items=None if inst == "forced_choice" else items,
                            variant=variant or "default",
                        )
                        levels.setdefault(key, {}).setdefault(where, []).append(
                            [p.profile.get(n, np.nan) for n in vs.names]
                        )
    out = {}
    for key in instruments:
        inst = key.partition(":")[0]
        ours_l = np.array(levels[key]["ours"])
        crit_key = "likelihood:pooled" if inst == "forced_choice" else key
        if outside is None or "outside" not in levels.get(crit_key, {}):
            continue
        out[key] = convergent(ours_l, np.array(levels[crit_key]["outside"]), vs.names) | {"criterion": crit_key}
    return {
        "conditions": [c for c, _ in conds],
        "doses": dict(zip(names, map(float, doses))),
        "convergent": out,
        "levels": {k: {w: np.asarray(x).tolist() for w, x in v.items()} for k, v in levels.items()},
    }


def retest_section(engine, vs, extraction) -> dict:
    out = {}
    for inst in ("questionnaire", "forced_choice", "likelihood"):
        prof = {
            v: measure(engine, vs, inst, variant=v, extraction=extraction).profile
            for v in ("default", "paraphrase", "reversed")
        }
        pairs = {f"default ~ {v}": retest(prof["default"], prof[v]) for v in ("paraphrase", "reversed")}
        mean_r = float(np.mean([retest(prof[a], prof[b]) for a, b in itertools.combinations(prof, 2)]))
        k = pooled_templates(inst)
        out[inst] = pairs | {
            "templates_mean": mean_r,
            "pooled_projected": k * mean_r / (1 + (k - 1) * mean_r) if mean_r > 0 else None,
            "pooled_k": k,
        }
    return out


def format_table(headers, rows) -> str:
    """Left-aligned text columns, numbers to two decimals, one header rule."""
    cells = [[f"{x:.2f}" if isinstance(x, float) else str(x) for x in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(r) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, cells)])


def show(result: dict) -> None:
    names = result["values"]
    j = result["judges"]
    click.echo(f"\nJudges on {j['n_answers']} labelled answers (chance {1 / len(names):.2f}):")
    click.echo(
        format_table(
            ["judge", "accuracy"] + names,
            [[n, r["accuracy"]] + [r["recall"][v] for v in names] for n, r in j["judges"].items()],
        )
    )
    for n, r in j["judges"].items():
        click.echo(f"\nconfusion of {n} (rows: written for; columns: judged):")
        click.echo(
            format_table(["written for"] + [v[:6] for v in names], [[v] + row for v, row in zip(names, r["confusion"])])
        )
    for k, a in j["agreement"].items():
        click.echo(
            f"\n{k}: kappa {a['kappa']:+.2f}, top-1 agreement {a['top1_agree']:.2f}, "
            f"mean per-answer Spearman {a['mean_spearman']:+.2f}"
        )
    c = result.get("conditions")
    if c:
        click.echo(
            f"\nConvergent validity: Pearson r per value across {len(c['conditions'])} conditions, "
            f"our items vs the outside items ({', '.join(result['questionnaires'])}):"
        )
        rows = [
            [k, r["criterion"], r["median"], r["pooled"]] + [r["per_value"][v] for v in names]
            for k, r in c["convergent"].items()
        ]
        click.echo(format_table(["instrument", "criterion", "median", "pooled"] + names, rows))
    click.echo(
        "\nTest-retest (Spearman, unsteered; the pooled likelihood's k = 5 is projected from its three "
        "named templates' mean correlation):"
    )
    click.echo(
        format_table(
            ["instrument", "~ paraphrase", "~ reversed", "templates' mean", "pooled (Spearman-Brown)"],
            [
                [k, r["default ~ paraphrase"], r["default ~ reversed"], r["templates_mean"], r["pooled_projected"]]
                for k, r in result["retest"].items()
            ],
        )
    )
    click.echo(f"\n{result['seconds']:.0f} s")


@click.command()
@click.option("--system", default="schwartz10", show_default=True, type=click.Choice(sorted(QUESTIONNAIRES)))
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option(
    "--judges",
    default="gemma3-270m,self",
    show_default=True,
    help="Comma-separated judges: registered names, GGUF paths or 'self' (the unsteered model).",
)
@click.option(
    "--instruments",
    default=DEFAULT_INSTRUMENTS,
    show_default=True,
    help="Comma-separated INSTRUMENT[:pooled] for the convergent-validity conditions ('' skips them).",
)
@click.option(
    "--signs",
    type=click.Choice(["+", "-", "+-"]),
    default="+-",
    show_default=True,
    help="Steer each value up, down or both (conditions besides the unsteered one).",
)
@click.option("--out", type=click.Path(dir_okay=False), default=None, help="Also write the JSON result here.")
@click.option("--json", "as_json", is_flag=True)
def main(system, model, judges, instruments, signs, out, as_json) -> None:
    t0 = time.perf_counter()
    chosen = [i.strip() for i in instruments.split(",") if i.strip()]
    for key in chosen:  # checked before the slow judges section, not after it
        inst, _, variant = key.partition(":")
        if inst not in INSTRUMENTS or inst == "probe" or variant not in ("", "pooled"):
            raise click.BadParameter(
                f"{key!r}: use INSTRUMENT or INSTRUMENT:pooled with INSTRUMENT one of "
                f"{', '.join(i for i in INSTRUMENTS if i != 'probe')}",
                param_hint="--instruments",
            )
    vs = load_value_system(system)
    engine = load_engine(model)
    name = engine.identity[0]
    steerer = load_steerer(engine=engine, system=vs.name)
    pack = steerer.pack
    result = {"system": vs.name, "model": name, "values": vs.names, "questionnaires": QUESTIONNAIRES[vs.name]}
    result["judges"] = judges_section(vs, [j.strip() for j in judges.split(",") if j.strip()], engine, name)
    if chosen:
        result["conditions"] = conditions_section(steerer, chosen, load_items(vs)[0], outside_items(vs), signs)
    result["retest"] = retest_section(engine, vs, pack.extraction)
    result["seconds"] = time.perf_counter() - t0
    if out:
        Path(out).write_text(json.dumps(result, indent=2), encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        show(result)


if __name__ == "__main__":
    main()
