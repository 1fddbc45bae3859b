"""Array types for annotations, imported under ``TYPE_CHECKING`` only (never loaded at run time)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

AnyArray = npt.NDArray[Any]  # an array of any dtype, e.g. a vector before it is checked
F32Array = npt.NDArray[np.float32]  # logits, hidden states, control vectors, log-distributions
F64Array = npt.NDArray[np.float64]  # token log-probabilities and the scores made of them
IntArray = npt.NDArray[np.int64]  # token ids, rows
