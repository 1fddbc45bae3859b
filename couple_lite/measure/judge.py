"""Answer-level judge: which values a generated answer expresses, scored by a separate model.

The judge reads the answer and is asked to continue "The main value behind this advice is";
each value is one word (``judge_words`` in the evaluation data) and its score is the pointwise
mutual information log P(word | answer) - log P(word | a content-free answer), so a judge's
preference for a word in general does not count. Independent of our value vectors: the judge
runs unsteered, by default on a different model (Gemma 3 270M), with no chat template.
"""

from __future__ import annotations

import numpy as np

from ..errors import EngineError

__all__ = ["AnswerJudge", "JUDGE_TEMPLATE"]

JUDGE_TEMPLATE = 'Advice: "{answer}"\nThe main value behind this advice is'
CONTENT_FREE = "Do whatever you think is best."


class AnswerJudge:
    """Scores answers on every value of a system with one forward pass per answer."""

    def __init__(self, engine, values: list[str], words: dict[str, str], name: str = "judge"):
        missing = [v for v in values if v not in words]
        if missing:
            raise EngineError(f"the judge has no word for {', '.join(missing)}; add them to judge_words")
        self.engine, self.values, self.name = engine, list(values), name
        self.options = [" " + words[v] for v in self.values]
        # one forward pass per answer when every word is one token; else each word scored in full
        tokens = [tuple(engine.tokenize(o, add_bos=False)) for o in self.options]
        self._one_token = all(len(t) == 1 for t in tokens) and len(set(tokens)) == len(tokens)
        self._prior = self._logprobs([CONTENT_FREE])[0]

    def _logprobs(self, answers: list[str]) -> np.ndarray:
        """log P(word | answer prompt) for every answer and value word: (n_answers, n_values)."""
        prompts = [self._prompt(a) for a in answers]
        with self.engine.steered(None):
            if self._one_token:
                return self.engine.option_logprobs(prompts, self.options, chat=False)
            flat = self.engine.continuation_logprob(
                [p for p in prompts for _ in self.options], self.options * len(prompts)
            )
        return flat.reshape(len(prompts), len(self.options))

    @staticmethod
    def _prompt(answer: str) -> str:
        flat = " ".join(answer.split()).replace('"', "'")
        return JUDGE_TEMPLATE.format(answer=flat or "(no answer)")

    def scores(self, answers: list[str]) -> np.ndarray:
        """(n_answers, n_values) PMI scores, each row centred on its mean (ipsatised)."""
        if not answers:
            return np.zeros((0, len(self.values)))
        pmi = self._logprobs(answers) - self._prior
        return pmi - pmi.mean(axis=1, keepdims=True)

    def accuracy(self, labelled: dict[str, list[str]]) -> dict:
        """Top-1 accuracy on answers written to express one value each, with the chance level and
        the values most often confused, so the judge's weakness is visible."""
        pairs = [(v, a) for v in self.values for a in labelled.get(v, [])]
        if not pairs:
            return {"accuracy": None, "n": 0, "chance": 1 / len(self.values), "confusions": []}
        pred = self.scores([a for _, a in pairs]).argmax(axis=1)
        wrong = [(v, self.values[p]) for (v, _), p in zip(pairs, pred) if self.values[p] != v]
        return {
            "accuracy": 1 - len(wrong) / len(pairs),
            "n": len(pairs),
            "chance": 1 / len(self.values),
            "confusions": [f"{v} -> {p}" for v, p in wrong],
        }
