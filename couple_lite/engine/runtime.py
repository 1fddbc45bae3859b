"""How llama.cpp should run on this host: thread count, OpenMP wait policy, and whether its extra
CPU buffer types (AMX tiles, weight repacking) are safe to use.

Why: a source-built llama.cpp compiles in AMX when the CPU advertises it, but some VMs fault at the
first AMX instruction (SIGSEGV at the first decode). Whether a host is one of them can only be seen by
trying, so on AMX builds one short decode runs in a child process, once per (llama.cpp library, CPU,
model file); a crash there turns the extra buffer types off for that model. Builds without AMX keep
them (repacked weights are faster on AVX2/ARM) and pay nothing. ``COUPLE_LITE_EXTRA_BUFTS=on|off``
overrides the verdict.

This module must not import llama_cpp at import time: the OpenMP defaults below only take effect if
they are in the environment before llama.cpp's OpenMP runtime is loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from ..errors import EngineError

__all__ = [
    "BufferVerdict",
    "model_params",
    "interrupts_after_load",
    "extra_buffer_types",
    "default_threads",
    "set_openmp_defaults",
    "PROBE_CACHE",
]

ENV_VAR = "COUPLE_LITE_EXTRA_BUFTS"
_PARAMS_LOCK = threading.Lock()  # model loads that change llama.cpp's default params, one at a time
PROBE_CACHE = "runtime-probe.json"  # in the model cache folder, beside the models it speaks of
PROBE_TIMEOUT_S = 300  # a probe loads the model once; a model that takes longer is treated as unsafe
# One prompt decode (batched matrix kernels) and one single-token decode (vector kernels): the two
# paths llama.cpp's AMX and repack code take. Only llama_cpp is imported: the child is fast and
# cannot be broken by our own code.
PROBE_CODE = """
import sys, llama_cpp
llm = llama_cpp.Llama(sys.argv[1], n_ctx=64, n_threads=1, n_gpu_layers=0, verbose=False)
toks = llm.tokenize(b"The weather today is")
llm.eval(toks)
llm.eval([toks[-1]])
print("ok")
"""


# libgomp spins this many times at a barrier before sleeping (its default is 300,000, ~3 ms). Short
# enough that threads yield their core to other processes on a busy machine, long enough that an idle
# machine decodes as fast as with the default. Measured on 2 cores (docs: performance, busy machines): idle
# 124 vs 113 tok/s, with a CPU hog 53 vs 23 tok/s; OMP_WAIT_POLICY=PASSIVE (0 spins) fell to 35 idle.
GOMP_SPINCOUNT = "30000"


def set_openmp_defaults() -> None:
    """Bound how long llama.cpp's OpenMP threads spin at barriers, unless the user chose a policy
    (OMP_WAIT_POLICY or GOMP_SPINCOUNT). Effective only before llama_cpp is first imported."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", GOMP_SPINCOUNT)


def default_threads() -> int:
    """Physical cores (llama.cpp's own default of half the logical CPUs is slower on small VMs)."""
    try:
        cores = set()
        phys = core = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("physical id"):
                phys = line.split(":")[1].strip()
            elif line.startswith("core id"):
                core = line.split(":")[1].strip()
                cores.add((phys, core))
        if cores:
            return len(cores)
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class BufferVerdict:
    """Whether a model is loaded with llama.cpp's extra buffer types, and why."""

    enabled: bool
    reason: str
    source: str  # "env", "build" (no AMX compiled in), "probe" (a child decode) or "cache"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _env_choice() -> bool | None:
    raw = os.environ.get(ENV_VAR, "auto").strip().lower()
    if raw in ("", "auto"):
        return None
    if raw in ("1", "on", "true", "yes"):
        return True
    if raw in ("0", "off", "false", "no"):
        return False
    raise EngineError(f"{ENV_VAR}={raw!r} is not understood; use on, off or auto")


def _amx_compiled() -> bool:
    """Whether the loaded llama.cpp build has AMX kernels (llama.cpp reports it as AMX_INT8 = 1)."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return "AMX_INT8 = 1" in info


def _library_files() -> list[Path]:
    spec = importlib.util.find_spec("llama_cpp")
    lib = Path(spec.origin).parent / "lib" if spec and spec.origin else None
    return sorted(p for p in lib.iterdir() if "ggml" in p.name or "llama" in p.name) if lib and lib.is_dir() else []


def _cpu_id() -> str:
    """The CPU's model name and feature flags (first processor), or the platform's description."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        keep = [ln for ln in lines if ln.startswith(("model name", "flags", "Features", "CPU part"))]
        text = "\n".join(dict.fromkeys(keep))
    except OSError:
        text = f"{platform.machine()} {platform.processor()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _probe_key(model: Path) -> str:
    parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in _library_files()]
    st = model.stat()
    return "|".join([*parts, _cpu_id(), f"{model.resolve()}:{st.st_size}:{st.st_mtime_ns}"])


def probe(model: Path, command: list[str] | None = None) -> BufferVerdict:
    """Decode a few tokens of ``model`` with extra buffer types in a child process; its fate decides."""
    cmd = command or [sys.executable, "-c", PROBE_CODE, str(model)]
    try:
        done = subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return BufferVerdict(False, f"the probe decode did not finish in {PROBE_TIMEOUT_S} s", "probe")
    if done.returncode == 0:
        return BufferVerdict(True, "AMX build; a probe decode with extra buffer types ran cleanly", "probe")
    if done.returncode < 0:
        try:
            sig = signal.Signals(-done.returncode).name
        except ValueError:
            sig = f"signal {-done.returncode}"
        why = f"a probe decode with extra buffer types died with {sig} (AMX tile state not usable here?)"
    else:
        last = (done.stderr or done.stdout or "").strip().splitlines()
        said = last[-1][:120] if last else "no output"
        why = f"a probe decode with extra buffer types failed (exit {done.returncode}: {said})"
    return BufferVerdict(False, why + "; using plain CPU buffers", "probe")


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def extra_buffer_types(model: Path, cache_dir: Path | None = None) -> BufferVerdict:
    """The verdict for loading ``model`` here: the environment's choice, else on for builds without
    AMX, else the (cached) verdict of a probe decode in a child process."""
    choice = _env_choice()
    if choice is not None:
        return BufferVerdict(choice, f"set by {ENV_VAR}", "env")
    if not _amx_compiled():
        return BufferVerdict(True, "this llama.cpp build has no AMX kernels; CPU repacking is safe", "build")
    if cache_dir is None:
        from .._paths import model_cache_dir

        cache_dir = model_cache_dir()
    cache_file = Path(cache_dir) / PROBE_CACHE
    key = _probe_key(Path(model))
    cached = _read_cache(cache_file).get(key)
    if isinstance(cached, dict) and isinstance(cached.get("enabled"), bool):
        return BufferVerdict(cached["enabled"], str(cached.get("reason", "")), "cache")
    verdict = probe(Path(model))
    try:
        from .._io import atomic_write

        data = _read_cache(cache_file)
        data[key] = {"enabled": verdict.enabled, "reason": verdict.reason}
        with atomic_write(cache_file) as tmp:
            Path(tmp).write_text(json.dumps(data, indent=1), encoding="utf-8")
    except OSError:  # a read-only cache folder: the probe runs again next time
        pass
    return verdict


@contextmanager
def model_params(use_extra_bufts: bool) -> Iterator[None]:
    """Make ``Llama(...)`` load with ``use_extra_bufts`` set: llama-cpp-python has no argument for
    this field of ``llama_model_params``, so its default-params factory is wrapped while loading."""
    if use_extra_bufts:
        yield
        return
    import llama_cpp.llama_cpp as _llama_c  # the module whose default params Llama() reads

    with _PARAMS_LOCK:
        original = _llama_c.llama_model_default_params

        def params() -> Any:  # llama_cpp's llama_model_params
            p = original()
            p.use_extra_bufts = False
            return p

        _llama_c.llama_model_default_params = params
        try:
            yield
        finally:
            _llama_c.llama_model_default_params = original


@contextmanager
def interrupts_after_load() -> Iterator[list[int]]:
    """Ctrl-C during a model load would be swallowed by llama-cpp-python's log callback (the load
    then runs on, and the command to its end): note it instead, and let the caller raise after.
    SIGTERM, when a Python handler takes it (the CLI's raises to exit 143), would be swallowed the
    same way: its handler runs right after the load instead (the load itself is never torn apart)."""
    seen: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield seen  # signal handlers belong to the main thread
        return
    deferred: dict[int, Callable[[int, FrameType | None], Any]] = {}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # else the app handles SIGINT itself
        deferred[signal.SIGINT] = signal.default_int_handler
    on_term = signal.getsignal(signal.SIGTERM)
    if callable(on_term):  # SIG_DFL kills in C: nothing to swallow
        deferred[signal.SIGTERM] = on_term
    terms: list[int] = []
    for sig in deferred:
        signal.signal(sig, lambda signum, frame: (seen if signum == signal.SIGINT else terms).append(signum))
    try:
        yield seen
    finally:
        for sig, handler in deferred.items():
            signal.signal(sig, handler)
        if terms:
            deferred[signal.SIGTERM](signal.SIGTERM, None)
