"""Batched forward passes with hidden-state capture, on a second llama.cpp context.

``Llama()`` builds its own context without an eval callback, so we make a second context on the
same weights with ``cb_eval`` set. The callback sees every graph node; we keep the residual stream
after each block (nodes ``l_out-<il>``, which already include any control vector) and copy it out
with ``ggml_backend_tensor_get`` (works for CPU and GPU buffers). llama-cpp-python has no ctypes
``ggml_tensor``, so the two fields we need (``ne`` and ``name``) are read at fixed offsets that are
checked against ``ggml_get_name``/``ggml_nbytes`` on the first tensor; a mismatch is a clear error.

Many texts share one decode as separate sequences; each decode starts from an empty cache, so a
text's numbers never depend on what was decoded before it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import llama_cpp
import numpy as np

from ..errors import EngineError
from ._shared_prefix import ROW_ALIGN, Hold  # every text starts at an aligned row of a decode (why 16: see there)

if TYPE_CHECKING:
    from ._arrays import F32Array, F64Array, IntArray

__all__ = ["BatchRunner"]

# struct ggml_tensor { enum ggml_type type; ggml_backend_buffer* buffer; int64_t ne[4]; size_t nb[4];
#   enum ggml_op op; int32_t op_params[16]; int32_t flags; ggml_tensor* src[10];
#   ggml_tensor* view_src; size_t view_offs; void* data; char name[64]; ... }
_NE_OFFSET = 16
_NAME_OFFSET = 256
_GGML_TYPE_F32 = 0


def _ggml_base() -> ctypes.CDLL:
    libdir = Path(llama_cpp.__file__).parent / "lib"
    names = ["libggml-base.so", "libggml-base.dylib", "ggml-base.dll"]
    for n in names:
        if (libdir / n).exists():
            lib = ctypes.CDLL(str(libdir / n))
            break
    else:
        raise EngineError(f"cannot find libggml-base next to libllama in {libdir}; reinstall llama-cpp-python")
    lib.ggml_get_name.restype = ctypes.c_char_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_nbytes.restype = ctypes.c_size_t
    lib.ggml_nbytes.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.restype = None
    lib.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    return lib


def _aligned(n: int) -> int:
    return -(-n // ROW_ALIGN) * ROW_ALIGN


def _output_rows(rows: list[int], padded: int) -> IntArray:
    """The rows of one sequence to compute logits for, sorted: the requested ones, topped up (when
    more than one) with padding rows, then others, to a multiple of ROW_ALIGN, so that every
    sequence's logits start at an aligned row of the output matrix and round as they do alone."""
    asked = np.asarray(sorted(rows), dtype=np.int64)
    if len(asked) <= 1:
        return asked
    taken = set(rows)
    spare = [r for r in range(padded - 1, -1, -1) if r not in taken]  # padding rows first
    return np.sort(np.r_[asked, spare[: _aligned(len(asked)) - len(asked)]].astype(np.int64))


# tokens per decode of the shared-cache runner: texts attend over each other's (masked) cells, a
# cost quadratic in the pack; 256 is also llama.cpp's cache view, which a pack then never outgrows
KV_BUCKET = 256


def _log_softmax(logits: F32Array) -> F32Array:
    """Row-wise log-softmax in the rows' own dtype, the normaliser summed in float64."""
    m = logits.max(axis=1, keepdims=True)
    z = np.log(np.exp(logits - m).sum(axis=1, keepdims=True, dtype=np.float64)).astype(logits.dtype)
    out: F32Array = logits - (m + z)
    return out


def _token_logprobs(logits: F32Array, tokens: IntArray) -> F64Array:
    """log-softmax of each row of ``logits`` taken at ``tokens[row]`` (normaliser in float64)."""
    if not len(logits):
        return np.zeros(0)
    m = logits.max(axis=1)
    z = np.log(np.exp(logits - m[:, None]).sum(axis=1, dtype=np.float64))
    out: F64Array = logits[np.arange(len(logits)), tokens].astype(np.float64) - m - z
    return out


class BatchRunner:
    """A second context on a loaded model: decode batches of token lists, return the logits of
    chosen positions and, when asked, the residual stream after every block."""

    def __init__(
        self,
        model: llama_cpp.llama_model_p,
        n_layer: int,
        n_embd: int,
        n_ctx: int,
        n_threads: int,
        n_seq_max: int = 16,
        streams: bool = False,
    ) -> None:
        """``streams``: one cache of ``n_ctx`` cells per sequence (llama.cpp's non-unified cache)
        instead of one shared cache -- what :meth:`prefix_logprobs` needs to be exact."""
        self._lib = _ggml_base()
        self.n_layer, self.n_embd, self.n_ctx, self.n_seq_max = n_layer, n_embd, n_ctx, n_seq_max
        self.streams = streams
        # texts in one decode attend over each other's cache slots (masked), a cost quadratic in
        # the pack size: small packs keep that below the matmul cost
        self.pack_tokens = min(n_ctx, KV_BUCKET)
        self._want = False  # capture on/off: the callback declines every node when off
        self._store: dict[int, F32Array] = {}
        self._checked = False
        self._callback = llama_cpp.ggml_backend_sched_eval_callback(self._on_node)  # keep alive
        p = llama_cpp.llama_context_default_params()
        cells = n_ctx * n_seq_max if streams else n_ctx
        p.n_ctx = p.n_batch = p.n_ubatch = cells  # one decode = one ubatch: row offsets are simple
        p.n_seq_max = n_seq_max
        p.kv_unified = not streams
        p.flash_attn_type = 0  # off: with it, a text's numbers depend on what shares its batch
        p.n_threads = p.n_threads_batch = n_threads
        p.cb_eval = self._callback
        p.cb_eval_user_data = None
        p.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(model, p)
        if not self.ctx:
            raise EngineError("llama.cpp could not create the hidden-state context (out of memory?)")
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model))
        self._init_batch(cells)

    def _init_batch(self, n: int) -> None:
        """A llama_batch whose arrays are numpy buffers we own, filled without per-token Python:
        one contiguous seq-id array, and a pointer array aimed at its elements once, here."""
        self._tok = np.zeros(n, dtype=np.int32)
        self._pos = np.zeros(n, dtype=np.int32)
        self._nseq = np.ones(n, dtype=np.int32)
        self._seq = np.zeros(n, dtype=np.int32)
        self._seq_ptrs = (ctypes.POINTER(ctypes.c_int32) * n)(
            *[ctypes.cast(self._seq.ctypes.data + 4 * i, ctypes.POINTER(ctypes.c_int32)) for i in range(n)]
        )
        self._out = np.zeros(n, dtype=np.int8)
        b: Any = llama_cpp.llama_batch()  # (its stubs type the pointer fields as arrays: they hold pointers)
        b.token = self._tok.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        b.embd = None
        b.pos = self._pos.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        b.n_seq_id = self._nseq.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
        b.seq_id = ctypes.cast(self._seq_ptrs, type(b.seq_id))
        b.logits = self._out.ctypes.data_as(ctypes.POINTER(ctypes.c_int8))
        self._batch = b

    def close(self) -> None:
        if getattr(self, "ctx", None):
            llama_cpp.llama_free(self.ctx)
            self.ctx = None

    def __del__(self) -> None:
        try:
            self.close()
        except (AttributeError, TypeError):  # interpreter exit: llama_cpp's names may already be None
            pass

    # -- the eval callback ---------------------------------------------------------------
    def _on_node(self, tensor: int, ask: bool, _user: object) -> bool:
        if not self._want:
            return not ask
        name = self._lib.ggml_get_name(tensor)
        if not name.startswith(b"l_out-"):
            return not ask
        if ask:
            return True
        if not self._checked:
            self._check_layout(tensor, name)
        ne = (ctypes.c_int64 * 2).from_address(tensor + _NE_OFFSET)
        out = np.empty((ne[1], ne[0]), dtype=np.float32)
        self._lib.ggml_backend_tensor_get(tensor, out.ctypes.data, 0, out.nbytes)
        self._store[int(name[6:])] = out
        return True

    def _check_layout(self, tensor: int, name: bytes) -> None:
        seen = ctypes.string_at(tensor + _NAME_OFFSET)
        ne = (ctypes.c_int64 * 4).from_address(tensor + _NE_OFFSET)
        dtype = ctypes.c_int32.from_address(tensor).value
        nbytes = self._lib.ggml_nbytes(tensor)
        if seen != name or ne[0] != self.n_embd or dtype != _GGML_TYPE_F32 or nbytes != 4 * ne[0] * ne[1]:
            self._want = False
            raise EngineError(
                "this llama-cpp-python's ggml_tensor layout differs from the one couple-lite reads "
                f"(name {seen!r} vs {name!r}); use llama-cpp-python 0.3.17-0.3.x"
            )
        self._checked = True

    # -- decoding ------------------------------------------------------------------------
    def _decode(self, seqs: list[list[int]], out_rows: list[list[int]]) -> F32Array:
        """One decode of several sequences from an empty cache; returns logits of the requested
        rows, in order."""
        return self._decode_at(seqs, list(range(len(seqs))), out_rows)

    def _decode_at(
        self, seqs: list[list[int]], seq_ids: list[int], out_rows: list[list[int]], clear: bool = True, pos0: int = 0
    ) -> F32Array:
        """Decode ``seqs`` as sequences ``seq_ids``, their first token at position ``pos0`` (after
        what the cache already holds, unless ``clear``); logits of the requested rows, in order.
        Each sequence is padded to a multiple of ROW_ALIGN rows (see there)."""
        if clear:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(self.ctx), True)
        lengths = [len(s) for s in seqs]
        padded = [_aligned(n) for n in lengths]
        n = sum(padded)
        if n > len(self._tok):
            raise EngineError(f"{n} tokens do not fit one decode of n_ctx={self.n_ctx}; raise n_ctx")
        starts = np.cumsum([0] + padded[:-1])
        self._tok[:n] = np.concatenate(
            [np.asarray(s + s[-1:] * (m - len(s)), dtype=np.int32) for s, m in zip(seqs, padded)]
        )
        self._pos[:n] = pos0 + np.arange(n) - np.repeat(starts, padded)
        self._seq[:n] = np.repeat(np.asarray(seq_ids, dtype=np.int32), padded)
        self._out[:n] = 0
        keep = []  # which of the output rows were asked for
        for off, rows, m in zip(starts, out_rows, padded):
            marked = _output_rows(rows, m)
            self._out[off + marked] = 1
            keep.append(np.isin(marked, rows))
        b = self._batch
        b.n_tokens = n
        rc = llama_cpp.llama_decode(self.ctx, b)
        if rc != 0:
            raise EngineError(f"llama_decode failed with code {rc}")
        n_out = int(self._out[:n].sum())
        if n_out == 0:
            return np.zeros((0, self.n_vocab), dtype=np.float32)
        ptr = llama_cpp.llama_get_logits(self.ctx)
        logits: F32Array = np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab))[np.concatenate(keep)].copy()
        return logits

    def _packs(self, seqs: list[list[int]]) -> Iterator[list[int]]:
        """Group sequences into decodes that fit the context and the sequence limit."""
        pack: list[int] = []
        size = 0
        for i, s in enumerate(seqs):
            if _aligned(len(s)) > self.n_ctx:
                raise EngineError(f"text {i} has {len(s)} tokens, more than n_ctx={self.n_ctx} allows; raise n_ctx")
            if pack and (size + _aligned(len(s)) > self.pack_tokens or len(pack) == self.n_seq_max):
                yield pack
                pack, size = [], 0
            pack.append(i)
            size += _aligned(len(s))
        if pack:
            yield pack

    def run(
        self, seqs: list[list[int]], hidden: bool = False, all_tokens: bool = False
    ) -> tuple[F32Array, F32Array | list[F32Array] | None]:
        """Last-token logits (n_seqs, n_vocab) and, if ``hidden``, residual streams: last token
        (n_seqs, n_layer, n_embd), or per sequence (n_tokens, n_layer, n_embd) with ``all_tokens``.
        Row 0 of the layer axis is the output of block 0."""
        if not seqs or any(len(s) == 0 for s in seqs):
            raise EngineError("every text must have at least one token")
        all_logits = np.empty((len(seqs), self.n_vocab), dtype=np.float32)
        states: list[Any] = [None] * len(seqs)  # an F32Array each, once _collect has filled it
        for pack in self._packs(seqs):
            group = [seqs[i] for i in pack]
            rows = [list(range(len(s))) if all_tokens else [len(s) - 1] for s in group]
            self._store.clear()
            self._want = hidden
            try:
                lg = self._decode(group, rows)
            finally:
                self._want = False
            ends = np.cumsum([len(r) for r in rows]) - 1  # each sequence's last output row
            all_logits[pack] = lg[ends]
            if hidden:
                self._collect(group, pack, states, all_tokens)
        if not hidden:
            return all_logits, None
        return all_logits, (states if all_tokens else np.stack(states))

    def token_logprobs(self, seqs: list[list[int]], starts: list[int] | None = None) -> list[F64Array]:
        """log P(token t | tokens < t) for t = starts[i] .. len - 1 of each sequence (default t = 1..,
        for perplexity). Only those positions' logits are computed and copied out."""
        starts = [1] * len(seqs) if starts is None else [max(1, int(t)) for t in starts]
        out: list[F64Array] = [np.zeros(0)] * len(seqs)
        for pack in self._packs(seqs):
            group = [seqs[i] for i in pack]
            rows = [list(range(starts[i] - 1, len(seqs[i]) - 1)) for i in pack]
            targets = np.concatenate([np.asarray(seqs[i][starts[i] :], dtype=np.int64) for i in pack])
            lp = _token_logprobs(self._decode(group, rows), targets)
            off = 0
            for i, r in zip(pack, rows):
                out[i] = lp[off : off + len(r)]
                off += len(r)
        return out

    def position_logprobs(self, seqs: list[list[int]], starts: list[int]) -> F32Array:
        """Full next-token log-distributions (positions, n_vocab) float32 at the positions that
        predict tokens starts[i] .. len - 1 of each sequence, all sequences stacked in order."""
        out: list[Any] = [None] * len(seqs)  # an F32Array each, once filled
        for pack in self._packs(seqs):
            group = [seqs[i] for i in pack]
            rows = [list(range(max(1, starts[i]) - 1, len(seqs[i]) - 1)) for i in pack]
            lg = _log_softmax(self._decode(group, rows))
            off = 0
            for i, r in zip(pack, rows):
                out[i] = lg[off : off + len(r)]
                off += len(r)
        return np.concatenate(out) if out else np.zeros((0, self.n_vocab), dtype=np.float32)

    def prefix_logprobs(
        self, prefix: list[int], continuations: list[list[int]], hold: Hold | None = None, full: bool = False
    ) -> list[F32Array] | list[F64Array]:
        """log P of every token of each continuation after one shared ``prefix`` (a ``streams``
        runner only): the prefix is decoded once and copied into each sequence's own cache, so a batch
        of short answers to one question costs their own tokens, and each answer's numbers are
        exactly those it gets alone (its cache holds the prefix, then it).

        ``hold``: a context-manager factory the prefix -- all but its last token -- is decoded
        under (the engine's "answer" steering scope: it clears the vector there); its last token is
        then decoded with each continuation. ``full``: each continuation's (tokens, n_vocab)
        log-distributions instead of its tokens' log-probabilities."""
        if not self.streams:
            raise EngineError("prefix_logprobs needs a runner made with streams=True")
        if not prefix or any(len(c) == 0 for c in continuations):
            raise EngineError("the prefix and every continuation need at least one token")
        head = prefix if hold is None else prefix[:-1]
        tails = continuations if hold is None else [prefix[-1:] + c for c in continuations]
        if any(len(head) + _aligned(len(t)) > self.n_ctx for t in tails):
            raise EngineError(f"a text is longer than n_ctx={self.n_ctx} allows with its prefix; raise n_ctx")
        mem = llama_cpp.llama_get_memory(self.ctx)
        out: list[Any] = []  # F32Array log-distributions with ``full``, else F64Array log-probabilities
        # the prefix is decoded once, into stream 0, and copied into streams 1.. for each group of
        # continuations (a runner with one stream decodes it again for every continuation)
        keep = bool(head) and self.n_seq_max > 1
        per = self.n_seq_max - 1 if keep else self.n_seq_max
        first: F32Array | None = None
        for i in range(0, len(tails), per):
            group = tails[i : i + per]
            ids = list(range(1, len(group) + 1)) if keep else list(range(len(group)))
            if head and (first is None or not keep):
                with hold() if hold is not None else nullcontext():
                    first = self._decode_at([head], [0], [[len(head) - 1]])  # (1, n_vocab): predicts each first token
                llama_cpp.llama_memory_seq_rm(mem, 0, len(head), -1)  # the prefix's row padding
            elif not head:
                llama_cpp.llama_memory_clear(mem, True)
            for s in ids if keep else ():
                llama_cpp.llama_memory_seq_cp(mem, 0, s, -1, -1)  # a copy of the prefix into stream s
            n_rows = [len(t) - 1 for t in group]  # row r predicts t[r + 1]
            lg = self._decode_at(group, ids, [list(range(n)) for n in n_rows], clear=False, pos0=len(head))
            for s in ids if keep else ():
                llama_cpp.llama_memory_seq_rm(mem, s, -1, -1)  # stream 0 keeps only the prefix
            targets = np.concatenate([np.asarray(t[1:], dtype=np.int64) for t in group])
            scores: F32Array | F64Array = _log_softmax(lg) if full else _token_logprobs(lg, targets)
            off = 0
            for t, n in zip(group, n_rows):
                rows = scores[off : off + n]
                if hold is None:  # the continuation's first token is predicted by the prefix's last row
                    assert first is not None  # hold None: the prefix is all head, decoded above
                    lead = _log_softmax(first) if full else _token_logprobs(first, np.asarray([t[0]]))
                    rows = np.concatenate([lead, rows])
                out.append(rows)
                off += n
        return out

    def _collect(self, group: list[list[int]], pack: list[int], states: list[F32Array], all_tokens: bool) -> None:
        if len(self._store) != self.n_layer:
            raise EngineError(
                f"captured {len(self._store)} of {self.n_layer} block outputs; this architecture "
                f"does not name its residual stream 'l_out-<il>'"
            )
        offsets = np.cumsum([0] + [_aligned(len(s)) for s in group[:-1]])
        last = self.n_layer - 1
        out_off = np.cumsum([0] + [len(s) if all_tokens else 1 for s in group[:-1]])
        for k, (i, s, off) in enumerate(zip(pack, group, offsets)):
            per_layer = []
            for il in range(self.n_layer):
                x = self._store[il]
                if il == last and x.shape[0] != sum(_aligned(len(s)) for s in group):  # only output rows kept
                    rows = x[out_off[k] : out_off[k] + (len(s) if all_tokens else 1)]
                else:
                    rows = x[off : off + len(s)] if all_tokens else x[off + len(s) - 1 : off + len(s)]
                per_layer.append(rows)
            arr = np.stack(per_layer, axis=1)  # (tokens, n_layer, n_embd)
            states[i] = arr if all_tokens else arr[0]
