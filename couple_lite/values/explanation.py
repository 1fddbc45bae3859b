"""Explanations: which intervened value moved which value, and through which causal paths.

The counterfactual change solves (I - W'ᵀ) Δ = s, where s is what the intervention injects at each
intervened value and W' the intervened graph, so Δ_j = Σ_i [(I - W'ᵀ)⁻¹]_{j,i} s_i exactly; each
term is the sum over directed paths i -> ... -> j of the product of edge weights, times s_i.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .inference import Counterfactual
from .scm import LinearGaussianSCM, topological_order

if TYPE_CHECKING:
    from .scm import FloatArray

__all__ = ["PathEffect", "ValueExplanation", "explain", "path_text"]

_Path = tuple[float, tuple[int, ...]]  # (product of the edge weights, the nodes from the source on)


@dataclass(frozen=True)
class PathEffect:
    path: tuple[str, ...]  # intervened value first; a 1-tuple is the intervention itself
    effect: float  # change this path carries to its last value


@dataclass(frozen=True)
class ValueExplanation:
    name: str
    factual: float
    counterfactual: float
    sd: float
    change: float
    contributions: dict[str, float]  # intervened value -> its total effect on this value
    paths: list[PathEffect]  # strongest paths, by |effect|


def _best_paths(W: FloatArray, names: tuple[str, ...], src: int, k: int) -> dict[int, list[_Path]]:
    """The k paths of largest |weight product| from src to every node of the DAG W (dynamic
    programming in topological order: the best paths into a node extend the best into its parents)."""
    best: dict[int, list[_Path]] = {src: [(1.0, (src,))]}
    order = topological_order(W)
    assert order is not None  # W is an intervened graph of a DAG, which cuts edges and adds none
    for node in order:
        if node == src:
            continue
        cands = [
            (prod * W[p, node], path + (node,))
            for p in np.nonzero(W[:, node])[0]
            for prod, path in best.get(int(p), [])
        ]
        if cands:
            best[node] = sorted(cands, key=lambda c: -abs(c[0]))[:k]
    return best


def explain(scm: LinearGaussianSCM, cf: Counterfactual, top: int = 3) -> list[ValueExplanation]:
    """Per value: factual, counterfactual, the contribution of each intervened value, top paths."""
    W2 = cf.intervened_weights
    M = scm.propagate(np.eye(scm.dim), (cf.cut_rows, cf.cut))  # (I - W'ᵀ)⁻¹: column i = spread of a unit at i
    src = [int(i) for i in np.nonzero(np.abs(cf.sources) > 1e-12)[0]]
    paths = {i: _best_paths(W2, scm.names, i, top) for i in src}
    out = []
    for j, name in enumerate(scm.names):
        contrib = {scm.names[i]: float(M[j, i] * cf.sources[i]) for i in src if abs(M[j, i]) > 1e-12}
        pe = [
            PathEffect(tuple(scm.names[n] for n in path), float(prod * cf.sources[i]))
            for i in src
            for prod, path in paths[i].get(j, [])
        ]
        pe.sort(key=lambda p: -abs(p.effect))
        out.append(
            ValueExplanation(
                name=name,
                factual=float(cf.factual.mean[j]),
                counterfactual=float(cf.mean[j]),
                sd=float(cf.sd[j]),
                change=float(cf.mean[j] - cf.factual.mean[j]),
                contributions=contrib,
                paths=pe[:top],
            )
        )
    return out


def path_text(path: list[str] | tuple[str, ...], effect: float) -> str:
    """'a -> b -> c (+0.42)', or 'intervened (+1.00)' for the intervention itself."""
    return f"{' -> '.join(path) if len(path) > 1 else 'intervened'} ({effect:+.2f})"
