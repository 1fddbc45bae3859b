"""A reentrant lock that a stream can hand over to the thread that resumes it.

One model serves one operation at a time, so the engine and the Steerer hold a lock for a whole
streamed answer, across its ``yield``s. With ``threading.RLock`` a generator started in one thread
and finished in another deadlocks: the lock still belongs to the first thread, and restoring the
control vector waits for it forever. Streams here call :meth:`OperationLock.follow` when they resume,
which moves the lock to the current thread if it was held by the thread that last ran the stream.
Rule for callers: a stream may move between threads, but only one thread may consume it at a time.
"""

from __future__ import annotations

import threading

__all__ = ["OperationLock"]


class OperationLock:
    """``threading.RLock`` semantics, plus :meth:`follow` for generators that change threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._count = 0

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release a lock held by another thread")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()

    def follow(self, previous: int) -> int:
        """Called by a stream when it resumes: if the lock is held by ``previous`` (the thread that
        last ran the stream), it now belongs to this thread. Returns this thread's id."""
        me = threading.get_ident()
        if me != previous and self._owner == previous:
            self._owner = me
        return me
