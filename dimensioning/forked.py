"""Run one deterministic computation in a forked child while this process does other work.

A planner's run is one single-threaded Python process on a machine with at
least two cores: the plan's game-day summary can simulate on the second core
while the plan's own simulations run on the first, and the rack-plan PNG or
workbook can draw there while the JSON is written (``lpuplan plan``,
docs/performance.md).

:class:`ForkedCall` forks (Linux only: the child inherits the loaded modules
and the inputs, so nothing is pickled on the way in), calls the function in
the child and sends the pickled result back through a pipe. The result is
the same as calling it here (same code, same inputs, seeded); if the child
fails for any reason, :meth:`ForkedCall.result` calls the function here, so
an error surfaces exactly as it would without the child. Elsewhere (macOS,
Windows, one core) or with ``LPUPLAN_NO_FORK=1`` the function runs here, at
``result()``.

Not for work that must scale with the fleet (that goes through
:mod:`dimensioning.executor`): this is one call beside one other.
"""

from __future__ import annotations

import os
import pickle
import sys
import weakref
from typing import Callable, Generic, TypeVar

__all__ = ["ENV_NO_FORK", "ForkedCall", "can_fork"]

ENV_NO_FORK = "LPUPLAN_NO_FORK"

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a computation may run in a forked child here."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and os.environ.get(ENV_NO_FORK, "") in ("", "0") and (os.cpu_count() or 1) > 1)


def _reap(pid: int, fd: int) -> None:
    """Close our end (a child still writing gets EPIPE and exits) and wait for the child."""
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class ForkedCall(Generic[T]):
    """``function()`` computed in a forked child; :meth:`result` returns it (or computes it here)."""

    def __init__(self, function: Callable[[], T]) -> None:
        self.function = function
        self._pid: int | None = None
        self._fd = -1
        if not can_fork():
            return
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: compute, send, and leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read)
                try:
                    payload = pickle.dumps(function(), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # noqa: BLE001 - the parent computes again and raises the real error
                    payload = b""
                view = memoryview(payload)
                while view:
                    view = view[os.write(write, view):]
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._fd = pid, read
        self._finalizer = weakref.finalize(self, _reap, pid, read)

    @property
    def forked(self) -> bool:
        """Whether a child is computing (or has computed) the result."""
        return self._pid is not None

    def result(self) -> T:
        """The function's result: waits for the child, or computes here without one (or if it failed)."""
        if self._pid is None:
            return self.function()
        chunks = []
        while True:
            chunk = os.read(self._fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        pid = self._pid
        self._finalizer.detach()
        self._pid = None
        os.close(self._fd)
        _, status = os.waitpid(pid, 0)
        data = b"".join(chunks)
        if status == 0 and data:
            try:
                value: T = pickle.loads(data)
                return value
            except Exception:  # noqa: BLE001 - a truncated payload: compute here
                pass
        return self.function()

    def close(self) -> None:
        """Abandon the child's work (when the caller fails before asking for the result)."""
        if self._pid is not None:
            self._finalizer()
            self._pid = None
