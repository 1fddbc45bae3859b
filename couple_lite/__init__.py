"""couple-lite: steer a local language model toward a pluralistic value profile.

Data flows one way: value system -> SCM -> counterfactual profile -> control vector -> engine.
"""

from importlib import import_module

# public name -> defining module; imported on first use (PEP 562), so that `import couple_lite.errors`
# (the CLI's first import) does not pull in scipy, networkx and the rest before they are needed.
# Functions named like their module stay there: couple_lite.explain.explain, couple_lite.measure.measure.
_EXPORTS = {
    **{n: "errors" for n in (
        "ControlVectorError", "CoupleError", "CycleError", "DownloadError", "EngineError", "ModelFileError",
        "NotPositiveDefiniteError", "ObjectiveError", "SCMError", "SingularSystemError",
        "UnsupportedArchitectureError", "ValueNameError", "ValueSystemError")},
    **{n: "objective" for n in ("Objective", "load_objective", "make_objective")},
    "prior_scm": "prior",
    **{n: "reasoning" for n in ("CounterfactualPlan", "plan_counterfactual")},
    **{n: "scm" for n in ("Intervention", "LinearGaussianSCM", "abduct", "counterfactual", "prioritized_intervention")},
    **{n: "scm_fit" for n in ("fit_scm", "learn_dag", "weights_from_total_effects")},
    **{n: "values" for n in ("ValueSystem", "load_value_system")},
    "Profile": "measure",
    **{n: "pack" for n in ("ValuePack", "load_pack", "save_pack")},
    **{n: "steering" for n in ("Ablation", "Steerer", "SteeringPlan")},
    **{n: "vectors" for n in ("Extraction", "extract")},
    **{n: "evaluate" for n in ("EvalProfile", "run_eval", "builtin_profiles", "load_profiles", "eval_items")},
    "EvalResult": "eval_result",
    "AnswerJudge": "judge",
    "write_report": "report",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'couple_lite' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = sorted(_EXPORTS)
