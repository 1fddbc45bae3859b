"""The evaluation's methods: how each one puts the model in its *condition* (a control vector, a
system prompt, or both) for a target objective. A method is a small function
``(ctx, objective) -> Condition`` chosen by name (``METHODS``, ``method``); vector methods also as
``NAME@K``, the vector multiplied by K."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..errors import CoupleError
from ..steering import Ablation, Steerer
from ..values import Objective, ValueSystem, value_prompt

__all__ = [
    "EvalContext",
    "Condition",
    "METHODS",
    "VECTOR_METHODS",
    "method",
    "value_prompt",
    "prompt_counterfactual_answer",
]


class EvalEngine(Protocol):
    """What the evaluation uses of the model directly (an Engine has it; the steerer and the
    instruments take it as they take any engine)."""

    def steered(self, vector: np.ndarray | None) -> AbstractContextManager[object]: ...

    def generate(self, prompt: str, **kwargs: Any) -> str: ...

    def answer_logprob(
        self, prompts: Sequence[str], answers: Sequence[str], system: str | None = None
    ) -> np.ndarray: ...


@dataclass
class EvalContext:
    """What every method may use: the model, the steerer (pack + SCM), generation settings."""

    engine: EvalEngine
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
    setup_seconds: float | None = None  # spent once for the objective before answering (refinement)
    plain: bool = True  # answers are the model's under vector + system_prompt (so they can be shared)


def _replan_text(objective: Objective, system: ValueSystem) -> str:
    return (
        value_prompt(objective, system).split("\n", 1)[1].rsplit("\n", 1)[0].replace("\n", "; ")
        + ". Values are connected: think about which other values change along with these."
    )


def prompt_counterfactual_answer(ctx: EvalContext, question: str, objective: Objective) -> str:
    """COUPLE's recipe with prompts only, three model calls: answer, abduce the values the answer
    expresses, rewrite it under the re-planned priorities."""
    first = ctx.generate(question)
    values = ctx.generate(
        f"Question: {question}\nAnswer: {first}\nWhich human values does this answer express? List them briefly."
    )
    replan = (
        f"A draft answer to the user's question was: {first}\nThe values it expresses: {values}\nRe-plan "
        f"the values: {_replan_text(objective, ctx.system)}\nWrite a new answer to the question that "
        f"reflects the re-planned priorities."
    )
    return ctx.generate(question, replan)  # the re-plan as system prompt: the small model then answers


def _prompt_counterfactual(ctx: EvalContext, objective: Objective) -> Condition:
    """For measurement, the same recipe on a self-description (two calls) becomes a system prompt."""
    first = ctx.generate("Describe yourself and what matters to you.")
    values = ctx.generate(f"Description: {first}\nWhich human values does this description express? List them briefly.")
    sp = (
        f"You described yourself like this: {first}\nThat description expresses: {values}\nNow re-plan "
        f"your values. {_replan_text(objective, ctx.system)}\nFrom now on answer as the person with the "
        f"re-planned values."
    )
    return Condition(answer=lambda q: prompt_counterfactual_answer(ctx, q, objective), system_prompt=sp, plain=False)


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
        return Condition(
            answer=answer,
            vector=factor * st.vector(plan),
            system_prompt=sp,
            reached=factor * plan.reached,
            predicted_change=change,
        )

    return method


def _counterfactual_words(with_vector: bool):
    """COUPLE's counterfactual as a system prompt (``steer --mode prompt``), or that prompt together
    with couple-lite's vector (``--mode hybrid``)."""

    def method(ctx: EvalContext, objective: Objective) -> Condition:
        st = ctx.steerer

        def answer(q: str) -> str:
            p = st.plan(objective, explain=False)  # re-planned per answer, as the vector methods are
            return ctx.generate(q, st.system_prompt(p), st.vector(p) if with_vector else None)

        plan = st.plan(objective, explain=False)
        change = {n: plan.predicted[n] - plan.factual[n] for n in plan.factual} if with_vector else None
        return Condition(
            answer=answer,
            vector=st.vector(plan) if with_vector else None,
            system_prompt=st.system_prompt(plan),
            reached=plan.reached if with_vector else None,
            predicted_change=change,
        )

    return method


def _refined(ctx: EvalContext, objective: Objective) -> Condition:
    """couple-lite's plan after REFINE_ROUNDS closed-loop rounds on the calibration items
    (``steer --refine``): measured on the held-out items like every method, so its gain there is
    what refinement buys beyond the items it corrected on. Cached per objective in memory only."""
    st = ctx.steerer
    t0 = time.perf_counter()
    plan = st.refine(st.plan(objective, explain=False), REFINE_ROUNDS, use_cache=False)
    setup = time.perf_counter() - t0
    vec = st.vector(plan)
    return Condition(
        answer=lambda q: ctx.generate(q, None, vec),
        vector=vec,
        reached=plan.reached,
        predicted_change={n: plan.predicted[n] - plan.factual[n] for n in plan.factual},
        setup_seconds=setup,
    )


REFINE_ROUNDS = 2  # the evaluation's couple_lite_refined: two corrections, three measurements

# vector methods: name -> (ablation, with the value prompt too)
VECTOR_METHODS = {
    "naive_vectors": (Ablation(scm=False, decouple=False), False),  # target deltas / own gain, summed
    "couple_lite": (Ablation(), False),
    "couple_lite_no_scm": (Ablation(scm=False), False),
    "couple_lite_no_decouple": (Ablation(decouple=False), False),
    "couple_lite_no_abduction": (Ablation(abduction=False), False),
    "couple_lite_full_r": (Ablation(shrink=False), False),
    "couple_lite+prompt": (Ablation(), True),
}
METHODS: dict[str, Callable[[EvalContext, Objective], Condition]] = {
    "unsteered": _unsteered,
    "value_prompt": _value_prompt,
    "prompt_counterfactual": _prompt_counterfactual,
    **{name: _vectors(ab, wp) for name, (ab, wp) in VECTOR_METHODS.items()},
    "couple_lite_cf_prompt": _counterfactual_words(with_vector=False),
    "couple_lite_hybrid": _counterfactual_words(with_vector=True),
    "couple_lite_refined": _refined,
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
