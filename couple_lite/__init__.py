"""couple-lite: steer a local language model toward a pluralistic value profile.

Data flows one way: value system -> SCM -> counterfactual profile -> control vector -> engine.
"""

from .errors import (
    ControlVectorError,
    CoupleError,
    CycleError,
    DownloadError,
    EngineError,
    ModelFileError,
    NotPositiveDefiniteError,
    ObjectiveError,
    SCMError,
    SingularSystemError,
    UnsupportedArchitectureError,
    ValueNameError,
    ValueSystemError,
)
from .explain import explain
from .objective import Objective, load_objective, make_objective
from .prior import prior_scm
from .reasoning import CounterfactualPlan, plan_counterfactual
from .scm import Intervention, LinearGaussianSCM, abduct, counterfactual, prioritized_intervention
from .scm_fit import fit_scm, learn_dag, weights_from_total_effects
from .values import ValueSystem, load_value_system
from .measure import Profile, measure
from .pack import ValuePack, load_pack, save_pack
from .steering import Ablation, Steerer, SteeringPlan
from .vectors import Extraction, extract

__version__ = "0.1.0"

__all__ = [
    "ControlVectorError", "CoupleError", "CycleError", "DownloadError", "EngineError",
    "ModelFileError", "NotPositiveDefiniteError", "ObjectiveError", "SCMError",
    "SingularSystemError", "UnsupportedArchitectureError", "ValueNameError", "ValueSystemError",
    "explain", "Objective", "load_objective", "make_objective", "prior_scm",
    "CounterfactualPlan", "plan_counterfactual", "Intervention", "LinearGaussianSCM", "abduct",
    "counterfactual", "prioritized_intervention", "fit_scm", "learn_dag",
    "weights_from_total_effects", "ValueSystem", "load_value_system",
    "Profile", "measure", "ValuePack", "load_pack", "save_pack", "Ablation", "Steerer",
    "SteeringPlan", "Extraction", "extract",
]
