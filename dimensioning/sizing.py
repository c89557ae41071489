"""Replicas per shape bucket: service time, utilisation, SLO and shed targets.

Per bucket (DESIGN.md worksheet symbols)::

    S_bucket = P_bucket / R_prefill + O_cap / R_decode + L_fixed    (seconds)
    lambda_bucket = lambda_peak * share
    mu = slots / S_bucket                                           (req/s per replica)

Prompts are padded to the bucket edge (the compiled shape) and the output is
taken at its cap, so every request of the bucket needs at most ``S_bucket``.
With FCFS a longer service never shortens anyone's wait, so M/D/c with
``D = S_bucket`` is an exact, safe upper bound on latency; the mean service
time (real output lengths) is reported beside it with the bound's
conservatism ``S_bucket / S_mean``.

The replica count N is the least that meets every constraint:

- utilisation (normal): ``lambda / (N * mu) <= rho_target_normal``;
- p99 SLO (normal): p99 of wait + S within the SLO (M/D/c, exact);
- shed (normal): shed probability with the SLO-safe queue cap <= shed_target;
- the same three with ``replicas_lost_worst`` replicas gone, against
  ``rho_target_degraded`` and the degraded SLO.

The binding constraint is the one that asks for the most replicas. The
shared-pool alternative (one pool for every bucket) is sized in
:mod:`dimensioning.shared_pool` with the same constraints.
Bursty arrivals (``arrival_scv != 1``) use :class:`~dimensioning.queueing.GIDc`,
an approximation, and every figure computed from it says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from dimensioning.admission import AdmissionState, admission_state
from dimensioning.inputs import Admission, Bucket, Headroom, Redundancy, Slo, Workload
from dimensioning.queueing import MDc, GIDc
from dimensioning.traffic import BucketTraffic

__all__ = [
    "QUANTILE",
    "ServiceTime",
    "Targets",
    "PoolState",
    "Constraint",
    "BucketSizing",
    "bucket_slos",
    "service_time",
    "pool_state",
    "least_replicas",
    "stable_floor",
    "size_bucket",
]

QUANTILE = 0.99
# upper end of the replica search: beyond this the answer is "not attainable"
_MAX_REPLICAS = 1_000_000


@dataclass(frozen=True)
class ServiceTime:
    """Deterministic service time of a bucket (seconds), bound and mean.

    ``total_s`` is S_bucket (output at its cap); ``mean_s`` uses the mean
    output length ``E[min(O, cap)]``; ``conservatism = total_s / mean_s``.
    """

    prefill_s: float
    decode_s: float
    fixed_s: float
    mean_decode_s: float

    @property
    def total_s(self) -> float:
        return self.prefill_s + self.decode_s + self.fixed_s

    @property
    def mean_s(self) -> float:
        return self.prefill_s + self.mean_decode_s + self.fixed_s

    @property
    def conservatism(self) -> float:
        return self.total_s / self.mean_s


def service_time(bucket: Bucket, output_mean: float) -> ServiceTime:
    """``S_bucket`` of a bucket whose rates are resolved (given or from a profile)."""
    assert bucket.r_prefill is not None and bucket.r_decode is not None
    return ServiceTime(
        prefill_s=bucket.max_prompt_tokens / bucket.r_prefill,
        decode_s=bucket.max_output_tokens / bucket.r_decode,
        fixed_s=bucket.l_fixed_s,
        mean_decode_s=min(output_mean, bucket.max_output_tokens) / bucket.r_decode,
    )


@dataclass(frozen=True)
class Targets:
    """What a pool must meet. Times in seconds."""

    rho_target_normal: float
    rho_target_degraded: float
    slo_s: float
    degraded_slo_s: float
    replicas_lost: int
    shed_target: float
    arrival_scv: float = 1.0

    @classmethod
    def from_inputs(cls, workload: Workload, slo: Slo, headroom: Headroom, redundancy: Redundancy,
                    admission: Admission) -> "Targets":
        """The project file's tables, in SI units."""
        return cls(
            rho_target_normal=headroom.rho_target_normal,
            rho_target_degraded=headroom.rho_target_degraded,
            slo_s=slo.p99_ms / 1e3,
            degraded_slo_s=slo.degraded_ms / 1e3,
            replicas_lost=redundancy.replicas_lost_worst,
            shed_target=admission.shed_target,
            arrival_scv=workload.arrival_scv,
        )


def bucket_slos(slo: Slo, bucket: Bucket) -> tuple[float, float]:
    """(normal, degraded) p99 SLO of a bucket in seconds.

    A per-bucket ``slo_p99_ms`` applies in both states unless the project's
    degraded SLO is looser.
    """
    if bucket.slo_p99_ms is not None:
        return bucket.slo_p99_ms / 1e3, max(bucket.slo_p99_ms, slo.degraded_ms) / 1e3
    return slo.p99_ms / 1e3, slo.degraded_ms / 1e3


@dataclass(frozen=True)
class PoolState:
    """One pool at one replica count: utilisation, waits, latencies (seconds)."""

    replicas: int
    servers: int
    arrival_rate: float
    utilization: float
    stable: bool
    prob_wait: float
    wait_mean_s: float
    wait_p50_s: float
    wait_p95_s: float
    wait_p99_s: float
    wait_p999_s: float
    latency_p50_s: float
    latency_p95_s: float
    latency_p99_s: float
    latency_p999_s: float
    method: str
    method_note: str


_PERCENTILES = (0.50, 0.95, 0.99, 0.999)


def _queue_model(arrival_rate: float, service_s: float, servers: int, arrival_scv: float):
    if arrival_scv == 1.0:
        return MDc(arrival_rate=arrival_rate, service_time=service_s, servers=servers)
    return GIDc(arrival_rate=arrival_rate, service_time=service_s, servers=servers, arrival_scv=arrival_scv)


def _unserved_state(replicas: int, arrival_rate: float) -> PoolState:
    inf = math.inf
    return PoolState(replicas, 0, arrival_rate, inf, False, 1.0, inf, inf, inf, inf, inf, inf, inf, inf, inf, "exact", "no replica left")


def pool_state(
    arrival_rate: float, service_s: float, replicas: int, slots: int, arrival_scv: float = 1.0
) -> PoolState:
    """Evaluate a dedicated pool of ``replicas`` x ``slots`` servers (M/D/c or GI/D/c)."""
    servers = replicas * slots
    if servers == 0:
        return _unserved_state(replicas, arrival_rate)
    if arrival_rate == 0:
        return PoolState(replicas, servers, 0.0, 0.0, True, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                         service_s, service_s, service_s, service_s, "exact", "no traffic")
    model = _queue_model(arrival_rate, service_s, servers, arrival_scv)
    waits = [float(model.wait.ppf(p)) for p in _PERCENTILES]
    return PoolState(
        replicas=replicas,
        servers=servers,
        arrival_rate=arrival_rate,
        utilization=float(model.utilization),
        stable=bool(model.stable),
        prob_wait=float(model.prob_wait),
        wait_mean_s=float(model.wait.mean()),
        wait_p50_s=waits[0],
        wait_p95_s=waits[1],
        wait_p99_s=waits[2],
        wait_p999_s=waits[3],
        latency_p50_s=waits[0] + service_s,
        latency_p95_s=waits[1] + service_s,
        latency_p99_s=waits[2] + service_s,
        latency_p999_s=waits[3] + service_s,
        method=model.method,
        method_note=model.method_note,
    )


@dataclass(frozen=True)
class Constraint:
    """One sizing constraint and the replicas it alone asks for (None: unattainable)."""

    name: str
    replicas_needed: int | None
    detail: str


def least_replicas(predicate: Callable[[int], bool], lower: int) -> int | None:
    """Least n >= lower with predicate(n), for a predicate monotone in n."""
    if predicate(lower):
        return lower
    hi = max(lower, 1)
    while not predicate(hi):
        if hi >= _MAX_REPLICAS:
            return None
        lo, hi = hi, min(hi * 2, _MAX_REPLICAS)
    lo = max(lower, hi // 2)
    while lo < hi:
        mid = (lo + hi) // 2
        if predicate(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


@dataclass(frozen=True)
class BucketSizing:
    """The sizing of one bucket's dedicated pool."""

    name: str
    traffic: BucketTraffic
    service: ServiceTime
    slots: int
    chips_per_replica: int | None
    mu: float
    slo_s: float
    degraded_slo_s: float
    replicas_lost: int
    replicas: int
    constraints: tuple[Constraint, ...]
    binding: tuple[str, ...]
    feasible: bool
    infeasible_reason: str
    normal: PoolState
    degraded: PoolState
    admission_normal: AdmissionState | None
    admission_degraded: AdmissionState | None
    utilization_expected: float

    @property
    def replicas_operational_degraded(self) -> int:
        return max(self.replicas - self.replicas_lost, 0)


def stable_floor(load_servers: float, slots: int) -> int:
    """Fewest replicas with utilisation strictly below 1."""
    return math.floor(load_servers / slots) + 1


def size_bucket(bucket: Bucket, traffic: BucketTraffic, slo_s: float, degraded_slo_s: float, targets: Targets) -> BucketSizing:
    """Size a dedicated pool for one bucket (see the module docstring)."""
    service = service_time(bucket, traffic.output_mean)
    s = service.total_s
    lam = traffic.arrival_rate
    slots = bucket.slots
    lost = targets.replicas_lost
    load = lam * s  # offered load in busy slots (erlangs)
    scv = targets.arrival_scv
    constraints: list[Constraint] = []
    reasons: list[str] = []

    if lam == 0:
        zero = Constraint("no traffic", 0, "no request falls in this bucket")
        state = pool_state(0.0, s, 0, slots)
        return BucketSizing(bucket.label, traffic, service, slots, bucket.chips_per_replica, slots / s, slo_s,
                            degraded_slo_s, lost, 0, (zero,), ("no traffic",), True, "", state, state, None, None, 0.0)

    def rho_replicas(rho_target: float) -> int:
        return max(math.ceil(load / (slots * rho_target) * (1 - 1e-12)), 1)

    def slo_ok(n: int, slo: float) -> bool:
        if n * slots <= load:
            return False
        return _queue_model(lam, s, n * slots, scv).sojourn.ppf(QUANTILE) <= slo

    def shed_ok(n: int, slo: float) -> bool:
        state = admission_state(lam, s, n, slots, slo, scv)
        return state is not None and state.shed_probability <= targets.shed_target

    floor_n = stable_floor(load, slots)
    n_rho = rho_replicas(targets.rho_target_normal)
    constraints.append(Constraint("utilisation (normal)", n_rho, f"lambda*S/(N*slots) <= {targets.rho_target_normal}"))
    if s > slo_s:
        constraints.append(Constraint("p99 SLO (normal)", None, f"S = {s*1e3:.0f} ms alone exceeds the SLO {slo_s*1e3:.0f} ms"))
        reasons.append(f"the service time S = {s*1e3:.0f} ms exceeds the SLO {slo_s*1e3:.0f} ms: lower max_output_tokens or max_prompt_tokens, raise r_decode, or relax the SLO")
    else:
        constraints.append(Constraint("p99 SLO (normal)", least_replicas(lambda n: slo_ok(n, slo_s), floor_n), f"p99 latency <= {slo_s*1e3:.0f} ms"))
        constraints.append(Constraint("shed (normal)", least_replicas(lambda n: shed_ok(n, slo_s), max(floor_n - 1, 1)),
                                      f"shed probability <= {targets.shed_target:g} with the SLO-safe queue cap"))
    n_rho_d = rho_replicas(targets.rho_target_degraded) + lost
    constraints.append(Constraint("utilisation (degraded)", n_rho_d, f"lambda*S/((N-{lost})*slots) <= {targets.rho_target_degraded}"))
    if s > degraded_slo_s:
        constraints.append(Constraint("p99 SLO (degraded)", None, f"S = {s*1e3:.0f} ms alone exceeds the degraded SLO {degraded_slo_s*1e3:.0f} ms"))
        reasons.append(f"the service time S exceeds the degraded SLO {degraded_slo_s*1e3:.0f} ms")
    else:
        n_slo_d = least_replicas(lambda n: slo_ok(n, degraded_slo_s), floor_n)
        constraints.append(Constraint("p99 SLO (degraded)", None if n_slo_d is None else n_slo_d + lost, f"p99 latency <= {degraded_slo_s*1e3:.0f} ms with {lost} replica(s) lost"))
        if s <= slo_s:  # else the normal state is already infeasible and names why
            # the queue cap is configured from the normal SLO; with fewer replicas it shrinks with them
            n_shed_d = least_replicas(lambda n: shed_ok(n, min(slo_s, degraded_slo_s)), max(floor_n - 1, 1))
            constraints.append(Constraint("shed (degraded)", None if n_shed_d is None else n_shed_d + lost,
                                          f"shed probability <= {targets.shed_target:g} with {lost} replica(s) lost"))

    unattainable = [c for c in constraints if c.replicas_needed is None]
    for c in unattainable:
        if "alone exceeds" not in c.detail:  # those already carry their reason
            reasons.append(f"{c.name}: not attainable with up to {_MAX_REPLICAS} replicas")
    attainable = [c.replicas_needed for c in constraints if c.replicas_needed is not None]
    replicas = max(attainable) if attainable else 0
    binding = tuple(c.name for c in constraints if c.replicas_needed == replicas) if not unattainable else tuple(c.name for c in unattainable)
    feasible = not unattainable
    slo_cap = min(slo_s, degraded_slo_s)
    return BucketSizing(
        name=bucket.label,
        traffic=traffic,
        service=service,
        slots=slots,
        chips_per_replica=bucket.chips_per_replica,
        mu=slots / s,
        slo_s=slo_s,
        degraded_slo_s=degraded_slo_s,
        replicas_lost=lost,
        replicas=replicas,
        constraints=tuple(constraints),
        binding=binding,
        feasible=feasible,
        infeasible_reason="; ".join(reasons),
        normal=pool_state(lam, s, replicas, slots, scv),
        degraded=pool_state(lam, s, max(replicas - lost, 0), slots, scv),
        admission_normal=admission_state(lam, s, replicas, slots, slo_s, scv),
        admission_degraded=admission_state(lam, s, max(replicas - lost, 0), slots, slo_cap, scv),
        utilization_expected=lam * service.mean_s / (replicas * slots) if replicas else math.inf,
    )
