"""Calibrated-looking value-vector packs for the tiny model, in the shipped format: each value's dose
and the fluency budget's cost model G (diagonal: values cost what they cost alone), so tests exercise
the path every shipped pack takes."""

from __future__ import annotations

import numpy as np

from couple_lite.vectors import Extraction, ValuePack

BUDGET = 0.1


def calibrated_pack(
    extraction: Extraction,
    system: str,
    response: np.ndarray,
    doses=10.0,
    *,
    sha256: str = "00" * 32,
    model_name: str = "tiny",
    strength: float = 0.03,
    unsteered: dict[str, float] | None = None,
    sd: float = 0.05,
    metrics: dict | None = None,
    budget: float = BUDGET,
) -> ValuePack:
    """A pack whose R is ``response``, each value's dose ``doses`` (a number or one per value) at KL
    ``budget``, and an unsteered profile (default: 3.5 plus seeded noise)."""
    names = extraction.values
    rng = np.random.default_rng(0)
    d = np.broadcast_to(np.asarray(doses, dtype=np.float64), (len(names),)).copy()
    base = unsteered or dict(zip(names, map(float, 3.5 + rng.normal(scale=0.3, size=len(names)))))
    return ValuePack(
        sha256,
        model_name,
        "llama",
        system,
        extraction,
        response=np.asarray(response, dtype=np.float64),
        response_instrument="likelihood",
        strength=strength,
        fluency_limit=d,
        fluency_gram=np.diag(budget / d**2),
        metrics={
            "unsteered_profile": base,
            "unsteered_sd": dict.fromkeys(names, sd),
            "fluency": {"budget": budget, "per_value_dose": True},
            **(metrics or {}),
        },
    )
