"""What a game-day prediction starts from: the pools, the failure's mechanics, the timeline.

Units are SI (seconds, requests/s, kW) with the unit in the name at the edges.
Everything here is a frozen value; :mod:`lpuplan.plan_gameday` builds them
from a project and its plan, a notebook can build them by hand.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from dimensioning.errors import InvalidInput
from dimensioning.pool import PoolSpec, ServiceClass
from dimensioning.service_time import ServiceTime

__all__ = ["GameDayPool", "GameDaySettings", "PHASES", "SIGNALS"]

PHASES: tuple[str, ...] = ("before", "failover", "degraded", "recovery")
"""Phases of a game day, relative to the failure at t0 = 0:
``before`` [-before_s, 0), ``failover`` [0, failover_time_s) (the router still
sends the dead replicas their share), ``degraded`` [failover_time_s,
restore_after_s), ``recovery`` [restore_after_s, restore_after_s + recovery_s)
(the domain is back)."""

SIGNALS: dict[str, str] = {
    "e2el_p99_s": "p99 end-to-end latency of the requests completed in the interval (s)",
    "ttft_p99_s": "p99 time to first token of the first tokens sent in the interval (s)",
    "queue_depth": "requests waiting (time average over the interval)",
    "shed_rate": "requests shed (429) / requests arrived in the interval",
    "error_rate": "requests lost (errors, connection refused, dropped in flight) / requests arrived",
    "goodput_rps": "requests completed within the SLO in force, per second",
    "arrival_rps": "requests arrived per second",
}
"""The predicted signals, per pool and interval (the names verify and the metric mapping use)."""


@dataclass(frozen=True)
class GameDayPool:
    """One pool (a bucket's dedicated replicas) as the game day sees it.

    ``service_time_s`` is S_bucket (the sizing's bound: prompt padded to the
    bucket, output at its cap), ``ttft_offset_s`` the time from service start
    to the first token (``L_fixed + P_bucket/R_prefill + 1/R_decode``),
    ``queue_cap`` the waiting requests each replica admits (None: unbounded),
    ``slo_s`` / ``degraded_slo_s`` the p99 end-to-end objectives.

    ``spec`` is the sizing's :class:`~dimensioning.pool.PoolSpec` of this
    pool (every target, TTFT and TPOT objectives included), for the one pool
    check (:func:`dimensioning.pool.evaluate_pool`); without it one is built
    from the fields above and the utilisation targets.
    """

    name: str
    replicas: int
    slots: int
    service_time_s: float
    ttft_offset_s: float
    arrival_rate: float
    slo_s: float
    degraded_slo_s: float
    arrival_scv: float = 1.0
    queue_cap: int | None = None
    shed_target: float = 0.001
    rho_target_normal: float = 0.70
    rho_target_degraded: float = 0.85
    spec: PoolSpec | None = None

    def __post_init__(self) -> None:
        checks = {
            "replicas": isinstance(self.replicas, int) and self.replicas >= 1,
            "slots": isinstance(self.slots, int) and self.slots >= 1,
            "service_time_s": self.service_time_s > 0 and math.isfinite(self.service_time_s),
            "ttft_offset_s": 0 <= self.ttft_offset_s <= self.service_time_s,
            "arrival_rate": self.arrival_rate >= 0 and math.isfinite(self.arrival_rate),
            "slo_s": self.slo_s > 0,
            "degraded_slo_s": self.degraded_slo_s > 0,
            "arrival_scv": self.arrival_scv > 0,
            "queue_cap": self.queue_cap is None or (isinstance(self.queue_cap, int) and self.queue_cap >= 0),
            "shed_target": 0 < self.shed_target < 1,
        }
        for name, ok in checks.items():
            if not ok:
                raise InvalidInput(f"gameday.pool[{self.name}].{name}", getattr(self, name), "out of range: see GameDayPool")

    @property
    def servers(self) -> int:
        return self.replicas * self.slots

    def pool_spec(self, replicas_lost: int = 0) -> PoolSpec:
        """The pool as the one pool check sees it, at this pool's arrival rate."""
        if self.spec is not None:
            import dataclasses

            return dataclasses.replace(self.spec, arrival_rate=self.arrival_rate, replicas_lost=replicas_lost)
        # no sizing behind it: the TTFT part is all "prefill", the rest "decode" (only the totals matter)
        service = ServiceTime(prefill_s=self.ttft_offset_s, decode_s=self.service_time_s - self.ttft_offset_s,
                              fixed_s=0.0, mean_decode_s=self.service_time_s - self.ttft_offset_s)
        cls = ServiceClass(self.name, 1.0, service, self.slo_s, self.degraded_slo_s)
        return PoolSpec(self.name, self.arrival_rate, (cls,), self.slots, self.rho_target_normal,
                        self.rho_target_degraded, self.shed_target, replicas_lost, self.arrival_scv)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("spec")
        return out


Mode = Literal["lost", "retry"]
Unnoticed = Literal["lost", "timeout", "retry"]


@dataclass(frozen=True)
class GameDaySettings:
    """How the failure plays out and how the prediction is computed.

    Mechanics (the simulator's :class:`~dimensioning.simulate.Failure`):
    ``failover_time_s`` is how long the router keeps routing to the dead
    replicas; ``in_service`` what happens to their in-flight and queued
    requests at t0; ``unnoticed`` to requests routed there before the router
    notices (``lost`` at once: connection refused; ``timeout``/``retry`` after
    ``timeout_s``); ``routing`` the router's policy (round-robin with
    deterministic service is the exact M/D/c pool).

    Timeline: the simulation runs ``warmup_s`` (discarded: it starts empty),
    then ``before_s`` of normal running, the failure at t0, the domain back
    after ``restore_after_s``, and ``recovery_s`` more. ``interval_s`` is the
    width of one time-series point (a scrape/evaluation interval).

    Uncertainty: ``seeds`` independent runs from ``seed``; bands are
    prediction intervals for one more run at the per-check level
    ``1 - alpha / checks`` (Bonferroni over every checked signal and phase).

    Abort thresholds: ``abort_p99_factor`` x the degraded SLO, ``abort_shed_rate``,
    each sustained ``abort_for_s``; ``feed_limit_fraction`` of a feed's rating
    (the 80% continuous-load rule is already in the facility's usable figure).
    """

    failover_time_s: float = 15.0
    in_service: Mode = "lost"
    unnoticed: Unnoticed = "lost"
    timeout_s: float = 0.0
    max_retries: int = 1
    routing: str = "round_robin"
    warmup_s: float = 120.0
    before_s: float = 120.0
    restore_after_s: float = 600.0
    recovery_s: float = 300.0
    interval_s: float = 10.0
    seeds: int = 10
    seed: int = 0
    alpha: float = 0.05
    abort_p99_factor: float = 1.5
    abort_shed_rate: float = 0.01
    abort_for_s: float = 60.0
    assumed: tuple[str, ...] = field(default=("failover_time_s", "in_service", "unnoticed", "routing"))

    def __post_init__(self) -> None:
        finite = ("failover_time_s", "timeout_s", "warmup_s", "before_s", "restore_after_s", "recovery_s",
                  "interval_s", "abort_for_s")
        for name in finite:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise InvalidInput(f"--{name.removesuffix('_s').replace('_', '-')}", value, "give a finite time >= 0 in seconds")
        if self.interval_s <= 0:
            raise InvalidInput("--interval", self.interval_s, "give an interval > 0 s")
        if self.before_s < self.interval_s:
            raise InvalidInput("--before", self.before_s, f"give at least one interval ({self.interval_s:g} s) before the failure")
        if self.restore_after_s <= self.failover_time_s:
            raise InvalidInput("--restore-after", self.restore_after_s,
                               f"restore the domain after the failover ({self.failover_time_s:g} s) has ended")
        if self.in_service not in ("lost", "retry"):
            raise InvalidInput("--in-service", self.in_service, "use lost or retry")
        if self.unnoticed not in ("lost", "timeout", "retry"):
            raise InvalidInput("--unnoticed", self.unnoticed, "use lost, timeout or retry")
        from dimensioning.simulate.scenario import ROUTINGS

        if self.routing not in ROUTINGS:
            raise InvalidInput("--routing", self.routing, f"use one of {', '.join(ROUTINGS)}")
        if not (isinstance(self.seeds, int) and 3 <= self.seeds <= 1000):
            raise InvalidInput("--seeds", self.seeds, "give 3 to 1000 seeds (bands need a spread)")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            raise InvalidInput("--seed", self.seed, "give a whole number >= 0")
        if not (0 < self.alpha < 0.5):
            raise InvalidInput("alpha", self.alpha, "give a family-wise error level in (0, 0.5)")
        if not (self.abort_p99_factor >= 1):
            raise InvalidInput("--abort-p99-factor", self.abort_p99_factor, "give a factor >= 1 of the degraded SLO")
        if not (0 < self.abort_shed_rate < 1):
            raise InvalidInput("--abort-shed-rate", self.abort_shed_rate, "give a share in (0, 1)")
        if self.max_retries < 0:
            raise InvalidInput("--retries", self.max_retries, "give a number of retries >= 0")

    @property
    def t0_s(self) -> float:
        """Simulated time of the failure (after warm-up and the before phase)."""
        return self.warmup_s + self.before_s

    @property
    def end_s(self) -> float:
        """Simulated time at the end of the recovery phase."""
        return self.t0_s + self.restore_after_s + self.recovery_s

    def phase_bounds(self) -> dict[str, tuple[float, float]]:
        """Each phase's [start, end) relative to t0 (s)."""
        return {
            "before": (-self.before_s, 0.0),
            "failover": (0.0, self.failover_time_s),
            "degraded": (self.failover_time_s, self.restore_after_s),
            "recovery": (self.restore_after_s, self.restore_after_s + self.recovery_s),
        }

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["assumed"] = list(self.assumed)
        return out
