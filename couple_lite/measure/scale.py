"""Instrument units <-> the 1-6 scale: one affine map, fitted once per measured profile.

An instrument measures in its own units (the likelihood instrument in nats per token); steering,
objectives and reports speak the 1-6 scale of the Portrait Values Questionnaire. The map matches
the unsteered profile's spread across values to the prior's (its centre to the prior's mean), so
a change of x instrument units is ``factor * x`` scale points. Steering and the evaluation both
use it (each with its own unsteered profile).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["InstrumentScale"]


@dataclass(frozen=True)
class InstrumentScale:
    """``to_scale(x) = centre + factor * (x - inst_centre)``."""

    inst_centre: float  # mean of the unsteered profile, instrument units
    centre: float  # the prior's mean level, 1-6 scale
    factor: float  # scale points per instrument unit

    @classmethod
    def matching(cls, unsteered: np.ndarray, prior_mean: float, prior_sd: float) -> InstrumentScale:
        """The map under which ``unsteered`` (one number per value) has the prior's spread and mean;
        a flat profile (no spread to match) maps one to one."""
        x = np.asarray(unsteered, dtype=np.float64)
        spread = float(x.std())
        return cls(float(x.mean()), float(prior_mean), float(prior_sd) / spread if spread > 1e-9 else 1.0)

    def to_scale(self, x):
        """Levels in instrument units -> levels on the 1-6 scale (numbers or arrays)."""
        return self.centre + self.factor * (np.asarray(x, dtype=np.float64) - self.inst_centre)

    def change_to_scale(self, d):
        return self.factor * np.asarray(d, dtype=np.float64)

    def change_to_instrument(self, d):
        return np.asarray(d, dtype=np.float64) / self.factor
