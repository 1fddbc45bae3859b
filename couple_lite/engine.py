"""The engine: a GGUF model in llama.cpp, steered by a control vector. It knows nothing of values.

It generates (plain or streamed), applies and clears per-layer control vectors, reads the residual
stream after every block, and scores next-token options after a chat prompt. Control vectors are
(n_layer, n_embd) float32 matrices: row il is added to the output of block il. llama.cpp cannot
steer block 0, so row 0 must be zero.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Sequence

from .locks import OperationLock
from .runtime import BufferVerdict, default_threads, set_openmp_defaults
from .runtime import extra_buffer_types as _extra_buffer_types
from .runtime import interrupts_after_load, model_params

# before llama.cpp's OpenMP runtime loads (see runtime.set_openmp_defaults); an app that imported
# llama_cpp first keeps its own policy, and info() says so
OPENMP_DEFAULTS_APPLIED = "llama_cpp" not in sys.modules
set_openmp_defaults()

import llama_cpp  # noqa: E402
import numpy as np  # noqa: E402

from .chat_template import ChatTemplate  # noqa: E402
from .errors import ControlVectorError, EngineError, ModelFileError, UnsupportedArchitectureError  # noqa: E402
from .generation_options import check_generation  # noqa: E402
from .model_store import check_gguf  # noqa: E402
from .scoring import PREFIX_CELLS, scored  # noqa: E402

__all__ = ["Engine", "gpu_offload_available", "default_threads"]

if TYPE_CHECKING:
    from .capture import BatchRunner  # loaded on first use: generation never needs it

def gpu_offload_available() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())


def _cvec_function():
    """llama_set_adapter_cvec (>=0.3.17), llama_apply_adapter_cvec (0.3.7-0.3.16) or
    llama_control_vector_apply (<=0.3.6): same arguments under three historic names."""
    for name in ("llama_set_adapter_cvec", "llama_apply_adapter_cvec", "llama_control_vector_apply"):
        fn = getattr(llama_cpp, name, None)
        if fn is not None:
            return fn
    raise EngineError("this llama-cpp-python has no control-vector function; install >=0.3.17,<0.4")


class Engine:
    """One loaded model. Generation runs on llama-cpp-python's context; hidden states and option
    scores on a second context over the same weights. Both always carry the same control vector."""

    def __init__(
        self,
        model_path: str | Path,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        n_gpu_layers: int | None = None,
        seed: int = 0,
        n_seq_max: int = 16,
        verbose: bool = False,
        extra_buffer_types: bool | None = None,
    ):
        """``extra_buffer_types``: llama.cpp's AMX/repacked CPU weights; None decides per host
        (see :mod:`couple_lite.runtime`), False is the safe path on any CPU."""
        path = check_gguf(Path(model_path))
        self.model_path = path
        if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1):
            raise EngineError(f"n_threads must be a whole number >= 1, got {n_threads!r}")
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = (-1 if gpu_offload_available() else 0) if n_gpu_layers is None else n_gpu_layers
        self.buffer_verdict = (
            _extra_buffer_types(path) if extra_buffer_types is None
            else BufferVerdict(bool(extra_buffer_types), "chosen by the caller", "argument")
        )
        try:
            with model_params(self.buffer_verdict.enabled), interrupts_after_load() as interrupted:
                self.llm = llama_cpp.Llama(
                    str(path), n_ctx=n_ctx, n_threads=self.n_threads, n_threads_batch=self.n_threads,
                    n_gpu_layers=self.n_gpu_layers, seed=seed, verbose=verbose,
                )
        except ValueError as e:  # llama-cpp-python raises ValueError when llama.cpp fails to load
            raise ModelFileError(f"llama.cpp could not load {str(path)!r} ({e}); is it a complete GGUF model?") from None
        if interrupted:
            self.llm.close()
            raise KeyboardInterrupt
        if bool(self.llm.model_params.use_extra_bufts) != self.buffer_verdict.enabled:
            raise EngineError("this llama-cpp-python ignores use_extra_bufts; install >=0.3.17,<0.4")
        self.seed = seed
        model = self.llm.model
        self.n_layer = int(llama_cpp.llama_model_n_layer(model))
        self.n_embd = int(llama_cpp.llama_model_n_embd(model))
        self.architecture = self.metadata("general.architecture") or "unknown"
        self._runner_args = (model, self.n_layer, self.n_embd, n_ctx, self.n_threads, n_seq_max)
        self._batch_runner: BatchRunner | None = None  # made on first use: generation never needs it
        self._prefix_runner: BatchRunner | None = None  # per-sequence caches for shared-prefix scoring
        self._cvec: np.ndarray | None = None
        self._steerable: bool | None = None  # checked on the first vector applied
        self.lock = OperationLock()  # one model, many callers: one operation at a time

    @property
    def _runner(self) -> BatchRunner:
        """The second context (hidden states, scoring), created on first use with the current vector."""
        with self.lock:
            if self._batch_runner is None:
                self._batch_runner = self._new_runner(*self._runner_args)
            return self._batch_runner

    @property
    def _shared_prefix_runner(self) -> BatchRunner:
        """A third context, one small cache per sequence (PREFIX_CELLS each): many short answers
        scored after one decoded copy of their question, each exactly as if alone."""
        with self.lock:
            if self._prefix_runner is None:
                model, n_layer, n_embd, _, n_threads, n_seq_max = self._runner_args
                self._prefix_runner = self._new_runner(model, n_layer, n_embd, PREFIX_CELLS, n_threads, n_seq_max,
                                                       streams=True)
            return self._prefix_runner

    def _new_runner(self, *args, **kwargs) -> BatchRunner:
        from .capture import BatchRunner

        runner = BatchRunner(*args, **kwargs)
        if self._cvec is not None:
            self._apply(runner.ctx, np.ascontiguousarray(self._cvec[1:]), 1, self.n_layer - 1)
        return runner

    def close(self) -> None:
        for runner in (self._batch_runner, self._prefix_runner):
            if runner is not None:
                runner.close()
        self.llm.close()

    def metadata(self, key: str) -> str | None:
        """A GGUF metadata value as text (chat templates can be long: the buffer grows to fit)."""
        size = 512
        while True:
            buf = ctypes.create_string_buffer(size)
            n = llama_cpp.llama_model_meta_val_str(self.llm.model, key.encode(), buf, len(buf))
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", "replace")
            size = n + 1

    def info(self) -> dict:
        return {
            "llama_cpp_version": llama_cpp.__version__,
            "gpu_offload": gpu_offload_available(),
            "n_gpu_layers": self.n_gpu_layers,
            "n_threads": self.n_threads,
            "extra_buffer_types": self.buffer_verdict.as_dict(),
            "openmp": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                       "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
                       "set_by_couple_lite": OPENMP_DEFAULTS_APPLIED},
            "architecture": self.architecture,
            "n_layer": self.n_layer,
            "n_embd": self.n_embd,
            "n_vocab": int(self.llm.n_vocab()),
            "model_path": str(self.model_path),
            "file_size": self.model_path.stat().st_size,
            "chat_template": self.metadata("tokenizer.chat_template") is not None,
        }

    # -- control vectors ------------------------------------------------------------------
    @property
    def control_vector(self) -> np.ndarray | None:
        """The (n_layer, n_embd) vector now applied, or None."""
        return None if self._cvec is None else self._cvec.copy()

    def set_control_vector(self, vector: np.ndarray, layers: tuple[int, int] | None = None) -> None:
        """Apply ``vector`` (n_layer, n_embd); ``layers=(first, last)`` (inclusive) keeps only those
        rows. The prompt cache is reset, so no token is ever computed under a stale vector."""
        v = np.array(vector, dtype=np.float32)
        if v.shape != (self.n_layer, self.n_embd):
            raise ControlVectorError(
                f"control vector has shape {v.shape}, this model needs ({self.n_layer}, {self.n_embd})"
            )
        if not np.all(np.isfinite(v)):
            raise ControlVectorError("control vector contains NaN or infinity")
        if np.any(v[0] != 0):
            raise ControlVectorError("row 0 of a control vector must be zero: llama.cpp cannot steer block 0")
        if layers is not None:
            lo, hi = layers
            if not 1 <= lo <= hi < self.n_layer:
                raise ControlVectorError(f"layer range {layers} must satisfy 1 <= first <= last < {self.n_layer}")
            keep = np.zeros(self.n_layer, dtype=bool)
            keep[lo: hi + 1] = True
            v[~keep] = 0.0
        if self._steerable is None:
            self._steerable = False
            self.check_steerable()  # raises UnsupportedArchitectureError for e.g. bert, mamba
            self._steerable = True
        # the C buffer has n_layer-1 rows: row r is added after block r+1; always pass all rows
        data = np.ascontiguousarray(v[1:])
        with self.lock:
            for ctx in self._contexts():
                self._apply(ctx, data, 1, self.n_layer - 1)
            self._cvec = v
            self.llm.reset()

    def clear_control_vector(self) -> None:
        """Remove any control vector; logits return exactly to the unsteered ones."""
        with self.lock:
            for ctx in self._contexts():
                self._apply(ctx, None, -1, -1)
            self._cvec = None
            self.llm.reset()

    def _contexts(self) -> list:
        """The live llama.cpp contexts (none once closed: a stream left open at interpreter exit
        restores its vector after llama-cpp-python has freed them)."""
        ctxs = [self.llm.ctx] + [r.ctx for r in (self._batch_runner, self._prefix_runner) if r is not None]
        return [c for c in ctxs if c]

    def _apply(self, ctx, data: np.ndarray | None, il_start: int, il_end: int) -> None:
        fn = _cvec_function()
        if data is None:
            rc = fn(ctx, None, 0, self.n_embd, il_start, il_end)
        else:
            ptr = data.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            rc = fn(ctx, ptr, data.size, self.n_embd, il_start, il_end)
        if rc != 0:
            raise EngineError(f"llama.cpp rejected the control vector (code {rc}); wrong n_embd?")

    @contextmanager
    def steered(self, vector: np.ndarray | None, layers: tuple[int, int] | None = None):
        """Apply a vector for the duration of a block and always restore the previous state."""
        previous = self._cvec
        with self.lock:
            try:
                if vector is None:
                    self.clear_control_vector()
                else:
                    self.set_control_vector(vector, layers)
                yield self
            finally:
                if previous is None:
                    self.clear_control_vector()
                else:
                    self.set_control_vector(previous)

    def mark_steerable(self) -> None:
        """Record that control vectors are known to move this model (e.g. a value-vector pack was
        calibrated on this very file), so the first vector skips the steerability probe."""
        self._steerable = True

    def check_steerable(self, scale: float = 4.0) -> float:
        """Apply a random vector and check that the logits move; raise if the architecture ignores
        control vectors. Returns the largest logit change seen."""
        prompt = self.tokenize("The weather today is")
        with self.lock:
            base = self._last_logits(prompt)
            rng = np.random.default_rng(0)
            v = np.zeros((self.n_layer, self.n_embd), dtype=np.float32)
            v[1:] = rng.standard_normal((self.n_layer - 1, self.n_embd)) * scale
            with self.steered(v):
                moved = self._last_logits(prompt)
        change = float(np.abs(moved - base).max())
        if not change > 1e-4:
            raise UnsupportedArchitectureError(
                f"the {self.architecture!r} architecture ignores control vectors in llama.cpp "
                f"(logits did not move); use a model with a supported architecture such as llama"
            )
        return change

    def _last_logits(self, tokens: list[int]) -> np.ndarray:
        """Next-token logits after ``tokens`` on the generation context (fresh cache)."""
        self.llm.reset()
        self.llm.eval(tokens)
        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        out = np.ctypeslib.as_array(ptr, shape=(int(self.llm.n_vocab()),)).copy()
        self.llm.reset()
        return out

    # -- text -----------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return self.llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def chat_prompt(self, user: str, system: str | None = None, history: Sequence[tuple[str, str]] = ()) -> str:
        """The model's chat template applied to earlier (user, assistant) turns and a new user
        turn, ending where the assistant answers (plain "User:/Assistant:" without a template)."""
        if not hasattr(self, "_template"):
            eos = self.llm.detokenize([self.llm.token_eos()]).decode("utf-8", "replace")
            bos = self.llm.detokenize([self.llm.token_bos()]).decode("utf-8", "replace")
            self._template = ChatTemplate(self.metadata("tokenizer.chat_template"), eos, bos)
        return self._template.prompt(user, system, history)

    def stream(
        self,
        prompt: str,
        system: str | None = None,
        max_tokens: int = 128,
        temperature: float = 0.7,
        top_p: float = 0.95,
        seed: int | None = None,
        chat: bool = True,
        history: Sequence[tuple[str, str]] = (),
    ) -> Iterator[str]:
        """Yield the answer piece by piece under the current control vector."""
        check_generation(max_tokens, temperature, top_p, seed)
        text = self.chat_prompt(prompt, system, history) if chat else prompt
        with self.lock:
            self.llm.reset()
            pieces = self.llm.create_completion(
                text, max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                seed=self.seed if seed is None else seed, stream=True,
            )
            runner = threading.get_ident()
            try:
                for chunk in pieces:
                    try:
                        yield chunk["choices"][0]["text"]
                    finally:  # resumed (or closed) perhaps on another thread: the lock follows
                        runner = self.lock.follow(runner)
            except ValueError as e:  # e.g. the prompt does not fit the context
                raise EngineError(f"generation failed: {e}; shorten the prompt or raise n_ctx (--n-ctx)") from None

    def generate(self, prompt: str, **kwargs) -> str:
        """The whole answer as one string (see :meth:`stream` for the arguments)."""
        return "".join(self.stream(prompt, **kwargs))

    # -- scoring and hidden states ------------------------------------------------------------
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
            return scored(prefixes, heads, seqs, self._runner, lambda: self._shared_prefix_runner)

    def position_logprobs(self, seqs: list[list[int]], starts: list[int]) -> np.ndarray:
        """Next-token log-distributions (positions, n_vocab) predicting tokens ``starts[i]..`` of
        each token sequence, under the current vector (the fluency budget's KL reads these)."""
        with self.lock:
            return self._runner.position_logprobs(seqs, starts)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Next-token logits after each text (n_texts, n_vocab), under the current vector."""
        with self.lock:
            out, _ = self._runner.run([self.tokenize(t) for t in texts])
        return out
