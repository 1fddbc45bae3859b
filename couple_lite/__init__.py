"""couple-lite: steer a local language model toward a pluralistic value profile.

Data flows one way: value system -> SCM -> counterfactual profile -> control vector -> engine.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the public names, for readers, type checkers and IDEs; at run time see _EXPORTS
    from .errors import (ControlVectorError, CoupleError, CycleError, DownloadError, EngineError, MissingExtraError,
                         ModelFileError, NotPositiveDefiniteError, ObjectiveError, SCMError, SingularSystemError,
                         UnsupportedArchitectureError, ValueNameError, ValueSystemError)
    from .compare import Comparison, compare_models
    from .eval_inputs import builtin_profiles, eval_items, load_profiles
    from .eval_result import EvalProfile, EvalResult
    from .evaluate import run_eval
    from .gate import RelevanceGate
    from .judge import AnswerJudge
    from .measure import Profile
    from .objective import Objective, load_objective, make_objective
    from .pack import ValuePack, load_pack, save_pack
    from .pack_build import BuildSettings, build_pack
    from .prior import prior_scm
    from .reasoning import CounterfactualPlan, plan_counterfactual
    from .report import write_report
    from .scm import Intervention, LinearGaussianSCM, abduct, counterfactual, prioritized_intervention
    from .scm_fit import fit_scm, learn_dag, weights_from_total_effects
    from .serve import ServeLimits, create_app  # needs the 'server' extra
    from .steering import Ablation, Delivery, Steerer, SteeringPlan
    from .value_prompts import counterfactual_prompt, value_prompt
    from .values import ValueSystem, load_value_system
    from .vectors import Extraction, extract

# public name -> defining module, imported on first use (PEP 562): importing them all up front costs
# every command ~0.28 s (numpy, pydantic; 0.38-0.42 s vs 0.10-0.17 s for `import couple_lite.errors`,
# the CLI's first import). tests/test_package.py keeps this map and the imports above in step.
# Functions named like their module stay there: couple_lite.explain.explain, couple_lite.measure.measure.
_EXPORTS = {
    **{n: "errors" for n in (
        "ControlVectorError", "CoupleError", "CycleError", "DownloadError", "EngineError", "MissingExtraError",
        "ModelFileError",
        "NotPositiveDefiniteError", "ObjectiveError", "SCMError", "SingularSystemError",
        "UnsupportedArchitectureError", "ValueNameError", "ValueSystemError")},
    **{n: "objective" for n in ("Objective", "load_objective", "make_objective")},
    "prior_scm": "prior",
    **{n: "reasoning" for n in ("CounterfactualPlan", "plan_counterfactual")},
    **{n: "scm" for n in ("Intervention", "LinearGaussianSCM", "abduct", "counterfactual", "prioritized_intervention")},
    **{n: "scm_fit" for n in ("fit_scm", "learn_dag", "weights_from_total_effects")},
    **{n: "values" for n in ("ValueSystem", "load_value_system")},
    "Profile": "measure",
    **{n: "compare" for n in ("Comparison", "compare_models")},
    **{n: "pack" for n in ("ValuePack", "load_pack", "save_pack")},
    **{n: "pack_build" for n in ("BuildSettings", "build_pack")},
    "RelevanceGate": "gate",
    **{n: "steering" for n in ("Ablation", "Delivery", "Steerer", "SteeringPlan")},
    **{n: "value_prompts" for n in ("counterfactual_prompt", "value_prompt")},
    **{n: "vectors" for n in ("Extraction", "extract")},
    **{n: "eval_inputs" for n in ("builtin_profiles", "load_profiles", "eval_items")},
    **{n: "eval_result" for n in ("EvalProfile", "EvalResult")},
    "run_eval": "evaluate",
    "AnswerJudge": "judge",
    **{n: "serve" for n in ("ServeLimits", "create_app")},
    "write_report": "report",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'couple_lite' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = sorted(_EXPORTS)
