"""Closed-loop refinement (``steer --refine N``): apply a plan's vector, measure the profile on the
calibration items, correct the coefficients by the residual, repeat.

The open-loop plan trusts R's linear prediction; refinement checks it against a measurement. Each
round measures the profile the current coefficients give (the pack's own instrument on the
calibration items -- never on evaluation items), takes the residual against what the plan promised
(R_αᵀ c of the open-loop plan, in instrument units), and adds half the coefficients that solve it
through the same R_α (scaled back into the fluency budget). N rounds are N corrections and N + 1
measurements; the measured best is kept, so on the calibration items a refined plan is never worse
than the open-loop one. Refined coefficients are cached per (objective, ablation, pack, scope,
rounds, open-loop coefficients): in memory, and on disk under ``_paths.cache_dir("refine")``, so a
second ``steer --refine`` costs what the open-loop plan does.
"""

from __future__ import annotations

import hashlib
import json
import time

import numpy as np

from .._io import write_text
from .._paths import cache_dir
from ..errors import ObjectiveError, OutputFileError
from ..measure import load_items, measure
from ..vectors import solve_coefficients

__all__ = ["refine", "MAX_ROUNDS"]

MAX_ROUNDS = 10  # each round is one more measurement (a few seconds on the default model)
# share of the measured residual each round corrects: R's gains are estimates, and full steps
# oscillated on the default model (residual 0.055 -> 0.062 -> 0.065; half steps: -> 0.023 -> 0.021)
STEP = 0.5
_FIELDS = {"rounds", "instrument", "items", "residual", "kept", "promised", "seconds"}  # an entry must have


def _key(steerer, plan, rounds: int) -> str:
    pack = steerer.pack
    h = hashlib.sha256()
    # the open-loop coefficients stand for every input of the plan (the value graph, the factual
    # profile, the shrinkage), so a plan made any other way never meets this entry
    h.update(
        json.dumps(
            [
                plan.objective.model_dump(mode="json"),
                plan.ablation.model_dump(),
                rounds,
                plan.coefficients,
                steerer.engine.steer_scope,
                pack.model_sha256,
                pack.extraction.settings.get("texts_sha256"),
                pack.response_instrument,
                steerer.shrinkage,
            ],
            sort_keys=True,
        ).encode()
    )
    for a in (pack.response, pack.fluency_gram, pack.fluency_limit):
        h.update(b"-" if a is None else np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()[:32]


def _measured(steerer, c: np.ndarray, items, base: np.ndarray) -> np.ndarray:
    """Change of the instrument's profile (instrument units) under coefficients ``c``."""
    names = steerer.pack.values
    with steerer.lock, steerer.engine.steered(steerer.vector_of(c)):
        prof = measure(
            steerer.engine,
            steerer.system,
            steerer.pack.response_instrument,
            items=items,
            extraction=steerer.pack.extraction,
        )
    return np.array([prof.profile[n] for n in names]) - base


def refine(steerer, plan, rounds: int, use_cache: bool = True, progress=None):
    """``plan`` with its coefficients corrected by ``rounds`` measured rounds (see the module
    docstring); the plan's ``refinement`` says what each round measured and what it cost."""
    if not 1 <= rounds <= MAX_ROUNDS:
        raise ObjectiveError(f"refine needs 1 to {MAX_ROUNDS} rounds, got {rounds}")
    pack, names = steerer.pack, steerer.pack.values
    base_profile = pack.metrics.get("unsteered_profile") or {}
    if pack.response_instrument not in ("likelihood", "questionnaire") or set(base_profile) != set(names):
        raise ObjectiveError(
            "refinement needs a pack calibrated with an item instrument (likelihood or "
            "questionnaire); run `couple-lite calibrate --instrument likelihood` on it"
        )
    key = _key(steerer, plan, rounds)
    path = cache_dir("refine") / f"{key}.json"
    hit = steerer._refined.get(key)
    if hit is None and use_cache and path.is_file():
        try:
            hit = json.loads(path.read_text(encoding="utf-8"))
            c = [hit["coefficients"][n] for n in names]
            if (
                not all(isinstance(x, (int, float)) and np.isfinite(x) for x in c)
                or not isinstance(hit["refinement"], dict)
                or not set(hit["refinement"]) >= _FIELDS
            ):
                hit = None
        except (OSError, ValueError, KeyError, TypeError):
            hit = None  # a damaged cache entry is recomputed, never trusted
    if hit is None:
        hit = _run(steerer, plan, rounds, progress)
        steerer._refined[key] = hit
        if use_cache:
            try:
                write_text(path, json.dumps(hit))
            except (OSError, OutputFileError):
                pass  # a read-only cache only costs the next call its rounds
        cached = False
    else:
        steerer._refined[key] = hit
        cached = True
    coefficients = np.array([hit["coefficients"][n] for n in names])
    return steerer.replan(plan, coefficients, refinement={**hit["refinement"], "cached": cached})


def _run(steerer, plan, rounds: int, progress) -> dict:
    t0 = time.perf_counter()
    names = steerer.pack.values
    items = steerer.pack.calibration_items() or load_items(steerer.system)[0]
    base = np.array([steerer.pack.metrics["unsteered_profile"][n] for n in names])
    w = steerer.weights(plan.objective, plan.ablation)
    R = steerer._R if plan.ablation.shrink else steerer.pack.response  # the R the plan was solved with
    c = np.array([plan.coefficients[n] for n in names])
    goal = R.T @ c  # what the open-loop plan promises, instrument units

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.sum(w * x**2) / np.sum(w)))

    residuals, best = [], (np.inf, c)
    for r in range(rounds + 1):  # measure the plan, then each corrected plan
        res = goal - _measured(steerer, c, items, base)
        residuals.append(rms(res))
        if residuals[-1] < best[0]:
            best = (residuals[-1], c)
        if progress:
            progress(r + 1, rounds + 1)
        if r < rounds:
            c, _ = steerer.cap_to_budget(c + STEP * solve_coefficients(R, res, w))
    return {
        "coefficients": dict(zip(names, map(float, best[1]))),
        "refinement": {
            "rounds": rounds,
            "instrument": steerer.pack.response_instrument,
            "items": len(items),
            "residual": residuals,
            "kept": int(np.argmin(residuals)),
            "promised": rms(goal),
            "seconds": time.perf_counter() - t0,
        },
    }
