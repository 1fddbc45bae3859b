"""The value model: value systems, objectives and the structural causal model over values.

Owns everything that can be said about values without a language model: the systems and their
definitions (``systems``), objectives with priorities (``objective``), the linear-Gaussian SCM
(``scm``), Pearl's three steps on it (``inference``), fitting it (``fit``), the prior graph of each
system (``prior``), explanations (``explanation``), the counterfactual plan of an objective
(``planning``), a model's own value graph from a response matrix (``model_graph``) and profiles in
words (``prompts``).

May import: ``couple_lite.errors`` and the private foundation modules (``_data``, ``_table``).
Knows nothing of llama.cpp, vectors or measurement.
"""

from .explanation import PathEffect, ValueExplanation, explain, path_text
from .fit import fit_scm, learn_dag, weights_from_total_effects
from .inference import Counterfactual, Intervention, abduct, counterfactual, prioritized_intervention
from .model_graph import ScmChoice, compare_edges, model_scm
from .objective import LEVEL_WORDS, Objective, load_objective, make_objective, parse_levels, parse_priority
from .planning import DEFAULT_PLAUSIBILITY, CounterfactualPlan, plan_counterfactual
from .prior import prior_correlation, prior_scm
from .prompts import counterfactual_prompt, level_word, value_prompt
from .scm import LinearGaussianSCM, Posterior
from .systems import BUILTIN_SYSTEMS, SCALE_MAX, SCALE_MIN, ValueDef, ValueSystem, canonical_name, load_value_system

__all__ = [
    "BUILTIN_SYSTEMS",
    "SCALE_MAX",
    "SCALE_MIN",
    "ValueDef",
    "ValueSystem",
    "canonical_name",
    "load_value_system",
    "LEVEL_WORDS",
    "Objective",
    "load_objective",
    "make_objective",
    "parse_levels",
    "parse_priority",
    "Counterfactual",
    "Intervention",
    "LinearGaussianSCM",
    "Posterior",
    "abduct",
    "counterfactual",
    "prioritized_intervention",
    "fit_scm",
    "learn_dag",
    "weights_from_total_effects",
    "prior_correlation",
    "prior_scm",
    "PathEffect",
    "ValueExplanation",
    "explain",
    "path_text",
    "DEFAULT_PLAUSIBILITY",
    "CounterfactualPlan",
    "plan_counterfactual",
    "ScmChoice",
    "compare_edges",
    "model_scm",
    "counterfactual_prompt",
    "level_word",
    "value_prompt",
]
