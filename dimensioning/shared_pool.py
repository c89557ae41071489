"""One shared pool serving every bucket: the alternative to dedicated pools.

Every replica can serve every bucket's shape; a request of bucket i sees the
pool's wait W plus its own deterministic ``S_i``, so the pool is M/G/c with a
discrete mixture of service times. M/G/1 is exact; for more than one server
:class:`~dimensioning.queueing.MGc` is a labelled approximation (its p99 runs
low for wide mixtures: ``lpuplan plan`` has the simulator referee it).
Constraints mirror the dedicated sizing (``dimensioning.sizing``): utilisation
and every bucket's p99 SLO, normal and with ``replicas_lost_worst`` gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from dimensioning.admission import work_threshold_s
from dimensioning.inputs import Bucket
from dimensioning.queueing import MG1, MGc
from dimensioning.sizing import QUANTILE, Constraint, Targets, least_replicas, service_time, stable_floor
from dimensioning.traffic import TrafficSplit

__all__ = ["SharedBucketView", "SharedPoolSizing", "size_shared_pool"]


@dataclass(frozen=True)
class SharedBucketView:
    """One bucket's requests in the shared pool (seconds)."""

    name: str
    share_of_served: float
    service_s: float
    slo_s: float
    latency_p99_normal_s: float
    latency_p99_degraded_s: float
    work_threshold_s: float | None


@dataclass(frozen=True)
class SharedPoolSizing:
    """One pool serving every bucket: a mixture of deterministic service times."""

    replicas: int
    slots: int
    chips_per_replica: int | None
    arrival_rate: float
    service_mean_s: float
    service_scv: float
    utilization_normal: float
    utilization_degraded: float
    wait_p99_normal_s: float
    wait_p99_degraded_s: float
    buckets: tuple[SharedBucketView, ...]
    constraints: tuple[Constraint, ...]
    binding: tuple[str, ...]
    feasible: bool
    infeasible_reason: str
    method: str
    method_note: str


def _mixture_model(lam: float, times: Sequence[float], probs: Sequence[float], servers: int):
    if servers == 1:
        return MG1(arrival_rate=lam, service_times=list(times), probabilities=list(probs))
    return MGc(arrival_rate=lam, service_times=list(times), probabilities=list(probs), servers=servers)


def size_shared_pool(buckets: Sequence[Bucket], split: TrafficSplit, slos: Sequence[tuple[float, float]], targets: Targets) -> SharedPoolSizing:
    """Size one shared pool for all buckets (compare with the dedicated layout).

    Every replica can serve every bucket's shape; a request of bucket i sees
    the pool's wait W plus its own ``S_i``. Slots per replica are the
    smallest of the buckets' (the conservative choice) and a replica needs the
    largest chip count. M/G/1 is exact; for more than one server the M/G/c
    figure is an approximation (``MGc``), labelled as such.
    """
    served = [(b, t, slo) for b, t, slo in zip(buckets, split.buckets, slos) if t.arrival_rate > 0]
    slots = min(b.slots for b in buckets)
    chips = [b.chips_per_replica for b in buckets if b.chips_per_replica is not None]
    chips_per_replica = max(chips) if chips else None
    lost = targets.replicas_lost
    if not served:
        return SharedPoolSizing(0, slots, chips_per_replica, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, (), (), (), True, "", "exact", "no traffic")
    lam = sum(t.arrival_rate for _, t, _ in served)
    times = [service_time(b, t.output_mean).total_s for b, t, _ in served]
    probs = [t.arrival_rate / lam for _, t, _ in served]
    mean_s = sum(p * d for p, d in zip(probs, times))
    second = sum(p * d * d for p, d in zip(probs, times))
    scv = second / mean_s**2 - 1.0
    load = lam * mean_s

    def slo_ok(n: int, degraded: bool) -> bool:
        if n * slots <= load:
            return False
        w99 = _mixture_model(lam, times, probs, n * slots).wait.ppf(QUANTILE)
        return all(w99 + d <= (slo[1] if degraded else slo[0]) for d, (_, _, slo) in zip(times, served))

    floor_n = stable_floor(load, slots)
    constraints = [
        Constraint("utilisation (normal)", max(math.ceil(load / (slots * targets.rho_target_normal) * (1 - 1e-12)), 1),
                   f"lambda*E[S]/(N*slots) <= {targets.rho_target_normal}"),
    ]
    reasons = []
    worst = [(d, slo) for d, (_, _, slo) in zip(times, served) if d > min(slo)]
    if worst:
        constraints.append(Constraint("p99 SLO (normal)", None, "a bucket's service time alone exceeds its SLO"))
        reasons.append("a bucket's service time alone exceeds its SLO")
        n_slo = n_slo_d = None
    else:
        n_slo = least_replicas(lambda n: slo_ok(n, False), floor_n)
        n_slo_d = least_replicas(lambda n: slo_ok(n, True), floor_n)
        constraints.append(Constraint("p99 SLO (normal)", n_slo, "every bucket's p99 latency within its SLO"))
    constraints.append(Constraint("utilisation (degraded)", max(math.ceil(load / (slots * targets.rho_target_degraded) * (1 - 1e-12)), 1) + lost,
                                  f"lambda*E[S]/((N-{lost})*slots) <= {targets.rho_target_degraded}"))
    if not worst:
        constraints.append(Constraint("p99 SLO (degraded)", None if n_slo_d is None else n_slo_d + lost,
                                      f"every bucket's p99 within its degraded SLO with {lost} replica(s) lost"))
    unattainable = [c for c in constraints if c.replicas_needed is None]
    attainable = [c.replicas_needed for c in constraints if c.replicas_needed is not None]
    replicas = max(attainable)
    binding = tuple(c.name for c in unattainable) or tuple(c.name for c in constraints if c.replicas_needed == replicas)
    normal = _mixture_model(lam, times, probs, replicas * slots)
    w99 = float(normal.wait.ppf(QUANTILE))
    op = max(replicas - lost, 0)
    if op * slots > 0:
        degraded = _mixture_model(lam, times, probs, op * slots)
        w99_d = float(degraded.wait.ppf(QUANTILE))
        rho_d = float(degraded.utilization)
    else:
        w99_d, rho_d = math.inf, math.inf
    views = tuple(
        SharedBucketView(
            name=b.label,
            share_of_served=p,
            service_s=d,
            slo_s=slo[0],
            latency_p99_normal_s=w99 + d,
            latency_p99_degraded_s=w99_d + d,
            work_threshold_s=work_threshold_s(d, replicas * slots, slo[0]),
        )
        for (b, _, slo), d, p in zip(served, times, probs)
    )
    return SharedPoolSizing(
        replicas=replicas,
        slots=slots,
        chips_per_replica=chips_per_replica,
        arrival_rate=lam,
        service_mean_s=mean_s,
        service_scv=scv,
        utilization_normal=float(normal.utilization),
        utilization_degraded=rho_d,
        wait_p99_normal_s=w99,
        wait_p99_degraded_s=w99_d,
        buckets=views,
        constraints=tuple(constraints),
        binding=binding,
        feasible=not unattainable,
        infeasible_reason="; ".join(reasons),
        method=normal.method if targets.arrival_scv == 1.0 else "approximation",
        method_note=normal.method_note + ("" if targets.arrival_scv == 1.0 else
                                          f"; arrivals taken as Poisson (the input's SCV is {targets.arrival_scv:g}: see the simulated figure)"),
    )
