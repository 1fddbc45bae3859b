"""Host runtime choices: the extra-buffer-types verdict (AMX crash guard), its cache, the forced
fallback, thread and OpenMP defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from couple_lite.engine import runtime
from couple_lite.errors import EngineError
from tests.conftest import ROOT

CRASH = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
FAIL = [sys.executable, "-c", "import sys; sys.exit('boom: no AMX')"]


def test_a_probe_that_crashes_turns_extra_buffers_off_and_names_the_signal(tiny_model_path):
    v = runtime.probe(tiny_model_path, command=CRASH)
    assert v.enabled is False and "SIGSEGV" in v.reason and v.source == "probe"


def test_a_probe_that_fails_names_its_last_line(tiny_model_path):
    v = runtime.probe(tiny_model_path, command=FAIL)
    assert v.enabled is False and "boom: no AMX" in v.reason


def test_the_real_probe_decodes_the_tiny_model_cleanly(tiny_model_path):
    v = runtime.probe(tiny_model_path)
    assert v.enabled is True, v.reason


def test_verdict_on_an_amx_build_is_probed_once_then_cached(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.ENV_VAR, raising=False)
    monkeypatch.setattr(runtime, "_amx_compiled", lambda: True)
    calls, real_probe = [], runtime.probe

    def fake_probe(model, command=None):
        calls.append(model)
        return real_probe(model, command=CRASH)

    monkeypatch.setattr(runtime, "probe", fake_probe)
    first = runtime.extra_buffer_types(tiny_model_path, cache_dir=tmp_path)
    second = runtime.extra_buffer_types(tiny_model_path, cache_dir=tmp_path)
    assert len(calls) == 1
    assert (first.enabled, first.source) == (False, "probe")
    assert (second.enabled, second.source, second.reason) == (False, "cache", first.reason)
    cached = json.loads((tmp_path / runtime.PROBE_CACHE).read_text())
    assert list(cached.values()) == [{"enabled": False, "reason": first.reason}]
    # another model file is another key: probed again
    other = tmp_path / "copy.gguf"
    other.write_bytes(tiny_model_path.read_bytes())
    runtime.extra_buffer_types(other, cache_dir=tmp_path)
    assert len(calls) == 2


def test_builds_without_amx_keep_extra_buffers_without_probing(tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.delenv(runtime.ENV_VAR, raising=False)
    monkeypatch.setattr(runtime, "_amx_compiled", lambda: False)
    monkeypatch.setattr(runtime, "probe", lambda *a, **k: pytest.fail("no probe without AMX"))
    v = runtime.extra_buffer_types(tiny_model_path, cache_dir=tmp_path)
    assert (v.enabled, v.source) == (True, "build")
    assert not (tmp_path / runtime.PROBE_CACHE).exists()


@pytest.mark.parametrize("raw, enabled", [("off", False), ("0", False), ("on", True), ("TRUE", True)])
def test_the_environment_overrides_the_verdict(raw, enabled, tiny_model_path, tmp_path, monkeypatch):
    monkeypatch.setenv(runtime.ENV_VAR, raw)
    monkeypatch.setattr(runtime, "probe", lambda *a, **k: pytest.fail("the environment decides"))
    v = runtime.extra_buffer_types(tiny_model_path, cache_dir=tmp_path)
    assert (v.enabled, v.source) == (enabled, "env")


def test_an_unknown_environment_value_is_a_clear_error(tiny_model_path, monkeypatch):
    monkeypatch.setenv(runtime.ENV_VAR, "maybe")
    with pytest.raises(EngineError, match="on, off or auto"):
        runtime.extra_buffer_types(tiny_model_path)


def test_forced_fallback_loads_without_extra_buffers_and_gives_the_same_greedy_answer(tiny_model_path, monkeypatch):
    from couple_lite.engine.engine import Engine

    kw = dict(max_tokens=12, temperature=0.0, chat=False)
    monkeypatch.setenv(runtime.ENV_VAR, "on")
    with_bufts = Engine(tiny_model_path, n_ctx=256, n_threads=1)
    monkeypatch.setenv(runtime.ENV_VAR, "off")
    without = Engine(tiny_model_path, n_ctx=256, n_threads=1)
    try:
        assert with_bufts.llm.model_params.use_extra_bufts is True
        assert without.llm.model_params.use_extra_bufts is False
        assert without.info()["extra_buffer_types"] == {
            "enabled": False,
            "reason": f"set by {runtime.ENV_VAR}",
            "source": "env",
        }
        answer = without.generate("abc", **kw)
        assert answer and answer == with_bufts.generate("abc", **kw)
    finally:
        with_bufts.close()
        without.close()
    # the wrapped default-params factory is restored after loading
    import llama_cpp.llama_cpp as c

    assert c.llama_model_default_params().use_extra_bufts is True


def test_engine_rejects_a_nonsense_thread_count(tiny_model_path):
    from couple_lite.engine.engine import Engine

    for bad in (0, -2, 1.5, True):
        with pytest.raises(EngineError, match="n_threads"):
            Engine(tiny_model_path, n_threads=bad)


def test_importing_the_engine_bounds_openmp_spinning_unless_the_user_chose(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    code = (
        "import os, couple_lite.engine.engine as e; "
        "print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'), e.OPENMP_DEFAULTS_APPLIED)"
    )

    def run(**extra):
        return subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "PYTHONPATH": str(ROOT), **extra},
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        ).stdout.split()

    assert run() == [runtime.GOMP_SPINCOUNT, "None", "True"]
    assert run(OMP_WAIT_POLICY="PASSIVE") == ["None", "PASSIVE", "True"]  # the user's policy is kept
    assert run(GOMP_SPINCOUNT="5") == ["5", "None", "True"]
