"""Decisions under a value profile (ValuePilot's use): rank a question's options by the steered
model's preference, beside the unsteered ranking, and say which values moved the choice.

An option's score is the mean log-probability per token of the option text as the assistant's
answer (length-normalised), averaged over two prompts that list the options in opposite orders, so
that a small model's bias for the first or last option cancels. A value's share in the choice is
the change of the winner's margin over the unsteered winner when only that value's part of the
vector is applied (a linear attribution: the parts need not add up to the whole).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from ..errors import ObjectiveError
from ..vectors import steering_vector

__all__ = ["Decision", "RankedOption", "decide", "option_scores"]

MIN_OPTIONS, MAX_OPTIONS = 2, 12


class RankedOption(BaseModel):
    text: str
    score: float  # mean log-prob per token, steered (averaged over both option orders)
    rank: int  # 1 = preferred
    unsteered_score: float
    unsteered_rank: int


class Decision(BaseModel):
    question: str
    options: list[RankedOption]  # in the order given
    changed: bool  # whether steering changed the preferred option
    moved_by: dict[str, float]  # value -> change of the steered winner's margin from its part alone


def _prompt(question: str, options: Sequence[str]) -> str:
    listed = "\n".join(f"- {o}" for o in options)
    return f"{question}\nThe options are:\n{listed}\nAnswer with the option you choose, in its own words."


def option_scores(engine, question: str, options: Sequence[str]) -> np.ndarray:
    """Each option's mean log-prob per token as the answer, averaged over both listing orders,
    under the engine's current vector."""
    prompts = [_prompt(question, options), _prompt(question, options[::-1])]
    both = engine.answer_logprob([p for p in prompts for _ in options], list(options) * 2)
    return both.reshape(2, len(options)).mean(axis=0)


def _ranks(scores: np.ndarray) -> list[int]:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=int)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks.tolist()


def decide(steerer, question: str, options: Sequence[str], plan) -> Decision:
    """Rank ``options`` under ``plan``'s vector and unsteered; attribute the change to values."""
    options = [o.strip() for o in options]
    if not question.strip():
        raise ObjectiveError("the question is empty; give the decision to make")
    if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
        raise ObjectiveError(f"give {MIN_OPTIONS} to {MAX_OPTIONS} options (--option), got {len(options)}")
    if any(not o for o in options) or len(set(options)) != len(options):
        raise ObjectiveError("options must be non-empty and all different")
    engine, names = steerer.engine, steerer.pack.values
    coef = np.array([plan.coefficients[n] for n in names])
    with engine.steered(None):
        base = option_scores(engine, question, options)
    with engine.steered(steering_vector(steerer.pack.extraction, coef)):
        steered = option_scores(engine, question, options)
    winner, base_winner = int(np.argmax(steered)), int(np.argmax(base))
    rival = base_winner if base_winner != winner else int(np.argsort(-base)[1])

    def margin(s: np.ndarray) -> float:
        return float(s[winner] - s[rival])

    moved = {}
    for i, n in enumerate(names):
        if abs(coef[i]) > 1e-12:
            part = np.zeros_like(coef)
            part[i] = coef[i]
            with engine.steered(steering_vector(steerer.pack.extraction, part)):
                moved[n] = margin(option_scores(engine, question, options)) - margin(base)
    moved = dict(sorted(moved.items(), key=lambda kv: -abs(kv[1])))
    ranked = [
        RankedOption(text=o, score=float(s), rank=r, unsteered_score=float(b), unsteered_rank=ur)
        for o, s, r, b, ur in zip(options, steered, _ranks(steered), base, _ranks(base))
    ]
    return Decision(question=question, options=ranked, changed=winner != base_winner, moved_by=moved)
