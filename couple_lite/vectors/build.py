"""``pack build``: from a model to a calibrated value-vector pack in one resumable command.

Steps, each value's work saved atomically in ``<pack>.build/`` as soon as it is done, so that an
interrupted build resumes where it stopped (the folder is removed once the pack is written):

1. check that the architecture applies control vectors (one line if its graph ignores them);
2. hidden states of every contrast pair, value by value, and of the confound pairs;
3. directions (``method``) and their layers (held-out value accuracy unless ``layers`` is given);
4-5. calibration (``calibration.calibrate``, the pipeline ``couple-lite calibrate`` runs too): the
   response matrix R value by value, its standard errors and cross-validated shrinkage, then the
   KL fluency budget: each value's dose and the cost model of combined vectors.

``settings_within`` picks cheaper settings when an estimate of the build's time (from the model's
measured speed) exceeds a budget in minutes, and says what each one gives up.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .._io import atomic_write, write_text
from ..errors import CoupleError
from ..measure import InstrumentScale, load_items
from ..values import prior_scm
from .calibration import KL_BUDGET, SWEEP_STRENGTHS, CalibrationSettings, apply_calibration, calibrate
from .extraction import collect_states, directions_from
from .pack import ValuePack, save_pack
from .texts import PairKind, confound_pairs, has_varied_pairs, value_pairs

__all__ = ["BuildSettings", "settings_within", "estimate_seconds", "build_pack", "quality", "CHEAPER"]


@dataclass(frozen=True)
class BuildSettings:
    """What a build does; the defaults are the shipped pack's recipe."""

    pairs: PairKind = "all"  # contrast pairs (schwartz10 has the varied ones; others fall back to context)
    method: str = "ovr"
    layers: tuple[int, int] | None = None  # None: the window with the best held-out value accuracy
    instrument: str = "likelihood"
    strengths: tuple[float, ...] = SWEEP_STRENGTHS
    budget: float = KL_BUDGET
    combined: Literal["pairs", "cosines"] = "pairs"  # "pairs": each pair of values steered together; "cosines"
    gave_up: tuple[str, ...] = field(default=(), compare=False)

    def calibration(self) -> CalibrationSettings:
        """The calibration part of the recipe."""
        return CalibrationSettings(self.instrument, self.strengths, self.budget, self.combined)


# cheaper settings, in the order they are given up, each with what it costs: (field, value, why)
CHEAPER: tuple[tuple[str, Any, str], ...] = (
    ("combined", "cosines", "combined-vector costs from the vectors' cosines, not measured per pair of values"),
    ("strengths", (0.03,), "R from one dose instead of two"),
    (
        "pairs",
        "context",
        "directions from the context pairs only (not the varied ones): less transfer to "
        "outside items (PVQ-40 reach 0.11 vs 0.29 on the default model)",
    ),
)


def _speed(engine) -> float:
    """Tokens per second of a batched forward pass on this machine (one short timing)."""
    text = engine.chat_prompt("Describe a quiet morning in a small town, in a few sentences.")
    t0 = time.perf_counter()
    engine.logits([text] * 4)
    return 4 * len(engine.tokenize(text)) / max(time.perf_counter() - t0, 1e-6)


def estimate_seconds(engine, system, settings: BuildSettings, speed: float | None = None) -> dict[str, float]:
    """Seconds each step should take with ``settings``, from the number of tokens each decodes
    and ``speed`` (tokens/s; measured when not given). Rough: within ~30% on the default model."""
    speed = speed or _speed(engine)
    kind = settings.pairs if settings.pairs != "all" or has_varied_pairs(system) else "context"
    pairs = [p for ps in value_pairs(system, kind).values() for p in ps] + [
        p for ps in confound_pairs().values() for p in ps
    ]
    per_pair = 2 * (40 + np.mean([len(p.positive) + len(p.negative) for p in pairs[:200]]) / 8)  # ~4 chars a token
    items = load_items(system)[0]
    V = len(system.names)
    measures = 1 + 2 * V * len(settings.strengths)
    cost_eval = 8 * 80  # the fluency probe: 8 prompts, 40 answer tokens each, on the scorer
    kl_evals = V * 4 + (V * (V - 1) // 2 if settings.combined == "pairs" else 0) + 6
    return {
        "hidden states": len(pairs) * per_pair / speed,
        "response matrix": measures * len(items) * 24 / speed,
        "fluency budget": (kl_evals * cost_eval + 8 * 40 * 3) / speed,
    }


def settings_within(
    engine, system, minutes: float | None, settings: BuildSettings | None = None, speed: float | None = None
) -> tuple[BuildSettings, dict[str, float]]:
    """``settings`` (default: the shipped recipe), made cheaper step by step (``CHEAPER``) while the
    estimate exceeds ``minutes``; with what was given up in ``gave_up``. Returns it and its estimate."""
    s = settings or BuildSettings()
    speed = speed or _speed(engine)
    est = estimate_seconds(engine, system, s, speed)
    for key, cheaper, why in CHEAPER:
        if minutes is None or sum(est.values()) <= 60 * minutes:
            break
        if key == "pairs" and not has_varied_pairs(system):
            continue  # this system has only context pairs: nothing to give up
        if getattr(s, key) != cheaper:
            s = replace(s, **{key: cheaper}, gave_up=s.gave_up + (why,))
            est = estimate_seconds(engine, system, s, speed)
    return s, est


class _Work:
    """The build folder: a JSON record of finished steps and one .npz of hidden states per group,
    each written atomically."""

    def __init__(self, folder: Path, settings: BuildSettings, model_sha256: str):
        self.folder = folder
        self.record_path = folder / "record.json"
        want = {"settings": _plain(settings), "model_sha256": model_sha256}
        if self.record_path.is_file():
            try:
                self.record = json.loads(self.record_path.read_text(encoding="utf-8"))
            except ValueError:
                self.record = None
            if not isinstance(self.record, dict) or not {"R", "slopes", "sweep", "doses", "gram"} <= set(self.record):
                raise CoupleError(
                    f"{str(self.record_path)!r} is damaged; delete {str(folder)!r} to start the build again"
                )
            if {k: self.record.get(k) for k in want} != want:
                raise CoupleError(
                    f"{str(folder)!r} holds an unfinished build with other settings or another model; "
                    "give the same options to resume it, or delete the folder to start again"
                )
        elif list(folder.glob("states-*.npz")):
            raise CoupleError(
                f"{str(folder)!r} holds hidden states of a build with no record of its settings; "
                "delete the folder to start again"
            )
        else:
            self.record = {**want, "R": {}, "slopes": {}, "sweep": {}, "doses": {}, "gram": {}}
            self.save()  # before any states are written, so a resumed build can check what they belong to
        self.resumed = bool(self.record["R"] or self.record["doses"] or list(folder.glob("states-*.npz")))

    def save(self) -> None:
        write_text(self.record_path, json.dumps(self.record))

    # the mapping collect_states reads and fills: group -> (positive, negative) states
    def _path(self, key: str) -> Path:
        return self.folder / f"states-{key}.npz"

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def __getitem__(self, key: str):
        with np.load(self._path(key)) as z:
            return z["pos"], z["neg"]

    def __setitem__(self, key: str, value) -> None:
        with atomic_write(self._path(key), suffix=".npz") as tmp:
            np.savez(tmp, pos=value[0], neg=value[1])


def _plain(settings: BuildSettings) -> dict:
    d = asdict(settings)
    d.pop("gave_up")
    return json.loads(json.dumps(d))


def build_pack(
    engine,
    system,
    model_name: str,
    model_sha256: str,
    output: str | Path,
    settings: BuildSettings | None = None,
    progress=None,
) -> tuple[ValuePack, dict]:
    """Build, calibrate and write the pack (see the module docstring). ``progress(done, total,
    step)``. Returns the pack and a summary: settings, seconds per step, resumed or not, quality."""
    settings = settings or BuildSettings()
    output = Path(output)
    engine.check_steerable()  # UnsupportedArchitectureError: one line, before any long work
    folder = output.with_name(output.name + ".build")
    folder.mkdir(parents=True, exist_ok=True)
    work = _Work(folder, settings, model_sha256)
    kind = settings.pairs if settings.pairs != "all" or has_varied_pairs(system) else "context"
    seconds: dict[str, float] = {}

    t0 = time.perf_counter()
    states = collect_states(
        engine, system, kind, progress=lambda d, n: progress and progress(d, n, "hidden states"), done=work
    )
    ex = directions_from(states, settings.method, settings.layers)
    seconds["hidden states"] = time.perf_counter() - t0

    cal = calibrate(
        engine, system, ex, settings.calibration(), items=load_items(system)[0], checkpoint=work, progress=progress
    )
    seconds.update(cal.seconds)
    pack = ValuePack(model_sha256, model_name, engine.architecture, system.name, ex)
    apply_calibration(pack, cal)
    pack.metrics["build"] = {"settings": _plain(settings), "gave_up": list(settings.gave_up)}
    save_pack(pack, output)
    shutil.rmtree(folder, ignore_errors=True)
    return pack, {
        "pack": str(output),
        "settings": _plain(settings),
        "gave_up": list(settings.gave_up),
        "resumed": work.resumed,
        "seconds": seconds,
        "quality": quality(pack),
    }


def quality(pack: ValuePack) -> dict:
    """The reach benchmark's keys from the pack's own calibration (our calibration items, each value
    alone at its dose; ``bench/reach.py`` measures them on held-out or outside items): own change in
    scale points (``reach_mean``), mean own change ÷ mean |other changes| (``specificity``), values
    whose own change is largest (``rows_own_largest``), and the KL each dose costs (``kl``)."""
    if pack.response is None or pack.fluency_limit is None:
        raise CoupleError("the pack is not calibrated (no response matrix or doses); run `couple-lite calibrate` first")
    scm = prior_scm(pack.value_system())
    base = np.array([pack.metrics["unsteered_profile"][v] for v in pack.values])
    units = InstrumentScale.matching(base, scm.mean.mean(), np.sqrt(np.diag(scm.cov)).mean())
    change = units.change_to_scale(pack.response * pack.fluency_limit[:, None])  # row i: value i at its dose
    own = np.diag(change)
    other = np.abs(change[~np.eye(len(own), dtype=bool)]).reshape(len(own), -1).mean(axis=1)
    return {
        "reach_mean": float(own.mean()),
        "specificity": float(own.mean() / max(other.mean(), 1e-12)),
        "rows_own_largest": int((change.argmax(axis=1) == np.arange(len(own))).sum()),
        "kl": float(pack.fluency_budget or 0.0),
        "items": "calibration items (in-sample)",
    }
