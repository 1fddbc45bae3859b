"""Token log-probabilities of texts after a prefix, exact and fast: sequences that share a prefix
are scored after one decoded copy of it (per-sequence caches), the rest in full."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

from ..errors import EngineError

if TYPE_CHECKING:
    from ._arrays import F32Array, F64Array

# a context-manager factory a question is decoded under (the engine's "answer" scope: vector off)
Hold = Callable[[], AbstractContextManager[object]]


class Runner(Protocol):
    """What scoring needs of a runner (``_batch.BatchRunner``, which imports this module)."""

    def token_logprobs(self, seqs: list[list[int]], starts: list[int]) -> list[F64Array]: ...

    def prefix_logprobs(
        self, prefix: list[int], tails: list[list[int]], hold: Hold | None = None, full: bool = False
    ) -> list[F32Array] | list[F64Array]: ...


# cache cells per sequence of the shared-prefix scorer: a question and a one-sentence answer (the
# instruments' items, the judge's words) fit many times over; longer texts are scored in full
PREFIX_CELLS = 512

# Every sequence starts at a multiple of this many rows in a decode (the runner pads it at its end with
# tokens it never attends to: they come after it). The CPU matrix kernels tile rows, and a text that
# starts inside a tile gets other rounding: on the default model a text's log-probs moved by up to
# 0.3 nats on a token (0.03 on an item's mean) with its offset in the batch. The tile is 4 rows on
# an AVX2 host and 16 on an AVX-512 one (measured: offsets that are multiples of 16 exact on both,
# of 8 not on AVX-512); 16 costs no time over 8 for one-sentence items, 32 doubles it.
ROW_ALIGN = 16
ROW_PADDING = ROW_ALIGN - 1  # the most padding one sequence can get


def shared_groups(prefixes: Sequence[str], heads: dict[str, list[int]], seqs: list[list[int]]) -> dict[str, list[int]]:
    """Indices of the sequences worth scoring after a shared copy of their prefix: they begin with
    its very tokens, go past it, fit a per-sequence cache, and at least two share it."""
    groups: dict[str, list[int]] = {}
    for i, (pre, seq) in enumerate(zip(prefixes, seqs)):
        head = heads[pre]
        if seq[: len(head)] == head and len(head) < len(seq) <= PREFIX_CELLS - ROW_PADDING:
            groups.setdefault(pre, []).append(i)
    return {pre: idx for pre, idx in groups.items() if len(idx) >= 2}


def score_after_prefixes(
    prefixes: Sequence[str],
    heads: dict[str, list[int]],
    seqs: list[list[int]],
    full: Runner,
    shared: Callable[[], Runner],
) -> list[F64Array]:
    """Log-probabilities of each sequence's tokens after its prefix's tokens ``heads[prefix]``:
    shared groups on ``shared()`` (made only when needed), the rest in full on ``full``."""
    out: list[Any] = [None] * len(seqs)  # an F64Array each, once scored
    for pre, idx in shared_groups(prefixes, heads, seqs).items():
        n = len(heads[pre])
        for i, lp in zip(idx, shared().prefix_logprobs(heads[pre], [seqs[i][n:] for i in idx])):
            out[i] = lp
    alone = [i for i in range(len(seqs)) if out[i] is None]
    if alone:
        starts = [min(len(heads[prefixes[i]]), len(seqs[i]) - 1) for i in alone]
        for i, lp in zip(alone, full.token_logprobs([seqs[i] for i in alone], starts)):
            out[i] = lp
    return out


@overload
def score_question_unsteered(
    seqs: list[list[int]], starts: list[int], shared: Runner, hold: Hold, full: Literal[False] = False
) -> list[F64Array]: ...


@overload
def score_question_unsteered(
    seqs: list[list[int]], starts: list[int], shared: Runner, hold: Hold, full: Literal[True]
) -> list[F32Array]: ...


def score_question_unsteered(
    seqs: list[list[int]], starts: list[int], shared: Runner, hold: Hold, full: bool = False
) -> list[F32Array] | list[F64Array]:
    """Log-probabilities of tokens ``starts[i]..`` of each sequence (log-distributions with
    ``full``) with tokens ``< starts[i] - 1`` decoded under ``hold()`` -- the engine's "answer"
    scope: the question unsteered, its last token and the answer steered. Sequences with the
    same prefix share one decoded copy of it."""
    limit = PREFIX_CELLS - ROW_PADDING
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (seq, start) in enumerate(zip(seqs, starts)):
        if len(seq) > limit:
            raise EngineError(
                f"text {i} has {len(seq)} tokens; steering only the answer scores texts of up to {limit} "
                f"tokens: shorten it or use the 'all' steering scope"
            )
        if not 1 <= start < len(seq):
            raise EngineError(f"text {i}: scoring starts at token {start}, need 1 <= start < {len(seq)}")
        groups.setdefault(tuple(seq[:start]), []).append(i)
    out: list[Any] = [None] * len(seqs)  # one array each (see prefix_logprobs), once scored
    for prefix, idx in groups.items():
        lps = shared.prefix_logprobs(list(prefix), [seqs[i][len(prefix) :] for i in idx], hold=hold, full=full)
        for i, lp in zip(idx, lps):
            out[i] = lp
    return out
