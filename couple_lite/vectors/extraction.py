"""Value directions from the model's own hidden states: extraction, confound removal, layer choice.

Extraction methods are small functions with one signature, chosen by name (``EXTRACTORS``):
``(positive (n, d), negative (n, d), others (V-1, d)) -> direction (d,)``, where ``others`` holds the
mean positive state of each other value (what one-vs-rest needs; the paired methods ignore it).
Every direction is then projected off the
confound directions (agree/disagree, tone, length) and off the common mode of all values, because
the first experiment showed that raw value directions mostly move a shared "agree" axis.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np

from ..errors import CoupleError

if TYPE_CHECKING:
    from .texts import Pair, PairKind

__all__ = [
    "EXTRACTORS",
    "mean_difference",
    "pca_difference",
    "logistic_probe",
    "one_vs_rest",
    "pair_states",
    "Extraction",
    "PairStates",
    "collect_states",
    "directions_from",
    "extract",
    "remove_components",
    "choose_layers",
    "steering_vector",
]

Extractor = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]

# automatic layer window: a quarter of the blocks (7 of 30 on the default model: blocks 11-17), so a
# vector spreads over the middle of the network; never fewer than 3, so no single block carries it
LAYER_WINDOW_SHARE = 4
MIN_LAYER_WINDOW = 3


def mean_difference(pos: np.ndarray, neg: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """Mean of paired differences (the usual contrastive activation-addition direction)."""
    return (pos - neg).mean(axis=0)


def pca_difference(pos: np.ndarray, neg: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """First principal direction of the (uncentred) paired differences, signed so that the
    differences project positively on average."""
    diffs = pos - neg
    _, _, vt = np.linalg.svd(diffs, full_matrices=False)
    d = vt[0]
    return d if (diffs @ d).mean() >= 0 else -d


def logistic_probe(pos: np.ndarray, neg: np.ndarray, others: np.ndarray | None = None, l2: float = 1e-2) -> np.ndarray:
    """Weights of an L2-regularised logistic regression separating positive from negative
    states (scipy L-BFGS on standardised features), mapped back to the input space."""
    from scipy.optimize import minimize  # imported here: scipy.optimize costs ~0.5 s at start-up

    X = np.vstack([pos, neg]).astype(np.float64)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    mu, scale = X.mean(axis=0), X.std(axis=0) + 1e-6
    Z = (X - mu) / scale

    def loss(wb):
        w, b = wb[:-1], wb[-1]
        z = Z @ w + b
        nll = np.logaddexp(0, z).sum() - y @ z
        g = 1 / (1 + np.exp(-z)) - y
        return nll / len(y) + l2 * w @ w, np.r_[Z.T @ g / len(y) + 2 * l2 * w, g.mean()]

    res = minimize(loss, np.zeros(Z.shape[1] + 1), jac=True, method="L-BFGS-B")
    return res.x[:-1] / scale


def one_vs_rest(pos: np.ndarray, neg: np.ndarray, others: np.ndarray) -> np.ndarray:
    """The value's mean positive state minus the mean of the other values' mean positive states:
    what is specific to this value among answers that each honour some value. Shared register and
    phrasing cancel, so it transfers to items written by others better than the paired difference
    (bench/direction_study.py: specificity on PVQ-40 3.2 vs 2.6 from the same texts)."""
    return pos.mean(axis=0) - others.mean(axis=0)


EXTRACTORS: dict[str, Extractor] = {
    "mean": mean_difference,
    "ovr": one_vs_rest,
    "pca": pca_difference,
    "probe": logistic_probe,
}


def pair_states(engine, pairs: Sequence[Pair], chunk: int = 16, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """(n, n_layer, n_embd) states of each pair's positive and negative side: the mean over the
    answer's tokens (context pairs) or the last prompt token (persona pairs)."""

    def texts(p: Pair):
        if p.kind == "persona":
            return [
                (engine.chat_prompt(p.question, p.system_pos), None),
                (engine.chat_prompt(p.question, p.system_neg), None),
            ]
        prefix = engine.chat_prompt(p.question)
        start = len(engine.tokenize(prefix))
        return [(prefix + p.positive, start), (prefix + p.negative, start)]

    jobs = [t for p in pairs for t in texts(p)]
    out = np.empty((len(jobs), engine.n_layer, engine.n_embd), dtype=np.float32)
    for i in range(0, len(jobs), chunk):
        part = jobs[i : i + chunk]
        if all(s is None for _, s in part):
            out[i : i + len(part)] = engine.hidden_states([t for t, _ in part])
        else:
            for k, h in enumerate(engine.hidden_states([t for t, _ in part], all_tokens=True)):
                start = part[k][1]
                out[i + k] = h[start:].mean(axis=0) if start is not None and start < len(h) else h[-1]
        if progress:
            progress(min(i + chunk, len(jobs)), len(jobs))
    return out[0::2], out[1::2]


def remove_components(directions: np.ndarray, confounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project each row of ``directions`` (V, d) off the span of ``confounds`` (K, d) and of the
    common mode (mean unit direction). Returns the cleaned rows and the share of each row's
    squared norm that was removed."""
    unit = directions / (np.linalg.norm(directions, axis=1, keepdims=True) + 1e-12)
    basis = np.vstack([confounds, unit.mean(axis=0, keepdims=True)]) if len(directions) > 1 else confounds
    q, r = np.linalg.qr(basis.T.astype(np.float64))
    q = q[:, np.abs(np.diag(r)) > 1e-8 * np.abs(r).max()]
    cleaned = directions - (directions @ q) @ q.T
    removed = 1 - (np.linalg.norm(cleaned, axis=1) ** 2) / (np.linalg.norm(directions, axis=1) ** 2 + 1e-12)
    return cleaned, removed


def choose_layers(score: np.ndarray, width: int) -> tuple[int, int]:
    """The window of ``width`` blocks (never block 0 or the last) with the best mean score."""
    n = len(score)
    lo_min, hi_max = 1, n - 2
    width = max(1, min(width, hi_max - lo_min + 1))
    best = max(range(lo_min, hi_max - width + 2), key=lambda s: score[s : s + width].mean())
    return best, best + width - 1


@dataclass
class Extraction:
    """Unit value directions per layer and how well they separate held-out pairs."""

    values: list[str]
    directions: np.ndarray  # (V, n_layer, n_embd), unit rows, zero outside layer_range
    layer_range: tuple[int, int]
    layer_norms: np.ndarray  # (n_layer,) typical residual norm: the unit of steering strength
    value_accuracy: np.ndarray  # (n_layer,) held-out: share of diffs closest to their own value
    pair_accuracy: np.ndarray  # (V, n_layer) held-out: share of diffs projecting positively
    removed: np.ndarray  # (V, n_layer) share of each raw direction removed as confound/common
    settings: dict


@dataclass
class PairStates:
    """Hidden states of every contrast pair of a system (answer means per block), collected once so
    that several methods and windows can be compared on them (bench/direction_study.py)."""

    values: list[str]
    kind: str
    value_idx: np.ndarray  # (n,) which value each pair is for
    held: np.ndarray  # (n,) held out of every direction (for the accuracies only)
    pos: np.ndarray  # (n, n_layer, n_embd)
    neg: np.ndarray
    cpos: np.ndarray  # confound pairs (agree, tone, length), (m, n_layer, n_embd)
    cneg: np.ndarray
    conf_idx: np.ndarray  # (m,) which confound each pair is for
    texts_sha256: str  # of every text used, in order: the directions' provenance


def collect_states(
    engine, system, kind: PairKind = "context", progress=None, texts: dict | None = None, done=None
) -> PairStates:
    """Forward passes over the ``kind`` pairs of ``system`` (or a user's ``texts``, from
    ``texts.load_texts``) and the confound pairs. ``done``, a mapping from a group (a value's
    name, or "confounds") to its (positive, negative) states, is read for groups already collected
    and written as each group finishes: a resumable ``pack build`` passes one backed by files."""
    import hashlib
    import json

    from .texts import confound_pairs, value_pairs  # the texts load only for extraction

    by_value = value_pairs(system, kind, texts)
    names = list(by_value)
    flat = [p for v in names for p in by_value[v]]
    conf = confound_pairs()
    conf_flat = [p for k in conf for p in conf[k]]
    groups = [(v, by_value[v]) for v in names] + [("confounds", conf_flat)]
    done = {} if done is None else done
    total, seen = len(flat) + len(conf_flat), 0
    parts = []
    for key, pairs in groups:
        if key not in done:

            def tick(k, n, base=seen):
                if progress:
                    progress(base + k // 2, total)

            done[key] = pair_states(engine, pairs, progress=tick)
        seen += len(pairs)
        if progress:
            progress(seen, total)
        parts.append(done[key])
    pos = np.concatenate([p for p, _ in parts])
    neg = np.concatenate([n for _, n in parts])
    n_val = len(flat)
    digest = hashlib.sha256(
        json.dumps(
            [[p.value, p.question, p.positive, p.negative, p.system_pos, p.system_neg] for p in flat + conf_flat]
        ).encode()
    ).hexdigest()
    return PairStates(
        names,
        kind,
        np.array([names.index(p.value) for p in flat]),
        np.array([p.held_out for p in flat]),
        pos[:n_val],
        neg[:n_val],
        pos[n_val:],
        neg[n_val:],
        np.repeat(np.arange(len(conf)), [len(v) for v in conf.values()]),
        digest,
    )


def directions_from(
    states: PairStates, method: str = "mean", layers: tuple[int, int] | None = None, remove: bool = True
) -> Extraction:
    """One unit direction per value and block with ``EXTRACTORS[method]`` from collected states."""
    if method not in EXTRACTORS:
        raise CoupleError(f"unknown extraction method {method!r}; use one of {', '.join(EXTRACTORS)}")
    names, value_idx, held = states.values, states.value_idx, states.held
    pos, neg, cpos, cneg, conf_idx = states.pos, states.neg, states.cpos, states.cneg, states.conf_idx
    n_conf = int(conf_idx.max()) + 1 if len(conf_idx) else 0
    _, L, D = pos.shape
    fn = EXTRACTORS[method]
    dirs = np.zeros((len(names), L, D))
    removed = np.zeros((len(names), L))
    for il in range(1, L):
        means = np.stack([pos[(value_idx == v) & ~held, il].mean(axis=0) for v in range(len(names))])
        raw = np.stack(
            [
                fn(pos[(value_idx == v) & ~held, il], neg[(value_idx == v) & ~held, il], np.delete(means, v, axis=0))
                for v in range(len(names))
            ]
        )
        if remove and n_conf:
            c = np.stack([mean_difference(cpos[conf_idx == k, il], cneg[conf_idx == k, il]) for k in range(n_conf)])
            raw, removed[:, il] = remove_components(raw, c / np.linalg.norm(c, axis=1, keepdims=True))
        dirs[:, il] = raw / (np.linalg.norm(raw, axis=1, keepdims=True) + 1e-12)
    diffs = (pos - neg)[held].astype(np.float64)  # held-out differences, (n_ho, L, D)
    proj = np.einsum("nld,vld->nvl", diffs, dirs)
    truth = value_idx[held]
    value_accuracy = (proj.argmax(axis=1) == truth[:, None]).mean(axis=0)
    value_accuracy[0] = 0.0
    pair_accuracy = np.stack([(proj[truth == v, v] > 0).mean(axis=0) for v in range(len(names))])
    both = np.concatenate([pos, neg])
    layer_norms = np.linalg.norm(both, axis=2).mean(axis=0)
    rng = layers or choose_layers(value_accuracy, max(MIN_LAYER_WINDOW, L // LAYER_WINDOW_SHARE))
    if not 1 <= rng[0] <= rng[1] < L:
        raise CoupleError(f"layer range {rng} must satisfy 1 <= first <= last < {L}")
    keep = np.zeros(L, dtype=bool)
    keep[rng[0] : rng[1] + 1] = True
    dirs[:, ~keep] = 0.0
    return Extraction(
        values=names,
        directions=dirs.astype(np.float32),
        layer_range=cast("tuple[int, int]", tuple(map(int, rng))),
        layer_norms=layer_norms.astype(np.float32),
        value_accuracy=value_accuracy,
        pair_accuracy=pair_accuracy,
        removed=removed,
        settings={
            "method": method,
            "pairs": states.kind,
            "remove_confounds": remove,
            "n_train_pairs": int((~held).sum()),
            "n_heldout_pairs": int(held.sum()),
            "texts_sha256": states.texts_sha256,
            "layers": "given" if layers else "held-out value accuracy",
        },
    )


def extract(
    engine,
    system,
    method: str = "mean",
    kind: PairKind = "context",
    layers: tuple[int, int] | None = None,
    remove: bool = True,
    progress=None,
    texts: dict | None = None,
) -> Extraction:
    """Extract one direction per value and layer with ``EXTRACTORS[method]`` from ``kind`` pairs
    (a user's ``texts`` instead of the shipped ones, when given)."""
    if method not in EXTRACTORS:
        raise CoupleError(f"unknown extraction method {method!r}; use one of {', '.join(EXTRACTORS)}")
    return directions_from(collect_states(engine, system, kind, progress, texts), method, layers, remove)


def steering_vector(extraction: Extraction, coefficients: np.ndarray) -> np.ndarray:
    """One (n_layer, n_embd) control vector: Σ_v c_v · unit direction_v · layer norm."""
    c = np.asarray(coefficients, dtype=np.float64)
    v = np.einsum("v,vld->ld", c, extraction.directions.astype(np.float64))
    return (v * extraction.layer_norms[:, None]).astype(np.float32)
