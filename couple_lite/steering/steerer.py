"""Steering: objective -> counterfactual value profile -> one control vector -> steered answers.

The COUPLE loop in closed form, for a loaded model and its value-vector pack:

1. **factual profile**: the model's own profile as the pack's calibration measured it (cached in
   the pack, which is tied to the model file's sha256), with its standard errors as observation
   noise; moved from the instrument's units to the 1-6 scale by matching its spread across values
   to the prior's (``scale``);
2. **counterfactual**: abduction, the objective as a (prioritized) intervention, prediction of
   every value (``values.plan_counterfactual``);
3. **coefficients**: the change Δ = counterfactual - factual, back in instrument units, solved
   through the response matrix R (measured change of j per unit strength on i) in ridge least
   squares, so side effects between values are compensated rather than summed; R's off-diagonal
   enters at the share calibration's cross-validation supports (``response_fit``);
4. **vector**: Σ_i c_i · direction_i · layer norm, scaled down as a whole if its predicted fluency
   cost cᵀGc exceeds the pack's KL budget; reported, never silent.

``Ablation`` switches each step off for the evaluation: ``scm=False`` changes only the named
values, ``decouple=False`` divides by R's diagonal instead of solving with all of R,
``abduction=False`` starts from the population prior instead of the measured profile,
``shrink=False`` solves with all of R instead of its off-diagonal at the cross-validated share.

``Delivery`` says how a plan reaches the model: its vector (the default), its counterfactual profile
in words as a system prompt (COUPLE's recipe in one call, ``values.counterfactual_prompt``),
or both.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from pydantic import BaseModel

from .._table import format_table
from ..engine import OperationLock
from ..engine.models import registered_sha256
from ..errors import ControlVectorError, ObjectiveError
from ..measure import InstrumentScale
from ..values import Objective, ScmChoice, counterfactual_prompt, model_scm, path_text, plan_counterfactual, prior_scm
from ..vectors import ValuePack, shrink_off_diagonal, solve_coefficients, steering_vector

if TYPE_CHECKING:
    from .gate import RelevanceGate

__all__ = ["Ablation", "SteeringPlan", "Steerer", "Delivery", "FALLBACK_OBS_SD", "UNNAMED_WEIGHT", "PATH_MIN_CHANGE"]

# observation sd (1-6 scale) when a pack stores no standard errors: a quarter point, so the
# abduction trusts the measured profile well above the prior (sd 0.8) without taking it as exact
FALLBACK_OBS_SD = 0.25
# weight of the values the objective does not name (named ones: their priority, the top one 1):
# their SCM-predicted change still counts, so side effects are compensated, but at a quarter it
# cannot outvote a named target
UNNAMED_WEIGHT = 0.25
Delivery = Literal["vector", "prompt", "hybrid"]

# the table lists causal paths only for values the counterfactual moves by more than this (1-6
# scale): smaller changes round to nothing in its two decimals and their paths are noise to a reader
PATH_MIN_CHANGE = 0.05


class Ablation(BaseModel):
    """Which pipeline steps run (all by default)."""

    scm: bool = True
    decouple: bool = True
    abduction: bool = True
    shrink: bool = True  # False: solve with all of R, not R's off-diagonal at the cross-validated share


class SteeringPlan(BaseModel):
    """What steering decided for one objective, as plain data."""

    model: str
    objective: Objective
    ablation: Ablation
    factual: dict[str, float]
    counterfactual: dict[str, float]
    counterfactual_sd: dict[str, float]
    coefficients: dict[str, float]  # strength per value (share of the residual norm)
    predicted: dict[str, float]  # profile the calibration predicts under the vector (1-6 scale)
    reached: float  # share of the solved coefficients kept after the fluency cap (1 = uncapped)
    warnings: list[str]
    explanation: list[dict]
    refinement: dict | None = None  # closed-loop rounds (``Steerer.refine``): residuals, seconds, cached

    def table(self) -> str:
        """Factual, target, counterfactual ± sd, coefficient and predicted level per value, then the
        strongest causal paths of the values the counterfactual moves."""
        rows = []
        for n in self.factual:
            t = self.objective.targets.get(n)
            rows.append(
                [
                    n,
                    self.factual[n],
                    "" if t is None else t,
                    f"{self.counterfactual[n]:.2f} ± {self.counterfactual_sd[n]:.2f}",
                    f"{self.coefficients[n]:+.4f}",
                    self.predicted[n],
                ]
            )
        out = format_table(["value", "factual", "target", "counterfactual", "coefficient", "predicted"], rows)
        paths = [
            f"  {e['value']}: " + "; ".join(path_text(p["path"], p["effect"]) for p in e["paths"])
            for e in self.explanation
            if e["paths"] and abs(e["change"]) > PATH_MIN_CHANGE
        ]
        out += "\ncausal paths (strongest first):\n" + "\n".join(paths) if paths else ""
        if r := self.refinement:
            res = " -> ".join(f"{x:.2f}" for x in r["residual"])
            out += (
                f"\nrefined: {r['rounds']} round(s) on {r['items']} calibration items ({r['instrument']}); "
                f"residual {res} of {r['promised']:.2f} asked, kept round {r['kept']}; "
                + ("from the cache" if r.get("cached") else f"{r['seconds']:.1f} s")
            )
        return out


class Steerer:
    """Load once, steer many times: holds the engine, the pack, the SCM and the scale mapping.
    Thread-safe through the engine's lock; keeps no global state."""

    def __init__(self, engine, pack: ValuePack, model_name: str | None = None, scm: ScmChoice = "prior"):
        """``model_name``: what plans and the server call the model (default: the pack's name for
        it). ``scm``: "prior" (psychology's value graph, the default) or "model" (the graph fitted to
        how steering moves this model's values, :mod:`couple_lite.values.model_graph`)."""
        if pack.response is None:
            raise ControlVectorError("the pack is not calibrated; run `couple-lite calibrate` first")
        base = pack.metrics.get("unsteered_profile")
        if not base:
            raise ControlVectorError("the pack holds no unsteered profile; run `couple-lite calibrate` again")
        self.engine, self.pack, self.model_name = engine, pack, model_name or pack.model_name
        if registered_sha256(engine.model_path) == pack.model_sha256 and np.abs(np.diag(pack.response)).max() > 0:
            engine.mark_steerable()  # this pack was calibrated on this very file: its vectors move it
        self.system = pack.value_system()
        if (
            list(pack.values) != self.system.names
        ):  # the SCM works in the system's order, R and the vectors in the pack's
            raise ControlVectorError(
                f"the pack's values {pack.values} are not {self.system.name}'s values in its order "
                f"({', '.join(self.system.names)}); extract the pack again"
            )
        if scm not in get_args(ScmChoice):
            raise ObjectiveError(f"scm must be one of {list(get_args(ScmChoice))}, got {scm!r}")
        self.scm = prior_scm(self.system) if scm == "prior" else model_scm(pack.response, self.system)  # once
        names = pack.values
        inst = np.array([base[n] for n in names])
        self.units = InstrumentScale.matching(inst, self.scm.mean.mean(), np.sqrt(np.diag(self.scm.cov)).mean())
        self.factual = self.units.to_scale(inst)
        sds = pack.metrics.get("unsteered_sd") or {}
        self.obs_sd = {n: float(self.units.change_to_scale(sds[n])) if n in sds else FALLBACK_OBS_SD for n in names}
        # R as far as calibration's cross-validation trusts it (an older pack: all of R)
        self.shrinkage = float((pack.metrics.get("response_fit") or {}).get("alpha", 1.0))
        self._R = shrink_off_diagonal(pack.response, self.shrinkage)
        self.lock = OperationLock()  # held for a whole stream; see couple_lite.engine.locks
        self._refined: dict[str, dict] = {}  # refined coefficients by key (couple_lite.steering.refine)
        self._gate: RelevanceGate | None = None  # the relevance gate, fitted (or read from the cache) on first use

    # -- planning -------------------------------------------------------------------------
    def plan(
        self, objective: Objective, ablation: Ablation | None = None, explain: bool = True, strict: bool = False
    ) -> SteeringPlan:
        """Counterfactual profile and coefficients for an objective (no model call: fast). With
        ``strict``, a named value that steering cannot move toward its target raises ObjectiveError."""
        ab = ablation or Ablation()
        if objective.system != self.system.name:
            raise ObjectiveError(f"objective is for {objective.system!r}, the pack for {self.system.name!r}")
        names = self.pack.values
        observed = dict(zip(names, map(float, np.clip(self.factual, 1.0, 6.0))))
        cf = plan_counterfactual(
            objective,
            observed if ab.abduction else None,
            self.obs_sd if ab.abduction else 0.0,
            scm=self.scm,
            top_paths=3 if explain else 0,
        )
        factual = cf.factual
        counter = dict(cf.counterfactual) if ab.scm else {n: objective.targets.get(n, factual[n]) for n in names}
        delta = self.units.change_to_instrument([counter[n] - factual[n] for n in names])
        R = self._R if ab.shrink else self.pack.response
        assert R is not None  # __init__ refuses a pack without R
        c = self._solve(R, delta, self.weights(objective, ab), ab.decouple)
        warnings = self._unreachable(objective, R, delta, strict)
        c, reached = self.cap_to_budget(c)
        if self.pack.fluency_budget is None:
            warnings.append(
                "this pack has no fluency budget, so the vector is not capped; run `couple-lite "
                "calibrate` on it to measure one"
            )
        elif reached < 1:
            warnings.append(
                f"the objective needs {1 / reached:.1f}x the fluency budget; steering at the budget "
                f"reaches about {100 * reached:.0f}% of the requested change"
            )
        predicted_inst = self.units.change_to_scale(R.T @ c)
        predicted = {n: float(factual[n] + predicted_inst[k]) for k, n in enumerate(names)}
        return SteeringPlan(
            model=self.model_name,
            objective=objective,
            ablation=ab,
            factual=factual,
            counterfactual=counter,
            counterfactual_sd=cf.counterfactual_sd if ab.scm else dict.fromkeys(names, 0.0),
            coefficients=dict(zip(names, map(float, c))),
            predicted=predicted,
            reached=reached,
            warnings=warnings,
            explanation=cf.explanation if explain else [],
        )

    @staticmethod
    def _solve(R: np.ndarray, delta: np.ndarray, w: np.ndarray, decouple: bool) -> np.ndarray:
        """Coefficients whose predicted change Rᵀc meets ``delta``: min_c Σ_j w_j ((Rᵀc)_j - Δ_j)² + λ|c|²
        (``decouple``), else each value's change over its own gain (the ablation)."""
        if decouple:
            return solve_coefficients(R, delta, w)
        gain = np.diag(R)
        c = np.where(np.abs(gain) > 1e-9, delta / np.where(gain == 0, 1, gain), 0.0)
        return np.where(w > 0, c, 0.0)

    def _unreachable(self, objective: Objective, R: np.ndarray, delta: np.ndarray, strict: bool) -> list[str]:
        """A warning for each named value whose own vector does not raise it (ObjectiveError if ``strict``)."""
        out = []
        for n in objective.targets:
            i = self.pack.values.index(n)
            if R[i, i] <= 0 and abs(delta[i]) > 1e-9:
                msg = (
                    f"{n}: its vector does not raise its own measured level on this model "
                    f"(gain {R[i, i]:.2f}); this target cannot be reached by steering"
                )
                if strict:
                    raise ObjectiveError(msg + "; drop it from the objective")
                out.append(msg)
        return out

    def weights(self, objective: Objective, ablation: Ablation) -> np.ndarray:
        """Weight of each value's change in the coefficient solve: a named value its priority (the
        top one 1), an unnamed one UNNAMED_WEIGHT (0 without the SCM, which predicts no change)."""
        names = self.pack.values
        w = np.array([objective.weights.get(n, 0.0) if n in objective.targets else UNNAMED_WEIGHT for n in names])
        w = w / w.max()
        return np.where([n in objective.targets for n in names], w, 0.0) if not ablation.scm else w

    def replan(self, plan: SteeringPlan, coefficients: np.ndarray, **changes) -> SteeringPlan:
        """``plan`` with other coefficients (capped to the budget) and the prediction they give."""
        c, reached = self.cap_to_budget(np.asarray(coefficients, dtype=np.float64))
        R = self._R if plan.ablation.shrink else self.pack.response  # the R the plan was solved with
        assert R is not None  # __init__ refuses a pack without R
        change = self.units.change_to_scale(R.T @ c)
        predicted = {n: float(plan.factual[n] + change[k]) for k, n in enumerate(self.pack.values)}
        return plan.model_copy(
            update={
                "coefficients": dict(zip(self.pack.values, map(float, c))),
                "predicted": predicted,
                "reached": plan.reached * reached,
                **changes,
            }
        )

    def refine(self, plan: SteeringPlan, rounds: int, use_cache: bool = True, progress=None) -> SteeringPlan:
        """The plan corrected by ``rounds`` measured rounds on the calibration items
        (:mod:`couple_lite.steering.refine`; seconds per round, cached per objective and pack)."""
        from .refine import refine

        return refine(self, plan, rounds, use_cache=use_cache, progress=progress)

    def cap_to_budget(self, c: np.ndarray) -> tuple[np.ndarray, float]:
        """The coefficients scaled down until their predicted KL cost cᵀ G c is within the pack's
        fluency budget (so each value alone may use its own dose and a combination what it really
        costs), and the share kept; a pack without a budget leaves them as they are."""
        budget = self.pack.fluency_budget
        if budget is None:
            return c, 1.0
        ratio = float(np.sqrt(max(c @ self.pack.fluency_gram @ c, 0.0) / budget))
        return (c / ratio, 1.0 / ratio) if ratio > 1 else (c, 1.0)

    def vector(self, plan: SteeringPlan) -> np.ndarray:
        """The (n_layer, n_embd) control vector of a plan."""
        return self.vector_of(np.array([plan.coefficients[n] for n in self.pack.values]))

    def vector_of(self, coefficients: np.ndarray) -> np.ndarray:
        """The control vector of coefficients in the pack's value order."""
        return steering_vector(self.pack.extraction, coefficients)

    def system_prompt(self, plan: SteeringPlan) -> str:
        """The plan's counterfactual profile in words (``--mode prompt|hybrid``)."""
        return counterfactual_prompt(plan.objective, plan.factual, plan.counterfactual, self.system)

    def delivered_system(self, plan: SteeringPlan | None, delivery: Delivery, own: str | None = None) -> str | None:
        """The system prompt an answer is given: the caller's own, after the plan's profile in words
        when ``delivery`` is prompt or hybrid."""
        if plan is None or delivery == "vector":
            return own
        return self.system_prompt(plan) + (f"\n\n{own}" if own else "")

    # -- the relevance gate ---------------------------------------------------------------
    def relevance(self, prompt: str, history=()) -> float:
        """P(the prompt is one where values matter), from the relevance gate (:mod:`couple_lite.steering.gate`)."""
        from .._paths import cache_dir
        from .gate import RelevanceGate

        with self.lock:
            if self._gate is None:
                self._gate = RelevanceGate.cached(self.engine, self.pack, cache_dir("gate"))
            return float(self._gate.relevance(self.engine, self.pack.extraction, [prompt], [tuple(history)])[0])

    def gated(self, prompt: str, plan: SteeringPlan | None, history=()) -> tuple[SteeringPlan | None, float]:
        """``plan`` if the gate finds the prompt value-relevant, else None (answer unsteered); and
        the gate's probability."""
        from .gate import THRESHOLD

        p = self.relevance(prompt, history)
        return (plan if p >= THRESHOLD else None), p

    # -- generation -----------------------------------------------------------------------
    def stream(
        self,
        prompt: str,
        plan: SteeringPlan | None,
        cancel: threading.Event | None = None,
        delivery: Delivery = "vector",
        gate: bool = False,
        **generation,
    ) -> Iterator[str]:
        """Stream an answer with the plan delivered as ``delivery`` says (no plan: unsteered), then
        restore the unsteered model. A prompt delivery goes before any ``system`` text of the caller's.
        With ``gate``, a prompt the relevance gate finds value-neutral is answered unsteered.
        Setting ``cancel`` stops after the current piece."""
        if not prompt or not prompt.strip():
            raise ObjectiveError("the prompt is empty; give a question or an instruction")
        if delivery not in get_args(Delivery):
            raise ObjectiveError(f"delivery must be one of {list(get_args(Delivery))}, got {delivery!r}")
        if gate and plan is not None:
            plan, _ = self.gated(prompt, plan, generation.get("history", ()))
        vec = None if plan is None or delivery == "prompt" else self.vector(plan)
        generation["system"] = self.delivered_system(plan, delivery, generation.get("system"))
        with self.lock, self.engine.steered(vec):
            runner = threading.get_ident()
            for piece in self.engine.stream(prompt, **generation):
                if cancel is not None and cancel.is_set():
                    break
                try:
                    yield piece
                finally:  # resumed (or closed) perhaps on another thread: both locks follow
                    self.lock.follow(runner)
                    runner = self.engine.lock.follow(runner)

    def generate(self, prompt: str, plan: SteeringPlan | None, **generation) -> str:
        return "".join(self.stream(prompt, plan, **generation))
