"""Value vectors and packs: from texts to directions to a calibrated pack, one per model and system.

Owns the texts directions are extracted from (``texts``), extraction behind one signature
(``extraction``: ``EXTRACTORS``, the control vector of coefficients), the pack file (``pack``), the one
calibration pipeline (``calibration``: the response matrix R and the fluency budget, whose cost is
measured by ``fluency``), R's uncertainty and shrinkage (``response_fit``), how informative each
calibration item is (``item_information``) and the resumable ``pack build`` (``build``).

May import: ``couple_lite.measure``, ``couple_lite.values``, ``couple_lite.errors`` and the private
foundation modules. It uses an engine only through the object passed in, never
``couple_lite.engine`` itself; it knows nothing of steering plans.
"""

from .build import BuildSettings, build_pack, estimate_seconds, quality, settings_within
from .calibration import (
    KL_BUDGET,
    SWEEP_STRENGTHS,
    Calibration,
    CalibrationSettings,
    apply_calibration,
    calibrate,
    specificity,
)
from .extraction import EXTRACTORS, Extraction, PairStates, collect_states, directions_from, extract, steering_vector
from .fluency import BUDGET_PROMPTS, NEUTRAL_TEXT, FluencyProbe, dose_for_budget
from .item_information import item_information
from .pack import PACK_VERSION, ValuePack, default_pack_path, load_pack, save_pack
from .response_fit import fit_response, shrink_off_diagonal, solve_coefficients
from .texts import PAIR_KINDS, Pair, PairKind, confound_pairs, has_varied_pairs, load_texts, value_pairs

__all__ = [
    "PAIR_KINDS",
    "Pair",
    "PairKind",
    "confound_pairs",
    "has_varied_pairs",
    "load_texts",
    "value_pairs",
    "EXTRACTORS",
    "Extraction",
    "PairStates",
    "collect_states",
    "directions_from",
    "extract",
    "steering_vector",
    "PACK_VERSION",
    "ValuePack",
    "default_pack_path",
    "load_pack",
    "save_pack",
    "KL_BUDGET",
    "SWEEP_STRENGTHS",
    "Calibration",
    "CalibrationSettings",
    "apply_calibration",
    "calibrate",
    "specificity",
    "BUDGET_PROMPTS",
    "NEUTRAL_TEXT",
    "FluencyProbe",
    "dose_for_budget",
    "fit_response",
    "shrink_off_diagonal",
    "solve_coefficients",
    "item_information",
    "BuildSettings",
    "build_pack",
    "estimate_seconds",
    "quality",
    "settings_within",
]
