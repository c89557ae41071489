"""Closed forms of a game day: the degraded steady state and the hand-checkable transients.

Steady degraded state: the pool with ``N - k`` replicas is the sizing's own
pool model (:func:`dimensioning.sizing.pool_state`: M/D/c at the bucket
bound, exact for Poisson arrivals; GI/D/c, an approximation, for bursty
ones), or, when the replicas cap their queues, M/D/c/K
(:class:`dimensioning.queueing.MDcK`). Round-robin routing with
deterministic service behaves exactly as the central M/D/c queue, so the
uncapped figures are the simulator's long-run limits.

Transient formulas (each exact in expectation under the stated routing):

- lost while the router still routes to the dead replicas (``unnoticed =
  lost``, round-robin or random routing): arrivals are Poisson with rate
  lambda and each goes to a dead replica with probability ``k / N``, so the
  count is Poisson with mean ``lambda * failover_time * k / N`` (thinning of a
  Poisson process);
- lost in flight at t0 (``in_service = lost``): the requests in service and
  queued on the dead replicas; by symmetry and Little's law
  ``(lambda * S + lambda * W_mean) * k / N``;
- drain time of a backlog of ``B`` requests: ``B / spare`` (fluid limit: the
  queue falls at the spare service rate). With one central queue every slot
  serves the backlog, ``spare = c / S - lambda``; with per-replica queues
  (round-robin) the backlog stays on the ``c'`` slots it queued at while
  arrivals spread over all ``c``, ``spare = c' / S - lambda * c' / c``;
- growth of the queue when the survivors are overloaded (``lambda > c / S``):
  ``(lambda - c / S)`` requests per second.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from scipy.stats import poisson

from dimensioning.admission import admission_state
from dimensioning.queueing import MDcK
from dimensioning.sizing import pool_state

from facility.gameday.model import GameDayPool, GameDaySettings

__all__ = [
    "SteadyState",
    "steady_state",
    "expected_lost_failover",
    "expected_lost_in_flight",
    "poisson_interval",
    "drain_time_s",
    "backlog_growth_rps",
]


@dataclass(frozen=True)
class SteadyState:
    """A pool at ``replicas`` replicas in the long run (seconds; ``inf`` when unstable)."""

    replicas: int
    utilization: float
    stable: bool
    latency_p99_s: float
    wait_mean_s: float
    ttft_p99_s: float
    shed_probability: float | None
    queue_cap_pool: int | None
    slo_s: float
    slo_margin_s: float
    passed: bool
    method: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def steady_state(pool: GameDayPool, replicas: int, *, degraded: bool) -> SteadyState:
    """The pool model's figures at ``replicas`` (module notes).

    Without a queue cap: the sizing's M/D/c (GI/D/c) at ``replicas``, and the
    shed probability the SLO-safe pool-wide cap would give. With the pool's
    per-replica ``queue_cap``: M/D/c/K with ``K = c + replicas * queue_cap``
    (exact for one slot or no waiting room, else the labelled approximation
    of :class:`dimensioning.queueing.MDcK`); admission bounds the latency and
    overload shows as shedding. It passes when the p99 meets the SLO and the
    shed probability the shed target.
    """
    slo = pool.degraded_slo_s if degraded else pool.slo_s
    servers = replicas * pool.slots
    if pool.queue_cap is not None and servers > 0 and pool.arrival_rate > 0:
        model = MDcK(arrival_rate=pool.arrival_rate, service_time=pool.service_time_s, servers=servers,
                     capacity=servers + replicas * pool.queue_cap)
        p99 = float(model.sojourn.ppf(0.99))
        wait_p99 = p99 - pool.service_time_s
        shed = float(model.blocking_probability)
        method = model.method if model.method == "exact" else model.method_note
        if pool.arrival_scv != 1.0:
            method = "approximation (M/D/c/K assumes Poisson; the input is bursty)"
        return SteadyState(replicas, float(model.utilization), True, p99, float(model.wait.mean()),
                           wait_p99 + pool.ttft_offset_s, shed, replicas * pool.queue_cap, slo, slo - p99,
                           bool(p99 <= slo and shed <= pool.shed_target), method)
    state = pool_state(pool.arrival_rate, pool.service_time_s, replicas, pool.slots, pool.arrival_scv)
    admission = admission_state(pool.arrival_rate, pool.service_time_s, replicas, pool.slots, slo, pool.arrival_scv) \
        if replicas > 0 and state.stable else None
    p99 = state.latency_p99_s if state.stable else math.inf
    wait_p99 = state.wait_p99_s if state.stable else math.inf
    method = state.method if state.method == "exact" else f"{state.method} ({state.method_note})"
    return SteadyState(
        replicas=replicas,
        utilization=state.utilization,
        stable=state.stable,
        latency_p99_s=p99,
        wait_mean_s=state.wait_mean_s if state.stable else math.inf,
        ttft_p99_s=wait_p99 + pool.ttft_offset_s,
        shed_probability=None if admission is None else admission.shed_probability,
        queue_cap_pool=None if admission is None else admission.queue_cap,
        slo_s=slo,
        slo_margin_s=slo - p99,
        passed=bool(state.stable and p99 <= slo),
        method=method,
    )


def expected_lost_failover(pool: GameDayPool, lost: int, settings: GameDaySettings) -> float | None:
    """Mean requests lost while the router still routes to the dead replicas (None: no closed form)."""
    if lost == 0:
        return 0.0
    if settings.unnoticed != "lost" or settings.routing not in ("round_robin", "random"):
        return None
    return pool.arrival_rate * settings.failover_time_s * lost / pool.replicas


def expected_lost_in_flight(pool: GameDayPool, lost: int, settings: GameDaySettings) -> float | None:
    """Mean requests in service or queued on the dead replicas at t0 (None: retried, or no closed form)."""
    if lost == 0:
        return 0.0
    if settings.in_service != "lost" or settings.routing not in ("round_robin", "central") or pool.queue_cap is not None:
        return None
    state = pool_state(pool.arrival_rate, pool.service_time_s, pool.replicas, pool.slots, pool.arrival_scv)
    if not state.stable or pool.arrival_scv != 1.0:
        return None
    return pool.arrival_rate * (pool.service_time_s + state.wait_mean_s) * lost / pool.replicas


def poisson_interval(mean: float, level: float = 0.99) -> tuple[int, int]:
    """Central interval of a Poisson count with this mean (both ends inclusive)."""
    if mean <= 0:
        return 0, 0
    tail = (1 - level) / 2
    return int(poisson.ppf(tail, mean)), int(poisson.ppf(1 - tail, mean))


def drain_time_s(backlog: float, servers: int, service_time_s: float, arrival_rate: float,
                 *, queued_on: int | None = None) -> float:
    """Seconds for a backlog to drain at the spare service rate (inf when there is none).

    ``queued_on``: slots whose own queues hold the backlog (per-replica
    routing); ``None`` for one central queue (module notes).
    """
    if queued_on is None:
        spare = servers / service_time_s - arrival_rate
    else:
        spare = queued_on / service_time_s - arrival_rate * queued_on / servers
    if backlog <= 0:
        return 0.0
    return backlog / spare if spare > 0 else math.inf


def backlog_growth_rps(servers: int, service_time_s: float, arrival_rate: float) -> float:
    """Requests per second the queue grows by when the servers are overloaded (0 when they are not)."""
    return max(arrival_rate - servers / service_time_s, 0.0)
