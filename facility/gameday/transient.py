"""One simulated game day of one pool: the failure at t0, failover, degraded running, restore.

:func:`simulate_pool_run` is the unit of work the sweep distributes
(:func:`dimensioning.executor.run_tasks`): a module-level function of one
picklable :class:`RunTask` whose result depends only on the task (its seed
is in it).

The simulator (:func:`dimensioning.simulate.simulate`) runs the pool with
the failure's mechanics: the first ``lost`` replicas fail at t0 (with
symmetric routing which replicas die does not matter, so every domain that
takes ``lost`` replicas of a pool shares one prediction), the router keeps
routing to them for ``failover_time_s``, and they are back after
``restore_after_s``. Signals are measured the way a monitoring system sees
them: latency when a request completes, TTFT when its first token is sent,
counts when they happen, queue depth as a time average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facility.gameday.model import GameDayPool, GameDaySettings
from facility.gameday.signals import PHASE_FIGURES, Events, measure

__all__ = ["RunTask", "PoolRun", "simulate_pool_run", "simulate_pool_requests", "interval_edges", "PHASE_FIGURES"]



@dataclass(frozen=True)
class RunTask:
    """One pool, replicas lost, settings and seed: everything one run needs."""

    pool: GameDayPool
    lost: int
    settings: GameDaySettings
    seed: int


@dataclass(frozen=True)
class PoolRun:
    """One seed's game day of one pool. Times relative to t0 (s).

    ``series[signal]`` is one value per interval starting at ``t_start_s``
    (NaN where the interval has no observation); ``phases[phase][figure]``
    the figures of :data:`PHASE_FIGURES`; ``lost_in_flight`` the requests
    lost at t0 on the dead replicas, ``lost_failover`` those lost while the
    router still routed to them; ``recovered_after_s`` the time from t0 until
    the interval p99 is under the degraded SLO for good (NaN: never within
    the degraded phase).
    """

    pool: str
    lost: int
    seed: int
    t_start_s: np.ndarray
    series: dict[str, np.ndarray]
    phases: dict[str, dict[str, float]]
    lost_in_flight: int
    lost_failover: int
    recovered_after_s: float


def interval_edges(settings: GameDaySettings) -> np.ndarray:
    """Interval edges relative to t0: from -before_s in steps of interval_s to the end."""
    start = -settings.before_s
    end = settings.restore_after_s + settings.recovery_s
    count = int(np.ceil((end - start) / settings.interval_s - 1e-9))
    return start + settings.interval_s * np.arange(count + 1)


def _simulate(task: RunTask):  # type: ignore[no-untyped-def]
    from dimensioning.simulate import DeterministicService, Failure, GammaRenewal, Poisson, Pool, simulate

    pool, s, lost = task.pool, task.settings, task.lost
    t0 = s.t0_s
    arrivals = Poisson(pool.arrival_rate) if pool.arrival_scv == 1.0 else GammaRenewal(pool.arrival_rate, pool.arrival_scv)
    failure = None
    if lost > 0:
        failure = Failure(
            replicas=tuple(range(lost)),
            at_s=t0,
            failover_time_s=s.failover_time_s,
            in_service=s.in_service,
            unnoticed=s.unnoticed,
            timeout_s=s.timeout_s,
            recover_at_s=t0 + s.restore_after_s,
            max_retries=s.max_retries,
        )
    result = simulate(
        Pool(replicas=pool.replicas, slots=pool.slots, routing=s.routing, queue_cap=pool.queue_cap),  # type: ignore[arg-type]
        arrivals,
        DeterministicService(pool.service_time_s, pool.name),
        seed=task.seed,
        duration_s=s.end_s,
        failure=failure,
        warmup_fraction=0.0,
    )
    return result.records


def simulate_pool_requests(task: RunTask) -> dict[str, np.ndarray]:
    """One seed's requests as a client would record them, times from t0 (s).

    ``arrival_s``, ``end_s`` (completion, shed or error time), ``ttft_s``
    (NaN unless completed) and ``outcome`` (0 completed, 1 shed, 2 error;
    :mod:`facility.gameday.verify`'s codes); warm-up requests excluded.
    """
    r = _simulate(task)
    t0 = task.settings.t0_s
    keep = r.arrival >= t0 - task.settings.before_s
    outcome = np.where(r.completed, 0, np.where(r.shed, 1, 2))
    ttft = np.where(r.completed, r.start - r.arrival + task.pool.ttft_offset_s, np.nan)
    return {"arrival_s": r.arrival[keep] - t0, "end_s": r.end[keep] - t0, "ttft_s": ttft[keep],
            "outcome": outcome[keep].astype(int)}


def simulate_pool_run(task: RunTask) -> PoolRun:
    """Simulate one seed of one pool's game day (module notes)."""
    pool, s, lost = task.pool, task.settings, task.lost
    t0 = s.t0_s
    r = _simulate(task)
    rel = lambda x: x - t0  # noqa: E731 - times relative to the failure
    edges = interval_edges(s)
    done = r.completed
    queued = np.isfinite(r.left_queue) & (r.left_queue > r.entered)
    events = Events(
        arrival=rel(r.arrival),
        end=rel(r.end[done]),
        e2el=(r.end - r.arrival)[done],
        first_token=rel(r.start[done]) + pool.ttft_offset_s,
        ttft=(r.start - r.arrival)[done] + pool.ttft_offset_s,
        shed=rel(r.end[r.shed]),
        lost=rel(r.end[r.lost]),
        queue_in=rel(r.entered[queued]),
        queue_out=rel(r.left_queue[queued]),
    )
    # the SLO in force: degraded from t0 until the domain is back
    degraded_until = s.restore_after_s if lost else 0.0
    series, phases = measure(events, edges, s.phase_bounds(), pool.slo_s, pool.degraded_slo_s, degraded_until)
    lost_t = events.lost
    lost_in_flight = int(np.count_nonzero(lost_t == 0.0)) if lost else 0
    lost_failover = int(np.count_nonzero((lost_t > 0.0) & (lost_t <= s.failover_time_s))) if lost else 0
    recovered = _recovered_after(edges, series["e2el_p99_s"], pool.degraded_slo_s, s) if lost else 0.0
    return PoolRun(pool.name, lost, task.seed, edges[:-1].copy(), series, phases, lost_in_flight, lost_failover, recovered)


def _recovered_after(edges: np.ndarray, p99: np.ndarray, slo_s: float, s: GameDaySettings) -> float:
    """Seconds from t0 to the end of the last interval (before the restore) whose p99 exceeds the SLO."""
    window = (edges[:-1] >= 0) & (edges[1:] <= s.restore_after_s + 1e-9)
    over = window & (p99 > slo_s)
    if not over.any():
        return 0.0
    last = int(np.flatnonzero(over)[-1])
    if edges[last + 1] >= s.restore_after_s - 1e-9:
        return float("nan")  # still above at the end of the degraded phase
    return float(edges[last + 1])
