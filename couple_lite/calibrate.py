"""Calibration: how far steering each value moves every measured value, and how hard one can push.

Strength is measured in units of the residual stream: strength 0.02 adds, at every steered block,
2% of that block's typical residual norm along the value's unit direction.

- **response matrix** R[i, j]: change of measured value j per unit strength on value i, from a
  symmetric sweep (profile at +s minus profile at -s, over 2s), on items never used in extraction;
- **specificity**: R's diagonal against its off-diagonal, and how many rows peak on their own value;
- **fluency limit** per value: the strength at which the mean log-perplexity of fixed neutral text
  rises by ``max_nll_rise`` nats per token (interpolated on a dose sweep).
"""

from __future__ import annotations

import numpy as np

from .measure import Profile, measure
from .vectors import Extraction, steering_vector  # steering_vector re-exported here

__all__ = ["steering_vector", "response_matrix", "response_row", "item_values", "value_dose", "pair_cost",
           "positive_gram", "check_cost_model", "specificity", "fluency_limits", "kl_budget", "KL_BUDGET", "NEUTRAL_TEXT",
           "SWEEP_STRENGTH", "FLUENCY_STRENGTHS", "FLUENCY_MAX_NLL_RISE"]

# response-matrix dose: inside the fluency limits found on the default model (0.023-0.042), so the
# slopes describe fluent steering rather than a broken model's
SWEEP_STRENGTH = 0.03
# fluency dose sweep: doublings from below the smallest limit seen (0.023) to ~4x the largest (0.042),
# so each value's limit is interpolated between two measured points; four passes per value
FLUENCY_STRENGTHS = (0.02, 0.04, 0.08, 0.16)
# the fluency limit: neutral-text log-perplexity may rise by this many nats per token (~10% perplexity)
FLUENCY_MAX_NLL_RISE = 0.1

NEUTRAL_TEXT = (
    "The library opens at nine in the morning and closes at six in the evening. Visitors can borrow up "
    "to five books at a time and return them at the front desk or in the box outside.",
    "To make a simple tomato sauce, warm some olive oil, add chopped garlic, then the tomatoes and a "
    "pinch of salt, and let it simmer for twenty minutes while stirring now and then.",
    "The train to the coast leaves every hour. The journey takes about two hours, and there is a small "
    "café on board that sells sandwiches, tea and coffee.",
)


def _vec(profile: Profile, names: list[str]) -> np.ndarray:
    return np.array([profile.profile[n] for n in names])


def response_matrix(engine, system, extraction: Extraction, instrument: str = "questionnaire",
                    strength: float | tuple[float, ...] = SWEEP_STRENGTH, progress=None,
                    **measure_kwargs) -> tuple[np.ndarray, Profile, dict, np.ndarray | None]:
    """R (V, V) per unit strength: the least-squares slope of the symmetric dose-response sweep
    (profile at +s minus profile at -s, for each s); the unsteered profile measured the same way;
    the sweep itself (value -> strength -> change of every measured value); and, for an instrument
    that scores items, every item's slope (V, n_items) for ``response_fit`` (else None)."""
    names = extraction.values
    doses = (strength,) if isinstance(strength, (int, float)) else tuple(strength)
    base = measure(engine, system, instrument, extraction=extraction, **measure_kwargs)
    R = np.zeros((len(names), len(names)))
    slopes = None if base.item_scores is None else np.zeros((len(names), len(base.item_scores)))
    sweep: dict = {}
    for i in range(len(names)):
        R[i], item_slopes, sweep[names[i]] = response_row(engine, system, extraction, i, instrument, doses,
                                                          **measure_kwargs)
        if slopes is not None:
            slopes[i] = item_slopes
        if progress:
            progress(i + 1, len(names))
    return R, base, sweep, slopes


def response_row(engine, system, extraction: Extraction, i: int, instrument: str, doses: tuple[float, ...],
                 **measure_kwargs) -> tuple[np.ndarray, np.ndarray | None, dict]:
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


def item_values(system, items=None) -> np.ndarray:
    """Which value (index in the system's order) each calibration item measures."""
    from .measure import load_items

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


def fluency_limits(engine, extraction: Extraction, strengths=FLUENCY_STRENGTHS,
                   max_nll_rise: float = FLUENCY_MAX_NLL_RISE, progress=None) -> tuple[np.ndarray, float]:
    """Per value, the largest strength whose neutral-text log-perplexity rise stays within
    ``max_nll_rise`` (linear interpolation between sweep points). Returns limits and the base NLL."""
    base = engine.mean_nll(NEUTRAL_TEXT)
    limits = np.zeros(len(extraction.values))
    for i in range(len(extraction.values)):
        prev_s, prev_rise, limit = 0.0, 0.0, strengths[-1]
        for s in strengths:
            coef = np.zeros(len(extraction.values))
            coef[i] = s
            with engine.steered(steering_vector(extraction, coef)):
                rise = engine.mean_nll(NEUTRAL_TEXT) - base
            if rise > max_nll_rise:
                limit = prev_s + (s - prev_s) * (max_nll_rise - prev_rise) / (rise - prev_rise)
                break
            prev_s, prev_rise = s, rise
        limits[i] = limit
        if progress:
            progress(i + 1, len(extraction.values))
    return limits, base


def kl_budget(engine, extraction: Extraction, budget: float, probe=None, pairs: bool = True,
              progress=None) -> dict:
    """The fluency budget in KL (``couple_lite.fluency``): per value, the strength whose vector
    alone costs ``budget`` nats/token; and a quadratic cost model cost(c) = cᵀ G c for combined
    vectors, G's diagonal from those doses and its off-diagonal from each pair of values steered
    together (both at their doses, scaled by 1/√2), or, with ``pairs=False``, from the cosine of the
    two vectors. Returns doses, G, and the model checked on random combinations at the budget."""
    from .fluency import FluencyProbe

    probe = probe or FluencyProbe.build(engine)
    V = len(extraction.values)
    steps = V + (V * (V - 1) // 2 if pairs else 0) + CHECK_COMBOS
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    doses = np.zeros(V)
    for i in range(V):
        doses[i] = value_dose(probe, extraction, i, budget)
        tick()
    G = np.diag(budget / doses ** 2)
    for i in range(V):
        for j in range(i + 1, V):
            G[i, j] = G[j, i] = pair_cost(probe, extraction, i, j, doses, budget, measured=pairs)
            if pairs:
                tick()
    G = positive_gram(G)
    checks = check_cost_model(probe, extraction, G, budget, tick)
    return {"doses": doses, "gram": G, "measured_over_predicted": checks}


def check_cost_model(probe, extraction: Extraction, G: np.ndarray, budget: float, tick=None) -> list[float]:
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
    from .fluency import dose_for_budget

    e = np.zeros(len(extraction.values))
    e[i] = 1.0
    return dose_for_budget(lambda s: probe.cost_of(steering_vector(extraction, s * e)), budget)[0]


def pair_cost(probe, extraction: Extraction, i: int, j: int, doses: np.ndarray, budget: float,
              measured: bool = True) -> float:
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


# combinations of all values at random signs and weights, each scaled to the budget by the model,
# on which the quadratic cost model is checked (their measured / predicted cost is reported)
CHECK_COMBOS = 6
# the default fluency budget (nats/token of KL on the model's own answers); see the README's reach
# section for how it was chosen (answers read at several budgets)
KL_BUDGET = 0.1

