"""Admission control: concurrency cap, queue cap, shed probability, work threshold.

Derivation of the queue cap (deterministic service, FCFS, c servers)
--------------------------------------------------------------------
Let an arrival find all c servers busy and q requests already waiting. The
servers' residual service times are ``r_1 <= ... <= r_c <= D``. A freed server
takes the next waiting request and keeps it exactly D, so the k-th server
release after the arrival (k = 1, 2, ...) happens at
``r_{((k-1) mod c) + 1} + floor((k-1)/c) * D``. Our request takes the
(q+1)-th release, so its wait is

    W <= r_{(q mod c) + 1} + floor(q/c) * D <= (floor(q/c) + 1) * D.

It meets the SLO when ``W + D <= SLO``, i.e. ``floor(q/c) <= floor(SLO/D) - 2``.
Admitted requests see ``q <= Queue_cap - 1``, hence the largest safe cap

    Queue_cap = c * (floor(SLO/D) - 1)        (requests waiting, pool-wide)

and ``Queue_cap = 0`` (no waiting room: admit only onto a free slot) when
``D <= SLO < 2D``. In general an admitted request waits at most
``factor * D`` with ``factor = floor(SLO/D) - 1 = floor((SLO - D)/D)``: the
factor is ``floor(B / D)`` for the wait budget ``B = SLO - D``. A TTFT
objective adds the budget ``B_ttft = SLO_ttft - T_first`` (``T_first`` the
TTFT service part, ``dimensioning.service_time``) and the cap uses the
smaller budget, so every admitted request meets both. When ``SLO < D`` no cap helps. The bound is hard, not a
percentile: every admitted request finishes within the SLO as long as the
service time really is D. Per replica (a replica queueing for its own
``slots``), the same argument gives ``slots * (floor(SLO/D) - 1)``.

Shed probability at the peak comes from M/D/c/K with ``K = c + Queue_cap``
(a central router queue feeding every slot): exact for c = 1 and for
Queue_cap = 0 (Erlang B), otherwise a bound or simulated at the upper end of
its interval (:class:`dimensioning.queueing.MDcK`); with bursty arrivals
GI/D/c/K, simulated (:class:`dimensioning.queueing.GIDcK`).

Work-based threshold (shared pools, mixed service times)
--------------------------------------------------------
With list scheduling (a freed slot takes the head of the FCFS queue), a
waiting request starts no later than ``V / c``, where V is the unfinished work
in the system when it arrives (residual work in service plus queued work):
until it starts every slot is busy on work that was ahead of it (Graham's
list-scheduling argument). So admitting a request of bucket i only while
``V <= c * (SLO_i - S_i)`` guarantees its SLO. The threshold is in seconds of
work; a router that tracks outstanding work per bucket can apply it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from dimensioning.queueing import GIDcK, MDcK

__all__ = [
    "AdmissionState",
    "queue_depth_factor",
    "queue_cap_for_slo",
    "depth_factor_for_budget",
    "admission_state",
    "work_threshold_s",
]

# floor(SLO/D) is taken with a relative tolerance so that SLO = 2D exactly counts as 2
_FLOOR_TOLERANCE = 1e-12


def queue_depth_factor(service_time_s: float, slo_s: float) -> int | None:
    """``floor(SLO/D) - 1``: waiting requests allowed per server; None if SLO < D."""
    if slo_s < service_time_s * (1 - _FLOOR_TOLERANCE):
        return None
    return max(math.floor(slo_s / service_time_s * (1 + _FLOOR_TOLERANCE)) - 1, 0)


def queue_cap_for_slo(service_time_s: float, servers: int, slo_s: float) -> int | None:
    """Largest Queue_cap with every admitted request within ``slo_s`` (see module doc)."""
    factor = queue_depth_factor(service_time_s, slo_s)
    return None if factor is None else servers * factor


@dataclass(frozen=True)
class AdmissionState:
    """Admission settings of one pool and what they do at the peak.

    c_max_per_replica: concurrent sequences per replica (= slots);
    queue_cap_per_replica / queue_cap: waiting requests per replica / pool-wide;
    capacity: K = servers + queue_cap (Kendall); shed_probability: at the
    given arrival rate; max_latency_admitted_s: the hard bound
    ``(floor(queue_cap/c) + 1) * D + D`` on an admitted request's latency.
    """

    replicas: int
    c_max_per_replica: int
    servers: int
    queue_cap_per_replica: int
    queue_cap: int
    capacity: int
    shed_probability: float
    max_latency_admitted_s: float
    method: str
    method_note: str


def depth_factor_for_budget(service_time_s: float, wait_budget_s: float) -> int | None:
    """``floor(B / D)``: waiting requests allowed per server for a wait budget B; None if B < 0."""
    if wait_budget_s < -service_time_s * _FLOOR_TOLERANCE:
        return None
    return max(math.floor(wait_budget_s / service_time_s * (1 + _FLOOR_TOLERANCE) + _FLOOR_TOLERANCE), 0)


def admission_state(
    arrival_rate: float, service_time_s: float, replicas: int, slots: int, slo_s: float, arrival_scv: float = 1.0,
    *, ttft_wait_budget_s: float | None = None,
) -> AdmissionState | None:
    """Queue cap from the SLO (and TTFT budget) and the shed probability it implies.

    ``ttft_wait_budget_s``: ``SLO_ttft - T_first`` when a TTFT objective
    applies; the cap then keeps both. Returns None when the service time alone
    exceeds the SLO (no cap helps).
    With no replicas every request is shed. Poisson arrivals: M/D/c/K (exact,
    a bound, or simulated); bursty (``arrival_scv != 1``): GI/D/c/K, simulated
    at the upper end of its interval.
    """
    factor = queue_depth_factor(service_time_s, slo_s)
    if factor is not None and ttft_wait_budget_s is not None:
        ttft_factor = depth_factor_for_budget(service_time_s, ttft_wait_budget_s)
        factor = None if ttft_factor is None else min(factor, ttft_factor)
    if factor is None:
        return None
    servers = replicas * slots
    queue_cap = servers * factor
    bound = (factor + 1) * service_time_s
    if servers == 0:
        return AdmissionState(0, slots, 0, slots * factor, 0, 0, 1.0 if arrival_rate > 0 else 0.0, bound, "exact", "no replica: everything is shed")
    if arrival_rate == 0:
        return AdmissionState(replicas, slots, servers, slots * factor, queue_cap, servers + queue_cap, 0.0, bound, "exact", "no traffic")
    if arrival_scv == 1.0:
        model: MDcK | GIDcK = MDcK(arrival_rate=arrival_rate, service_time=service_time_s, servers=servers,
                                   capacity=servers + queue_cap)
    else:
        model = GIDcK(arrival_rate=arrival_rate, service_time=service_time_s, servers=servers,
                      capacity=servers + queue_cap, arrival_scv=arrival_scv)
    return AdmissionState(
        replicas=replicas,
        c_max_per_replica=slots,
        servers=servers,
        queue_cap_per_replica=slots * factor,
        queue_cap=queue_cap,
        capacity=servers + queue_cap,
        shed_probability=float(model.blocking_probability),
        max_latency_admitted_s=bound,
        method=model.method,
        method_note=model.method_note,
    )


def work_threshold_s(service_time_s: float, servers: int, slo_s: float) -> float | None:
    """Unfinished work (s) up to which a request of service ``service_time_s`` may be admitted.

    ``servers * (SLO - S)`` (Graham's bound, module doc); None if ``S > SLO``.
    """
    if slo_s < service_time_s:
        return None
    return servers * (slo_s - service_time_s)
