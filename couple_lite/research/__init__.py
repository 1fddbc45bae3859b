"""Research: evaluation against target profiles, reports, model comparisons and the studies behind
the published figures. Not part of the small API apps use; the bench scripts build on it.

Owns the evaluation (``evaluation``: :func:`run_eval`, :func:`evaluate`; its methods behind one signature in
``methods``, its inputs in ``inputs``, its metrics in ``metrics``, its result in ``result``, the
paired statistics in ``stats``, the goals and table in ``summary``), the report and its plots
(``report``, ``plots``: matplotlib, the ``report`` extra), where values live per block (``layers``)
and comparing models' profiles (``compare``).

May import: ``couple_lite.steering`` and everything below it. Nothing imports it but the command
line.
"""

from .compare import COMPARABLE_INSTRUMENTS, Comparison, ModelProfile, compare_models, compare_profiles
from .evaluation import QUICK, evaluate, run_eval
from .inputs import QUICK_PROFILES, builtin_profiles, eval_data, eval_items, has_eval_data, load_profiles
from .layers import layer_table, write_layer_report
from .methods import METHODS, VECTOR_METHODS, Condition, EvalContext, method, prompt_counterfactual_answer
from .report import write_report
from .result import EvalProfile, EvalResult, MethodRow
from .stats import PAIRED_METRICS, PairedDifference, paired_difference
from .summary import goals, summary_table

__all__ = [
    "run_eval",
    "evaluate",
    "QUICK",
    "QUICK_PROFILES",
    "builtin_profiles",
    "eval_data",
    "eval_items",
    "has_eval_data",
    "load_profiles",
    "METHODS",
    "VECTOR_METHODS",
    "Condition",
    "EvalContext",
    "method",
    "prompt_counterfactual_answer",
    "EvalProfile",
    "EvalResult",
    "MethodRow",
    "PAIRED_METRICS",
    "PairedDifference",
    "paired_difference",
    "goals",
    "summary_table",
    "write_report",
    "layer_table",
    "write_layer_report",
    "COMPARABLE_INSTRUMENTS",
    "Comparison",
    "ModelProfile",
    "compare_models",
    "compare_profiles",
]
