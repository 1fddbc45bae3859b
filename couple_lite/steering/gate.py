"""The relevance gate (``steer --gate``, ConVA's idea): steer only prompts where values matter.

A factual question ("What is the capital of Australia?") should come back exactly as the unsteered
model answers it; advice ("Should I lend my sister money?") is where a value profile belongs. The
gate is a logistic probe on the prompt's own hidden state -- the last prompt token, averaged over
the pack's steering blocks, read unsteered -- trained on our ``gate_prompts.json`` (advice vs
factual prompts; the last quarter of each list is held out and only checks it). Fitted once per
model and pack (~100 short forward passes) and cached beside the refined plans.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from .._data import read_json
from .._io import write_text
from ..errors import OutputFileError
from ..vectors.extraction import logistic_probe

__all__ = ["RelevanceGate", "gate_prompts", "THRESHOLD", "HELD_OUT_SHARE"]

THRESHOLD = 0.5  # P(value-relevant) at or above which the prompt is steered
HELD_OUT_SHARE = 4  # the last 1/4 of each prompt list checks the gate and is never trained on


def gate_prompts() -> dict[str, list[str]]:
    """The shipped prompts: {"value": [...], "neutral": [...]}."""
    data = read_json("gate_prompts.json")
    return {"value": list(data["value"]), "neutral": list(data["neutral"])}


def _split(prompts: list[str]) -> tuple[list[str], list[str]]:
    k = len(prompts) - len(prompts) // HELD_OUT_SHARE
    return prompts[:k], prompts[k:]


@dataclass
class RelevanceGate:
    """P(value-relevant | prompt) = σ(w · features + b) (features: see the module docstring)."""

    weights: np.ndarray  # (n_embd,)
    bias: float
    layers: tuple[int, int]
    held_out: dict  # accuracy on the held-out prompts of each list

    @staticmethod
    def _features(engine, extraction, prompts: list[str], histories=None) -> np.ndarray:
        lo, hi = extraction.layer_range
        texts = [engine.chat_prompt(p, None, h) for p, h in zip(prompts, histories or [()] * len(prompts))]
        with engine.steered(None):
            h = engine.hidden_states(texts)[:, lo : hi + 1].astype(np.float64)  # (n, blocks, d)
        return (h / extraction.layer_norms[lo : hi + 1, None]).mean(axis=1)

    @classmethod
    def fit(cls, engine, extraction) -> RelevanceGate:
        """Train on the shipped prompts' training part; check on their held-out part."""
        data = gate_prompts()
        (v_train, v_held), (n_train, n_held) = _split(data["value"]), _split(data["neutral"])
        X = cls._features(engine, extraction, v_train + n_train + v_held + n_held)
        pos, neg = X[: len(v_train)], X[len(v_train) : len(v_train) + len(n_train)]
        w = logistic_probe(pos, neg)
        # logistic_probe returns the weights of standardised features mapped back: refit the bias
        # so that the training prompts' midpoint sits at p = 0.5
        b = -float((np.median(pos @ w) + np.median(neg @ w)) / 2)
        gate = cls(w, b, tuple(extraction.layer_range), {})
        held = X[len(v_train) + len(n_train) :]
        p = gate._prob(held)
        gate.held_out = {
            "value_steered": float((p[: len(v_held)] >= THRESHOLD).mean()),
            "neutral_unsteered": float((p[len(v_held) :] < THRESHOLD).mean()),
            "n_value": len(v_held),
            "n_neutral": len(n_held),
        }
        return gate

    def _prob(self, X: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(X @ self.weights + self.bias)))

    def relevance(self, engine, extraction, prompts: list[str], histories=None) -> np.ndarray:
        """P(value-relevant) of each prompt (its chat turn after ``histories``, read unsteered)."""
        return self._prob(self._features(engine, extraction, prompts, histories))

    # -- cache ------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(
            {
                "weights": self.weights.tolist(),
                "bias": self.bias,
                "layers": list(self.layers),
                "held_out": self.held_out,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> RelevanceGate:
        d = json.loads(text)
        return cls(np.asarray(d["weights"], dtype=np.float64), float(d["bias"]), tuple(d["layers"]), d["held_out"])

    @classmethod
    def cached(cls, engine, pack, cache) -> RelevanceGate:
        """The gate for this model and pack from ``cache`` (a directory), fitted and saved if absent."""
        ex = pack.extraction
        h = hashlib.sha256(
            json.dumps(
                [pack.model_sha256, ex.settings.get("texts_sha256"), list(ex.layer_range), gate_prompts()]
            ).encode()
        )
        h.update(np.ascontiguousarray(ex.layer_norms, dtype=np.float64).tobytes())  # the features' scale
        key = h.hexdigest()[:32]
        path = cache / f"gate-{key}.json"
        if path.is_file():
            try:
                gate = cls.from_json(path.read_text(encoding="utf-8"))
                if gate.weights.shape == (engine.n_embd,):
                    return gate
            except (OSError, ValueError, KeyError, TypeError):
                pass  # a damaged entry is refitted
        gate = cls.fit(engine, ex)
        try:
            write_text(path, gate.to_json())
        except (OSError, OutputFileError):
            pass
        return gate
