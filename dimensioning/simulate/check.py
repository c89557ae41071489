"""Simulated figures of one M/D/c (or M/D/c/K) queue, to set beside the exact ones.

Used by ``lpuplan queue --simulate N --seed X``: the same queue (Poisson
arrivals at ``arrival_rate``, deterministic ``service_time``, ``servers``
slots, optional ``capacity`` K = most requests in system) simulated for
``requests`` arrivals.
"""

from __future__ import annotations

import math
import time
from typing import Any

from dimensioning.errors import InvalidInput
from dimensioning.simulate.arrivals import Poisson
from dimensioning.simulate.run import simulate
from dimensioning.simulate.scenario import Pool
from dimensioning.simulate.service import DeterministicService

__all__ = ["simulate_queue"]


def simulate_queue(
    arrival_rate: float,
    service_time: float,
    servers: int,
    capacity: int | None,
    requests: int,
    seed: int,
) -> dict[str, Any]:
    """Simulate ``requests`` arrivals of M/D/c (M/D/c/K when ``capacity`` is given).

    Units: requests/s, seconds. Returns ``utilization`` (busy slot-time over
    slot-time), ``prob_wait``, ``wait_mean_s``, ``wait_p50_s``, ``wait_p95_s``,
    ``wait_p99_s``, ``wait_p999_s`` (waits of admitted requests) and, with a
    capacity, ``blocking_probability``; each estimate also as
    ``<key>_ci95: [lo, hi]`` (sectioning over 20 batches after a 2%
    warm-up); plus ``requests`` and ``wall_s``. Deterministic for a seed. An
    unstable queue (rho >= 1, no capacity) runs too: its waits grow with the
    run and the figures say so.
    """
    started = time.perf_counter()
    if not (isinstance(servers, int) and servers >= 1):
        raise InvalidInput("servers", servers, "give a whole number of servers >= 1")
    if capacity is not None and not (isinstance(capacity, int) and capacity >= servers):
        raise InvalidInput("capacity", capacity, f"K counts requests in the system: give K >= servers ({servers})")
    if not (isinstance(requests, int) and requests >= 100):
        raise InvalidInput("requests", requests, "simulate at least 100 requests (1e6 gives tight intervals)")
    if not (service_time > 0 and math.isfinite(service_time)):
        raise InvalidInput("service_time", service_time, "give a positive, finite service time in seconds")
    pool = Pool(replicas=servers, slots=1, queue_cap=None if capacity is None else capacity - servers)
    result = simulate(pool, Poisson(arrival_rate), DeterministicService(service_time), seed=seed, requests=requests)
    summary = result.summary
    out: dict[str, Any] = {"utilization": summary.utilization}

    def put(key: str, estimate) -> None:
        out[key] = estimate.value
        out[f"{key}_ci95"] = estimate.interval

    if summary.prob_wait is not None:
        put("prob_wait", summary.prob_wait)
        for name in ("mean", "p50", "p95", "p99", "p999"):
            put(f"wait_{name}_s", summary.wait[name])
    if capacity is not None and summary.shed_rate is not None:
        put("blocking_probability", summary.shed_rate)
    out["requests"] = requests
    out["wall_s"] = time.perf_counter() - started
    return out
