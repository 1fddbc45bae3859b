"""Figures computed from a run's result that explain what limits a steering method: how much of its
vector the fluency cap keeps, how large the requested, predicted and measured changes are, and how
specific the pack's vectors are, and whether one method's figure is above another's beyond the noise
of the profiles drawn (a paired bootstrap). Plain numbers; ``report`` puts them into words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import CoupleError
from ..vectors import specificity
from .result import EvalResult

__all__ = [
    "CapStats",
    "ChangeStats",
    "PairedDifference",
    "fluency_cap",
    "doses",
    "change_size",
    "response_specificity",
    "paired_difference",
    "BOOTSTRAP_RESAMPLES",
    "PAIRED_METRICS",
]

BOOTSTRAP_RESAMPLES = 10_000  # resamples of the profiles for the paired intervals (seed 0: reproducible)
# the per-profile figures of a MethodRow that can be compared between methods
PAIRED_METRICS = (
    "change_spearman",
    "spearman_named",
    "spearman_all",
    "mae_named",
    "mae_all",
    "order_preserved",
    "side_effect",
    "side_effect_error",
    "ppl_ratio",
    "distinct2",
    "repetition",
    "seconds_per_answer",
    "answer_spearman_named",
    "answer_change_spearman",
)


@dataclass(frozen=True)
class CapStats:
    """Share of the solved vector kept under the fluency cap, over the profiles."""

    mean: float
    median: float
    ppl_ratio: float  # the method's neutral-text perplexity / unsteered

    @property
    def asked(self) -> float:
        """How many times what the model tolerates the objectives ask for."""
        return 1 / max(self.mean, 1e-9)


@dataclass(frozen=True)
class ChangeStats:
    """Mean |change| in scale points over value x profile cells, and predicted-vs-measured correlation."""

    requested: float  # target - unsteered
    predicted: float  # what calibration predicts the vector does
    measured: float  # steered - unsteered, on the held-out items
    correlation: float  # predicted vs measured, over the cells (nan when either is constant)
    cells: int


def fluency_cap(res: EvalResult, method: str = "couple_lite") -> CapStats | None:
    reached = [r.reached for r in res.rows if r.method == method and r.reached is not None]
    if not reached:
        return None
    return CapStats(float(np.mean(reached)), float(np.median(reached)), res.methods[method]["ppl_ratio"])


def doses(res: EvalResult, method: str = "couple_lite") -> list[tuple[str, dict]]:
    """(K, summary) of each ``method@K`` that was run: the same vectors multiplied."""
    return [(m.split("@")[1], s) for m, s in res.methods.items() if m.startswith(f"{method}@")]


def change_size(res: EvalResult, method: str = "couple_lite") -> ChangeStats | None:
    rows = [r for r in res.rows if r.method == method and r.predicted_change]
    if not rows:
        return None
    vals, base = res.values, res.unsteered
    pred = np.array([[pc[n] for n in vals] for r in rows if (pc := r.predicted_change)])  # (every row has one)
    meas = np.array([[r.measured[n] - base[n] for n in vals] for r in rows])
    want = np.array([[res.targets[r.profile][n] - base[n] for n in vals] for r in rows])
    c = np.corrcoef(pred.ravel(), meas.ravel())[0, 1] if pred.std() > 0 and meas.std() > 0 else float("nan")
    return ChangeStats(
        float(np.abs(want).mean()), float(np.abs(pred).mean()), float(np.abs(meas).mean()), float(c), int(pred.size)
    )


def response_specificity(res: EvalResult) -> dict | None:
    """``vectors.specificity`` of the run's response matrix R, or None for an uncalibrated pack."""
    if res.response is None:
        return None
    return specificity(np.array(res.response))


@dataclass(frozen=True)
class PairedDifference:
    """Mean over profiles of method a's metric minus method b's, with its 95% bootstrap interval."""

    a: str
    b: str
    metric: str
    profiles: int
    mean: float
    low: float
    high: float

    @property
    def beyond_noise(self) -> bool:
        return self.low > 0 or self.high < 0


def paired_difference(res: EvalResult, a: str, b: str, metric: str = "change_spearman") -> PairedDifference | None:
    """a − b on the profiles where both have ``metric`` (a MethodRow field), resampling profiles
    (scipy.stats.bootstrap, percentile, seed 0); None with fewer than 3 such profiles."""
    from scipy.stats import bootstrap

    if metric not in PAIRED_METRICS:
        raise CoupleError(f"metric {metric!r} is not a per-profile figure; use one of {', '.join(PAIRED_METRICS)}")

    def of(method: str) -> dict[str, float]:
        return {
            r.profile: float(getattr(r, metric))
            for r in res.rows
            if r.method == method and getattr(r, metric) is not None and np.isfinite(getattr(r, metric))
        }

    fa, fb = of(a), of(b)
    profiles = sorted(set(fa) & set(fb))
    if len(profiles) < 3:
        return None
    x = np.array([fa[p] - fb[p] for p in profiles])
    if np.ptp(x) == 0:  # every profile the same difference: no spread to resample
        return PairedDifference(a, b, metric, len(profiles), float(x[0]), float(x[0]), float(x[0]))
    ci = bootstrap(
        (x,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile", rng=np.random.default_rng(0)
    ).confidence_interval
    return PairedDifference(a, b, metric, len(profiles), float(x.mean()), float(ci.low), float(ci.high))
