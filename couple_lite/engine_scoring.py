"""What the engine computes on texts without generating: option, answer and continuation
log-probabilities, next-token distributions, logits and hidden states, all under the current
control vector (and its scope). A mixin of :class:`couple_lite.engine.Engine`, which provides the
lock, the tokenizer, the chat template and the runners."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .errors import EngineError
from .scoring import held, scored

__all__ = ["TextScoring"]


class TextScoring:
    """Engine methods that score texts (see the module docstring)."""

    def option_logprobs(
        self, prompts: Sequence[str], options: Sequence[str], system: str | None = None, chat: bool = True
    ) -> np.ndarray:
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
                dists = held(seqs, [len(s) - 1 for s in seqs], *scope, full=True)
                return np.concatenate(dists).astype(np.float64)[:, first]
            logits, _ = self._runner.run([self.tokenize(t) for t in texts])
        logits = logits.astype(np.float64)
        m = logits.max(axis=1, keepdims=True)
        logz = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
        return logits[:, first] - logz[:, None]

    def hidden_states(self, texts: Sequence[str], all_tokens: bool = False):
        """Residual stream after every block: (n_texts, n_layer, n_embd) at each text's last token,
        or a list of (n_tokens, n_layer, n_embd) with ``all_tokens``. Includes the control vector."""
        if isinstance(texts, str):
            raise EngineError("hidden_states takes a list of texts")
        with self.lock:
            _, states = self._runner.run([self.tokenize(t) for t in texts], hidden=True, all_tokens=all_tokens)
        return states

    def mean_nll(self, texts: Sequence[str]) -> float:
        """Mean negative log-likelihood per token of ``texts`` under the current vector (the log
        of perplexity): the fluency measure."""
        with self.lock:
            lps = self._runner.token_logprobs([self.tokenize(t) for t in texts])
        return float(-np.concatenate(lps).mean())

    def answer_logprob(self, prompts: Sequence[str], answers: Sequence[str], system: str | None = None) -> np.ndarray:
        """Mean log-probability per token of each answer as the assistant's reply to its prompt
        (chat template applied): how readily the model would say it."""
        prefixes = [self.chat_prompt(p, system) for p in prompts]
        heads = {pre: self.tokenize(pre) for pre in set(prefixes)}
        seqs = [self.tokenize(pre + a) for pre, a in zip(prefixes, answers)]
        lps = self._scored(prefixes, heads, seqs)
        return np.array([lp.mean() for lp in lps])

    def continuation_logprob(self, prefixes: Sequence[str], continuations: Sequence[str]) -> np.ndarray:
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

    def _scored(self, prefixes: Sequence[str], heads: dict[str, list[int]], seqs: list[list[int]]) -> list[np.ndarray]:
        with self.lock:
            if scope := self._answer_scope():
                starts = [min(len(heads[pre]), len(seq) - 1) for pre, seq in zip(prefixes, seqs)]
                return held(seqs, starts, *scope)
            return scored(prefixes, heads, seqs, self._runner, lambda: self._shared_prefix_runner)

    def position_logprobs(self, seqs: list[list[int]], starts: list[int]) -> np.ndarray:
        """Next-token log-distributions (positions, n_vocab) predicting tokens ``starts[i]..`` of
        each token sequence, under the current vector (the fluency budget's KL reads these)."""
        with self.lock:
            if scope := self._answer_scope():
                return np.concatenate(held(seqs, starts, *scope, full=True))
            return self._runner.position_logprobs(seqs, starts)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Next-token logits after each text (n_texts, n_vocab), under the current vector."""
        with self.lock:
            out, _ = self._runner.run([self.tokenize(t) for t in texts])
        return out
