"""Evaluation: how closely each steering method makes the model hit target value profiles.

For every target profile and method the model is put in the method's *condition*
(``methods``), then

- its value profile is measured with an instrument on **held-out items** (``inputs``) and
  compared with the target: Spearman and MAE on the named values and on all values, the share of
  priority pairs kept in order, side effects on unnamed values against the SCM's prediction;
- fluency: perplexity of fixed neutral text as an answer, relative to the unsteered model;
- answers to everyday questions are generated (greedy), timed, checked for repetition and scored by
  an independent judge (``judge.AnswerJudge``).

Measured profiles are mapped from instrument units to the 1-6 scale with one affine map for all
methods: the unsteered profile's spread across values matched to the prior's. This module is the
runner (``run_eval``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CoupleError, SCMError
from ..measure import InstrumentScale, Item, measure
from ..steering import Steerer
from ..values import model_scm
from ..vectors import NEUTRAL_TEXT
from .inputs import QUICK_PROFILES, builtin_profiles, eval_data, eval_items, has_eval_data, load_profiles
from .methods import METHODS, Condition, EvalContext, method
from .metrics import distinct_n, mae, mean_of, order_preserved, repetition, spearman
from .result import EvalProfile, EvalResult, MethodRow, summarise

__all__ = ["QUICK", "run_eval", "evaluate"]

QUICK = dict(profiles=3, items_per_value=2, questions_per_profile=1, max_tokens=24)  # --quick: mechanics


def _measure(ctx: EvalContext, cond: Condition, instrument: str, items: list[Item]) -> tuple[dict, float]:
    """Raw profile (instrument units) and neutral-text NLL per token under a condition."""
    with ctx.engine.steered(cond.vector):
        prof = measure(
            ctx.engine,
            ctx.system,
            instrument,
            items=items,
            system_prompt=cond.system_prompt,
            extraction=ctx.steerer.pack.extraction,
        )
        nll = -float(
            np.mean(
                ctx.engine.answer_logprob(
                    ["Write a short paragraph."] * len(NEUTRAL_TEXT), list(NEUTRAL_TEXT), system=cond.system_prompt
                )
            )
        )
    return prof.profile, nll


def _condition_key(cond: Condition) -> tuple | None:
    """What makes two methods' conditions the same (then measured once): the vector's bytes and
    the system prompt; None for a method whose answers are not the model's under its condition."""
    if not cond.plain:
        return None
    vec = None if cond.vector is None else hashlib.sha256(np.ascontiguousarray(cond.vector).tobytes()).hexdigest()
    return vec, cond.system_prompt


def run_eval(
    engine,
    steerer: Steerer,
    profiles: list[EvalProfile],
    methods: list[str],
    *,
    items: list[Item],
    questions: list[str],
    instrument: str = "likelihood",
    judge=None,
    items_source: str = "held-out evaluation items",
    questions_per_profile: int = 2,
    max_tokens: int = 48,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> EvalResult:
    """Run every method on every profile; see the module docstring for what is measured."""
    funcs = {m: method(m) for m in methods}  # validates every name before any model call
    if not questions:
        raise CoupleError("the evaluation needs at least one question for the answer-level check")
    t_start = time.perf_counter()
    system = steerer.system
    ctx = EvalContext(engine, steerer, system, dict(max_tokens=max_tokens, temperature=0.0, seed=seed))
    objectives = [p.objective(system) for p in profiles]  # validate all before any model call
    total, done = len(profiles) * len(methods) + 1, 0

    def tick(label: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, label)

    run = _Run.start(ctx, METHODS["unsteered"](ctx, objectives[0]), instrument, items, judge)
    tick("unsteered profile")
    rows: list[MethodRow] = []
    targets: dict[str, dict[str, float]] = {}
    for k, (prof, obj) in enumerate(zip(profiles, objectives)):
        qs = [questions[(k * questions_per_profile + j) % len(questions)] for j in range(questions_per_profile)]
        targets[prof.name], profile_rows = run.profile(prof, obj, qs, funcs, tick)
        rows += profile_rows
    return EvalResult(
        model=steerer.model_name,
        system=system.name,
        instrument=instrument,
        n_items=len(items),
        items_source=items_source,
        judge=_judge_info(judge, system.name),
        n_questions=len(run.answers),
        profiles=profiles,
        targets=targets,
        unsteered=run.unsteered,
        unsteered_answers={q: a for q, (a, _) in run.answers.items()},
        scale=run.units.factor,
        values=list(system.names),
        response=None if steerer.pack.response is None else steerer.pack.response.tolist(),
        scm_weights=steerer.scm.weights.tolist(),
        model_scm_weights=_model_graph(steerer.pack),
        model_info={k: v for k, v in engine.info().items() if k in MODEL_INFO},
        methods=summarise(rows, methods),
        rows=rows,
        seconds_total=time.perf_counter() - t_start,
    )


MODEL_INFO = ("architecture", "n_layer", "n_embd", "file_size", "n_threads")  # what the report says of the model


def _judge_info(judge, system: str) -> dict | None:
    """The judge's name and its accuracy on the system's labelled answers (None without a judge)."""
    if judge is None:
        return None
    labelled = eval_data(system)["labelled_answers"] if has_eval_data(system) else {}
    return {"name": judge.name, **judge.accuracy(labelled)}


@dataclass
class _Run:
    """What every profile of one evaluation shares: the context, the map from the instrument's
    units to the 1-6 scale (fitted on the unsteered profile), the unsteered baseline, and each
    question's unsteered answer with its seconds (greedy: made once, the judge's baseline too)."""

    ctx: EvalContext
    instrument: str
    items: list[Item]
    judge: Any
    units: InstrumentScale
    unsteered: dict[str, float]
    base_nll: float
    answers: dict[str, tuple[str, float]] = field(default_factory=dict)

    @classmethod
    def start(cls, ctx: EvalContext, unsteered: Condition, instrument: str, items: list[Item], judge: Any) -> _Run:
        raw, nll = _measure(ctx, unsteered, instrument, items)
        scm = ctx.steerer.scm
        names = ctx.system.names
        units = InstrumentScale.matching(
            np.array([raw[n] for n in names]), scm.mean.mean(), np.sqrt(np.diag(scm.cov)).mean()
        )
        return cls(ctx, instrument, items, judge, units, {n: float(units.to_scale(raw[n])) for n in names}, nll)

    def to_scale(self, raw: dict[str, float]) -> dict[str, float]:
        return {n: float(self.units.to_scale(raw[n])) for n in self.ctx.system.names}

    def unsteered_answer(self, question: str) -> tuple[str, float]:
        if question not in self.answers:
            t0 = time.perf_counter()
            text = self.ctx.generate(question)
            self.answers[question] = (text, time.perf_counter() - t0)
        return self.answers[question]

    def profile(self, prof: EvalProfile, obj, qs: list[str], funcs: dict, tick: Callable[[str], None]):
        """The profile's target (named levels, the counterfactual elsewhere) and one row per method."""
        names = self.ctx.system.names
        plan = self.ctx.steerer.plan(obj, explain=False)
        target = {n: obj.targets.get(n, plan.counterfactual[n]) for n in names}
        scm_change = {n: plan.counterfactual[n] - plan.factual[n] for n in names}
        base_answers = [self.unsteered_answer(q)[0] for q in qs]
        judged_base = self.judge.scores(base_answers).mean(axis=0) if self.judge else None
        shared: dict[tuple, tuple] = {}  # condition -> (raw profile, nll, {question: (answer, s)})
        rows = []
        for m, fn in funcs.items():
            cond = fn(self.ctx, obj)
            measured, nll, answers, secs = self._condition(m, cond, qs, shared)
            rows.append(
                self._row(
                    prof, obj, m, cond, target, scm_change, measured, nll, dict(zip(qs, answers)), secs, judged_base
                )
            )
            tick(f"{prof.name}: {m}")
        return target, rows

    def _condition(self, m: str, cond: Condition, qs: list[str], shared: dict):
        """The method's measured profile (1-6 scale), neutral-text NLL, answers and their seconds;
        methods that arrive at the same condition share its work."""
        if m == "unsteered":  # greedy decoding: the baseline's own numbers and answers, not made twice
            return self.unsteered, self.base_nll, [self.answers[q][0] for q in qs], [self.answers[q][1] for q in qs]
        key = _condition_key(cond) or ("method", m)
        if key not in shared:
            shared[key] = (*_measure(self.ctx, cond, self.instrument, self.items), {})
        raw, nll, made = shared[key]
        for q in qs:
            if q not in made:
                t0 = time.perf_counter()
                made[q] = (cond.answer(q), time.perf_counter() - t0)
        return self.to_scale(raw), nll, [made[q][0] for q in qs], [made[q][1] for q in qs]

    def _row(self, prof, obj, m, cond, target, scm_change, measured, nll, answers, secs, judged_base) -> MethodRow:
        names = self.ctx.system.names
        named = [n for n in names if n in obj.targets]
        unnamed = [n for n in names if n not in obj.targets]
        change = {n: measured[n] - self.unsteered[n] for n in names}
        wanted = {n: target[n] - self.unsteered[n] for n in names}
        texts = list(answers.values())
        row = MethodRow(
            profile=prof.name, kind=prof.kind, method=m, named=named,
            spearman_named=spearman(target, measured, named), spearman_all=spearman(target, measured, names),
            mae_named=mae(target, measured, named), mae_all=mae(target, measured, names),
            order_preserved=order_preserved(target, measured, named, names),
            change_spearman=spearman(wanted, change, names),
            side_effect=mean_of([abs(change[n]) for n in unnamed]),
            side_effect_error=mean_of([abs(change[n] - scm_change[n]) for n in unnamed]),
            ppl_ratio=float(np.exp(nll - self.base_nll)), distinct2=distinct_n(texts, 2),
            repetition=repetition(texts, 3), seconds_per_answer=float(np.mean(secs)),
            setup_seconds=cond.setup_seconds, reached=cond.reached, measured=measured,
            predicted_change=cond.predicted_change, answers=answers,
        )  # fmt: skip
        if self.judge is not None:
            judged = self.judge.scores(texts).mean(axis=0)
            profile = dict(zip(names, map(float, judged)))
            row.answer_spearman_named = spearman(target, profile, named)
            row.answer_change_spearman = spearman(wanted, dict(zip(names, map(float, judged - judged_base))), names)
            row.answer_profile = profile
        return row


def _model_graph(pack) -> list[list[float]] | None:
    """The model's own value graph for the report, or None when the pack has no usable R."""
    try:
        return model_scm(pack.response, pack.value_system()).weights.tolist()
    except SCMError:
        return None


def evaluate(
    steerer: Steerer,
    *,
    profiles_file: str | None = None,
    methods: list[str] | None = None,
    items: str | None = None,
    instrument: str = "likelihood",
    judge: str | None = "gemma3-270m",
    quick: bool = False,
    max_tokens: int | None = None,
    seed: int = 0,
    progress: Callable[[int, int, str], None] | None = None,
) -> EvalResult:
    """``couple-lite eval``: the built-in targets of the steerer's value system (or ``profiles_file``),
    every method (or ``methods``) on its held-out items (or an ``items`` CSV), answers judged by
    ``judge`` (a registered name or GGUF path, "self" for the steered model unsteered, None for
    none). ``quick``: 3 profiles, 2 items per value, 1 question each, short answers."""
    vs = steerer.system
    profiles = load_profiles(profiles_file) if profiles_file else builtin_profiles(vs)
    if quick:
        profiles = ([p for p in profiles if p.name in QUICK_PROFILES] or profiles)[: QUICK["profiles"]]
    item_list, source = eval_items(vs, items, QUICK["items_per_value"] if quick else None)
    data = eval_data(vs.name) if has_eval_data(vs.name) else {}
    answer_judge = None
    if judge is not None:
        from ..engine import load_engine
        from ..measure import AnswerJudge

        if "judge_words" not in data:
            raise CoupleError(f"no judge words ship for {vs.name}; pass --judge none")
        judge_engine = steerer.engine if judge == "self" else load_engine(judge, n_threads=steerer.engine.n_threads)
        answer_judge = AnswerJudge(
            judge_engine, vs.names, data["judge_words"], steerer.model_name if judge == "self" else judge
        )
    return run_eval(
        steerer.engine,
        steerer,
        profiles,
        methods or list(METHODS),
        items=item_list,
        items_source=source,
        questions=data.get("questions") or ["What should I do this weekend?"],
        instrument=instrument,
        judge=answer_judge,
        seed=seed,
        questions_per_profile=QUICK["questions_per_profile"] if quick else 2,
        max_tokens=max_tokens or (QUICK["max_tokens"] if quick else 48),
        progress=progress,
    )
