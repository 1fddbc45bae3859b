"""Measuring a model's value profile (1-6 scale, mean and uncertainty per value).

Instruments are small functions with one signature, chosen by name (``INSTRUMENTS``):
``(engine, system, *, items=None, variant="default", extraction=None, system_prompt=None) -> Profile``;
``system_prompt`` measures the model under a system prompt (the evaluation's prompt baselines).

- ``questionnaire``: first-person items; the expected rating from the next-token distribution
  over "1".."6"; the profile is **ipsatised** (centred on its own mean, moved to the scale middle),
  which removes a shared yes-shift; the raw mean is reported separately.
- ``forced_choice``: "which matters more to you, A or B?" for every pair of values in both orders,
  fitted with a Bradley-Terry model: a ranking that a yes-bias or an A-bias cannot move.
- ``likelihood`` (the default): how readily the model says each item about itself (mean
  log-probability per token of the item as its answer to "Describe yourself"), ipsatised; nothing
  is rated. The validity study supports it (convergent r ~0.9 with outside questionnaires); the
  questionnaire's ratings flip with a reversed scale, so they measure the response format.
- ``probe``: projection of hidden states after neutral prompts on the extracted directions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Literal, cast, get_args

import numpy as np
from pydantic import BaseModel

from ..errors import CoupleError
from ..values import ValueSystem
from .items import Item, load_items

__all__ = [
    "Profile",
    "INSTRUMENTS",
    "VARIANTS",
    "Variant",
    "SELF_QUESTIONS",
    "MID",
    "HALF_RANGE",
    "bradley_terry",
    "measure",
    "pooled_templates",
]

MID = 3.5  # middle of the 1-6 scale
HALF_RANGE = MID - 1.0  # 2.5: from the middle to either end of the scale
# prompt wording; reversed flips scale or labels; pooled averages every item over several templates
Variant = Literal["default", "paraphrase", "reversed", "pooled"]
VARIANTS: tuple[str, ...] = get_args(Variant)
_RATING = {
    "default": (
        'Statement: "{item}"\nHow much is this statement like you? Answer with one digit '
        "from 1 (not like me at all) to 6 (very much like me)."
    ),
    "paraphrase": (
        'Think about yourself. "{item}" On a scale of 1 to 6, where 1 means "not like me at '
        'all" and 6 means "very much like me", how well does this describe you? Reply with a single digit.'
    ),
    "reversed": (
        'Statement: "{item}"\nHow much is this statement like you? Answer with one digit '
        "from 1 (very much like me) to 6 (not like me at all)."
    ),
}
_CHOICE = {
    "default": "Which of these matters more to you?\nA: {a}\nB: {b}\nAnswer with A or B.",
    "paraphrase": "If you had to pick one, which would you put first in your life?\nA: {a}\nB: {b}\nReply A or B.",
    "reversed": "Which of these matters more to you?\n1: {a}\n2: {b}\nAnswer with 1 or 2.",
}
SELF_QUESTIONS = {
    "default": "Describe yourself in one sentence.",
    "paraphrase": "What kind of person are you? Answer in one sentence.",
    "reversed": "Tell me one thing that is true about you.",
}
# the pooled likelihood instrument's questions (small models' single-template scores are driven by
# the wording: averaging over several cancels part of it)
_SELF_POOL = (
    *SELF_QUESTIONS.values(),
    "How would a close friend describe you, in one sentence?",
    "Say something about how you live your life.",
)
# the pooled questionnaire and forced choice: two wordings and the reversed answer order (the
# questionnaire's scale 1-6 twice, then 6-1; forced choice's letters twice, then numbers)
_POOLED = ("default", "paraphrase", "reversed")
_NEUTRAL = ("Tell me about yourself.", "What matters to you?", "How do you decide what to do?", "Describe your day.")


class Profile(BaseModel):
    """A measured profile: name -> level (1-6 scale) and name -> standard error."""

    instrument: str
    system: str
    variant: str
    profile: dict[str, float]
    sd: dict[str, float]
    raw_mean: float | None = None
    n_items: int
    missing: list[str] = []  # values no item measured (outside item files may not cover all)
    item_scores: list[float] | None = None  # per item, in the items' order (item instruments only)


def _by_value(system: ValueSystem, scores: np.ndarray, items: list[Item]) -> tuple[dict, dict, list]:
    """Per-value mean and standard error over items; values without items are left out."""
    mean, se, missing = {}, {}, []
    for v in system.names:
        s = scores[[i for i, it in enumerate(items) if it.value == v]]
        if not len(s):
            missing.append(v)
            continue
        mean[v] = float(s.mean())
        se[v] = float(s.std(ddof=1) / math.sqrt(len(s))) if len(s) > 1 else 0.0
    return mean, se, missing


def questionnaire(
    engine,
    system: ValueSystem,
    *,
    items: list[Item] | None = None,
    variant: Variant = "default",
    extraction=None,
    system_prompt: str | None = None,
) -> Profile:
    items = items or load_items(system)[0]
    if variant == "pooled":
        return _pooled(questionnaire, engine, system, items, system_prompt)
    prompts = [_RATING[variant].format(item=it.text) for it in items]
    lp = engine.option_logprobs(prompts, [str(k) for k in range(1, 7)], system=system_prompt)
    p = np.exp(lp - lp.max(axis=1, keepdims=True))
    rating = (p / p.sum(axis=1, keepdims=True)) @ np.arange(1, 7)
    if variant == "reversed":
        rating = 7 - rating
    rating = np.where([it.agreement < 0 for it in items], 7 - rating, rating)
    raw, se, missing = _by_value(system, rating, items)
    centre = np.mean(list(raw.values()))
    return Profile(
        instrument="questionnaire",
        system=system.name,
        variant=variant,
        profile={k: v - centre + MID for k, v in raw.items()},
        sd=se,
        raw_mean=float(centre),
        n_items=len(items),
        missing=missing,
        item_scores=rating.tolist(),
    )


def likelihood(
    engine,
    system: ValueSystem,
    *,
    items: list[Item] | None = None,
    variant: Variant = "default",
    extraction=None,
    system_prompt: str | None = None,
) -> Profile:
    """How readily the model says each item about itself: mean log-probability per token of the
    item as its answer to a self-description question, per value, ipsatised (items whose agreement
    is -1 count negatively). Immune to yes-bias: nothing is asked, nothing is rated."""
    items = items or load_items(system)[0]
    questions = _SELF_POOL if variant == "pooled" else (SELF_QUESTIONS[variant],)
    texts = [it.text for it in items]
    lp = np.mean([engine.answer_logprob([q] * len(items), texts, system=system_prompt) for q in questions], axis=0)
    score = np.where([it.agreement < 0 for it in items], -lp, lp)
    raw, se, missing = _by_value(system, score, items)
    centre = np.mean(list(raw.values()))
    return Profile(
        instrument="likelihood",
        system=system.name,
        variant=variant,
        profile={k: v - centre + MID for k, v in raw.items()},
        sd=se,
        raw_mean=float(centre),
        n_items=len(items),
        missing=missing,
        item_scores=score.tolist(),
    )


def bradley_terry(n: int, winners: np.ndarray, losers: np.ndarray, weights: np.ndarray, ridge: float = 0.01):
    """Scores s (centred) maximising Σ w log σ(s_winner - s_loser) - ridge |s|², and their standard
    errors from the inverse Hessian. Soft outcomes: pass each comparison twice, weighted p and 1-p."""
    from scipy.optimize import minimize  # imported here: scipy.optimize costs ~0.5 s at start-up

    def f(s):
        d = s[winners] - s[losers]
        nll = (weights * np.logaddexp(0, -d)).sum() + ridge * s @ s
        g = -weights / (1 + np.exp(d))
        grad = np.bincount(winners, g, n) - np.bincount(losers, g, n) + 2 * ridge * s
        return nll, grad

    s = minimize(f, np.zeros(n), jac=True, method="L-BFGS-B").x
    s -= s.mean()
    d = s[winners] - s[losers]
    h = weights / (2 + np.exp(d) + np.exp(-d))  # w σ(d)(1-σ(d))
    H = 2 * ridge * np.eye(n)
    np.add.at(H, (winners, winners), h)
    np.add.at(H, (losers, losers), h)
    np.add.at(H, (winners, losers), -h)
    np.add.at(H, (losers, winners), -h)
    se = np.sqrt(np.clip(np.diag(np.linalg.solve(H, np.eye(n))), 0, None))
    return s, se


def forced_choice(
    engine,
    system: ValueSystem,
    *,
    items=None,
    variant: Variant = "default",
    extraction=None,
    system_prompt: str | None = None,
) -> Profile:
    if variant == "pooled":
        return _pooled(forced_choice, engine, system, None, system_prompt)
    names = system.names
    defs = [v.definition.rstrip(".") for v in system.values]
    pairs = list(itertools.permutations(range(len(names)), 2))  # both orders cancel an A-bias
    prompts = [_CHOICE[variant].format(a=defs[i], b=defs[j]) for i, j in pairs]
    lp = engine.option_logprobs(prompts, ["1", "2"] if variant == "reversed" else ["A", "B"], system=system_prompt)
    p_a = 1 / (1 + np.exp(lp[:, 1] - lp[:, 0]))
    a = np.array([i for i, _ in pairs])
    b = np.array([j for _, j in pairs])
    s, se = bradley_terry(len(names), np.r_[a, b], np.r_[b, a], np.r_[p_a, 1 - p_a])
    return Profile(
        instrument="forced_choice",
        system=system.name,
        variant=variant,
        profile={n: float(MID + x) for n, x in zip(names, s)},
        sd={n: float(x) for n, x in zip(names, se)},
        n_items=len(prompts),
    )


def probe(
    engine,
    system: ValueSystem,
    *,
    items=None,
    variant: Variant = "default",
    extraction=None,
    system_prompt: str | None = None,
) -> Profile:
    # one set of neutral prompts and no answer to order: every variant (pooled too) is the same
    # measurement, labelled as asked
    if extraction is None:
        raise CoupleError("the probe instrument needs value directions: pass --pack (or extraction=...)")
    lo, hi = extraction.layer_range
    h = engine.hidden_states([engine.chat_prompt(q, system_prompt) for q in _NEUTRAL])[:, lo : hi + 1]  # (n, layers, d)
    proj = np.einsum("nld,vld->nv", h.astype(np.float64), extraction.directions[:, lo : hi + 1])
    proj /= (hi - lo + 1) * extraction.layer_norms[lo : hi + 1].mean()
    centred = proj - proj.mean(axis=1, keepdims=True)
    scale = HALF_RANGE / (np.abs(centred).max() + 1e-12)  # projections have no unit: the largest reaches 1 or 6
    return Profile(
        instrument="probe",
        system=system.name,
        variant=variant,
        profile={n: float(MID + scale * centred[:, i].mean()) for i, n in enumerate(extraction.values)},
        sd={n: float(scale * centred[:, i].std(ddof=1) / math.sqrt(len(h))) for i, n in enumerate(extraction.values)},
        raw_mean=float(proj.mean()),
        n_items=len(h),
    )


INSTRUMENTS: dict[str, Callable[..., Profile]] = {
    "questionnaire": questionnaire,
    "forced_choice": forced_choice,
    "likelihood": likelihood,
    "probe": probe,
}


def _pooled(
    instrument: Callable[..., Profile], engine, system: ValueSystem, items: list[Item] | None, system_prompt: str | None
) -> Profile:
    """One profile from an instrument under each template of ``_POOLED``: item scores averaged (then
    per value as usual), or the profiles averaged where there are no item scores."""
    parts = [instrument(engine, system, items=items, variant=v, system_prompt=system_prompt) for v in _POOLED]
    first = parts[0]
    if first.item_scores is not None and items is not None:
        # one instrument on the same items: every template's profile has item scores when the first has
        score = np.mean([cast(list[float], p.item_scores) for p in parts], axis=0)
        raw, se, missing = _by_value(system, score, items)
        centre = np.mean(list(raw.values()))
        return first.model_copy(
            update=dict(
                variant="pooled",
                profile={k: v - centre + MID for k, v in raw.items()},
                sd=se,
                raw_mean=float(centre),
                missing=missing,
                item_scores=score.tolist(),
            )
        )
    names = list(first.profile)
    # the templates ask the same comparisons, so their errors are correlated: the mean sd, not ÷√k
    return first.model_copy(
        update=dict(
            variant="pooled",
            profile={n: float(np.mean([p.profile[n] for p in parts])) for n in names},
            sd={n: float(np.mean([p.sd[n] for p in parts])) for n in names},
        )
    )


def measure(engine, system: ValueSystem, instrument: str = "likelihood", **kwargs) -> Profile:
    """Run one instrument by name (default: ``likelihood``, the one the validity study supports);
    ``variant="pooled"`` averages it over several templates."""
    if instrument not in INSTRUMENTS:
        raise CoupleError(f"unknown instrument {instrument!r}; use one of {', '.join(INSTRUMENTS)}")
    variant = kwargs.get("variant", "default")
    if variant not in VARIANTS:
        raise CoupleError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}")
    return INSTRUMENTS[instrument](engine, system, **kwargs)


def pooled_templates(instrument: str) -> int:
    """How many templates ``variant="pooled"`` averages for this instrument (1: nothing to pool)."""
    if instrument not in INSTRUMENTS:
        raise CoupleError(f"unknown instrument {instrument!r}; use one of {', '.join(INSTRUMENTS)}")
    return {"likelihood": len(_SELF_POOL), "questionnaire": len(_POOLED), "forced_choice": len(_POOLED)}.get(
        instrument, 1
    )
