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

:class:`ForkedWorker` is the other way round, for work whose imports cost
more than its inputs: the child is forked early, loads the modules the work
needs (matplotlib: 0.3 to 0.5 s) while this process computes the inputs,
then receives one pickled call through a pipe. A worker that is never given
work, or fails, changes nothing: the call runs here.

Not for work that must scale with the fleet (that goes through
:mod:`dimensioning.executor`): this is one call beside one other.
"""

from __future__ import annotations

import importlib
import os
import pickle
import signal
import struct
import sys
import threading
import weakref
from typing import Any, Callable, Generic, Sequence, TypeVar

__all__ = ["ENV_NO_FORK", "ForkedCall", "ForkedWorker", "can_fork"]

ENV_NO_FORK = "LPUPLAN_NO_FORK"

T = TypeVar("T")


def can_fork() -> bool:
    """Whether a computation may run in a forked child here."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and os.environ.get(ENV_NO_FORK, "") in ("", "0") and (os.cpu_count() or 1) > 1)


def _reap(pid: int, *fds: int) -> None:
    """Close our ends (a child still writing gets EPIPE, one still reading EOF) and wait for the child."""
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_all(fd: int, payload: bytes) -> None:
    view = memoryview(payload)
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, payload: bytes) -> None:
    """Write ``payload`` and close ``fd``; a child that is gone leaves nothing to do (its call runs here)."""
    try:
        _write_all(fd, payload)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at end of file first."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


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
                _write_all(write, payload)
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        self._pid, self._fd = pid, read
        self._sender: threading.Thread | None = None
        self._finalizer = weakref.finalize(self, _reap, pid, read)

    @classmethod
    def _adopt(cls, function: Callable[[], T], pid: int | None, fd: int,
               sender: threading.Thread | None = None) -> ForkedCall[T]:
        """A call whose child (``pid``, result pipe ``fd``) is already running, or none (``pid`` None).

        ``sender``: the thread still writing the child's request; :meth:`result` and :meth:`close` wait
        for it (it ends when the child has read the request or is gone)."""
        call: ForkedCall[T] = cls.__new__(cls)
        call.function, call._pid, call._fd = function, pid, fd
        call._sender = sender
        if pid is not None:
            call._finalizer = weakref.finalize(call, _reap, pid, fd)
        return call

    @property
    def forked(self) -> bool:
        """Whether a child is computing (or has computed) the result."""
        return self._pid is not None

    def result(self) -> T:
        """The function's result: waits for the child, or computes here without one (or if it failed)."""
        if self._pid is None:
            return self.function()
        data = _read_all(self._fd)
        pid = self._pid
        self._finalizer.detach()
        self._pid = None
        os.close(self._fd)
        _, status = os.waitpid(pid, 0)
        if self._sender is not None:
            self._sender.join()  # done: the child read its request, or is gone
        if status == 0 and data:
            try:
                value: T = pickle.loads(data)
                return value
            except Exception:  # noqa: BLE001 - a truncated payload: compute here
                pass
        return self.function()

    def close(self) -> None:
        """Abandon the child's work (when the caller fails before asking for the result): the child is stopped."""
        if self._pid is not None:
            self._finalizer.detach()
            _dismiss(self._pid, self._fd)
            self._pid = None
            if self._sender is not None:
                self._sender.join()


def _serve(modules: Sequence[str], jobs: int, results: int) -> None:
    """The worker child: load ``modules``, then run the one call that arrives and send back its result."""
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - the call then imports what it needs (or fails, and runs in the parent)
            pass
    # framed by its length, not by end of file: children forked later hold copies of the write end
    header = _read_exactly(jobs, 8)
    request = _read_exactly(jobs, struct.unpack("<Q", header)[0]) if header is not None else None
    if request is None:  # the parent gave no work
        return
    try:
        function, args = pickle.loads(request)
        payload = pickle.dumps(function(*args), protocol=pickle.HIGHEST_PROTOCOL)
    except BaseException:  # noqa: BLE001 - the parent computes again and raises the real error
        payload = b""
    _write_all(results, payload)


def _dismiss(pid: int, *fds: int) -> None:
    """End a child whose work nobody will read (or a worker given none): stopped, not waited for."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _reap(pid, *fds)


class ForkedWorker:
    """A child forked now that loads ``modules`` and then runs one call sent to it (:meth:`submit`).

    The call's function must pickle by reference (a module-level function)
    and its arguments by value; its result comes back pickled. Without fork
    (see :func:`can_fork`), or once the worker is used or closed, a call
    runs here at ``result()``.
    """

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = tuple(modules)
        self._pid: int | None = None
        self._jobs = self._results = -1
        if not can_fork():
            return
        jobs_read, jobs_write = os.pipe()
        results_read, results_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                os.close(jobs_write)
                os.close(results_read)
                _serve(self.modules, jobs_read, results_write)
                status = 0
            finally:
                os._exit(status)
        os.close(jobs_read)
        os.close(results_write)
        self._pid, self._jobs, self._results = pid, jobs_write, results_read
        self._finalizer = weakref.finalize(self, _dismiss, pid, jobs_write, results_read)

    @property
    def ready(self) -> bool:
        """Whether a child is waiting for a call."""
        return self._pid is not None and self._jobs >= 0

    def submit(self, function: Callable[..., T], *args: Any) -> ForkedCall[T]:
        """``function(*args)``, computed in the worker (or here, at ``result()``, if it cannot take it)."""
        here = ForkedCall._adopt(lambda: function(*args), None, -1)
        if not self.ready:
            return here
        try:
            payload = pickle.dumps((function, args), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - not picklable: computed here
            self.close()
            return here
        self._finalizer.detach()  # from here the pipes are closed explicitly, each once
        pid, jobs, results = self._pid, self._jobs, self._results
        self._pid, self._jobs, self._results = None, -1, -1
        # a thread writes the request: a pipe holds 64 KiB and the child reads only once its imports are
        # done, which must not hold this process up (os.write releases the GIL while it blocks)
        sender = threading.Thread(target=_send, args=(jobs, struct.pack("<Q", len(payload)) + payload),
                                  name="lpuplan-forked-request", daemon=True)
        sender.start()
        return ForkedCall._adopt(here.function, pid, results, sender)

    def close(self) -> None:
        """Send the worker away without work."""
        if self._pid is not None:
            self._finalizer()
            self._pid, self._jobs, self._results = None, -1, -1
