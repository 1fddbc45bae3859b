"""The engine's "answer" steering scope: the question decoded unsteered (all but its last token),
the vector on the last question token and the answer -- in generation and in every scorer."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest

from couple_lite.engine._cvec import apply_vector
from couple_lite.engine._shared_prefix import PREFIX_CELLS
from couple_lite.errors import EngineError

QUESTION = "What should I do with a free afternoon?"


def vec(engine, scale=1.5, seed=3):
    v = np.zeros((engine.n_layer, engine.n_embd), dtype=np.float32)
    v[1:] = np.random.default_rng(seed).standard_normal((engine.n_layer - 1, engine.n_embd)) * scale
    return v


@pytest.fixture
def answer_scope(tiny_engine):
    tiny_engine.steer_scope = "answer"
    yield tiny_engine
    tiny_engine.steer_scope = "all"


def _by_hand(engine, tokens, v):
    """Next-token log-distribution after ``tokens`` on the generation context: tokens[:-1] with no
    vector, then the vector, then the last token (the mid-sequence switch of the facts note)."""
    llm = engine.llm
    llm.reset()
    apply_vector(llm.ctx, None, engine.n_embd)
    llm.eval(tokens[:-1])
    apply_vector(llm.ctx, v, engine.n_embd)
    llm.eval(tokens[-1:])
    logits = np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),)).astype(
        np.float64
    )
    engine._reset_llm()  # the engine's generation cache no longer holds what it thinks
    return logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())


def test_answer_scope_scores_the_question_unsteered_and_its_last_token_steered(answer_scope):
    e, v = answer_scope, vec(answer_scope)
    prompt = e.chat_prompt(QUESTION)
    tokens = e.tokenize(prompt)
    with e.steered(v):
        held = e.position_logprobs([tokens + [5]], [len(tokens)])[0]
        reference = _by_hand(e, tokens, v)
    np.testing.assert_allclose(held, reference, atol=2e-3)
    e.steer_scope = "all"
    with e.steered(v):
        everywhere = e.position_logprobs([tokens + [5]], [len(tokens)])[0]
    assert np.abs(everywhere - held).max() > 0.05  # the question's own states did move under "all"


def test_answer_scope_without_a_vector_is_exactly_unsteered(tiny_engine, answer_scope):
    answers = ["I would read a book.", "A long walk, maybe."]
    plain = answer_scope.answer_logprob([QUESTION] * 2, answers)
    tiny_engine.steer_scope = "all"
    np.testing.assert_array_equal(tiny_engine.answer_logprob([QUESTION] * 2, answers), plain)


def test_every_scorer_agrees_with_the_held_distribution(answer_scope):
    """option_logprobs, answer_logprob and continuation_logprob read the same held decode."""
    e, v = answer_scope, vec(answer_scope)
    prompt = e.chat_prompt(QUESTION)
    tokens = e.tokenize(prompt)
    words = ["yes", "no"]
    firsts = [e.tokenize(w, add_bos=False)[0] for w in words]
    with e.steered(v):
        dist = e.position_logprobs([tokens + firsts[:1]], [len(tokens)])[0]
        options = e.option_logprobs([QUESTION], words)[0]
        cont = e.continuation_logprob([prompt, prompt], words)
        expected = []
        for w in words:
            tail = e.tokenize(w, add_bos=False)
            d = e.position_logprobs([tokens + tail], [len(tokens)])
            expected.append(d[np.arange(len(tail)), tail].sum())
    np.testing.assert_allclose(options, dist[firsts], atol=1e-5)
    np.testing.assert_allclose(cont, expected, atol=1e-4)


def test_held_answers_are_exact_in_any_batch(answer_scope):
    """20 answers to one question (more than one pack of 16): each as if scored alone."""
    e, v = answer_scope, vec(answer_scope)
    answers = [f"answer {'y' * k} number {k}" for k in range(20)]
    with e.steered(v):
        together = e.answer_logprob([QUESTION] * 20, answers)
        alone = np.array([e.answer_logprob([QUESTION], [a])[0] for a in answers])
        reverse = e.answer_logprob([QUESTION] * 20, answers[::-1])[::-1]
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(together, reverse)


def test_answer_scope_generation_follows_the_held_distributions(answer_scope):
    """Greedy decoding under the answer scope picks, at every step, the most likely token of the
    scorer's held distributions: generation and scoring steer the same positions."""
    e, v = answer_scope, vec(answer_scope, scale=1.0)
    with e.steered(v):
        text = e.generate(QUESTION, max_tokens=10, temperature=0.0)
        seq = [int(t) for t in e.llm.input_ids[: e.llm.n_tokens]]  # the prompt, then the tokens it chose
        start = len(e.tokenize(e.chat_prompt(QUESTION)))
        dists = e.position_logprobs([seq], [start])
    assert len(seq) > start + 3
    np.testing.assert_array_equal(dists.argmax(axis=1), seq[start:])
    e.steer_scope = "all"
    with e.steered(v):
        assert e.generate(QUESTION, max_tokens=10, temperature=0.0) != text


def test_the_vector_stays_on_every_context_after_held_work(tiny_engine, answer_scope):
    """An unfinished answer-scope stream and held scoring leave each context steered as before."""
    v = vec(tiny_engine)
    with tiny_engine.steered(v):
        tiny_engine.steer_scope = "all"
        before = tiny_engine.logits([QUESTION])
        first = tiny_engine.generate(QUESTION, max_tokens=6, temperature=0.0)
        tiny_engine.steer_scope = "answer"
        stream = tiny_engine.stream(QUESTION, max_tokens=6, temperature=0.0)
        next(stream)
        stream.close()
        tiny_engine.answer_logprob([QUESTION], ["fine"])
        tiny_engine.steer_scope = "all"
        np.testing.assert_array_equal(tiny_engine.logits([QUESTION]), before)
        assert tiny_engine.generate(QUESTION, max_tokens=6, temperature=0.0) == first


def test_bad_scope_and_too_long_texts_are_clear_errors(answer_scope):
    with pytest.raises(EngineError, match="steer_scope must be one of"):
        answer_scope.steer_scope = "question"
    with (
        answer_scope.steered(vec(answer_scope)),
        pytest.raises(EngineError, match="steering only the answer scores texts of up to"),
    ):
        answer_scope.answer_logprob([QUESTION], ["word " * PREFIX_CELLS])


def test_answer_scope_shares_the_unsteered_chat_head_across_vectors(answer_scope, monkeypatch):
    """The head is computed unsteered in this scope, so a request under a new vector decodes only
    its own prompt tokens -- and still answers as a fresh start would."""
    e = answer_scope
    kw = dict(max_tokens=8, temperature=0.0)
    with e.steered(vec(e, seed=1)):
        e.generate(QUESTION, **kw)
    v2 = vec(e, seed=2)
    evaluated = []
    real_eval = e.llm.eval
    monkeypatch.setattr(e.llm, "eval", lambda toks: (evaluated.append(list(toks)), real_eval(toks))[1])
    with e.steered(v2):
        warm = e.generate(QUESTION, **kw)
    monkeypatch.undo()
    tokens = e.tokenize(e.chat_prompt(QUESTION))
    assert evaluated[0] == tokens[len(e._head) : -1]  # no head: it came from the cache
    e._reset_llm()
    with e.steered(v2):
        assert e.generate(QUESTION, **kw) == warm
