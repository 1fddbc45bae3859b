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

__all__ = ["steering_vector", "response_matrix", "specificity", "fluency_limits", "kl_budget", "KL_BUDGET", "NEUTRAL_TEXT",
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
                    **measure_kwargs) -> tuple[np.ndarray, Profile, dict]:
    """R (V, V) per unit strength: the least-squares slope of the symmetric dose-response sweep
    (profile at +s minus profile at -s, for each s), and the unsteered profile measured the same
    way, and the sweep itself (value -> strength -> change of every measured value)."""
    names = extraction.values
    doses = (strength,) if isinstance(strength, (int, float)) else tuple(strength)
    base = measure(engine, system, instrument, extraction=extraction, **measure_kwargs)
    R = np.zeros((len(names), len(names)))
    sweep: dict = {}
    for i in range(len(names)):
        num = np.zeros(len(names))
        sweep[names[i]] = {}
        for s in doses:
            sides = []
            for sign in (1.0, -1.0):
                coef = np.zeros(len(names))
                coef[i] = sign * s
                with engine.steered(steering_vector(extraction, coef)):
                    sides.append(_vec(measure(engine, system, instrument, extraction=extraction, **measure_kwargs), names))
            diff = sides[0] - sides[1]  # = 2 s R[i] + noise
            num += s * diff
            sweep[names[i]][s] = dict(zip(names, map(float, diff / 2)))
        R[i] = num / (2 * sum(s * s for s in doses))
        if progress:
            progress(i + 1, len(names))
    return R, base, sweep


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
    from .fluency import FluencyProbe, dose_for_budget

    probe = probe or FluencyProbe.build(engine)
    V = len(extraction.values)
    steps = V + (V * (V - 1) // 2 if pairs else 0) + CHECK_COMBOS
    done = 0

    def tick():
        nonlocal done
        done += 1
        if progress:
            progress(done, steps)

    def cost(c) -> float:
        return probe.cost_of(steering_vector(extraction, c))

    doses = np.zeros(V)
    for i in range(V):
        e = np.zeros(V)
        e[i] = 1.0
        doses[i], _ = dose_for_budget(lambda s: cost(s * e), budget)
        tick()
    G = np.diag(budget / doses ** 2)
    for i in range(V):
        for j in range(i + 1, V):
            if pairs:  # c = (d_i e_i + d_j e_j)/√2: cost = B + G_ij d_i d_j under the model
                c = np.zeros(V)
                c[i], c[j] = doses[i] / np.sqrt(2), doses[j] / np.sqrt(2)
                G[i, j] = G[j, i] = (cost(c) - budget) / (doses[i] * doses[j])
                tick()
            else:
                vi = steering_vector(extraction, np.eye(V)[i]).ravel().astype(np.float64)
                vj = steering_vector(extraction, np.eye(V)[j]).ravel().astype(np.float64)
                G[i, j] = G[j, i] = np.sqrt(G[i, i] * G[j, j]) * vi @ vj / (np.linalg.norm(vi) * np.linalg.norm(vj))
    w, U = np.linalg.eigh((G + G.T) / 2)
    G = (U * np.clip(w, 1e-3 * w.max(), None)) @ U.T  # a cost is never negative: keep G positive definite
    rng = np.random.default_rng(0)
    checks = []
    for _ in range(CHECK_COMBOS):
        c = rng.standard_normal(V)
        c *= np.sqrt(budget / (c @ G @ c))  # predicted cost: the budget
        checks.append(cost(c) / budget)
        tick()
    return {"doses": doses, "gram": G, "measured_over_predicted": checks}


# combinations of all values at random signs and weights, each scaled to the budget by the model,
# on which the quadratic cost model is checked (their measured / predicted cost is reported)
CHECK_COMBOS = 6
# the default fluency budget (nats/token of KL on the model's own answers); see the README's reach
# section for how it was chosen (answers read at several budgets)
KL_BUDGET = 0.1

