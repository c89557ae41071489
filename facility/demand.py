"""What each pool must carry, and whether ``N`` operational replicas carry it.

A pool is one shape bucket's dedicated replicas. Each replica serves ``slots``
sequences at once, each with the bucket's deterministic service time ``S``,
so a pool of ``N`` replicas is an M/D/c queue with ``c = N * slots`` servers and
``mu = 1 / S`` per server (DESIGN.md, "Queueing core"). The checks:

- capacity: ``lambda <= rho_target * N * slots / S``;
- latency: the sojourn time's p99 (queueing delay + ``S``) within the SLO, from
  ``dimensioning.queueing.MDc(arrival_rate, service_time, servers).sojourn.ppf(0.99)``.
  This is exact (the bucket bound makes M/D/c exact and safe).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from dimensioning.errors import InvalidInput
from dimensioning.queueing import MDc

__all__ = ["PoolDemand", "PoolCheck", "check_pool", "sojourn_p99"]


@dataclass(frozen=True)
class PoolDemand:
    """One bucket's pool as the facility model sees it (units in the names; SI seconds).

    ``replicas`` is the starting count (from sizing); the facility model may add
    replicas until N+1 holds at the required failure-domain level.
    """

    name: str
    replicas: int
    chips_per_replica: int
    slots: int
    service_time_s: float
    arrival_rate: float
    slo_p99_s: float
    rho_target_degraded: float
    rho_target_normal: float | None = None
    slo_degraded_p99_s: float | None = None

    def __post_init__(self) -> None:
        checks = {
            "replicas": self.replicas >= 0,
            "chips_per_replica": self.chips_per_replica >= 1,
            "slots": self.slots >= 1,
            "service_time_s": self.service_time_s > 0,
            "arrival_rate": self.arrival_rate >= 0,
            "slo_p99_s": self.slo_p99_s > 0,
            "rho_target_degraded": 0 < self.rho_target_degraded < 1,
        }
        if self.rho_target_normal is not None:
            checks["rho_target_normal"] = 0 < self.rho_target_normal < 1
        if self.slo_degraded_p99_s is not None:
            checks["slo_degraded_p99_s"] = self.slo_degraded_p99_s > 0
        for name, ok in checks.items():
            if not ok:
                raise InvalidInput(f"pool[{self.name}].{name}", getattr(self, name), "out of range: see PoolDemand")

    @property
    def mu(self) -> float:
        """Service rate of one replica, req/s: ``slots / S`` (``mu`` is per replica, as in the sizing)."""
        return self.slots / self.service_time_s

    @property
    def degraded_slo_s(self) -> float:
        return self.slo_degraded_p99_s if self.slo_degraded_p99_s is not None else self.slo_p99_s

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PoolCheck:
    """Verdict for one pool with ``n_operational`` replicas up."""

    pool: str
    n_operational: int
    servers: int
    utilisation: float
    rho_target: float
    capacity_margin_rps: float
    p99_s: float
    slo_s: float
    slo_margin_s: float
    passed: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@lru_cache(maxsize=65536)
def sojourn_p99(arrival_rate: float, service_time: float, servers: int) -> tuple[float, str]:
    """p99 of the M/D/c sojourn time (s) and its method; ``inf`` when unstable or no server."""
    if arrival_rate == 0:
        return service_time, "exact"
    if servers <= 0 or arrival_rate * service_time >= servers:
        return math.inf, "exact"
    value = MDc(arrival_rate=arrival_rate, service_time=service_time, servers=servers).sojourn.ppf(0.99)
    return float(value), "exact"


def check_pool(demand: PoolDemand, n_operational: int, *, degraded: bool = True) -> PoolCheck:
    """Capacity and p99 of ``demand`` with ``n_operational`` replicas (module formulas)."""
    rho_target = demand.rho_target_degraded if degraded else (demand.rho_target_normal or demand.rho_target_degraded)
    slo = demand.degraded_slo_s if degraded else demand.slo_p99_s
    servers = max(n_operational, 0) * demand.slots
    capacity = servers / demand.service_time_s
    utilisation = demand.arrival_rate / capacity if capacity > 0 else math.inf
    p99, method = sojourn_p99(demand.arrival_rate, demand.service_time_s, servers)
    margin_rps = rho_target * capacity - demand.arrival_rate
    passed = margin_rps >= -1e-9 * max(demand.arrival_rate, 1.0) and p99 <= slo
    return PoolCheck(
        pool=demand.name,
        n_operational=n_operational,
        servers=servers,
        utilisation=utilisation,
        rho_target=rho_target,
        capacity_margin_rps=margin_rps,
        p99_s=p99,
        slo_s=slo,
        slo_margin_s=slo - p99,
        passed=passed,
        method=method,
    )
