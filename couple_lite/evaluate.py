"""Evaluation: how closely each steering method makes the model hit target value profiles.

For every target profile and method the model is put in the method's *condition* (a control
vector, a system prompt, or both), then

- its value profile is measured with an instrument on **held-out items** (``data/eval_<system>.json``,
  never used in extraction or calibration; ``items`` swaps in an outside CSV) and compared with the
  target: Spearman and MAE on the named values and on all values, the share of priority pairs kept
  in order, side effects on unnamed values against the SCM's prediction;
- fluency: perplexity of fixed neutral text as an answer, relative to the unsteered model;
- answers to everyday questions are generated (greedy), timed, checked for repetition and scored by
  an independent judge (``judge.AnswerJudge``).

Methods are small functions ``(ctx, objective) -> Condition`` chosen by name (``METHODS``).
Measured profiles are mapped from instrument units to the 1-6 scale with one affine map for all
methods: the unsteered profile's spread across values matched to the prior's.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

from .calibrate import NEUTRAL_TEXT
from .errors import CoupleError, ObjectiveError, ValueSystemError
from .eval_result import EvalProfile, EvalResult, MethodRow, summarise
from .eval_metrics import distinct_n, mae, mean_of, order_preserved, repetition, spearman
from .measure import Item, load_items, measure
from .objective import Objective
from .steering import Ablation, Steerer
from .values import ValueSystem

__all__ = ["EvalProfile", "Condition", "METHODS", "VECTOR_METHODS", "method", "QUICK", "eval_data", "has_eval_data", "eval_items", "builtin_profiles", "load_profiles",
           "value_prompt", "prompt_counterfactual_answer", "run_eval"]

_DATA = Path(__file__).parent / "data"
QUICK_PROFILES = ("self_transcendence", "tradition_first", "care_security_power")
QUICK = dict(profiles=3, items_per_value=2, questions_per_profile=1, max_tokens=24)  # --quick: mechanics


@lru_cache(maxsize=None)
def eval_data(system: str) -> dict:
    """Held-out items, everyday questions, labelled answers and judge words for a value system."""
    path = _DATA / f"eval_{system}.json"
    if not path.exists():
        raise ValueSystemError(f"no evaluation data ships for {system!r} (only schwartz10); pass --items "
                               f"and --profiles, and --judge none")
    return json.loads(path.read_text(encoding="utf-8"))


def eval_items(system: ValueSystem, path: str | Path | None = None, per_value: int | None = None) -> tuple[list[Item], str]:
    """The held-out evaluation items (or an outside CSV), optionally the first ``per_value`` per
    value; returns the items and a description of where they come from."""
    if path is not None:
        items, skipped = load_items(system, path)
        source = f"items from {Path(path).name}" + (f" ({skipped} rows naming other values skipped)" if skipped else "")
    else:
        items = [Item(text=t, value=v) for v, ts in eval_data(system.name)["items"].items() for t in ts]
        source = "held-out evaluation items (never used in extraction or calibration)"
    if per_value:
        counts: dict[str, int] = {}
        kept = []
        for it in items:
            counts[it.value] = counts.get(it.value, 0) + 1
            if counts[it.value] <= per_value:
                kept.append(it)
        items = kept
    return items, source


def has_eval_data(system: str) -> bool:
    return (_DATA / f"eval_{system}.json").exists()


def builtin_profiles(system: ValueSystem, n_prior: int = 4, seed: int = 0) -> list[EvalProfile]:
    """17 targets for Schwartz-10: the four higher-order archetypes, four single-value emphases,
    ``n_prior`` full profiles sampled from the SCM prior and five partial objectives with priorities."""
    if system.name != "schwartz10":
        raise ValueSystemError(f"built-in target profiles exist for schwartz10 only; pass --profiles for {system.name}")
    from .prior import prior_scm

    P = EvalProfile
    out = [
        P(name="openness_to_change", kind="archetype", values="self_direction=6,stimulation=6,hedonism=5,security=2,conformity=2,tradition=2"),
        P(name="conservation", kind="archetype", values="security=6,conformity=6,tradition=6,self_direction=2,stimulation=2"),
        P(name="self_enhancement", kind="archetype", values="power=6,achievement=6,universalism=2,benevolence=2"),
        P(name="self_transcendence", kind="archetype", values="universalism=6,benevolence=6,achievement=2,power=1"),
        P(name="benevolence_first", kind="single", values="benevolence=6"),
        P(name="tradition_first", kind="single", values="tradition=6"),
        P(name="stimulation_first", kind="single", values="stimulation=6"),
        P(name="achievement_first", kind="single", values="achievement=6"),
    ]
    scm = prior_scm(system)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(scm.mean, scm.cov, size=n_prior)
    for k, d in enumerate(draws):
        levels = {n: float(np.round(np.clip(x, 1, 6), 1)) for n, x in zip(system.names, d)}
        out.append(P(name=f"prior_sample_{k + 1}", kind="prior_sample", values=levels))
    out += [
        P(name="care_security_power", kind="partial", values="benevolence=6,security=5,power=1",
          priority="benevolence>security>power"),
        P(name="independent_achiever", kind="partial", values="self_direction=6,achievement=5,conformity=2",
          priority="self_direction>achievement>conformity"),
        P(name="green_traditionalist", kind="partial", values="universalism=6,tradition=5,hedonism=2,power=1",
          priority="universalism>tradition>power>hedonism"),
        P(name="safe_and_kind", kind="partial", values="security=6,benevolence=5,stimulation=2",
          priority="security>benevolence>stimulation"),
        P(name="bon_vivant", kind="partial", values="hedonism=6,stimulation=5,achievement=4,tradition=2,conformity=1",
          priority="hedonism>stimulation>conformity>achievement=tradition"),
    ]
    return out


def load_profiles(path: str | Path) -> list[EvalProfile]:
    """Target profiles from JSON: a list of {name, values, priority?} (values and priority as in
    ``steer``: "a=6,b=low" / "a>b" strings or maps)."""
    p = Path(path)
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CoupleError(f"profiles file {str(p)!r} not found") from None
    except json.JSONDecodeError as e:
        raise ObjectiveError(f"profiles file {str(p)!r} is not valid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(raw, dict):
        raw = raw.get("profiles", raw)
    if not isinstance(raw, list) or not raw:
        raise ObjectiveError(f"profiles file {str(p)!r} must hold a non-empty list of {{name, values, priority}}")
    try:
        return [EvalProfile.model_validate(r) for r in raw]
    except ValueError as e:
        first = str(e).splitlines()[:3]
        raise ObjectiveError(f"profiles file {str(p)!r}: {' '.join(first)}") from None


# -- methods -----------------------------------------------------------------------------------

@dataclass
class EvalContext:
    """What every method may use: the model, the steerer (pack + SCM), generation settings."""

    engine: object
    steerer: Steerer
    system: ValueSystem
    gen: dict = field(default_factory=dict)

    def generate(self, question: str, system_prompt: str | None = None, vector=None) -> str:
        with self.engine.steered(vector):
            return self.engine.generate(question, system=system_prompt, **self.gen)


@dataclass
class Condition:
    """How a method sets the model up: a control vector and/or a system prompt, and how it answers
    one question (``answer``; timed by the runner, so it includes any per-answer planning)."""

    answer: Callable[[str], str]
    vector: np.ndarray | None = None
    system_prompt: str | None = None
    reached: float | None = None  # share of the solved steering kept under the fluency cap
    predicted_change: dict[str, float] | None = None  # what calibration predicts the vector does


def _level_word(x: float) -> str:
    return ("of the highest importance" if x >= 5.5 else "very important" if x >= 4.5 else "important"
            if x >= 3.5 else "of little importance" if x >= 2.5 else "not important at all")


def value_prompt(objective: Objective, system: ValueSystem) -> str:
    """A system prompt stating the target priorities in words (the COUPLE paper's simple baseline)."""
    defs = {v.name: v.definition.rstrip(".").lower() for v in system.values}
    order = sorted(objective.targets, key=lambda n: (-objective.weights.get(n, 0), -objective.targets[n]))
    lines = [f"{k}. {n.replace('_', ' ')} ({defs[n]}): {_level_word(objective.targets[n])}"
             for k, n in enumerate(order, 1)]
    return ("You give advice that reflects these values, in order of priority:\n" + "\n".join(lines)
            + "\nLet these priorities shape every answer.")


def _replan_text(objective: Objective, system: ValueSystem) -> str:
    return (value_prompt(objective, system).split("\n", 1)[1].rsplit("\n", 1)[0].replace("\n", "; ")
            + ". Values are connected: think about which other values change along with these.")


def prompt_counterfactual_answer(ctx: EvalContext, question: str, objective: Objective) -> str:
    """COUPLE's recipe with prompts only, three model calls: answer, abduce the values the answer
    expresses, rewrite it under the re-planned priorities."""
    first = ctx.generate(question)
    values = ctx.generate(f"Question: {question}\nAnswer: {first}\nWhich human values does this answer "
                          f"express? List them briefly.")
    replan = (f"A draft answer to the user's question was: {first}\nThe values it expresses: {values}\nRe-plan "
              f"the values: {_replan_text(objective, ctx.system)}\nWrite a new answer to the question that "
              f"reflects the re-planned priorities.")
    return ctx.generate(question, replan)  # the re-plan as system prompt: the small model then answers


def _prompt_counterfactual(ctx: EvalContext, objective: Objective) -> Condition:
    """For measurement, the same recipe on a self-description (two calls) becomes a system prompt."""
    first = ctx.generate("Describe yourself and what matters to you.")
    values = ctx.generate(f"Description: {first}\nWhich human values does this description express? List them briefly.")
    sp = (f"You described yourself like this: {first}\nThat description expresses: {values}\nNow re-plan "
          f"your values. {_replan_text(objective, ctx.system)}\nFrom now on answer as the person with the "
          f"re-planned values.")
    return Condition(answer=lambda q: prompt_counterfactual_answer(ctx, q, objective), system_prompt=sp)


def _unsteered(ctx: EvalContext, objective: Objective) -> Condition:
    return Condition(answer=lambda q: ctx.generate(q))


def _value_prompt(ctx: EvalContext, objective: Objective) -> Condition:
    sp = value_prompt(objective, ctx.system)
    return Condition(answer=lambda q: ctx.generate(q, sp), system_prompt=sp)


def _vectors(ablation: Ablation, with_prompt: bool = False, factor: float = 1.0):
    """couple-lite (or one of its ablations) -- re-planned for every answer, as an app would.
    ``factor`` scales the (capped) vector: a dose diagnostic beyond the fluency cap."""

    def method(ctx: EvalContext, objective: Objective) -> Condition:
        st = ctx.steerer
        sp = value_prompt(objective, ctx.system) if with_prompt else None

        def answer(q: str) -> str:
            return ctx.generate(q, sp, factor * st.vector(st.plan(objective, ablation, explain=False)))

        plan = st.plan(objective, ablation, explain=False)
        change = {n: factor * (plan.predicted[n] - plan.factual[n]) for n in plan.factual}
        return Condition(answer=answer, vector=factor * st.vector(plan), system_prompt=sp,
                         reached=factor * plan.reached, predicted_change=change)

    return method


# vector methods: name -> (ablation, with the value prompt too)
VECTOR_METHODS = {
    "naive_vectors": (Ablation(scm=False, decouple=False), False),  # target deltas / own gain, summed
    "couple_lite": (Ablation(), False),
    "couple_lite_no_scm": (Ablation(scm=False), False),
    "couple_lite_no_decouple": (Ablation(decouple=False), False),
    "couple_lite_no_abduction": (Ablation(abduction=False), False),
    "couple_lite+prompt": (Ablation(), True),
}
METHODS: dict[str, Callable[[EvalContext, Objective], Condition]] = {
    "unsteered": _unsteered,
    "value_prompt": _value_prompt,
    "prompt_counterfactual": _prompt_counterfactual,
    **{name: _vectors(ab, wp) for name, (ab, wp) in VECTOR_METHODS.items()},
}


def method(name: str) -> Callable[[EvalContext, Objective], Condition]:
    """The method called ``name``; ``<vector method>@K`` (e.g. ``couple_lite@4``) multiplies that
    method's vector by K, to show what steering beyond the fluency cap would buy and cost."""
    base, _, k = name.partition("@")
    if base not in METHODS:
        raise CoupleError(f"unknown method {name!r}; use some of {', '.join(METHODS)} (vector methods also as NAME@K)")
    if not k:
        return METHODS[base]
    if base not in VECTOR_METHODS:
        raise CoupleError(f"{name!r}: only vector methods ({', '.join(VECTOR_METHODS)}) take @K")
    try:
        factor = float(k)
    except ValueError:
        factor = float("nan")
    if not factor > 0 or factor != factor:
        raise CoupleError(f"{name!r}: K in NAME@K must be a positive number, e.g. couple_lite@2")
    return _vectors(*VECTOR_METHODS[base], factor=factor)


# -- the run -----------------------------------------------------------------------------------

def _measure(ctx: EvalContext, cond: Condition, instrument: str, items: list[Item]) -> tuple[dict, float]:
    """Raw profile (instrument units) and neutral-text NLL per token under a condition."""
    with ctx.engine.steered(cond.vector):
        prof = measure(ctx.engine, ctx.system, instrument, items=items, system_prompt=cond.system_prompt,
                       extraction=ctx.steerer.pack.extraction)
        nll = -float(np.mean(ctx.engine.answer_logprob(["Write a short paragraph."] * len(NEUTRAL_TEXT),
                                                       list(NEUTRAL_TEXT), system=cond.system_prompt)))
    return prof.profile, nll


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

    base_raw, base_nll = _measure(ctx, _unsteered(ctx, objectives[0]), instrument, items)
    tick("unsteered profile")
    raw = np.array([base_raw[n] for n in names])
    prior_sd = float(np.sqrt(np.diag(steerer.scm.cov)).mean())
    scale = prior_sd / raw.std() if raw.std() > 1e-9 else 1.0
    centre = float(steerer.scm.mean.mean())

    def to_scale(p: dict) -> dict:
        return {n: centre + scale * (p[n] - raw.mean()) for n in names}

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
        for m in methods:
            cond = funcs[m](ctx, obj)
            if m == "unsteered":
                measured, nll = unsteered, base_nll
            else:
                r, nll = _measure(ctx, cond, instrument, items)
                measured = to_scale(r)
            if m == "unsteered":  # greedy decoding: the same answers as the baseline's, not made twice
                answers, secs = [answer_cache[q] for q in qs], [answer_secs[q] for q in qs]
            else:
                answers, secs = [], []
                for q in qs:
                    t0 = time.perf_counter()
                    answers.append(cond.answer(q))
                    secs.append(time.perf_counter() - t0)
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
                seconds_per_answer=float(np.mean(secs)), reached=cond.reached,
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
        scm_weights=steerer.scm.weights.tolist(),
        model_info={k: v for k, v in engine.info().items() if k in ("architecture", "n_layer", "n_embd", "file_size", "n_threads")}, methods=summarise(rows, methods), rows=rows,
        seconds_total=time.perf_counter() - t_start,
    )
