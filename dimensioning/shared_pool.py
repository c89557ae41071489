"""One shared pool serving every bucket: the alternative to dedicated pools.

Every replica can serve every bucket's shape; a request of bucket i sees the
pool's wait W plus its own deterministic ``S_i``, so the pool is M/G/c with a
discrete mixture of service times. M/G/1 is exact; for more than one server
:class:`~dimensioning.queueing.MGc` is simulated (central FCFS over every
slot, at the upper end of each 95% interval), so the figures that decide N
are exact or simulated and need no referee; should one be an approximation
without a safe margin (:attr:`SharedPoolSizing.unsafe_figures`), ``lpuplan
plan`` has the simulator referee it.
Constraints mirror the dedicated sizing (``dimensioning.sizing``): utilisation
and every bucket's p99 SLO, normal and with ``replicas_lost_worst`` gone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from dimensioning.admission import work_threshold_s
from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket
from dimensioning.pool import FigureCheck, PoolSpec, PoolVerdict, ServiceClass, evaluate_pool, wait_quantile
from dimensioning.service_time import service_time
from dimensioning.sizing import QUANTILE, Constraint, LatencyTargets, Targets, latency_targets, size_pool
from dimensioning.traffic import TrafficSplit

__all__ = ["SharedBucketView", "SharedPoolSizing", "shared_pool_spec", "size_shared_pool"]


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
    wait_p999_normal_s: float | None = None
    wait_p999_degraded_s: float | None = None
    pool: PoolSpec | None = None
    verdict_normal: PoolVerdict | None = None
    verdict_degraded: PoolVerdict | None = None

    @property
    def unsafe_figures(self) -> tuple[tuple[str, FigureCheck], ...]:
        """(state, figure) for each deciding figure at N that is an approximation without a safe margin.

        The same rule as :attr:`dimensioning.sizing.BucketSizing.unsafe_figures`:
        only these need the simulator referee (``lpuplan plan``); a figure that
        is exact, a bound, or already simulated at the conservative end of its
        interval decides N on its own.
        """
        out: list[tuple[str, FigureCheck]] = []
        for state, verdict in (("normal", self.verdict_normal), ("degraded", self.verdict_degraded)):
            if verdict is not None:
                out += [(state, c) for c in verdict.unsafe]
        return tuple(out)

    @property
    def figure_kinds(self) -> tuple[str, ...]:
        """The kinds of the figures that decide N (sorted, each once)."""
        return tuple(sorted({c.kind for v in (self.verdict_normal, self.verdict_degraded) if v is not None
                             for c in v.checks}))


def shared_pool_spec(buckets: Sequence[Bucket], split: TrafficSplit, targets: Targets,
                     latencies: Sequence[LatencyTargets] | None = None) -> PoolSpec | None:
    """The :class:`~dimensioning.pool.PoolSpec` of one pool serving every bucket with traffic (None: no traffic).

    Slots per replica are the smallest of the buckets' (the conservative
    choice). The shared pool has no shed constraint (a per-bucket work
    threshold is reported instead).
    """
    lats = list(latencies) if latencies is not None else [latency_targets(targets, b) for b in buckets]
    served = [(b, t, lat) for b, t, lat in zip(buckets, split.buckets, lats) if t.arrival_rate > 0]
    if not served:
        return None
    lam = math.fsum(t.arrival_rate for _, t, _ in served)
    classes = tuple(
        ServiceClass(b.label, t.arrival_rate / lam, service_time(b, t.output_mean), lat.e2el_s, lat.e2el_degraded_s,
                     lat.ttft_s, lat.ttft_degraded_s, lat.tpot_s)
        for b, t, lat in served
    )
    return PoolSpec("shared", lam, classes, min(b.slots for b in buckets), targets.rho_target_normal,
                    targets.rho_target_degraded, None, targets.replicas_lost, targets.arrival_scv)


def size_shared_pool(buckets: Sequence[Bucket], split: TrafficSplit, slos: Sequence[tuple[float, float]] | None,
                     targets: Targets) -> SharedPoolSizing:
    """Size one shared pool for all buckets (compare with the dedicated layout).

    Every replica can serve every bucket's shape; a request of bucket i sees
    the pool's wait W plus its own ``S_i``. A replica needs the largest chip
    count. ``slos``: per-bucket (normal, degraded) e2el SLOs overriding the
    rule's, or None. The constraints and their kinds come from
    :func:`dimensioning.pool.evaluate_pool` (M/G/1 exact; M/G/c with more than
    one server is an approximation unless the queue models say otherwise).
    """
    lats = [latency_targets(targets, b) for b in buckets]
    if slos is not None:
        lats = [LatencyTargets(e, d, lat.ttft_s, lat.ttft_degraded_s, lat.tpot_s) for (e, d), lat in zip(slos, lats)]
    slots = min(b.slots for b in buckets)
    chips = [b.chips_per_replica for b in buckets if b.chips_per_replica is not None]
    chips_per_replica = max(chips) if chips else None
    lost = targets.replicas_lost
    spec = shared_pool_spec(buckets, split, targets, lats)
    if spec is None:
        return SharedPoolSizing(0, slots, chips_per_replica, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, (), (), (), True, "", "exact", "no traffic")
    lam = spec.arrival_rate
    times, probs = spec.service_times, spec.shares
    mean_s = spec.mean_service_s
    second = math.fsum(p * d * d for p, d in zip(probs, times))
    scv = max(second / mean_s**2 - 1.0, 0.0)
    replicas, constraints, binding, reasons = size_pool(spec)
    op = max(replicas - lost, 0)

    def waits(n: int) -> tuple[float, float, str, str]:
        try:
            w99, kind, note = wait_quantile(lam, times, probs, n * slots, spec.arrival_scv, QUANTILE)
            w999 = wait_quantile(lam, times, probs, n * slots, spec.arrival_scv, 0.999)[0]
        except InvalidInput as exc:
            return None, None, "not evaluated", exc.fix  # type: ignore[return-value]
        return w99, w999, kind, note

    w99, w999, kind, note = waits(replicas)
    w99_d, w999_d, _, _ = waits(op)
    rho = spec.offered_load / (replicas * slots) if replicas else math.inf
    rho_d = spec.offered_load / (op * slots) if op else math.inf
    views = tuple(
        SharedBucketView(
            name=c.name,
            share_of_served=c.share,
            service_s=c.service.total_s,
            slo_s=c.e2el_slo_s,
            latency_p99_normal_s=None if w99 is None else w99 + c.service.total_s,  # type: ignore[arg-type]
            latency_p99_degraded_s=None if w99_d is None else w99_d + c.service.total_s,  # type: ignore[arg-type]
            work_threshold_s=work_threshold_s(c.service.total_s, replicas * slots, c.e2el_slo_s),
        )
        for c in spec.classes
    )
    feasible = not reasons
    return SharedPoolSizing(
        replicas=replicas,
        slots=slots,
        chips_per_replica=chips_per_replica,
        arrival_rate=lam,
        service_mean_s=mean_s,
        service_scv=scv,
        utilization_normal=rho,
        utilization_degraded=rho_d,
        wait_p99_normal_s=w99,
        wait_p99_degraded_s=w99_d,
        buckets=views,
        constraints=constraints,
        binding=binding,
        feasible=feasible,
        infeasible_reason="; ".join(reasons),
        method=kind,
        method_note=note,
        wait_p999_normal_s=w999,
        wait_p999_degraded_s=w999_d,
        pool=spec,
        verdict_normal=evaluate_pool(spec, replicas, degraded=False) if feasible else None,
        verdict_degraded=evaluate_pool(spec, op, degraded=True) if feasible else None,
    )
