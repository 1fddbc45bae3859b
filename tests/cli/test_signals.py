"""Signals: Ctrl-C during a model load is not swallowed; SIGINT and SIGTERM stop a
command with one line and exit 130 / 143 (never click's "Aborted!" and exit 1)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT

BLOCKING_CLI = textwrap.dedent("""
    import sys, click
    from couple_lite.cli._common import LazyGroup

    @click.group(cls=LazyGroup)
    def main():
        pass

    @main.command()
    def wait():
        try:
            print("ready", flush=True)  # inside the try: a signal right after it still runs the finally
            sys.stdin.readline()  # blocks until the parent signals us
        finally:
            print("cleaned up", flush=True)  # finally blocks (model restore) run

    main()
""")


@pytest.mark.parametrize("sig, rc, line", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_stops_a_command_with_one_line(sig, rc, line):
    p = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_CLI, "wait"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert p.stdout.readline().strip() == "ready"
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == rc, (out, err)
    assert "cleaned up" in out and err.strip() == line and "Aborted" not in err


def test_ctrl_c_during_a_model_load_is_not_swallowed(tiny_model_path):
    code = textwrap.dedent(f"""
        import os, signal, llama_cpp
        import couple_lite.engine.engine as eng
        real = llama_cpp.Llama
        done = []

        def loading(*a, **k):  # Ctrl-C arrives while llama.cpp loads the model; in the real load it
            os.kill(os.getpid(), signal.SIGINT)  # lands in a log callback that swallows it
            llm = real(*a, **k)
            done.append(True)  # the load is never torn apart half-way
            return llm

        eng.llama_cpp.Llama = loading
        try:
            eng.Engine({str(tiny_model_path)!r}, n_ctx=128, n_threads=1)
        except KeyboardInterrupt:  # ... but the command stops right after it
            print("interrupted", done == [True], signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        else:
            print("loaded")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.split() == ["interrupted", "True", "True"], out.stdout + out.stderr
