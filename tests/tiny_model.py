"""Write a tiny random-weight llama GGUF (~1 MB) for fast, deterministic engine tests."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_tiny_llama(
    path: Path, n_embd: int = 64, n_layer: int = 4, n_head: int = 4, n_ff: int = 128, seed: int = 0, arch: str = "llama"
) -> Path:
    """SPM vocabulary (<unk>, <s>, </s>, 256 byte tokens, word-initial letters and digits),
    float32 random weights."""
    rng = np.random.default_rng(seed)
    words = [
        "\u2581" + c for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    ]  # "▁a": word-initial letters
    tokens = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{i:02X}>".encode() for i in range(256)] + [w.encode() for w in words]
    types = (
        [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
        + [gguf.TokenType.BYTE] * 256
        + [gguf.TokenType.NORMAL] * len(words)
    )
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("tiny-test-llama")
    w.add_description("A tiny random model for tests. " * 40)  # longer than a 512-byte buffer
    w.add_context_length(4096)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def t(name: str, *shape: int, scale: float = 0.02) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n_vocab, n_embd, scale=1.0)
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    t("output.weight", n_vocab, n_embd, scale=0.5)
    for i in range(n_layer):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for n in ("attn_q", "attn_k", "attn_v", "attn_output"):
            t(f"blk.{i}.{n}.weight", n_embd, n_embd, scale=0.2)
        t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd, scale=0.2)
        t(f"blk.{i}.ffn_up.weight", n_ff, n_embd, scale=0.2)
        t(f"blk.{i}.ffn_down.weight", n_embd, n_ff, scale=0.2)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
