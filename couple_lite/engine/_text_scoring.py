"""What the engine computes on texts without generating: option, answer and continuation
log-probabilities, next-token distributions, logits and hidden states, all under the current
control vector (and its scope). A mixin of :class:`couple_lite.engine.Engine`, which provides the
lock, the tokenizer, the chat template and the runners."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np

from ..errors import EngineError
from ._shared_prefix import score_after_prefixes, score_question_unsteered

if TYPE_CHECKING:
    from ._arrays import F32Array, F64Array
    from ._batch import BatchRunner
    from ._shared_prefix import Hold
    from .locks import OperationLock

__all__ = ["TextScoring"]


class TextScoring:
    """Engine methods that score texts (see the module docstring)."""

    if TYPE_CHECKING:  # what the engine provides
        lock: OperationLock

        @property
        def _runner(self) -> BatchRunner: ...

        @property
        def _shared_prefix_runner(self) -> BatchRunner: ...

        def _answer_scope(self) -> tuple[BatchRunner, Hold] | None: ...

        def tokenize(self, text: str, add_bos: bool = True) -> list[int]: ...

        def chat_prompt(self, user: str, system: str | None = None, history: Sequence[tuple[str, str]] = ()) -> str: ...

    def option_logprobs(
        self, prompts: Sequence[str], options: Sequence[str], system: str | None = None, chat: bool = True
    ) -> F64Array:
        """log P(first token of each option | prompt) for every prompt: (n_prompts, n_options),
        one forward pass per prompt (batched). Options must start with different tokens."""
        first = []
        for o in options:
            toks = self.tokenize(o, add_bos=False)
            if not toks:
                raise EngineError(f"option {o!r} has no tokens")
            first.append(toks[0])
        if len(set(first)) != len(first):
            raise EngineError(f"options {list(options)} do not start with distinct tokens; reword them")
        texts = [self.chat_prompt(p, system) if chat else p for p in prompts]
        with self.lock:
            if scope := self._answer_scope():  # the distribution after each prompt, held as the answer's
                seqs = [self.tokenize(t) + first[:1] for t in texts]
                dists = score_question_unsteered(seqs, [len(s) - 1 for s in seqs], *scope, full=True)
                return np.concatenate(dists).astype(np.float64)[:, first]
            logits32, _ = self._runner.run([self.tokenize(t) for t in texts])
        logits = logits32.astype(np.float64)
        m = logits.max(axis=1, keepdims=True)
        logz = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
        out: F64Array = logits[:, first] - logz[:, None]
        return out

    @overload
    def hidden_states(self, texts: Sequence[str], all_tokens: Literal[False] = False) -> F32Array: ...

    @overload
    def hidden_states(self, texts: Sequence[str], all_tokens: Literal[True]) -> list[F32Array]: ...

    @overload
    def hidden_states(self, texts: Sequence[str], all_tokens: bool) -> F32Array | list[F32Array]: ...

    def hidden_states(self, texts: Sequence[str], all_tokens: bool = False) -> F32Array | list[F32Array]:
        """Residual stream after every block: (n_texts, n_layer, n_embd) at each text's last token,
        or a list of (n_tokens, n_layer, n_embd) with ``all_tokens``. Includes the control vector."""
        if isinstance(texts, str):
            raise EngineError("hidden_states takes a list of texts")
        with self.lock:
            _, states = self._runner.run([self.tokenize(t) for t in texts], hidden=True, all_tokens=all_tokens)
        assert states is not None  # hidden=True
        return states

    def mean_nll(self, texts: Sequence[str]) -> float:
        """Mean negative log-likelihood per token of ``texts`` under the current vector (the log
        of perplexity): the fluency measure."""
        with self.lock:
            lps = self._runner.token_logprobs([self.tokenize(t) for t in texts])
        return float(-np.concatenate(lps).mean())

    def answer_logprob(self, prompts: Sequence[str], answers: Sequence[str], system: str | None = None) -> F64Array:
        """Mean log-probability per token of each answer as the assistant's reply to its prompt
        (chat template applied): how readily the model would say it."""
        prefixes = [self.chat_prompt(p, system) for p in prompts]
        heads = {pre: self.tokenize(pre) for pre in set(prefixes)}
        seqs = [self.tokenize(pre + a) for pre, a in zip(prefixes, answers)]
        lps = self._scored(prefixes, heads, seqs)
        return np.array([lp.mean() for lp in lps])

    def continuation_logprob(self, prefixes: Sequence[str], continuations: Sequence[str]) -> F64Array:
        """Total log-probability of each continuation's tokens after its raw-text prefix (no chat
        template): exact for multi-token continuations, where :meth:`option_logprobs` sees one token."""
        heads = {pre: self.tokenize(pre) for pre in set(prefixes)}
        seqs = []
        for pre, cont in zip(prefixes, continuations):
            tail = self.tokenize(cont, add_bos=False)
            if not tail:
                raise EngineError(f"continuation {cont!r} has no tokens")
            seqs.append(heads[pre] + tail)
        return np.array([lp.sum() for lp in self._scored(prefixes, heads, seqs)])

    def _scored(self, prefixes: Sequence[str], heads: dict[str, list[int]], seqs: list[list[int]]) -> list[F64Array]:
        with self.lock:
            if scope := self._answer_scope():
                starts = [min(len(heads[pre]), len(seq) - 1) for pre, seq in zip(prefixes, seqs)]
                return score_question_unsteered(seqs, starts, *scope)
            return score_after_prefixes(prefixes, heads, seqs, self._runner, lambda: self._shared_prefix_runner)

    def position_logprobs(self, seqs: list[list[int]], starts: list[int]) -> F32Array:
        """Next-token log-distributions (positions, n_vocab) predicting tokens ``starts[i]..`` of
        each token sequence, under the current vector (the fluency budget's KL reads these)."""
        with self.lock:
            if scope := self._answer_scope():
                return np.concatenate(score_question_unsteered(seqs, starts, *scope, full=True))
            return self._runner.position_logprobs(seqs, starts)

    def logits(self, texts: Sequence[str]) -> F32Array:
        """Next-token logits after each text (n_texts, n_vocab), under the current vector."""
        with self.lock:
            out, _ = self._runner.run([self.tokenize(t) for t in texts])
        return out
