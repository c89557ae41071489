"""CPU time this machine lost to its hypervisor ("steal"), from Linux's ``/proc/stat``.

On a virtual machine the host may stop a vCPU to run someone else's: the
guest sees nothing but lost time, counted per CPU in ``/proc/stat``'s 8th
column (``steal``, in ``USER_HZ`` ticks, 10 ms on Linux; proc(5)). A load
generator stopped that way sends and reads late; a server on the same
machine stops serving, so every request in the queue waits that much
longer, which no queue model of the server predicts. On the shared 2-core
development VM, llama-cpp-python runs whose p99 was 155-689 ms against a
model's ~40 ms lost 0.19-0.50 s of CPU to steal per 4-s run
(docs/validate.md).

:func:`steal_seconds` reads the counter (all CPUs together); ``None`` where
there is none to read (not Linux, or a kernel without the column).
"""

from __future__ import annotations

import os

__all__ = ["steal_seconds"]

_STAT = "/proc/stat"


def steal_seconds(path: str = _STAT) -> float | None:
    """Seconds of CPU time stolen from this machine since boot, all CPUs together (None if unknown)."""
    try:
        with open(path, encoding="ascii") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if len(fields) < 9 or fields[0] != "cpu":
        return None
    try:
        ticks = int(fields[8])
    except ValueError:
        return None
    try:
        hz = os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError, AttributeError):
        hz = 100
    return ticks / hz
