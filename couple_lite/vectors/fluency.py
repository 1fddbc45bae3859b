"""The fluency budget: how far a control vector moves the model's next-token distributions on the
model's own answers to everyday prompts.

The unsteered model answers ``BUDGET_PROMPTS`` once (greedy); a vector's cost is the mean, over
every token of those answers, of KL(unsteered || steered) between the two next-token distributions,
in nats per token. This measures what a user would see change, on the text the model really
writes, for any vector (one value's or a combined one) -- not the likelihood of fixed neutral text
(``NEUTRAL_TEXT``, whose perplexity the evaluation still reports, penalises any vector that moves
style). A dose is the strength at which a vector's cost reaches a budget.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

__all__ = ["BUDGET_PROMPTS", "NEUTRAL_TEXT", "ANSWER_TOKENS", "FluencyProbe", "dose_for_budget"]

# fixed neutral text: its perplexity under a vector is the evaluation's second fluency figure
NEUTRAL_TEXT = (
    "The library opens at nine in the morning and closes at six in the evening. Visitors can borrow up "
    "to five books at a time and return them at the front desk or in the box outside.",
    "To make a simple tomato sauce, warm some olive oil, add chopped garlic, then the tomatoes and a "
    "pinch of salt, and let it simmer for twenty minutes while stirring now and then.",
    "The train to the coast leaves every hour. The journey takes about two hours, and there is a small "
    "café on board that sells sandwiches, tea and coffee.",
)

# everyday requests, ours, none of them an evaluation question: their answers are what the budget
# protects (advice, how-to, plans, a note), where a value vector may change content, not grammar
BUDGET_PROMPTS = (
    "What is a good way to start learning to cook?",
    "Can you suggest something to do on a rainy afternoon?",
    "How do I keep my houseplants healthy?",
    "What should I pack for a weekend trip?",
    "Give me some tips for a job interview.",
    "How can I get better sleep?",
    "What should I think about before adopting a dog?",
    "How do I write a good thank-you note?",
)
ANSWER_TOKENS = 40  # tokens of each unsteered answer scored: 320 positions, ~4 s a vector on 2 cores


class ProbedEngine(Protocol):
    """What a probe needs of its engine after :meth:`FluencyProbe.build` (an Engine has it)."""

    def steered(self, vector: np.ndarray | None) -> AbstractContextManager[object]: ...

    def position_logprobs(self, seqs: list[list[int]], starts: list[int]) -> np.ndarray: ...


@dataclass
class FluencyProbe:
    """The unsteered answers and their next-token log-distributions, computed once per engine."""

    engine: ProbedEngine
    seqs: list[list[int]]
    starts: list[int]
    base: np.ndarray  # (positions, vocab) float32 log-probabilities of the unsteered model

    @classmethod
    def build(cls, engine, prompts=BUDGET_PROMPTS, answer_tokens: int = ANSWER_TOKENS) -> FluencyProbe:
        seqs, starts = [], []
        with engine.steered(None):
            for p in prompts:
                head = engine.chat_prompt(p)
                answer = engine.generate(p, max_tokens=answer_tokens, temperature=0.0)
                toks = engine.tokenize(head + answer)
                start = len(engine.tokenize(head))
                seqs.append(toks[: start + answer_tokens])
                starts.append(start)
            base = engine.position_logprobs(seqs, starts)
        return cls(engine, seqs, starts, base)

    def cost(self) -> float:
        """Mean KL(unsteered || current) per answer token under the engine's current vector."""
        steered = self.engine.position_logprobs(self.seqs, self.starts)
        p = np.exp(self.base)
        return float(np.mean(np.sum(p * (self.base - steered), axis=1)))

    def cost_of(self, vector: np.ndarray | None) -> float:
        with self.engine.steered(vector):
            return self.cost()


MAX_GROWTH = 8.0  # most a strength grows in one step before a cost above the budget has been seen


def dose_for_budget(
    cost_at: Callable[[float], float], budget: float, start: float = 0.02, rtol: float = 0.05, steps: int = 6
) -> tuple[float, float]:
    """The strength s with cost_at(s) = budget: secant steps in log-log space from ``start`` (KL
    grows about with s² at small doses), kept inside the strengths already seen to cost less and more
    than the budget (bisected there when a step leaves them) and growing at most MAX_GROWTH× a step
    before an over-budget cost is seen, so a cost that is flat, negative or steep at ``start`` cannot
    throw the search far off. Returns (s, cost at s); check the cost where ``steps`` is small."""
    s, c = start, cost_at(start)
    under, over = 0.0, np.inf  # largest strength seen under the budget, smallest seen over it
    prev = None
    for _ in range(steps):
        if abs(c - budget) <= rtol * budget:
            break
        if c < budget:
            under = max(under, s)
        else:
            over = min(over, s)
        slope = 2.0
        if prev is not None and prev[1] > 0 and c > 0 and prev[0] != s:
            slope = float(np.clip(np.log(c / prev[1]) / np.log(s / prev[0]), 0.5, 6.0))
        prev = (s, c)
        s = s * (budget / max(c, 1e-12)) ** (1.0 / slope)
        if np.isinf(over):
            s = min(s, under * MAX_GROWTH)
        elif not under < s < over:
            s = float(np.sqrt(under * over)) if under > 0 else over / 2
        c = cost_at(s)
    return s, c
