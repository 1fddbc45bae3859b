"""Atomic file writes: output appears whole under its name, or not at all.

The data goes to a temporary file beside the target, is flushed to disk (fsync), checked by the
writer's own ``verify`` (e.g. read back: some writers, like numpy's ``tofile``, can lose a write
error), and only then renamed over the target. A target that is not a regular file (a symlink, FIFO,
device node or directory) is never replaced; an existing file keeps its permissions.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import CoupleError, OutputFileError

__all__ = ["atomic_write", "write_text"]


def _check_target(path: Path) -> int | None:
    """The existing target's permission bits (None if it does not exist), or OutputFileError."""
    if str(path) in ("", "."):
        raise OutputFileError("the output path is empty; name a file to write")
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise OutputFileError(f"cannot write {str(path)!r}: {e.strerror}; choose another path") from None
    if not stat.S_ISREG(st.st_mode):
        kind = (
            "a symlink"
            if stat.S_ISLNK(st.st_mode)
            else "a directory"
            if stat.S_ISDIR(st.st_mode)
            else "not a regular file (a device, FIFO or socket)"
        )
        raise OutputFileError(f"{str(path)!r} is {kind}; it is never replaced: write to a regular file path")
    return stat.S_IMODE(st.st_mode)


@contextmanager
def atomic_write(path: str | Path, suffix: str = ".tmp", verify: Callable[[str], None] | None = None) -> Iterator[str]:
    """Yield a temporary path beside ``path``; when the block succeeds, fsync it, run ``verify(tmp)``
    (which raises if the file is not what was meant to be written) and rename it into place; on any
    failure delete it and leave the old file untouched. ``suffix`` lets writers that append one
    (numpy) keep it."""
    path = Path(path)
    mode = _check_target(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as e:
        raise OutputFileError(f"cannot write in {str(path.parent)!r}: {e.strerror}; choose a writable folder") from None
    os.close(fd)
    os.chmod(tmp, 0o644 if mode is None else mode)  # mkstemp makes 0600; keep an existing file's mode
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if verify is not None:
            verify(tmp)
        _check_target(path)  # nothing turned the target into a link or device meanwhile
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, CoupleError):  # disk full, file too large, ...
            raise OutputFileError(
                f"writing {str(path)!r} failed ({e.strerror or e}); the old file, if any, is unchanged"
            ) from None
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file atomically (see :func:`atomic_write`)."""
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
