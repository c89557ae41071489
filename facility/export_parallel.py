"""Render some facility outputs in a second process while this one does other work.

The machines lpuplan runs on have at least two cores and a planner's run is
one single-threaded Python process: the rack-plan PNG (matplotlib, 0.85 s
CPU on the example) and the workbook (2.9 s on a 200,000-chip campus) can be
drawn on the second core while the first writes JSON and CSVs, or, in
``lpuplan plan``, while it simulates.

:class:`ForkedRender` forks (Linux only: the child inherits the loaded
modules and the result, so nothing is pickled on the way in), renders the
named outputs in the child and sends their bytes back through a pipe. The
bytes are the same as rendering here (same code, same inputs); if the
child fails for any reason, :meth:`ForkedRender.collect` renders here
instead, so an error surfaces exactly as it would without the child.
Elsewhere (macOS, Windows, a platform without ``fork``) or with
``LPUPLAN_SERIAL_EXPORTS=1`` everything renders in this process.
"""

from __future__ import annotations

import os
import pickle
import sys
import weakref
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from facility.plan import FacilityResult

__all__ = ["ENV_SERIAL", "ForkedRender", "can_fork"]

ENV_SERIAL = "LPUPLAN_SERIAL_EXPORTS"


def can_fork() -> bool:
    """Whether outputs may render in a forked child here."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and os.environ.get(ENV_SERIAL, "") in ("", "0") and (os.cpu_count() or 1) > 1)


def _render(result: FacilityResult, labels: Sequence[str]) -> dict[str, dict[str, bytes]]:
    from facility.exports import output_renderers

    return {label: render(result) for label, render in output_renderers() if label in labels}


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


class ForkedRender:
    """The outputs ``labels`` (labels of :func:`facility.exports.output_renderers`), rendered in a child."""

    def __init__(self, result: FacilityResult, labels: Sequence[str]) -> None:
        self.result = result
        self.labels = tuple(labels)
        self._pid: int | None = None
        self._fd = -1
        if not self.labels or not can_fork():
            return
        read, write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: render, send, and leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read)
                try:
                    payload = pickle.dumps(_render(result, self.labels), protocol=pickle.HIGHEST_PROTOCOL)
                except BaseException:  # noqa: BLE001 - the parent renders again and raises the real error
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

    def collect(self) -> dict[str, dict[str, bytes]]:
        """The rendered files by label (label -> name -> bytes); waits for the child, or renders here without one."""
        if self._pid is None:
            return _render(self.result, self.labels)
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
                files: dict[str, dict[str, bytes]] = pickle.loads(data)
                return files
            except Exception:  # noqa: BLE001 - a truncated payload: render here
                pass
        return _render(self.result, self.labels)  # the child failed: render here (and raise its error)

    def close(self) -> None:
        """Abandon the child's work (when the caller fails before collecting)."""
        if self._pid is not None:
            self._finalizer()
            self._pid = None
