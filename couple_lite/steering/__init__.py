"""Steering: an objective becomes a plan, the plan a control vector, the vector steered answers.

Owns the steerer (``steerer``: :class:`Steerer`, :class:`SteeringPlan`, the ablations and the
ways a plan reaches the model), loading one in a call (``load``), closed-loop refinement
(``refine``), the relevance gate that leaves value-neutral prompts unsteered (``gate``) and
decisions among options (``decisions``).

May import: ``couple_lite.vectors``, ``couple_lite.measure``, ``couple_lite.values``,
``couple_lite.engine``, ``couple_lite.errors`` and the private foundation modules. Nothing above it
(no server, no research, no command line).
"""

from .decisions import Decision, RankedOption, decide
from .gate import RelevanceGate
from .load import load_steerer, pack_for
from .steerer import Ablation, Delivery, Steerer, SteeringPlan

__all__ = [
    "Ablation",
    "Delivery",
    "Steerer",
    "SteeringPlan",
    "load_steerer",
    "pack_for",
    "RelevanceGate",
    "Decision",
    "RankedOption",
    "decide",
]
