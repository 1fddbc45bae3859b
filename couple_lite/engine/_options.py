"""Checks of generation options before they reach llama.cpp, which takes ``max_tokens <= 0`` as
"no limit" and nonsense temperatures without complaint."""

from __future__ import annotations

import math
from typing import TypeGuard

from ..errors import EngineError

SEED_MAX = 2**32 - 1  # llama.cpp seeds are uint32 (its "random seed" sentinel is the maximum itself)


def _number(x: object) -> TypeGuard[int | float]:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_generation(max_tokens: object, temperature: object, top_p: object = 0.95, seed: object = None) -> None:
    """Generation options, or EngineError naming the bad one."""
    if not (isinstance(max_tokens, int) and not isinstance(max_tokens, bool)) or max_tokens < 1:
        raise EngineError(f"max_tokens must be a whole number >= 1, got {max_tokens!r}")
    if not _number(temperature) or not math.isfinite(temperature) or temperature < 0:
        raise EngineError(f"temperature must be a finite number >= 0 (0 = greedy), got {temperature!r}")
    if not _number(top_p) or not 0 < top_p <= 1:
        raise EngineError(f"top_p must lie in (0, 1], got {top_p!r}")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_MAX):
        raise EngineError(f"seed must be a whole number from 0 to {SEED_MAX - 1}, got {seed!r}")
