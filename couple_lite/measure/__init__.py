"""Measurement: a model's value profile, and how far the measurements can be trusted.

Owns the items (``items``: ours, outside CSVs, the most informative ones), the instruments behind
one signature (``instruments``: likelihood -- the default --, questionnaire, forced choice, probe),
the map between an instrument's units and the 1-6 scale (``scale``), the answer judge (``judge``)
and the validity statistics (``validity``).

May import: ``couple_lite.values``, ``couple_lite.errors`` and the private foundation modules. It
uses an engine only through the object passed in (duck-typed), so it never imports
``couple_lite.engine``; it knows nothing of packs or steering.
"""

from .instruments import (
    HALF_RANGE,
    INSTRUMENTS,
    MID,
    SELF_QUESTIONS,
    VARIANTS,
    Profile,
    Variant,
    measure,
    pooled_templates,
)
from .items import Item, builtin_items, informative_items, load_items
from .judge import AnswerJudge
from .scale import InstrumentScale

__all__ = [
    "Item",
    "builtin_items",
    "informative_items",
    "load_items",
    "Profile",
    "INSTRUMENTS",
    "VARIANTS",
    "Variant",
    "SELF_QUESTIONS",
    "MID",
    "HALF_RANGE",
    "measure",
    "pooled_templates",
    "InstrumentScale",
    "AnswerJudge",
]
