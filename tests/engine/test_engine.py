"""Engine mechanics on a generated tiny llama model (fast, deterministic)."""

from __future__ import annotations

import llama_cpp
import numpy as np
import pytest

from couple_lite.engine import engine as engine_mod
from couple_lite.engine._shared_prefix import ROW_ALIGN
from couple_lite.engine.engine import Engine
from couple_lite.errors import ControlVectorError, EngineError, UnsupportedArchitectureError

PROMPT = "The quick brown fox"


def vec(engine, rows=None, scale=1.0, seed=0):
    v = np.zeros((engine.n_layer, engine.n_embd), dtype=np.float32)
    rng = np.random.default_rng(seed)
    for il in rows or range(1, engine.n_layer):
        v[il] = rng.standard_normal(engine.n_embd) * scale
    return v


def test_info(tiny_engine):
    info = tiny_engine.info()
    assert info["architecture"] == "llama"
    assert (info["n_layer"], info["n_embd"]) == (4, 64)
    assert info["gpu_offload"] == bool(llama_cpp.llama_supports_gpu_offload())


def test_vector_moves_logits_and_clearing_restores_exactly(tiny_engine):
    base = tiny_engine.logits([PROMPT])
    tiny_engine.set_control_vector(vec(tiny_engine))
    try:
        steered = tiny_engine.logits([PROMPT])
    finally:
        tiny_engine.clear_control_vector()
    assert np.abs(steered - base).max() > 0.1
    np.testing.assert_array_equal(tiny_engine.logits([PROMPT]), base)


def test_row_il_is_added_at_the_output_of_block_il(tiny_engine):
    """Rows outside the layer range are ignored; hidden states include the vector exactly."""
    base = tiny_engine.hidden_states([PROMPT])[0]
    v = vec(tiny_engine)
    with tiny_engine.steered(v, layers=(2, 2)):
        h = tiny_engine.hidden_states([PROMPT])[0]
    np.testing.assert_allclose(h[:2], base[:2], atol=1e-6)  # blocks 0-1 untouched
    np.testing.assert_allclose(h[2] - base[2], v[2], atol=1e-4)  # block 2: + v[2] exactly
    assert np.abs(h[3] - base[3]).max() > 1e-3  # later blocks see the change


def test_generation_never_uses_a_stale_cache(tiny_engine, tiny_model_path):
    """A steered answer after an unsteered one equals the answer of a fresh engine that was
    steered from the start (so the cached prompt was recomputed under the new vector)."""
    kw = dict(max_tokens=12, temperature=0.0, chat=False)
    plain = tiny_engine.generate(PROMPT, **kw)
    v = vec(tiny_engine, scale=2.0)
    with tiny_engine.steered(v):
        steered = tiny_engine.generate(PROMPT, **kw)
    fresh = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    fresh.set_control_vector(v)
    assert steered == fresh.generate(PROMPT, **kw)
    fresh.close()
    assert steered != plain
    assert tiny_engine.generate(PROMPT, **kw) == plain


def test_streaming_yields_the_same_text(tiny_engine):
    kw = dict(max_tokens=10, temperature=0.0, chat=False)
    pieces = list(tiny_engine.stream(PROMPT, **kw))
    assert len(pieces) > 1
    assert "".join(pieces) == tiny_engine.generate(PROMPT, **kw)


def test_steered_context_restores_previous_vector_on_error(tiny_engine):
    outer, inner = vec(tiny_engine, seed=1), vec(tiny_engine, seed=2)
    tiny_engine.set_control_vector(outer)
    try:
        with pytest.raises(RuntimeError), tiny_engine.steered(inner):
            raise RuntimeError("boom")
        np.testing.assert_array_equal(tiny_engine.control_vector, outer)
    finally:
        tiny_engine.clear_control_vector()
    assert tiny_engine.control_vector is None


@pytest.mark.parametrize(
    "bad,msg",
    [
        (np.zeros((3, 64), np.float32), "shape"),
        (np.full((4, 64), np.nan, np.float32), "NaN"),
        (np.ones((4, 64), np.float32), "row 0"),
    ],
)
def test_bad_vectors_are_rejected(tiny_engine, bad, msg):
    with pytest.raises(ControlVectorError, match=msg):
        tiny_engine.set_control_vector(bad)
    assert tiny_engine.control_vector is None


def test_bad_layer_range(tiny_engine):
    with pytest.raises(ControlVectorError, match="layer range"):
        tiny_engine.set_control_vector(vec(tiny_engine), layers=(0, 2))


def test_batched_hidden_states_match_single_texts(tiny_engine):
    texts = [PROMPT, "a", "Something longer than the others, by a margin"]
    batch = tiny_engine.hidden_states(texts)
    assert batch.shape == (3, 4, 64)
    for i, t in enumerate(texts):
        np.testing.assert_allclose(tiny_engine.hidden_states([t])[0], batch[i], atol=1e-4)
    full = tiny_engine.hidden_states(texts, all_tokens=True)
    assert [f.shape[0] for f in full] == [len(tiny_engine.tokenize(t)) for t in texts]
    np.testing.assert_allclose(full[2][-1], batch[2], atol=1e-5)


def test_option_logprobs(tiny_engine):
    lp = tiny_engine.option_logprobs([PROMPT, "x"], ["a", "b", "c"], chat=False)
    assert lp.shape == (2, 3)
    assert np.all(lp < 0) and np.all(np.exp(lp).sum(axis=1) <= 1 + 1e-9)
    logits = tiny_engine.logits([PROMPT])[0].astype(np.float64)
    ids = [tiny_engine.tokenize(o, add_bos=False)[0] for o in "abc"]
    expect = logits[ids] - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    np.testing.assert_allclose(lp[0], expect, atol=1e-6)
    with pytest.raises(EngineError, match="distinct tokens"):
        tiny_engine.option_logprobs([PROMPT], ["ab", "ac"], chat=False)


def test_steerability_check(tiny_engine, monkeypatch):
    assert tiny_engine.check_steerable() > 0
    # an architecture whose graph never adds the vector behaves like a no-op apply:
    monkeypatch.setattr(engine_mod, "apply_vector", lambda ctx, vector, n_embd: None)
    with pytest.raises(UnsupportedArchitectureError, match="'llama' architecture ignores control vectors"):
        tiny_engine.check_steerable()


def test_first_vector_checks_steerability(tiny_model_path, monkeypatch):
    monkeypatch.setattr(engine_mod, "apply_vector", lambda ctx, vector, n_embd: None)
    engine = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    with pytest.raises(UnsupportedArchitectureError, match="ignores control vectors"):
        engine.set_control_vector(vec(engine))
    assert engine.control_vector is None
    engine.close()


def test_prompt_longer_than_context_is_a_clear_error(tiny_model_path):
    engine = Engine(tiny_model_path, n_ctx=64, n_threads=2)
    with pytest.raises(EngineError, match="n_ctx|context"):
        engine.generate("x " * 200, chat=False, max_tokens=4)
    with pytest.raises(EngineError, match="n_ctx"):
        engine.hidden_states(["x " * 200])
    engine.close()


def test_clear_with_null_restores_after_direct_c_call(tiny_engine):
    """Fact: passing None clears; a full zero-filled buffer is what we always pass."""
    base = tiny_engine.logits([PROMPT])
    tiny_engine.set_control_vector(vec(tiny_engine, rows=[1]))
    tiny_engine.set_control_vector(vec(tiny_engine, rows=[3]))  # row 1 must not linger
    only3 = tiny_engine.logits([PROMPT])
    tiny_engine.clear_control_vector()
    with tiny_engine.steered(vec(tiny_engine, rows=[3])):
        np.testing.assert_array_equal(tiny_engine.logits([PROMPT]), only3)
    np.testing.assert_array_equal(tiny_engine.logits([PROMPT]), base)


def test_scoring_context_made_after_a_vector_carries_it(tiny_model_path, tiny_engine):
    """The second context is created lazily; it must start with the vector already applied."""
    v = vec(tiny_engine)
    with tiny_engine.steered(v):
        expect = tiny_engine.hidden_states([PROMPT])
    late = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    late.set_control_vector(v)  # no scoring context exists yet
    np.testing.assert_allclose(late.hidden_states([PROMPT]), expect, atol=1e-5)
    late.clear_control_vector()
    np.testing.assert_allclose(late.hidden_states([PROMPT]), tiny_engine.hidden_states([PROMPT]), atol=1e-5)
    late.close()


def test_long_metadata_values_are_read_whole(tiny_engine):
    text = tiny_engine.metadata("general.description")
    assert text == "A tiny random model for tests. " * 40 and len(text) > 512
    assert tiny_engine.metadata("no.such.key") is None


def test_marked_steerable_engine_skips_the_probe(tiny_model_path, monkeypatch):
    engine = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    engine.mark_steerable()
    monkeypatch.setattr(Engine, "check_steerable", lambda self, scale=4.0: pytest.fail("probe ran"))
    engine.set_control_vector(vec(engine))
    assert engine.control_vector is not None
    engine.close()


def test_a_stream_left_open_at_exit_does_not_crash(tiny_model_path):
    # a generator abandoned mid-stream restores the unsteered model when it is finalised, which
    # at interpreter exit can come after llama-cpp-python freed its context (it crashed before)
    import subprocess
    import sys

    code = f"""
import numpy as np
from concurrent.futures import ThreadPoolExecutor
from couple_lite.engine.engine import Engine
e = Engine({str(tiny_model_path)!r}, n_ctx=256)
e.mark_steerable()
v = np.zeros((e.n_layer, e.n_embd), np.float32); v[1:] = 0.1
ThreadPoolExecutor(1).submit(int).result()
def gen():
    with e.steered(v):
        yield from e.stream("{PROMPT}", max_tokens=4)
it = gen(); next(it)
e.llm.close()
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_shared_prefix_scoring_equals_scoring_each_text_in_full(tiny_engine):
    """answer_logprob / continuation_logprob decode a shared question once per pack (one cache per
    sequence); the numbers must be those of each text scored alone, in any order and batch."""
    q = "Describe yourself."
    answers = [f"answer {'x' * k} number {k}" for k in range(20)]  # 20 > one pack of 16 sequences
    shared = tiny_engine.answer_logprob([q] * len(answers), answers)
    alone = np.array([tiny_engine.answer_logprob([q], [a])[0] for a in answers])  # one text: the full path
    np.testing.assert_allclose(shared, alone, rtol=0, atol=1e-5)
    reverse = tiny_engine.answer_logprob([q] * len(answers), answers[::-1])[::-1]
    np.testing.assert_array_equal(shared, reverse)
    pre = tiny_engine.chat_prompt(q)
    head = tiny_engine.tokenize(pre)
    by_hand = [
        tiny_engine._runner.token_logprobs([tiny_engine.tokenize(pre + a)], [len(head)])[0].mean() for a in answers[:3]
    ]
    np.testing.assert_allclose(shared[:3], by_hand, atol=1e-5)
    cont = tiny_engine.continuation_logprob(["The word is"] * 3, [" red", " green", " blue"])
    single = [tiny_engine.continuation_logprob(["The word is"], [w])[0] for w in (" red", " green", " blue")]
    np.testing.assert_allclose(cont, single, atol=1e-5)


def test_a_texts_numbers_do_not_depend_on_its_batch(tiny_engine):
    """Sequences start at ROW_ALIGN-aligned rows of a decode, so shifting a text within a batch
    (the texts before it of every length mod ROW_ALIGN) leaves its log-probs unchanged."""
    target = tiny_engine.tokenize("a fixed text to score, word by word")
    alone = tiny_engine._runner.token_logprobs([target])[0]
    for k in range(1, ROW_ALIGN + 1):
        before = tiny_engine.tokenize("z" * k)
        got = tiny_engine._runner.token_logprobs([before, target])[1]
        np.testing.assert_array_equal(got, alone)


def test_the_chat_head_is_kept_between_prompts_and_answers_do_not_depend_on_it(
    tiny_engine, tiny_model_path, monkeypatch
):
    """The template's fixed head (system prompt, user tag) is decoded alone and kept while the
    vector stays: the next prompt decodes only its own tokens, and every answer equals a fresh
    engine's (the same split into head and rest, whatever came before)."""
    kw = dict(max_tokens=10, temperature=0.0)
    tiny_engine.clear_control_vector()
    tiny_engine.generate("first question", **kw)
    evaluated = []
    real_eval = tiny_engine.llm.eval
    monkeypatch.setattr(tiny_engine.llm, "eval", lambda toks: (evaluated.append(list(toks)), real_eval(toks))[1])
    second = tiny_engine.generate("second question", **kw)
    monkeypatch.undo()
    full = tiny_engine.tokenize(tiny_engine.chat_prompt("second question"))
    head = tiny_engine._head
    assert 0 < len(head) < len(full) and full[: len(head)] == head
    assert evaluated[0] == full[len(head) :]  # the head came from the cache
    fresh = Engine(tiny_model_path, n_ctx=512, n_threads=2)
    assert fresh.generate("second question", **kw) == second
    v = vec(tiny_engine, scale=2.0)
    with tiny_engine.steered(v), fresh.steered(v):  # a new vector: the head is decoded again under it
        assert tiny_engine.generate("second question", **kw) == fresh.generate("second question", **kw)
    fresh.close()
