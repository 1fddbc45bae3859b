"""Evaluation: how closely each steering method makes the model hit target value profiles.

For every target profile and method the model is put in the method's *condition*
(``eval_methods``), then

- its value profile is measured with an instrument on **held-out items** (``eval_inputs``) and
  compared with the target: Spearman and MAE on the named values and on all values, the share of
  priority pairs kept in order, side effects on unnamed values against the SCM's prediction;
- fluency: perplexity of fixed neutral text as an answer, relative to the unsteered model;
- answers to everyday questions are generated (greedy), timed, checked for repetition and scored by
  an independent judge (``judge.AnswerJudge``).

Measured profiles are mapped from instrument units to the 1-6 scale with one affine map for all
methods: the unsteered profile's spread across values matched to the prior's. This module is the
runner (``run_eval``); the names of ``eval_inputs`` and ``eval_methods`` stay importable from here.
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable

import numpy as np

from .calibrate import NEUTRAL_TEXT
from .errors import CoupleError
from .eval_inputs import QUICK_PROFILES, builtin_profiles, eval_data, eval_items, has_eval_data, load_profiles
from .eval_methods import (METHODS, VECTOR_METHODS, Condition, EvalContext, method, prompt_counterfactual_answer,
                           value_prompt)
from .eval_metrics import distinct_n, mae, mean_of, order_preserved, repetition, spearman
from .eval_result import EvalProfile, EvalResult, MethodRow, summarise
from .measure import Item, measure
from .scale import InstrumentScale
from .steering import Steerer

__all__ = ["EvalProfile", "EvalContext", "Condition", "METHODS", "VECTOR_METHODS", "method", "QUICK", "QUICK_PROFILES",
           "eval_data", "has_eval_data", "eval_items", "builtin_profiles", "load_profiles", "value_prompt",
           "prompt_counterfactual_answer", "run_eval"]

QUICK = dict(profiles=3, items_per_value=2, questions_per_profile=1, max_tokens=24)  # --quick: mechanics


def _measure(ctx: EvalContext, cond: Condition, instrument: str, items: list[Item]) -> tuple[dict, float]:
    """Raw profile (instrument units) and neutral-text NLL per token under a condition."""
    with ctx.engine.steered(cond.vector):
        prof = measure(ctx.engine, ctx.system, instrument, items=items, system_prompt=cond.system_prompt,
                       extraction=ctx.steerer.pack.extraction)
        nll = -float(np.mean(ctx.engine.answer_logprob(["Write a short paragraph."] * len(NEUTRAL_TEXT),
                                                       list(NEUTRAL_TEXT), system=cond.system_prompt)))
    return prof.profile, nll


def _condition_key(cond: Condition) -> tuple | None:
    """What makes two methods' conditions the same (then measured once): the vector's bytes and
    the system prompt; None for a method whose answers are not the model's under its condition."""
    if not cond.plain:
        return None
    vec = None if cond.vector is None else hashlib.sha256(np.ascontiguousarray(cond.vector).tobytes()).hexdigest()
    return vec, cond.system_prompt


def run_eval(engine, steerer: Steerer, profiles: list[EvalProfile], methods: list[str], *,
             items: list[Item], questions: list[str], instrument: str = "likelihood", judge=None,
             items_source: str = "held-out evaluation items",
             questions_per_profile: int = 2, max_tokens: int = 48, seed: int = 0,
             progress: Callable[[int, int, str], None] | None = None) -> EvalResult:
    """Run every method on every profile; see the module docstring for what is measured."""
    funcs = {m: method(m) for m in methods}  # validates every name before any model call
    if not questions:
        raise CoupleError("the evaluation needs at least one question for the answer-level check")
    t_start = time.perf_counter()
    system = steerer.system
    names = system.names
    ctx = EvalContext(engine, steerer, system, dict(max_tokens=max_tokens, temperature=0.0, seed=seed))
    objectives = [p.objective(system) for p in profiles]  # validate all before any model call
    total, done = len(profiles) * len(methods) + 1, 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, label)

    base_raw, base_nll = _measure(ctx, METHODS["unsteered"](ctx, objectives[0]), instrument, items)
    tick("unsteered profile")
    units = InstrumentScale.matching(np.array([base_raw[n] for n in names]), steerer.scm.mean.mean(),
                                     np.sqrt(np.diag(steerer.scm.cov)).mean())
    scale = units.factor

    def to_scale(p: dict) -> dict:
        return {n: float(units.to_scale(p[n])) for n in names}

    unsteered = to_scale(base_raw)
    answer_cache: dict[str, str] = {}
    answer_secs: dict[str, float] = {}
    rows: list[MethodRow] = []
    targets: dict[str, dict[str, float]] = {}
    for k, (prof, obj) in enumerate(zip(profiles, objectives)):
        plan = steerer.plan(obj, explain=False)
        target = {n: obj.targets.get(n, plan.counterfactual[n]) for n in names}
        targets[prof.name] = target
        named = [n for n in names if n in obj.targets]
        unnamed = [n for n in names if n not in obj.targets]
        scm_change = {n: plan.counterfactual[n] - plan.factual[n] for n in names}
        qs = [questions[(k * questions_per_profile + j) % len(questions)] for j in range(questions_per_profile)]
        for q in qs:  # the unsteered answers: the judge's baseline and the unsteered method's own
            if q not in answer_cache:
                t0 = time.perf_counter()
                answer_cache[q] = ctx.generate(q)
                answer_secs[q] = time.perf_counter() - t0
        judged_base = judge.scores([answer_cache[q] for q in qs]).mean(axis=0) if judge else None
        done_here: dict[tuple, tuple] = {}  # condition -> (raw profile, nll, {question: (answer, s)})
        for m in methods:
            cond = funcs[m](ctx, obj)
            key = _condition_key(cond) or ("method", m)
            if m == "unsteered":
                measured, nll = unsteered, base_nll
            else:
                if key not in done_here:  # methods that arrive at the same condition share its work
                    done_here[key] = (*_measure(ctx, cond, instrument, items), {})
                r, nll, _ = done_here[key]
                measured = to_scale(r)
            if m == "unsteered":  # greedy decoding: the same answers as the baseline's, not made twice
                answers, secs = [answer_cache[q] for q in qs], [answer_secs[q] for q in qs]
            else:
                answers, secs = [], []
                shared = done_here[key][2]
                for q in qs:
                    if q not in shared:
                        t0 = time.perf_counter()
                        shared[q] = (cond.answer(q), time.perf_counter() - t0)
                    answers.append(shared[q][0])
                    secs.append(shared[q][1])
            judged = judge.scores(answers).mean(axis=0) if judge else None
            change = {n: measured[n] - unsteered[n] for n in names}
            wanted = {n: target[n] - unsteered[n] for n in names}
            row = MethodRow(
                profile=prof.name, kind=prof.kind, method=m, named=named,
                spearman_named=spearman(target, measured, named), spearman_all=spearman(target, measured, names),
                mae_named=mae(target, measured, named), mae_all=mae(target, measured, names),
                order_preserved=order_preserved(target, measured, named, names),
                change_spearman=spearman(wanted, change, names),
                side_effect=mean_of([abs(change[n]) for n in unnamed]),
                side_effect_error=mean_of([abs(change[n] - scm_change[n]) for n in unnamed]),
                ppl_ratio=float(np.exp(nll - base_nll)),
                distinct2=distinct_n(answers, 2), repetition=repetition(answers, 3),
                seconds_per_answer=float(np.mean(secs)), setup_seconds=cond.setup_seconds, reached=cond.reached,
                measured=measured, predicted_change=cond.predicted_change, answers=dict(zip(qs, answers)),
            )
            if judge is not None:
                jd = dict(zip(names, map(float, judged)))
                jd_change = dict(zip(names, map(float, judged - judged_base)))
                row.answer_spearman_named = spearman(target, jd, named)
                row.answer_change_spearman = spearman(wanted, jd_change, names)
                row.answer_profile = jd
            rows.append(row)
            tick(f"{prof.name}: {m}")
    judge_info = None
    if judge is not None:
        labelled = eval_data(system.name)["labelled_answers"] if has_eval_data(system.name) else {}
        judge_info = {"name": judge.name, **judge.accuracy(labelled)}
    return EvalResult(
        model=steerer.model_name, system=system.name, instrument=instrument, n_items=len(items),
        items_source=items_source,
        judge=judge_info,
        n_questions=len(answer_cache), profiles=profiles, targets=targets, unsteered=unsteered,
        unsteered_answers=answer_cache, scale=scale, values=list(names),
        response=None if steerer.pack.response is None else steerer.pack.response.tolist(),
        scm_weights=steerer.scm.weights.tolist(), model_scm_weights=_model_graph(steerer.pack),
        model_info={k: v for k, v in engine.info().items() if k in ("architecture", "n_layer", "n_embd", "file_size", "n_threads")}, methods=summarise(rows, methods), rows=rows,
        seconds_total=time.perf_counter() - t_start,
    )


def _model_graph(pack) -> list[list[float]] | None:
    """The model's own value graph for the report, or None when the pack has no usable R."""
    from .errors import SCMError
    from .model_graph import model_scm

    try:
        return model_scm(pack).weights.tolist()
    except SCMError:
        return None
