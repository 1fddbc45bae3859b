"""Fewer, better items (AdAEM's idea of informative questions): per value, the calibration items
whose likelihood score moves most with their own value's vector and least with the others', so a
profile can be measured on the N most informative items per value (``measure --items-budget N``,
which ``measure.items.informative_items`` selects).

An item's information is its own-value response minus its mean absolute response to the other
values' vectors, per unit strength: the symmetric sweep of calibration (score at +dose minus score at
-dose), one value at a time, at each value's fluency dose. Computed once on the calibration items
and stored in the pack (``calibrate --item-information``); never on evaluation items.
"""

from __future__ import annotations

import numpy as np

from ..measure import SELF_QUESTIONS, Item, load_items
from .extraction import Extraction, steering_vector

__all__ = ["item_information"]


def _scores(engine, items: list[Item]) -> np.ndarray:
    lp = engine.answer_logprob([SELF_QUESTIONS["default"]] * len(items), [it.text for it in items])
    return np.where([it.agreement < 0 for it in items], -lp, lp)


def item_information(
    engine, system, extraction: Extraction, doses: np.ndarray, items: list[Item] | None = None, progress=None
) -> dict[str, float]:
    """Item text -> information (see the module docstring), on the likelihood instrument."""
    items = items or load_items(system)[0]
    names = extraction.values
    response = np.zeros((len(names), len(items)))  # response[u, k]: item k's score change per unit push on u
    for u in range(len(names)):
        sides = []
        for sign in (1.0, -1.0):
            coef = np.zeros(len(names))
            coef[u] = sign * doses[u]
            with engine.steered(steering_vector(extraction, coef)):
                sides.append(_scores(engine, items))
        response[u] = (sides[0] - sides[1]) / (2 * doses[u])
        if progress:
            progress(u + 1, len(names))
    info = {}
    for k, it in enumerate(items):
        own = names.index(it.value)
        others = np.delete(response[:, k], own)
        info[it.text] = float(response[own, k] - np.abs(others).mean())
    return info
