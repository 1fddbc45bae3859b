"""Which directions generalise: reach of direction recipes at an equal fluency cost.

Every recipe extracts one unit direction per value and block from our own texts only, removes the
confound directions (agree/disagree, tone, length) and the common mode as the pack does, keeps the
shipped window of blocks, scales the dose so that the mean neutral-text NLL rise over single-value
vectors equals ``--budget`` (set on neutral text only, never on items), and measures reach
(bench/reach.py's figures) on our held-out evaluation items and, with ``--items``, an outside file.

Recipes (``RECIPES``): which pairs (``couple_lite.vectors.value_pairs`` kinds: our older context
pairs, the varied pairs of ``data/pairs_schwartz10.json``, or all) and which extraction method
(``couple_lite.vectors.EXTRACTORS``: ``mean`` of positive - negative, or ``ovr``, the value's mean positive
state minus the other values'). Hidden states are cached in ``.bench_cache/``; ``--save-dir`` also
writes each recipe's pack exactly as ``extract`` would (to be calibrated), so a study's winner need
not be extracted again.

    python bench/direction_study.py [--recipes a,b] [--budget 0.036] [--items FILE --questionnaire PVQ40]
                                    [--layers 11-17,8-22] [--schedule window,gaussian,spread] [--save-dir DIR] [--json]
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from pathlib import Path

import click
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reach import only_questionnaire, reach
from reach_layers import dose_for_budget

from couple_lite import ValuePack, load_engine, load_steerer
from couple_lite.research import eval_items
from couple_lite.vectors import PairStates, collect_states, directions_from, save_pack

CACHE = ROOT / ".bench_cache"


def cached_states(engine, system, kind: str) -> PairStates:
    """collect_states, cached in .bench_cache/ by the texts' content and the model file."""
    from couple_lite.vectors import confound_pairs, value_pairs

    pairs = [p for ps in value_pairs(system, kind).values() for p in ps] + [
        p for ps in confound_pairs().values() for p in ps
    ]
    key = hashlib.sha256(
        json.dumps([str(engine.model_path), kind] + [[p.question, p.positive, p.negative] for p in pairs]).encode()
    ).hexdigest()[:16]
    f = CACHE / f"states-{kind}-{key}.npz"
    if f.exists():
        with np.load(f, allow_pickle=False) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            return PairStates(
                meta["values"],
                kind,
                z["value_idx"],
                z["held"],
                z["pos"],
                z["neg"],
                z["cpos"],
                z["cneg"],
                z["conf_idx"],
                meta["texts_sha256"],
            )
    with click.progressbar(length=len(pairs) * 2, label=f"hidden states ({kind})", file=sys.stderr) as bar:
        done = [0]

        def tick(n, total):
            bar.update(n - done[0])
            done[0] = n

        st = collect_states(engine, system, kind, progress=tick)
    CACHE.mkdir(exist_ok=True)
    meta = json.dumps({"values": st.values, "texts_sha256": st.texts_sha256}).encode()
    np.savez(
        f,
        meta=np.frombuffer(meta, dtype=np.uint8),
        value_idx=st.value_idx,
        held=st.held,
        pos=st.pos,
        neg=st.neg,
        cpos=st.cpos,
        cneg=st.cneg,
        conf_idx=st.conf_idx,
    )
    return st


def heldout_accuracy(ex, lo: int, hi: int) -> float:
    return float(ex.value_accuracy[lo : hi + 1].mean())


# recipe -> (pair kind, extraction method)
RECIPES = {
    "context_mean": ("context", "mean"),
    "varied_mean": ("varied", "mean"),
    "varied_ovr": ("varied", "ovr"),
    "all_mean": ("all", "mean"),
    "all_ovr": ("all", "ovr"),
}


def scheduled(ex, states: PairStates, schedule: str):
    """The extraction with its per-block strength unit (``layer_norms``) reshaped inside its window:
    the dose search then sets the overall strength, so only the profile over depth changes."""
    lo, hi = ex.layer_range
    blocks = np.arange(lo, hi + 1)
    if schedule == "window":
        return ex
    if schedule == "gaussian":
        w = np.exp(-0.5 * ((blocks - (lo + hi) / 2) / max((hi - lo + 1) / 4, 0.5)) ** 2)
    elif schedule == "spread":
        h = np.concatenate([states.pos, states.neg])[:, lo : hi + 1].astype(np.float64)  # (n, blocks, d)
        proj = np.einsum("nld,vld->nvl", h, ex.directions[:, lo : hi + 1])
        w = proj.std(axis=0).mean(axis=0) / ex.layer_norms[lo : hi + 1]
    else:
        raise click.BadParameter(f"unknown schedule {schedule!r}: window, gaussian or spread")
    norms = ex.layer_norms.astype(np.float64).copy()
    norms[lo : hi + 1] *= w / w.mean()
    return dataclasses.replace(ex, layer_norms=norms.astype(np.float32), settings={**ex.settings, "schedule": schedule})


@click.command()
@click.option("--recipes", default=",".join(RECIPES), show_default=True)
@click.option("--budget", type=float, default=0.036, show_default=True, help="Mean NLL rise, nats/token.")
@click.option("--layers", default=None, help="Windows FIRST-LAST[,FIRST-LAST...] (default: the shipped pack's).")
@click.option("--items", "items_file", default=None)
@click.option("--questionnaire", default=None)
@click.option(
    "--save-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write each recipe's pack (as `extract` writes it) to DIR/RECIPE-LO-HI.npz.",
)
@click.option(
    "--schedule",
    "schedules",
    default="window",
    show_default=True,
    help="Per-block scale inside each window, comma-separated: window (uniform, as shipped), gaussian "
    "(a smooth depth profile peaking mid-window, sd a quarter of its width) or spread (each block by "
    "the spread of the pair states along the directions, relative to its residual norm).",
)
@click.option("--json", "as_json", is_flag=True)
def main(recipes, budget, layers, items_file, questionnaire, save_dir, schedules, as_json) -> None:
    engine = load_engine(n_ctx=2048)
    name, sha = engine.identity
    steerer = load_steerer(engine=engine, system="schwartz10")
    pack = steerer.pack
    system = steerer.system
    names = system.names
    windows = (
        [tuple(int(x) for x in w.split("-")) for w in layers.split(",")] if layers else [pack.extraction.layer_range]
    )
    sets = {"ours": eval_items(system)[0]}
    if items_file:
        f = only_questionnaire(Path(items_file), questionnaire) if questionnaire else items_file
        sets["outside"] = eval_items(system, f)[0]
    if save_dir:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    states: dict = {}
    rows = []
    for r in recipes.split(","):
        kind, method = RECIPES[r]
        if kind not in states:
            states[kind] = cached_states(engine, system, kind)
        for (lo, hi), sched in ((w, sc) for w in windows for sc in schedules.split(",")):
            ex = scheduled(directions_from(states[kind], method, (lo, hi)), states[kind], sched)
            steerer.pack = dataclasses.replace(pack, extraction=ex)
            if save_dir:
                save_pack(
                    ValuePack(sha, name, engine.architecture, system.name, ex), Path(save_dir) / f"{r}-{lo}-{hi}.npz"
                )
            dose = dose_for_budget(engine, ex, budget)
            row = {
                "recipe": r,
                "pairs": kind,
                "method": method,
                "layers": [lo, hi],
                "schedule": sched,
                "n_train_pairs": ex.settings["n_train_pairs"],
                "heldout_accuracy": heldout_accuracy(ex, lo, hi),
                "dose": dose,
            }
            for label, items in sets.items():
                res = reach(steerer, "likelihood", items, doses=np.full(len(names), dose))
                row[label] = {k: res[k] for k in ("reach_mean", "specificity", "rows_own_largest", "nll_rise")}
                row[label]["own"] = {n: round(v["own"], 3) for n, v in res["per_value"].items()}
                row[label]["largest"] = {n: v["largest"] for n, v in res["per_value"].items()}
            rows.append(row)
            click.echo(
                f"{r:<13} {lo}-{hi} {sched:<8} acc {row['heldout_accuracy']:.2f} dose {dose:.4f} "
                + "  ".join(
                    f"{k}: reach {row[k]['reach_mean']:+.3f} spec {row[k]['specificity']:.2f} "
                    f"rows {row[k]['rows_own_largest']}/10"
                    for k in sets
                ),
                err=True,
            )
    if as_json:
        click.echo(json.dumps({"budget": budget, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
