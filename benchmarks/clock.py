"""Clocks: the real monotonic clock and a virtual one for instant CI runs.

Every timestamp in the harness is an integer of nanoseconds from a clock's
``now_ns`` (``time.perf_counter_ns`` for the real clock, as httpx-style
clients do); ``sleep`` waits (real) or advances time (virtual).
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "RealClock", "VirtualClock"]


class Clock(Protocol):
    """What a backend and a sweep need from time."""

    def now_ns(self) -> int:
        """Monotonic time in integer nanoseconds."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (>= 0)."""
        ...


class RealClock:
    """Wall time: ``time.perf_counter_ns`` and ``time.sleep``."""

    def now_ns(self) -> int:
        return time.perf_counter_ns()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when told: ``sleep`` advances it instantly."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = int(start_ns)

    def now_ns(self) -> int:
        return self._now_ns

    def sleep(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"cannot sleep a negative time ({seconds} s)")
        self._now_ns += round(seconds * 1e9)

    def advance_to(self, t_ns: int) -> None:
        """Move to ``t_ns`` (never backwards)."""
        self._now_ns = max(self._now_ns, int(t_ns))
