"""Gaps left after the first hardening pass: a user's own value system with --observed and with an
objective file plus --priority (item 2), SIGTERM during a model load (item 5), unreadable inputs
(item 4, simulated: the tests run as root, who can read anything), and an export killed mid-write
(item 1)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from cli import main
from couple_lite.errors import CoupleError
from tests.conftest import ROOT

README_SYSTEM = {
    "name": "mine",
    "values": [
        {"name": "honesty", "definition": "Telling the truth.", "mean": 4.5, "sd": 0.8, "group": "moral"},
        {"name": "loyalty", "definition": "Standing by one's people.", "angle": 90},
    ],
    "correlations": [[1, 0.3], [0.3, 1]],
    "edges": [["honesty", "loyalty"]],
}


@pytest.fixture
def mine(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(README_SYSTEM), encoding="utf-8")
    return path


# -- item 2: the loaded system is carried through every CLI path ------------------------------


def test_a_users_system_takes_observed_values(mine):
    r = CliRunner().invoke(
        main, ["explain", "--system", str(mine), "--values", "honesty=6", "--observed", "loyalty=2", "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["system"] == "mine" and out["observed"] == {"loyalty": 2.0}


def test_a_users_system_in_an_objective_file_takes_a_priority(mine, tmp_path):
    obj = tmp_path / "o.json"
    obj.write_text(json.dumps({"system": str(mine), "targets": {"honesty": 6, "loyalty": 1}}), encoding="utf-8")
    r = CliRunner().invoke(main, ["explain", "--objective", str(obj), "--priority", "honesty>loyalty", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["system"] == "mine" and out["mode"] == "prioritized"


# -- item 5: SIGTERM that lands inside llama.cpp's log callback during a load ------------------

LOAD_UNDER_SIGNAL = textwrap.dedent("""
    import os, signal, sys, llama_cpp
    real = llama_cpp.Llama

    def loading(*a, **k):
        # the signal arrives while llama.cpp is inside a Python log callback: whatever the handler
        # raises there is printed as "Exception ignored" and swallowed by ctypes
        cb = llama_cpp.llama_log_callback(lambda level, text, data: os.kill(os.getpid(), int(sys.argv[2])))
        cb(2, b"loading\\n", None)
        return real(*a, **k)

    llama_cpp.Llama = loading
    from couple_lite.cli import main
    main(["info", "--model", sys.argv[1], "--json"])
""")


@pytest.mark.parametrize("sig, rc, line", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_during_a_model_load_stops_the_command(tiny_model_path, sig, rc, line):
    done = subprocess.run(
        [sys.executable, "-c", LOAD_UNDER_SIGNAL, str(tiny_model_path), str(int(sig))],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == rc, done.stdout + done.stderr
    assert done.stdout == ""  # --json: not even half an object
    assert done.stderr.strip().splitlines()[-1] == line


# -- item 4: unreadable inputs are one typed error (root reads anything: simulate EACCES) ------


def _deny(monkeypatch, victim):
    """Path.read_bytes / read_text of the file named ``victim`` fail with EACCES."""
    from pathlib import Path

    for method in ("read_bytes", "read_text"):
        real = getattr(Path, method)

        def refuse(self, *a, _real=real, **k):
            if self.name == victim:
                raise PermissionError(13, "Permission denied", str(self))
            return _real(self, *a, **k)

        monkeypatch.setattr(Path, method, refuse)


def test_unreadable_objective_items_and_system_files(tmp_path, monkeypatch, mine):
    from couple_lite.measure.instruments import load_items
    from couple_lite.values.objective import load_objective
    from couple_lite.values.systems import load_value_system

    (tmp_path / "o.json").write_text('{"targets": {"power": 6}}')
    (tmp_path / "i.csv").write_text("item,value\nx,power\n")
    schwartz = load_value_system("schwartz10")
    for name, call in (
        ("o.json", lambda: load_objective(tmp_path / "o.json")),
        ("i.csv", lambda: load_items(schwartz, tmp_path / "i.csv")),
        ("mine.json", lambda: load_value_system(mine)),
    ):
        with monkeypatch.context() as m:
            _deny(m, name)
            with pytest.raises(CoupleError, match="cannot be read"):
                call()


def test_an_unreadable_pack_or_control_vector_is_one_typed_error(tmp_path, monkeypatch):
    import builtins

    from couple_lite.engine.control_vector import read_control_vector, write_control_vector
    from couple_lite.errors import ControlVectorError
    from couple_lite.vectors.pack import default_pack_path, load_pack

    v = np.zeros((4, 64), dtype=np.float32)
    v[1:] = 1
    cv = write_control_vector(tmp_path / "cv.gguf", v, "m")
    pack = tmp_path / "p.npz"
    pack.write_bytes(default_pack_path("smollm2-135m", "schwartz10").read_bytes())
    real_open = builtins.open

    def deny(file, *a, **k):
        if str(file) in (str(cv), str(pack)):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", deny)
    monkeypatch.setattr(np, "memmap", lambda f, *a, **k: deny(f) if str(f) == str(cv) else None)
    with pytest.raises(ControlVectorError):
        read_control_vector(cv, 4, 64)
    with pytest.raises(ControlVectorError):
        load_pack(pack)


def test_a_read_only_folder_is_one_typed_error(tmp_path, monkeypatch):
    import tempfile

    from couple_lite.engine.control_vector import write_control_vector
    from couple_lite.errors import OutputFileError

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    v = np.zeros((4, 64), dtype=np.float32)
    v[1:] = 1
    with pytest.raises(OutputFileError, match="writable folder"):
        write_control_vector(tmp_path / "cv.gguf", v, "m")


# -- item 1: a writer killed mid-write (SIGKILL: no cleanup at all) leaves the old file -------

KILLED_WRITER = textwrap.dedent("""
    import sys, numpy as np, gguf
    from couple_lite.engine.control_vector import write_control_vector
    real = gguf.GGUFWriter.write_tensors_to_file

    def slow(self, *a, **k):  # half the tensor bytes are out when the writer stalls and is killed
        self.fout[0].write(b"\\0" * 4096)
        self.fout[0].flush()
        print("writing", flush=True)
        sys.stdin.read()  # stalls until killed (the test never closes our stdin)
        real(self, *a, **k)

    gguf.GGUFWriter.write_tensors_to_file = slow
    v = np.zeros((30, 576), dtype=np.float32); v[1:] = 7.0
    write_control_vector(sys.argv[1], v, "m")
""")


def test_a_writer_killed_mid_write_leaves_the_old_file_whole(tmp_path):
    from couple_lite.engine.control_vector import read_control_vector, write_control_vector

    out = tmp_path / "cv.gguf"
    v = np.zeros((30, 576), dtype=np.float32)
    v[1:] = 1.0
    write_control_vector(out, v, "m")
    old = out.read_bytes()
    p = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(out)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert p.stdout.readline().strip() == "writing"
    finally:
        p.kill()
        p.wait(timeout=30)
    assert p.returncode == -signal.SIGKILL
    assert out.read_bytes() == old
    assert read_control_vector(out, 30, 576)[5, 0] == 1.0
    # the killed writer's temporary file is hidden beside the target, never under the target's name
    assert all(q.name.startswith(".cv.gguf.") for q in tmp_path.iterdir() if q.name != "cv.gguf")
