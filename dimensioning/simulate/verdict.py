"""The verdict on a simulated run: does every bucket meet its p99 SLO, and is the unserved share within target?

A notebook calls :func:`judge` on a :class:`~dimensioning.simulate.run.SimulationResult`
with the SLOs it holds the run to; ``lpuplan simulate`` renders the same object and
exits with :attr:`SimulationVerdict.exit_code`. The rule is the plan's: a
figure passes only when the unfavourable end of its 95% interval passes, so
a run too short to tell is not a pass.

- p99 latency of each bucket: pass when the interval's upper end <= the SLO.
- Shed + lost share of the requests that reached a pool (rejected prompts,
  above the largest bucket, are the plan's "unserved prompts" check, not
  this one): pass when the sum of the two intervals' upper ends <= the
  target. A failure scenario that loses 1.1% of requests against a 0.1%
  target fails here (exit 3), whatever its latencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from dimensioning.errors import InvalidInput
from dimensioning.simulate.statistics import Estimate

if TYPE_CHECKING:
    from dimensioning.simulate.run import SimulationResult

__all__ = ["BucketVerdict", "UnservedVerdict", "SimulationVerdict", "judge", "EXIT_PASS", "EXIT_CHECK_FAILED"]

EXIT_PASS = 0
EXIT_CHECK_FAILED = 3  # computed, but a check fails (DESIGN.md, "Conventions")


@dataclass(frozen=True)
class BucketVerdict:
    """One bucket's simulated p99 against its SLO (seconds)."""

    bucket: str
    requests: int
    completed: int
    latency_p99_s: Estimate | None
    wait_p99_s: Estimate | None
    slo_p99_s: float

    @property
    def slo_ok(self) -> bool | None:
        """True when the p99's upper 95% end is within the SLO; None when nothing completed."""
        if self.latency_p99_s is None:
            return None
        return bool(self.latency_p99_s.high <= self.slo_p99_s)

    def to_dict(self) -> dict[str, Any]:
        p99 = self.latency_p99_s
        return {
            "bucket": self.bucket,
            "requests": self.requests,
            "completed": self.completed,
            "latency_p99_s": None if p99 is None else p99.value,
            "latency_p99_s_ci95": None if p99 is None else p99.interval,
            "wait_p99_s": None if self.wait_p99_s is None else self.wait_p99_s.value,
            "slo_p99_s": self.slo_p99_s,
            "slo_ok": self.slo_ok,
        }


@dataclass(frozen=True)
class UnservedVerdict:
    """Shed and lost shares of the requests that reached a pool, against the target share."""

    shed: Estimate | None
    lost: Estimate | None
    target: float | None

    @property
    def share(self) -> float:
        return sum(e.value for e in (self.shed, self.lost) if e is not None)

    @property
    def share_high(self) -> float:
        """Upper end: the sum of the two intervals' upper ends (never below the true upper end)."""
        return sum(e.high for e in (self.shed, self.lost) if e is not None)

    @property
    def ok(self) -> bool | None:
        if self.target is None:
            return None
        return bool(self.share_high <= self.target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "shed_rate": None if self.shed is None else self.shed.value,
            "loss_rate": None if self.lost is None else self.lost.value,
            "unserved_share": self.share,
            "unserved_share_high": self.share_high,
            "target": self.target,
            "ok": self.ok,
        }


@dataclass(frozen=True)
class SimulationVerdict:
    """Pass or fail of a simulated run, with the figures that decided it."""

    buckets: tuple[BucketVerdict, ...]
    unserved: UnservedVerdict

    @property
    def failures(self) -> tuple[str, ...]:
        """One sentence per failed check (empty when the run passes)."""
        out = [
            f"bucket {b.bucket}: p99 latency up to {b.latency_p99_s.high:.4g} s exceeds its SLO {b.slo_p99_s:.4g} s"
            for b in self.buckets
            if b.slo_ok is False and b.latency_p99_s is not None
        ]
        if self.unserved.ok is False:
            out.append(
                f"shed + lost share up to {self.unserved.share_high:.3g} exceeds the target {self.unserved.target:.3g}"
            )
        return tuple(out)

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def exit_code(self) -> int:
        """0 when every check passes, 3 when one fails (DESIGN.md exit codes)."""
        return EXIT_PASS if self.passed else EXIT_CHECK_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "slo_ok": all(b.slo_ok is not False for b in self.buckets),
            "unserved": self.unserved.to_dict(),
            "failures": list(self.failures),
        }


def judge(result: SimulationResult, slo_p99_s: Sequence[float], unserved_target: float | None = None) -> SimulationVerdict:
    """The verdict on ``result``: one p99 SLO per bucket (seconds), and the shed + lost target share."""
    if len(slo_p99_s) != len(result.labels):
        raise InvalidInput("slo_p99_s", list(slo_p99_s), f"give one SLO per bucket ({len(result.labels)})")
    buckets = []
    for index, (label, slo) in enumerate(zip(result.labels, slo_p99_s)):
        summary = result.bucket_summary(index, slo_s=slo)
        buckets.append(BucketVerdict(
            bucket=label,
            requests=summary.requests,
            completed=summary.completed,
            latency_p99_s=summary.latency.get("p99"),
            wait_p99_s=summary.wait.get("p99"),
            slo_p99_s=float(slo),
        ))
    summary = result.summary
    return SimulationVerdict(tuple(buckets), UnservedVerdict(summary.shed_rate, summary.loss_rate, unserved_target))
