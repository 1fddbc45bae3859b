"""Calibration: how far steering each value moves every measured value, and how hard one can push.

Strength is measured in units of the residual stream: strength 0.02 adds, at every steered block,
2% of that block's typical residual norm along the value's unit direction.

- **response matrix** R[i, j]: change of measured value j per unit strength on value i, the
  least-squares slope of a symmetric sweep (profile at +s minus profile at -s, for each s), on
  items never used in extraction; with an item instrument, every item's slope too, from which
  ``response_fit`` gets R's standard errors and its cross-validated shrinkage;
- **specificity**: R's diagonal against its off-diagonal, and how many rows peak on their own value;
- **fluency budget** (``fluency``): per value, the strength whose vector alone costs ``budget``
  nats/token of KL on the model's own answers (its dose), and a quadratic cost model
  cost(c) = cᵀ G c for combined vectors, G's off-diagonal from each pair of values steered together
  (or, cheaper, from the cosine of their vectors), checked on random combinations.

One pipeline, :func:`calibrate`, serves both ``couple-lite calibrate`` (a pack's directions,
calibrated again) and ``couple-lite pack build`` (after extraction); a ``Checkpoint`` keeps each
value's finished work, so that an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

from ..measure import Item, Profile, load_items, measure
from .extraction import Extraction, steering_vector
from .fluency import ANSWER_TOKENS, BUDGET_PROMPTS, FluencyProbe, dose_for_budget
from .pack import ValuePack
from .response_fit import fit_response

__all__ = [
    "CalibrationSettings",
    "Calibration",
    "Checkpoint",
    "MemoryCheckpoint",
    "calibrate",
    "apply_calibration",
    "response_row",
    "item_values",
    "specificity",
    "value_dose",
    "pair_cost",
    "positive_gram",
    "check_cost_model",
    "KL_BUDGET",
    "SWEEP_STRENGTHS",
    "CHECK_COMBOS",
    "FLUENCY_MEASURE",
]

# response-matrix doses: inside the fluency doses found on the default model (0.023-0.042), so the
# slopes describe fluent steering rather than a broken model's; two doses fit a line, not a point
SWEEP_STRENGTHS = (0.015, 0.03)
# the default fluency budget (nats/token of KL on the model's own answers); the docs' reach study
# says how it was chosen (answers read at several budgets)
KL_BUDGET = 0.1
# combinations of all values at random signs and weights, each scaled to the budget by the model,
# on which the quadratic cost model is checked (their measured / predicted cost is reported)
CHECK_COMBOS = 6
FLUENCY_MEASURE = "mean KL(unsteered || steered) per token on the model's greedy answers to everyday prompts"

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class CalibrationSettings:
    """What calibration does; the defaults are the shipped packs' recipe."""

    instrument: str = "likelihood"
    strengths: tuple[float, ...] = SWEEP_STRENGTHS
    budget: float | None = KL_BUDGET  # None: no fluency budget (the pack keeps the one it has, if any)
    combined: Literal["pairs", "cosines"] = "pairs"  # how combined vectors' costs are found (see the docstring)


class Checkpoint(Protocol):
    """Where finished work is kept: ``record`` holds "R", "slopes", "sweep", "doses" and "gram"
    (each a mapping filled value by value), and ``save()`` makes what is in it durable."""

    record: dict

    def save(self) -> None: ...


@dataclass
class MemoryCheckpoint:
    """A checkpoint in memory only (a calibration that is not resumed)."""

    record: dict = field(default_factory=lambda: {"R": {}, "slopes": {}, "sweep": {}, "doses": {}, "gram": {}})

    def save(self) -> None:
        pass


@dataclass
class Calibration:
    """What :func:`calibrate` measured, ready for :func:`apply_calibration`."""

    settings: CalibrationSettings
    response: np.ndarray  # (V, V) R
    unsteered: Profile  # the unsteered profile, measured as R was
    sweep: dict  # value -> strength (as text) -> change of every measured value
    response_fit: dict | None  # standard errors and cross-validated shrinkage (item instruments)
    doses: np.ndarray | None = None  # (V,) each value's strength at the budget
    gram: np.ndarray | None = None  # (V, V) the cost model's G
    checks: list[float] | None = None  # measured ÷ predicted cost of CHECK_COMBOS combinations
    seconds: dict[str, float] = field(default_factory=dict)  # per step: "response matrix", "fluency budget"


def calibrate(
    engine,
    system,
    extraction: Extraction,
    settings: CalibrationSettings | None = None,
    *,
    items: list[Item] | None = None,
    checkpoint: Checkpoint | None = None,
    progress: Progress | None = None,
) -> Calibration:
    """The response matrix of ``extraction``'s vectors on ``items`` (default: the system's
    calibration items) and, unless ``settings.budget`` is None, the fluency budget. ``progress(done,
    total, step)``; ``checkpoint`` is read for values already done and written as each one finishes."""
    settings = settings or CalibrationSettings()
    checkpoint = checkpoint or MemoryCheckpoint()
    items = items or load_items(system)[0]
    record, names = checkpoint.record, list(system.names)
    t0 = time.perf_counter()
    base = measure(engine, system, settings.instrument, items=items, extraction=extraction)
    for i, v in enumerate(names):
        if v not in record["R"]:
            row, slopes, sweep = response_row(
                engine, system, extraction, i, settings.instrument, settings.strengths, items=items
            )
            record["R"][v] = row.tolist()
            record["slopes"][v] = None if slopes is None else slopes.tolist()
            record["sweep"][v] = {str(s): d for s, d in sweep.items()}
            checkpoint.save()
        if progress:
            progress(i + 1, len(names), "response matrix")
    R = np.array([record["R"][v] for v in names])
    fit = None
    if all(record["slopes"][v] is not None for v in names):
        fit = fit_response(np.array([record["slopes"][v] for v in names]), item_values(system, items), system)
    cal = Calibration(settings, R, base, {v: record["sweep"][v] for v in names}, fit)
    cal.seconds["response matrix"] = time.perf_counter() - t0
    if settings.budget is not None:
        t0 = time.perf_counter()
        cal.doses, cal.gram, cal.checks = _fluency_budget(engine, extraction, settings, checkpoint, progress)
        cal.seconds["fluency budget"] = time.perf_counter() - t0
    return cal


def _fluency_budget(
    engine, extraction: Extraction, settings: CalibrationSettings, checkpoint: Checkpoint, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Each value's dose, the cost model G and its check on random combinations (see the module docstring)."""
    budget, record, names = float(settings.budget or KL_BUDGET), checkpoint.record, extraction.values
    V = len(names)
    pairs = [(i, j) for i in range(V) for j in range(i + 1, V)] if settings.combined == "pairs" else []
    total, done = V + len(pairs) + CHECK_COMBOS, 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress:
            progress(done, total, "fluency budget")

    probe = FluencyProbe.build(engine)
    for i, v in enumerate(names):
        if v not in record["doses"]:
            record["doses"][v] = value_dose(probe, extraction, i, budget)
            checkpoint.save()
        tick()
    doses = np.array([record["doses"][v] for v in names])
    G = np.diag(budget / doses**2)
    for i, j in pairs:
        key = f"{i},{j}"
        if key not in record["gram"]:
            record["gram"][key] = pair_cost(probe, extraction, i, j, doses, budget)
            checkpoint.save()
        G[i, j] = G[j, i] = record["gram"][key]
        tick()
    if not pairs:
        for i in range(V):
            for j in range(i + 1, V):
                G[i, j] = G[j, i] = pair_cost(probe, extraction, i, j, doses, budget, measured=False)
    G = positive_gram(G)
    return doses, G, check_cost_model(probe, extraction, G, budget, tick)


def apply_calibration(pack: ValuePack, cal: Calibration) -> ValuePack:
    """``pack`` with the calibration's R, unsteered profile and (when measured) fluency budget, and
    the metrics that describe them (``specificity``, ``dose_response``, ``response_fit``, ``fluency``)."""
    s = cal.settings
    pack.response, pack.response_instrument, pack.strength = cal.response, s.instrument, max(s.strengths)
    pack.metrics["specificity"] = specificity(cal.response)
    pack.metrics["dose_response"] = cal.sweep
    pack.metrics["unsteered_profile"] = cal.unsteered.profile
    pack.metrics["unsteered_sd"] = cal.unsteered.sd
    pack.metrics.pop("response_fit", None)
    if cal.response_fit is not None:
        pack.metrics["response_fit"] = cal.response_fit
    if cal.doses is not None:
        pack.fluency_limit, pack.fluency_gram = cal.doses, cal.gram
        pack.metrics["fluency"] = {
            "measure": FLUENCY_MEASURE,
            "budget": s.budget,
            "per_value_dose": True,
            "prompts": len(BUDGET_PROMPTS),
            "answer_tokens": ANSWER_TOKENS,
            "combined": s.combined,
            "check_measured_over_predicted": cal.checks,
        }
    return pack


def response_row(
    engine, system, extraction: Extraction, i: int, instrument: str, doses: tuple[float, ...], **measure_kwargs
) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Row i of R (steer value i at ±s for each dose s, measure every value), its item slopes (an
    item instrument) and its sweep (strength -> change of every value)."""
    names = extraction.values
    num = np.zeros(len(names))
    item_num = None
    sweep: dict = {}
    for s in doses:
        sides = []
        for sign in (1.0, -1.0):
            coef = np.zeros(len(names))
            coef[i] = sign * s
            with engine.steered(steering_vector(extraction, coef)):
                sides.append(measure(engine, system, instrument, extraction=extraction, **measure_kwargs))
        diff = _vec(sides[0], names) - _vec(sides[1], names)  # = 2 s R[i] + noise
        num += s * diff
        if sides[0].item_scores is not None:
            d_items = s * (np.array(sides[0].item_scores) - np.array(sides[1].item_scores))
            item_num = d_items if item_num is None else item_num + d_items
        sweep[s] = dict(zip(names, map(float, diff / 2)))
    denom = 2 * sum(s * s for s in doses)
    return num / denom, None if item_num is None else item_num / denom, sweep


def _vec(profile: Profile, names: list[str]) -> np.ndarray:
    return np.array([profile.profile[n] for n in names])


def item_values(system, items: list[Item] | None = None) -> np.ndarray:
    """Which value (index in the system's order) each calibration item measures."""
    items = items or load_items(system)[0]
    return np.array([system.names.index(it.value) for it in items])


def specificity(R: np.ndarray) -> dict:
    """Diagonal vs off-diagonal of R, and rows whose largest response is their own value."""
    n = len(R)
    off = R[~np.eye(n, dtype=bool)]
    diag = np.diag(R)
    return {
        "diag_mean": float(diag.mean()),
        "offdiag_mean_abs": float(np.abs(off).mean()),
        "ratio": float(diag.mean() / (np.abs(off).mean() + 1e-12)),
        "rows_diag_largest": int((R.argmax(axis=1) == np.arange(n)).sum()),
        "diag_positive": int((diag > 0).sum()),
        "n_values": n,
    }


def check_cost_model(
    probe, extraction: Extraction, G: np.ndarray, budget: float, tick: Callable[[], None] | None = None
) -> list[float]:
    """Measured ÷ predicted cost of CHECK_COMBOS random combinations scaled to the budget by G."""
    rng = np.random.default_rng(0)
    checks = []
    for _ in range(CHECK_COMBOS):
        c = rng.standard_normal(len(G))
        c *= np.sqrt(budget / (c @ G @ c))  # predicted cost: the budget
        checks.append(probe.cost_of(steering_vector(extraction, c)) / budget)
        if tick:
            tick()
    return checks


def value_dose(probe, extraction: Extraction, i: int, budget: float) -> float:
    """The strength at which value i's vector alone costs ``budget`` (``fluency.dose_for_budget``)."""
    e = np.zeros(len(extraction.values))
    e[i] = 1.0
    return dose_for_budget(lambda s: probe.cost_of(steering_vector(extraction, s * e)), budget)[0]


def pair_cost(
    probe, extraction: Extraction, i: int, j: int, doses: np.ndarray, budget: float, measured: bool = True
) -> float:
    """G[i, j] of the quadratic cost model: from values i and j steered together (both at their
    doses, scaled by 1/√2: cost = B + G_ij d_i d_j under the model), or, unmeasured, from the
    cosine of their vectors."""
    V = len(extraction.values)
    if measured:
        c = np.zeros(V)
        c[i], c[j] = doses[i] / np.sqrt(2), doses[j] / np.sqrt(2)
        return (probe.cost_of(steering_vector(extraction, c)) - budget) / (doses[i] * doses[j])
    vi = steering_vector(extraction, np.eye(V)[i]).ravel().astype(np.float64)
    vj = steering_vector(extraction, np.eye(V)[j]).ravel().astype(np.float64)
    gii, gjj = budget / doses[i] ** 2, budget / doses[j] ** 2
    return float(np.sqrt(gii * gjj) * vi @ vj / (np.linalg.norm(vi) * np.linalg.norm(vj)))


def positive_gram(G: np.ndarray) -> np.ndarray:
    """G symmetrised with its eigenvalues floored at 1e-3 of the largest: a cost is never negative."""
    w, U = np.linalg.eigh((G + G.T) / 2)
    return (U * np.clip(w, 1e-3 * w.max(), None)) @ U.T
