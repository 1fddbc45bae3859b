"""Atomic writes: a failed or short write never replaces the old file, special
files are never replaced, permissions are kept."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from couple_lite._io import atomic_write
from couple_lite.engine.control_vector import read_control_vector, write_control_vector
from couple_lite.errors import CoupleError, OutputFileError


def _vector(n_layer=4, n_embd=64, fill=1.0):
    v = np.zeros((n_layer, n_embd), dtype=np.float32)
    v[1:] = fill
    return v


def test_a_symlink_fifo_or_device_is_never_replaced(tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("keep")
    link = tmp_path / "link.gguf"
    link.symlink_to(target)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (link, fifo):
        with pytest.raises(OutputFileError, match="never replaced"):
            write_control_vector(path, _vector(), "m")
    assert target.read_text() == "keep" and link.is_symlink() and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # a device node: checked without writing, so a regression can never clobber /dev/null
    from couple_lite._io import _check_target

    with pytest.raises(OutputFileError, match="device"):
        _check_target(Path("/dev/null"))


def test_empty_path_directory_and_file_as_folder_are_one_line_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    for path, msg in (("", "empty"), (tmp_path, "directory"), (tmp_path / "file" / "cv.gguf", "cannot write")):
        with pytest.raises(OutputFileError, match=msg):
            write_control_vector(path, _vector(), "m")


def test_an_existing_file_keeps_its_permissions(tmp_path):
    out = tmp_path / "cv.gguf"
    write_control_vector(out, _vector(), "m")
    os.chmod(out, 0o600)
    write_control_vector(out, _vector(fill=2.0), "m")
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert read_control_vector(out, 4, 64)[1, 0] == 2.0


def test_a_write_that_loses_its_error_is_caught_by_reading_back(tmp_path, monkeypatch):
    """The gguf writer's numpy tofile can lose a write error: simulate a silently short file."""
    out = tmp_path / "cv.gguf"
    write_control_vector(out, _vector(), "m")
    old = out.read_bytes()
    import gguf

    real = gguf.GGUFWriter.write_tensors_to_file

    def short(self, *a, **k):
        real(self, *a, **k)
        self.fout[0].flush()
        self.fout[0].truncate(self.fout[0].tell() - 100)  # bytes lost, no exception

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", short)
    with pytest.raises(CoupleError):
        write_control_vector(out, _vector(fill=3.0), "m")
    assert out.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["cv.gguf"]


def test_a_file_size_limit_mid_write_leaves_the_old_file_intact(tmp_path):
    """`ulimit -f` in a child process: the write fails with EFBIG; the old file stays whole."""
    out = tmp_path / "cv.gguf"
    write_control_vector(out, _vector(n_layer=30, n_embd=576), "m")
    old = out.read_bytes()
    code = textwrap.dedent(f"""
        import resource, sys, numpy as np
        from couple_lite.engine.control_vector import write_control_vector
        from couple_lite.errors import OutputFileError
        resource.setrlimit(resource.RLIMIT_FSIZE, (12288, 12288))
        v = np.zeros((30, 576), dtype=np.float32); v[1:] = 5.0
        try:
            write_control_vector({str(out)!r}, v, "m")
        except OutputFileError as e:
            print("refused:", e); sys.exit(3)
        print("wrote"); sys.exit(0)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "unchanged" in done.stdout
    assert out.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["cv.gguf"]


def test_an_error_inside_the_block_is_not_relabelled(tmp_path):
    with pytest.raises(KeyError), atomic_write(tmp_path / "x"):
        raise KeyError("mine")
    assert list(tmp_path.iterdir()) == []


def test_a_pack_write_that_comes_out_short_leaves_the_old_pack(tmp_path, monkeypatch):
    from couple_lite.vectors import pack as pack_mod

    src = pack_mod.default_pack_path("smollm2-135m", "schwartz10")
    p = pack_mod.load_pack(src)
    out = tmp_path / "p.npz"
    pack_mod.save_pack(p, out)
    old = out.read_bytes()
    real = np.savez_compressed

    def short(file, **arrays):
        real(file, **arrays)
        with open(file, "rb+") as f:
            f.truncate(os.path.getsize(file) // 2)

    monkeypatch.setattr(np, "savez_compressed", short)
    with pytest.raises(OutputFileError, match="unchanged"):
        pack_mod.save_pack(p, out)
    assert out.read_bytes() == old and [q.name for q in tmp_path.iterdir()] == ["p.npz"]
