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

from facility.gameday.model import PHASES, SIGNALS, GameDayPool, GameDaySettings

__all__ = ["RunTask", "PoolRun", "simulate_pool_run", "interval_edges", "PHASE_FIGURES"]

PHASE_FIGURES: dict[str, str] = {
    "e2el_p99_s": "p99 end-to-end latency of the requests completed in the phase (s)",
    "ttft_p99_s": "p99 TTFT of the first tokens sent in the phase (s)",
    "queue_depth_mean": "time-average waiting requests",
    "queue_depth_max": "largest interval average of waiting requests",
    "shed_rate": "shed / arrived",
    "error_rate": "lost / arrived",
    "errors": "requests lost (count)",
    "goodput_rps": "completed within the SLO in force per second",
    "peak_e2el_p99_s": "largest interval p99 end-to-end latency (s)",
}
"""Figures computed per phase and seed (the verdicts use these)."""


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


def _p99(values: np.ndarray) -> float:
    if values.size == 0:
        return float("nan")
    return float(np.quantile(values, 0.99, method="inverted_cdf"))


def _binned_p99(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    which = np.searchsorted(edges, times, side="right") - 1
    keep = (which >= 0) & (which < edges.size - 1)
    which, values = which[keep], values[keep]
    order = np.argsort(which, kind="stable")
    which, values = which[order], values[order]
    bounds = np.searchsorted(which, np.arange(edges.size))
    return np.array([_p99(values[bounds[k]:bounds[k + 1]]) for k in range(edges.size - 1)])


def _count(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.histogram(times, bins=edges)[0].astype(float)


def _queue_average(entered: np.ndarray, left: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Time average of #{i: entered_i <= t < left_i} over each interval (exact, piecewise constant)."""
    times = np.concatenate((entered, left))
    steps = np.concatenate((np.ones(entered.size), -np.ones(left.size)))
    order = np.argsort(times, kind="stable")
    times, level = times[order], np.cumsum(steps[order])
    if times.size == 0:
        return np.zeros(edges.size - 1)
    area = np.concatenate(([0.0], np.cumsum(level[:-1] * np.diff(times))))
    k = np.searchsorted(times, edges, side="right") - 1
    inside = k >= 0
    total = np.zeros(edges.size)
    total[inside] = area[k[inside]] + level[k[inside]] * (edges[inside] - times[k[inside]])
    return np.diff(total) / np.diff(edges)


def simulate_pool_run(task: RunTask) -> PoolRun:
    """Simulate one seed of one pool's game day (module notes)."""
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
    r = result.records
    rel = lambda x: x - t0  # noqa: E731 - times relative to the failure
    edges = interval_edges(s)
    widths = np.diff(edges)
    done = r.completed
    end_done = rel(r.end[done])
    e2el = (r.end - r.arrival)[done]
    first_token = rel(r.start[done]) + pool.ttft_offset_s
    ttft = (r.start - r.arrival)[done] + pool.ttft_offset_s
    arrived = rel(r.arrival)
    shed_t = rel(r.end[r.shed])
    lost_t = rel(r.end[r.lost])
    queued = np.isfinite(r.left_queue) & (r.left_queue > r.entered)
    q_in, q_out = rel(r.entered[queued]), rel(r.left_queue[queued])
    # the SLO in force: degraded from t0 until the domain is back
    bounds = s.phase_bounds()
    failed_window = (end_done >= 0) & (end_done < s.restore_after_s) if lost else np.zeros(end_done.size, bool)
    slo = np.where(failed_window, pool.degraded_slo_s, pool.slo_s)
    good_t = end_done[e2el <= slo]

    n_arr = _count(arrived, edges)
    series = {
        "e2el_p99_s": _binned_p99(end_done, e2el, edges),
        "ttft_p99_s": _binned_p99(first_token, ttft, edges),
        "queue_depth": _queue_average(q_in, q_out, edges),
        "shed_rate": np.divide(_count(shed_t, edges), n_arr, out=np.zeros_like(n_arr), where=n_arr > 0),
        "error_rate": np.divide(_count(lost_t, edges), n_arr, out=np.zeros_like(n_arr), where=n_arr > 0),
        "goodput_rps": _count(good_t, edges) / widths,
        "arrival_rps": n_arr / widths,
    }
    assert set(series) == set(SIGNALS)

    phases: dict[str, dict[str, float]] = {}
    for name in PHASES:
        a, b = bounds[name]
        if b <= a:
            phases[name] = {k: float("nan") for k in PHASE_FIGURES}
            continue
        in_done = (end_done >= a) & (end_done < b)
        in_first = (first_token >= a) & (first_token < b)
        n_in = float(np.count_nonzero((arrived >= a) & (arrived < b)))
        sheds = float(np.count_nonzero((shed_t >= a) & (shed_t < b)))
        errors = float(np.count_nonzero((lost_t >= a) & (lost_t < b)))
        phase_edges = np.array([a, b])
        inside = (edges[:-1] >= a - 1e-9) & (edges[1:] <= b + 1e-9)
        peak = series["e2el_p99_s"][inside]
        qd = series["queue_depth"][inside]
        phases[name] = {
            "e2el_p99_s": _p99(e2el[in_done]),
            "ttft_p99_s": _p99(ttft[in_first]),
            "queue_depth_mean": float(_queue_average(q_in, q_out, phase_edges)[0]),
            "queue_depth_max": float(np.max(qd)) if qd.size else float("nan"),
            "shed_rate": sheds / n_in if n_in else 0.0,
            "error_rate": errors / n_in if n_in else 0.0,
            "errors": errors,
            "goodput_rps": float(np.count_nonzero((good_t >= a) & (good_t < b))) / (b - a),
            "peak_e2el_p99_s": float(np.nanmax(peak)) if np.isfinite(peak).any() else float("nan"),
        }

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
