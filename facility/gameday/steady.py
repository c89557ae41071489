"""Closed forms of a game day: the degraded steady state and the hand-checkable transients.

Steady degraded state: the pool with ``N - k`` replicas judged by the one
pool check, :func:`dimensioning.pool.evaluate_pool` (the sizing and the
facility's N+k feedback call it too): M/D/c at the bucket bound, exact for
Poisson arrivals, and every figure labelled with its kind. Round-robin
routing with deterministic service behaves exactly as the central M/D/c
queue, so the uncapped figures are the simulator's long-run limits.

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

from scipy.special import pdtr, pdtrik

from dimensioning.keys import with_kind
from dimensioning.pool import evaluate_pool
from dimensioning.queueing import MDc, MDcK

from facility.gameday.model import GameDayPool, GameDaySettings

__all__ = [
    "SteadyState",
    "steady_state",
    "expected_lost_failover",
    "expected_lost_in_flight",
    "poisson_interval",
    "poisson_quantile",
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
    ttft_p99_s: float
    shed_probability: float | None
    queue_cap_pool: int | None
    slo_s: float
    slo_margin_s: float
    passed: bool
    method: str
    failed: tuple[str, ...] = ()
    capped_latency_p99_s: float | None = None
    capped_shed_probability: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["failed"] = list(self.failed)
        return out


def steady_state(pool: GameDayPool, replicas: int, *, degraded: bool) -> SteadyState:
    """The one pool check (:func:`dimensioning.pool.evaluate_pool`) at ``replicas`` (module notes).

    ``passed`` is the check's verdict (utilisation target, p99 e2el and TTFT,
    shed probability with the SLO-safe cap); ``latency_p99_s`` is ``inf`` when
    the survivors are overloaded (the queue grows without a cap; with the
    replicas' queue caps the overload shows as shedding instead, see the
    simulated bands). With queue caps, the capped M/D/c/K figures
    (:class:`dimensioning.queueing.MDcK`) are reported beside it.
    """
    verdict = evaluate_pool(pool.pool_spec(pool.replicas - replicas), replicas, degraded=degraded)
    e2el = verdict.check("e2el_p99", pool.name) or verdict.check("e2el_p99")
    shed = verdict.check("shed")
    slo = pool.degraded_slo_s if degraded else pool.slo_s
    p99 = e2el.value if e2el is not None else math.inf
    w99 = verdict.wait_p99_s
    method = "n/a" if e2el is None else (e2el.kind if e2el.kind == "exact" else with_kind(e2el.kind, e2el.note))
    servers = replicas * pool.slots
    utilization = pool.arrival_rate * pool.service_time_s / servers if servers else math.inf
    capped_p99 = capped_shed = None
    if pool.queue_cap is not None and servers > 0 and pool.arrival_rate > 0:
        model = MDcK(arrival_rate=pool.arrival_rate, service_time=pool.service_time_s, servers=servers,
                     capacity=servers + replicas * pool.queue_cap)
        capped_p99, capped_shed = float(model.sojourn.ppf(0.99)), float(model.blocking_probability)
    return SteadyState(
        replicas=replicas,
        utilization=utilization,
        stable=utilization < 1,
        latency_p99_s=p99,
        ttft_p99_s=w99 + pool.ttft_offset_s,
        shed_probability=None if shed is None else shed.value,
        queue_cap_pool=None if pool.queue_cap is None else replicas * pool.queue_cap,
        slo_s=slo,
        slo_margin_s=slo - p99,
        passed=verdict.passed,
        method=method,
        failed=verdict.failed,
        capped_latency_p99_s=capped_p99,
        capped_shed_probability=capped_shed,
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
    if pool.arrival_scv != 1.0 or pool.arrival_rate * pool.service_time_s >= pool.servers:
        return None
    wait_mean = float(MDc(arrival_rate=pool.arrival_rate, service_time=pool.service_time_s, servers=pool.servers).wait.mean()) \
        if pool.arrival_rate > 0 else 0.0
    return pool.arrival_rate * (pool.service_time_s + wait_mean) * lost / pool.replicas


def poisson_quantile(p: float, mean: float) -> int:
    """The least k with P(Poisson(mean) <= k) >= p, for 0 < p < 1 and mean > 0 (scipy.stats.poisson.ppf).

    The continuous inverse of the cdf in the count (``scipy.special.pdtrik``), rounded up, then one step
    down where the cdf already reaches ``p`` there: scipy.stats' own method, without importing
    scipy.stats (0.3 to 0.55 s, most of the plan's game-day child).
    """
    k = math.ceil(float(pdtrik(p, mean)))
    below = max(k - 1, 0)
    return below if float(pdtr(below, mean)) >= p else k


def poisson_interval(mean: float, level: float = 0.99) -> tuple[int, int]:
    """Central interval of a Poisson count with this mean (both ends inclusive)."""
    if mean <= 0:
        return 0, 0
    tail = (1 - level) / 2
    return poisson_quantile(tail, mean), poisson_quantile(1 - tail, mean)


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
