"""The research commands of the command line: extract, calibrate, measure and eval (the group in
``cli`` imports this module when one is named; choice lists come from the libraries' registries)."""

from __future__ import annotations

import sys
import warnings

import click

from .calibrate import KL_BUDGET, SWEEP_STRENGTH
from .cli_common import SCOPE_OPTION, load_engine, load_pack, load_steerer, parse_layers, print_json, progress
from .contrast import PAIR_KINDS
from .eval_methods import METHODS
from .measure import HALF_RANGE, INSTRUMENTS, MID, VARIANTS
from .vectors import EXTRACTORS

INSTRUMENT_CHOICE = click.Choice(list(INSTRUMENTS))


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True,
              help="Value system: a built-in name, or your own system's JSON file (then give --texts).")
@click.option("--texts", "texts_file", type=click.Path(dir_okay=False), default=None,
              help="Your own contrast texts (JSON: pairs and calibration items per value; see README, Your own "
                   "value system) instead of the shipped ones.")
@click.option("--method", type=click.Choice(list(EXTRACTORS)), default="mean", show_default=True)
@click.option("--pairs", type=click.Choice(list(PAIR_KINDS)), default="context", show_default=True,
              help="context: same situation, value honoured or not; varied: 68 pairs per value in five registers "
                   "(schwartz10, moral_foundations); all: context + varied (the shipped pack's); persona: 'you value X' prompts.")
@click.option("--layers", default=None, help="Layer range FIRST-LAST (default: chosen from held-out separability).")
@click.option("--keep-confounds", is_flag=True, help="Do not project out confound and common-mode directions.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Pack file to write (default: models/packs/<model>-<system>.npz).")
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help="Also write the per-block held-out separability of each value here (layers.json/.md/.svg).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def extract(model, system, texts_file, method, pairs, layers, keep_confounds, output, report_dir, as_json):
    """Extract value directions from the model's hidden states and write a value-vector pack.

    Example: python cli.py extract --pairs all --method ovr --layers 11-17 -o models/packs/mine.npz
    (the shipped pack's recipe)
    """
    from .pack import ValuePack, default_pack_path, save_pack
    from .values import load_value_system
    from .vectors import extract as run_extract

    from .contrast import load_texts
    from .values import BUILTIN_SYSTEMS

    vs = load_value_system(system)
    texts = load_texts(texts_file, vs) if texts_file else None  # checked before the model loads
    engine, name, sha = load_engine(model)
    ex = run_extract(engine, vs, method, pairs, parse_layers(layers), remove=not keep_confounds,
                     progress=progress("hidden states"), texts=texts)
    metrics = {}
    if vs.name not in BUILTIN_SYSTEMS or str(system).lower().endswith(".json"):  # the pack carries the system
        metrics["system_definition"] = vs.model_dump(mode="json")
    if texts and texts["items"]:
        metrics["calibration_items"] = [{"text": t, "value": v} for v, ts in texts["items"].items() for t in ts]
    path = save_pack(ValuePack(sha, name, engine.architecture, vs.name, ex, metrics=metrics),
                     output or default_pack_path(name, vs.name))
    lo, hi = ex.layer_range
    data = {"pack": str(path), "layer_range": [lo, hi], "settings": ex.settings,
            "heldout_value_accuracy": float(ex.value_accuracy[lo: hi + 1].mean()),
            "removed_share": dict(zip(ex.values, map(float, ex.removed[:, lo: hi + 1].mean(axis=1))))}
    if report_dir:
        from .layer_report import write_layer_report

        data["report"] = [str(p) for p in write_layer_report(ex, report_dir)]
    if as_json:
        print_json(data)
        return
    from .table import format_table

    click.echo(f"wrote {path}: layers {lo}-{hi}, held-out value accuracy {data['heldout_value_accuracy']:.2f} "
               f"(chance {1 / len(ex.values):.2f})")
    rows = [[v, float(ex.pair_accuracy[i, lo: hi + 1].mean()), data["removed_share"][v]] for i, v in enumerate(ex.values)]
    click.echo(format_table(["value", "held-out pair accuracy", "share removed as confound"], rows))


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True)
@click.option("--pack", "pack_path", type=click.Path(dir_okay=False), default=None, help="Pack to calibrate (updated in place).")
@click.option("--instrument", type=INSTRUMENT_CHOICE, default="questionnaire", show_default=True)
@click.option("--strength", default=str(SWEEP_STRENGTH), show_default=True,
              help="Sweep strength(s), comma-separated (share of the residual norm per steered block).")
@click.option("--budget", type=click.FloatRange(min=0, min_open=True, max=10), default=KL_BUDGET, show_default=True,
              help="Fluency budget: mean KL per token (nats) on the model's own answers to everyday prompts.")
@click.option("--fast-budget", is_flag=True, help="Combined-vector costs from the vectors' cosines instead of "
              "steering each pair of values (saves ~3 min on the default model).")
@click.option("--no-fluency", is_flag=True, help="Skip the fluency budget.")
@click.option("--item-information", "item_info_only", is_flag=True,
              help="Only measure how informative each calibration item is (for measure --items-budget) and store it; "
                   "R and the budget are kept.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def calibrate(model, system, pack_path, instrument, strength, budget, fast_budget, no_fluency, item_info_only,
              as_json):
    """Measure the response matrix R (steer each value, measure all) and the fluency budget; store them in the pack.

    Example: python cli.py calibrate --instrument likelihood --strength 0.015,0.03 --budget 0.1
    """
    from .calibrate import item_values, kl_budget, response_matrix, specificity
    from .response_fit import fit_response
    from .fluency import ANSWER_TOKENS, BUDGET_PROMPTS
    from .pack import save_pack
    from .values import load_value_system

    vs = load_value_system(system)
    engine, name, sha = load_engine(model)
    pack, path = load_pack(pack_path, engine, name, sha, vs.name)
    vs = pack.value_system()
    items = pack.calibration_items()  # a user's own items, else the system's shipped ones
    if item_info_only:
        return _item_information(engine, vs, pack, path, as_json)
    try:
        doses = tuple(float(x) for x in strength.split(","))
    except ValueError:
        raise click.BadParameter("strengths must be numbers, e.g. 0.015,0.03") from None
    if not doses or any(not 0 < d < 1 for d in doses):
        raise click.BadParameter("strengths must lie between 0 and 1 (share of the residual norm)")
    if items is None:
        from .contrast import builtin_items
        from .errors import CoupleError

        try:
            builtin_items(vs.name)
        except CoupleError:
            raise click.UsageError(f"{vs.name!r} has no shipped calibration items: extract its pack with --texts "
                                   "FILE whose \"items\" give at least two statements per value") from None
    R, base, sweep, slopes = response_matrix(engine, vs, pack.extraction, instrument, doses,
                                             progress=progress("response matrix"), items=items)
    pack.response, pack.response_instrument, pack.strength = R, instrument, max(doses)
    pack.metrics["specificity"] = specificity(R)
    pack.metrics.pop("response_fit", None)
    if slopes is not None:
        pack.metrics["response_fit"] = fit_response(slopes, item_values(vs, items), vs)
    pack.metrics["dose_response"] = sweep
    pack.metrics["unsteered_profile"] = base.profile
    pack.metrics["unsteered_sd"] = base.sd
    if not no_fluency:
        kb = kl_budget(engine, pack.extraction, budget, pairs=not fast_budget, progress=progress("fluency budget"))
        pack.fluency_limit, pack.fluency_gram = kb["doses"], kb["gram"]
        for old_key in ("fluency_max_nll_rise", "fluency_strengths"):  # a v1 pack's neutral-text limits
            pack.metrics.pop(old_key, None)
        pack.metrics["fluency"] = {
            "measure": "mean KL(unsteered || steered) per token on the model's greedy answers to everyday prompts",
            "budget": budget, "per_value_dose": True, "prompts": len(BUDGET_PROMPTS), "answer_tokens": ANSWER_TOKENS,
            "combined": "cosines" if fast_budget else "pairs", "check_measured_over_predicted": kb["measured_over_predicted"]}
    save_pack(pack, path)
    data = {"pack": str(path), "instrument": instrument, "strengths": list(doses), "values": pack.values,
            "response": R.tolist(), "specificity": pack.metrics["specificity"],
            "response_fit": pack.metrics.get("response_fit"),
            "fluency_limit": None if pack.fluency_limit is None else dict(zip(pack.values, map(float, pack.fluency_limit)))}
    if as_json:
        print_json(data)
        return
    from .table import format_table

    sp = data["specificity"]
    click.echo(f"updated {path}; R per unit strength on {instrument}: diagonal mean {sp['diag_mean']:.2f}, "
               f"off-diagonal mean |.| {sp['offdiag_mean_abs']:.2f}, own value largest in {sp['rows_diag_largest']}/"
               f"{sp['n_values']} rows")
    short = [v[:6] for v in pack.values]
    click.echo(format_table(["steer \\ measured"] + short, [[v] + list(map(float, R[i])) for i, v in enumerate(pack.values)]))
    fit = pack.metrics.get("response_fit")
    if fit:
        click.echo(f"decoupled solve: off-diagonal kept at {fit['alpha']:.1f} (cross-validated on the calibration items: "
                   f"score {max(fit['score']):.3f} vs the diagonal's {fit['diagonal']:.3f} and all of R's {fit['full']:.3f})")


def _item_information(engine, vs, pack, path, as_json):
    import numpy as np

    from .item_selection import item_information
    from .pack import save_pack

    if pack.response is None:
        raise click.UsageError("calibrate the pack first (the item information uses its doses)")
    doses = pack.fluency_limit if pack.fluency_budget is not None else np.full(len(pack.values), pack.strength)
    info = item_information(engine, vs, pack.extraction, np.asarray(doses), progress=progress("item information"))
    pack.metrics["item_information"] = {"instrument": "likelihood", "items": info,
                                        "doses": dict(zip(pack.values, map(float, doses)))}
    save_pack(pack, path)
    if as_json:
        print_json({"pack": str(path), "item_information": info})
        return
    ranked = sorted(info.items(), key=lambda kv: -kv[1])
    click.echo(f"updated {path}: information of {len(info)} calibration items; most informative: "
               + "; ".join(f"{t[:40]!r} {x:+.2f}" for t, x in ranked[:3]))


@click.command()
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--system", default="schwartz10", show_default=True)
@click.option("--pack", "pack_path", type=click.Path(dir_okay=False), default=None, help="Value-vector pack (for --values and the probe).")
@click.option("--values", "values_", default=None,
              help='Steer before measuring, e.g. "power=6" (the steering pipeline when the pack is calibrated).')
@click.option("--strength", type=float, default=SWEEP_STRENGTH, show_default=True,
              help="Uncalibrated pack only: strength x (level-3.5)/2.5 per named value.")
@click.option("--instrument", type=INSTRUMENT_CHOICE, default="questionnaire", show_default=True)
@click.option("--items", type=click.Path(dir_okay=False), default=None, help="Outside items CSV (columns item, value, agreement).")
@click.option("--variant", type=click.Choice(list(VARIANTS)), default="default", show_default=True,
              help="Prompt wording (paraphrase), reversed scale/labels (for test-retest), or pooled: averaged over "
                   "several templates and both answer orders (steadier, 3-5x slower).")
@click.option("--items-budget", type=click.IntRange(min=1), default=None,
              help="Likelihood instrument: only the N most informative calibration items per value (the pack's "
                   "calibrate --item-information).")
@SCOPE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def measure(model, system, pack_path, values_, strength, instrument, items, variant, items_budget, as_json):
    """Measure the model's value profile (1-6 scale, ipsatised), unsteered or steered.

    Example: python cli.py measure --instrument forced_choice --json
    """
    import numpy as np

    from .calibrate import steering_vector
    from .measure import load_items, measure as run_measure
    from .objective import parse_levels
    from .values import load_value_system

    vs = load_value_system(system)
    if items_budget and (instrument != "likelihood" or items):
        raise click.UsageError("--items-budget selects among the built-in calibration items of the likelihood "
                               "instrument: use --instrument likelihood and no --items")
    engine, name, sha = load_engine(model)
    pack = None
    if values_ or instrument == "probe" or pack_path or items_budget:
        pack, _ = load_pack(pack_path, engine, name, sha, vs.name)
    item_list, skipped = load_items(vs, items) if items else (None, 0)
    if items_budget:
        from .item_selection import informative_items

        info = pack.metrics.get("item_information")
        if not info:
            raise click.UsageError("this pack has no item information; run `python cli.py calibrate --item-information`")
        item_list = informative_items(load_items(vs)[0], info["items"], items_budget)
    vector = None
    if values_ and pack.response is not None:  # calibrated pack: the full steering pipeline
        from .objective import make_objective
        from .steering import Steerer

        st = Steerer(engine, pack, name)
        vector = st.vector(st.plan(make_objective(values_, None, vs), explain=False))
    elif values_:  # uncalibrated pack: full strength at either end of the scale, none at its middle
        levels = parse_levels(values_, vs)
        coef = np.array([strength * (levels[v] - MID) / HALF_RANGE if v in levels else 0.0 for v in pack.values])
        vector = steering_vector(pack.extraction, coef)
    with engine.steered(vector):
        prof = run_measure(engine, vs, instrument, items=item_list, variant=variant,
                           extraction=pack.extraction if pack else None)
    data = prof.model_dump() | {"skipped_rows": skipped, "steered": values_}
    if as_json:
        print_json(data)
        return
    from .table import format_table

    click.echo(f"{instrument} ({variant}), {prof.n_items} prompts" + (f", steered: {values_}" if values_ else "")
               + (f", raw mean {prof.raw_mean:.2f}" if prof.raw_mean is not None else "")
               + (f", {skipped} rows of other value systems skipped" if skipped else ""))
    click.echo(format_table(["value", "level", "± se"], [[v, prof.profile[v], prof.sd[v]] for v in prof.profile]))
    if prof.missing:
        click.echo(f"no items for: {', '.join(prof.missing)}")


@click.command("eval")
@click.option("--quick", is_flag=True, help="3 profiles, 2 items per value, 1 question each, short answers: checks the mechanics in a few minutes.")
@click.option("--model", default=None, help="GGUF path or registered name (default: smollm2-135m).")
@click.option("--pack", "pack_path", type=click.Path(dir_okay=False), default=None, help="Value-vector pack (default: the shipped one).")
@click.option("--system", default="schwartz10", show_default=True)
@click.option("--profiles", "profiles_file", type=click.Path(dir_okay=False), default=None,
              help="Target profiles JSON: a list of {name, values, priority}.")
@click.option("--methods", default=None,
              help=f"Comma-separated methods (default: all): {', '.join(METHODS)}; vector methods also as "
                   f"NAME@K, the vector multiplied by K (e.g. couple_lite@2).")
@click.option("--items", type=click.Path(dir_okay=False), default=None, help="Outside items CSV instead of the held-out items.")
@click.option("--instrument", type=INSTRUMENT_CHOICE,
              default="likelihood", show_default=True)
@click.option("--judge", default="gemma3-270m", show_default=True,
              help="Answer judge: registered name or GGUF path, 'self' (the unsteered model) or 'none'.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=None, help="Tokens per answer (default 48; 24 with --quick).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 2), default=0, show_default=True)
@click.option("--report", "report_dir", type=click.Path(file_okay=False), default=None,
              help='Write report.md, results.json and SVG plots here (plots need pip install -e ".[report]").')
@click.option("--from-results", type=click.Path(dir_okay=False), default=None,
              help="Re-render a saved results.json (with --report or --json) instead of running.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_(quick, model, pack_path, system, profiles_file, methods, items, instrument, judge, max_tokens, seed,
          report_dir, from_results, as_json):
    """Measure how closely each method hits target value profiles (see README, Evaluation; the
    methods are listed under --methods).

    Example: python cli.py eval --quick --report /tmp/eval
    """
    from . import evaluate as ev
    from .eval_result import EvalResult
    from .report import write_report

    if from_results:
        try:
            res = EvalResult.model_validate_json(open(from_results, encoding="utf-8").read())
        except (OSError, ValueError) as e:
            raise click.BadParameter(f"cannot read {from_results}: {str(e).splitlines()[0]}", param_hint="--from-results")
    else:
        steerer = load_steerer(model, pack_path, system)
        vs = steerer.system
        profiles = ev.load_profiles(profiles_file) if profiles_file else ev.builtin_profiles(vs)
        if quick:
            profiles = ([p for p in profiles if p.name in ev.QUICK_PROFILES] or profiles)[: ev.QUICK["profiles"]]
        chosen = [m.strip() for m in methods.split(",") if m.strip()] if methods else list(ev.METHODS)
        item_list, source = ev.eval_items(vs, items, ev.QUICK["items_per_value"] if quick else None)
        data = ev.eval_data(vs.name) if ev.has_eval_data(vs.name) else {}
        questions = data.get("questions") or ["What should I do this weekend?"]
        judge_obj = None
        if judge != "none":
            from .judge import AnswerJudge

            jengine, jname = (steerer.engine, steerer.model_name) if judge == "self" else (load_engine(judge)[0], judge)
            if "judge_words" not in data:
                raise click.UsageError(f"no judge words ship for {vs.name}; pass --judge none")
            judge_obj = AnswerJudge(jengine, vs.names, data["judge_words"], jname)
        show = progress("eval")
        res = ev.run_eval(
            steerer.engine, steerer, profiles, chosen, items=item_list, items_source=source, questions=questions,
            instrument=instrument, judge=judge_obj, seed=seed,
            questions_per_profile=ev.QUICK["questions_per_profile"] if quick else 2,
            max_tokens=max_tokens or (ev.QUICK["max_tokens"] if quick else 48),
            progress=show,
        )
    if report_dir:
        with warnings.catch_warnings(record=True) as said:  # e.g. 'plots skipped': one line each
            warnings.simplefilter("always")
            path = write_report(res, report_dir, command="python cli.py " + " ".join(sys.argv[1:]))
        for w in said:
            click.echo(f"warning: {w.message}", err=True)
        click.echo(f"wrote {path}", err=True)
    if as_json:
        print_json(res.model_dump())
    else:
        click.echo(res.table())

