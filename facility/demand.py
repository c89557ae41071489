"""What each pool must carry, and whether ``N`` operational replicas carry it.

A pool is one shape bucket's dedicated replicas. Each replica serves ``slots``
sequences at once, each with the bucket's deterministic service time ``S``,
so a pool of ``N`` replicas is a queue with ``c = N * slots`` servers;
``mu = slots / S`` is the service rate **per replica** (req/s), as in the
sizing (``dimensioning.service_time``).

Whether a pool passes is decided by ONE function, the sizing's
:func:`dimensioning.pool.evaluate_pool` (DESIGN.md: the sizing, the facility's
N+k feedback, game days and search all call it): utilisation against
``rho_target``, the p99 e2el (and TTFT where given) latency of the arrival
process the workload declares (M/D/c for Poisson, GI/D/c for bursty
arrivals), and the shed target. A :class:`PoolDemand` built by the project
glue carries the sizing's own :class:`~dimensioning.pool.PoolSpec`; one built
by hand gets a one-class spec from its fields (:func:`pool_spec`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dimensioning.errors import InvalidInput
from dimensioning.pool import PoolSpec, PoolVerdict, ServiceClass, evaluate_pool
from dimensioning.service_time import ServiceTime

__all__ = ["PoolDemand", "PoolCheck", "check_pool", "pool_spec"]


@dataclass(frozen=True)
class PoolDemand:
    """One bucket's pool as the facility model sees it (units in the names; SI seconds).

    ``replicas`` is the starting count (from sizing); the facility model may add
    replicas until N+k holds at the required failure-domain level. ``pool``,
    when given, is the sizing's spec of this pool and decides every check
    (its arrival SCV, TTFT and shed targets included); the scalar fields then
    describe it for reports.
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
    arrival_scv: float = 1.0
    pool: PoolSpec | None = None

    def __post_init__(self) -> None:
        checks = {
            "replicas": self.replicas >= 0,
            "chips_per_replica": self.chips_per_replica >= 1,
            "slots": self.slots >= 1,
            "service_time_s": self.service_time_s > 0,
            "arrival_rate": self.arrival_rate >= 0,
            "slo_p99_s": self.slo_p99_s > 0,
            "rho_target_degraded": 0 < self.rho_target_degraded < 1,
            "arrival_scv": self.arrival_scv > 0,
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
        return {
            "name": self.name,
            "replicas": self.replicas,
            "chips_per_replica": self.chips_per_replica,
            "slots": self.slots,
            "service_time_s": self.service_time_s,
            "mu_per_replica": self.mu,
            "arrival_rate": self.arrival_rate,
            "arrival_scv": self.arrival_scv,
            "slo_p99_s": self.slo_p99_s,
            "slo_degraded_p99_s": self.slo_degraded_p99_s,
            "rho_target_normal": self.rho_target_normal,
            "rho_target_degraded": self.rho_target_degraded,
            "checked_by": "dimensioning.pool.evaluate_pool" + (" (the sizing's pool spec)" if self.pool else ""),
        }


def pool_spec(demand: PoolDemand) -> PoolSpec:
    """The spec :func:`~dimensioning.pool.evaluate_pool` judges ``demand`` by: the sizing's, or one from its fields."""
    if demand.pool is not None:
        return demand.pool
    s = demand.service_time_s
    service = ServiceTime(prefill_s=0.0, decode_s=s, fixed_s=0.0, mean_decode_s=s)
    cls = ServiceClass(demand.name, 1.0, service, demand.slo_p99_s, demand.degraded_slo_s)
    return PoolSpec(demand.name, demand.arrival_rate, (cls,), demand.slots,
                    demand.rho_target_normal or demand.rho_target_degraded, demand.rho_target_degraded,
                    None, 0, demand.arrival_scv)


@dataclass(frozen=True)
class PoolCheck:
    """Verdict for one pool with ``n_operational`` replicas up (from :func:`~dimensioning.pool.evaluate_pool`).

    ``p99_s`` is the worst class's p99 e2el latency (wait + ``S``; ``inf`` when
    unstable), ``slo_s`` its limit; ``failed`` names the constraints missed;
    ``method`` the kind of the latency figure (``exact``, ``approximation+margin``...).
    """

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
    failed: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "n_operational": self.n_operational,
            "servers": self.servers,
            "utilisation": self.utilisation,
            "rho_target": self.rho_target,
            "capacity_margin_rps": self.capacity_margin_rps,
            "p99_s": self.p99_s,
            "slo_s": self.slo_s,
            "slo_margin_s": self.slo_margin_s,
            "passed": self.passed,
            "method": self.method,
            "failed": list(self.failed),
        }


def _summary(spec: PoolSpec, verdict: PoolVerdict, degraded: bool) -> PoolCheck:
    n = verdict.replicas_operational
    rho_target = spec.rho_target(degraded)
    capacity = n * spec.mu  # req/s at rho = 1
    lam = spec.arrival_rate
    utilisation = lam / capacity if capacity > 0 else (math.inf if lam > 0 else 0.0)
    e2el = [c for c in verdict.checks if c.constraint == "e2el_p99"]
    worst = max(e2el, key=lambda c: c.value - c.limit) if e2el else None
    p99 = worst.value if worst is not None else math.nan
    slo = worst.limit if worst is not None else math.nan
    return PoolCheck(
        pool=spec.name,
        n_operational=n,
        servers=verdict.servers,
        utilisation=utilisation,
        rho_target=rho_target,
        capacity_margin_rps=rho_target * capacity - lam,
        p99_s=p99,
        slo_s=slo,
        slo_margin_s=slo - p99,
        passed=verdict.passed,
        method=worst.kind if worst is not None else "exact",
        failed=verdict.failed,
    )


def check_pool(demand: PoolDemand, n_operational: int, *, degraded: bool = True) -> PoolCheck:
    """Does ``demand`` pass with ``n_operational`` replicas up? The one pool check, summarised.

    Calls :func:`dimensioning.pool.evaluate_pool` on :func:`pool_spec` (the
    normal or the degraded state's targets).
    """
    spec = pool_spec(demand)
    return _summary(spec, evaluate_pool(spec, n_operational, degraded=degraded), degraded)
