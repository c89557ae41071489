"""Simulated figures of one M/D/c (or M/D/c/K) queue, to set beside the exact ones.

Used by ``lpuplan queue --simulate N --seed X``: the same queue (Poisson
arrivals at ``arrival_rate``, deterministic ``service_time``, ``servers``
slots, optional ``capacity`` K = most requests in system) simulated for
``requests`` arrivals.

Streaming, so the cost per request is small and the memory is one batch:
the run is a 2% warm-up then 20 batches; each batch draws its arrival gaps
(one ``standard_exponential`` call, cumulated in place), runs the O(1)
recursion of :mod:`dimensioning.simulate.fcfs` (its state carried from batch
to batch) and reduces its waits to the batch figures (counts, sum, and the
four quantiles by one ``numpy.partition`` over the positive waits). Point
estimates and 95% intervals are batch means (Asmussen & Glynn 2007, IV.5):
the same method as :mod:`dimensioning.simulate.statistics`, without keeping
every wait.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from scipy.special import stdtrit

from dimensioning.errors import InvalidInput
from dimensioning.simulate.fcfs import MAX_STATE, DeterministicFCFS

__all__ = ["simulate_queue", "QUEUE_MAX_REQUESTS"]

QUEUE_MAX_REQUESTS = 2_000_000_000  # streaming: memory is one batch (<= 100M requests), time ~0.1 s per 1e6
_BATCHES = 20
_WARMUP = 0.02
_PERCENTILES = (("p50", 0.50), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))
_CHUNK = 4_000_000  # a batch is processed in chunks of at most this many arrivals


def _quantiles(positive: np.ndarray, admitted: int) -> list[float]:
    """Inverted-cdf quantiles of ``admitted`` waits of which ``positive`` are the waits > 0 (unsorted)."""
    zeros = admitted - positive.size
    ranks = [max(math.ceil(p * admitted) - 1, 0) - zeros for _, p in _PERCENTILES]
    wanted = sorted({r for r in ranks if r >= 0})
    if wanted:
        positive.partition(wanted)
    return [float(positive[r]) if r >= 0 else 0.0 for r in ranks]


def simulate_queue(
    arrival_rate: float,
    service_time: float,
    servers: int,
    capacity: int | None,
    requests: int,
    seed: int,
) -> dict[str, Any]:
    """Simulate ``requests`` arrivals of M/D/c (M/D/c/K when ``capacity`` is given).

    Units: requests/s, seconds. Returns ``utilization`` (carried: busy
    slot-time over slot-time), ``prob_wait``, ``wait_mean_s``, ``wait_p50_s``,
    ``wait_p95_s``, ``wait_p99_s``, ``wait_p999_s`` (waits of admitted
    requests) and, with a capacity, ``blocking_probability``; each estimate
    also as ``<key>_ci95: [lo, hi]`` (batch means over 20 batches after a 2%
    warm-up); plus ``requests``, ``batches`` and ``wall_s``. Deterministic for
    a seed. An unstable queue (rho >= 1, no capacity) runs too: its waits grow
    with the run and the figures say so.
    """
    started = time.perf_counter()
    if not (isinstance(servers, int) and servers >= 1):
        raise InvalidInput("servers", servers, "give a whole number of servers >= 1")
    if capacity is not None and not (isinstance(capacity, int) and capacity >= servers):
        raise InvalidInput("capacity", capacity, f"K counts requests in the system: give K >= servers ({servers})")
    if max(servers, capacity or 0) > MAX_STATE:
        raise InvalidInput("servers" if capacity is None else "capacity", max(servers, capacity or 0),
                           f"the simulator holds at most {MAX_STATE:,} servers or places; simulate a smaller pool")
    if not (isinstance(requests, int) and 100 <= requests <= QUEUE_MAX_REQUESTS):
        raise InvalidInput("requests", requests,
                           f"simulate between 100 and {QUEUE_MAX_REQUESTS:,} requests (1e6 gives tight intervals)")
    if not (arrival_rate > 0 and math.isfinite(arrival_rate)):
        raise InvalidInput("arrival_rate", arrival_rate, "give a positive, finite arrival rate in requests/s")
    if not (service_time > 0 and math.isfinite(service_time)):
        raise InvalidInput("service_time", service_time, "give a positive, finite service time in seconds")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed)))
    engine = DeterministicFCFS(service_time, servers, capacity)
    warmup = int(requests * _WARMUP)
    edges = np.linspace(warmup, requests, _BATCHES + 1).astype(np.int64)
    spans = [(0, warmup)] + [(int(edges[b]), int(edges[b + 1])) for b in range(_BATCHES)]
    gap = 1.0 / arrival_rate
    buffer = np.empty(min(max(high - low for low, high in spans), _CHUNK))
    waits = np.empty_like(buffer)
    clock = 0.0
    rows: list[list[float]] = []  # per batch: blocking, prob_wait, mean, p50, p95, p99, p999, utilization
    for index, (low, high) in enumerate(spans):
        count = high - low
        if count == 0:
            continue
        opened = clock
        blocked = 0
        positive_parts = []
        wait_sum = 0.0
        for first in range(0, count, buffer.size):
            n = min(buffer.size, count - first)
            arrival = buffer[:n]
            rng.standard_exponential(n, out=arrival)
            arrival *= gap
            arrival[0] += clock
            np.cumsum(arrival, out=arrival)
            clock = float(arrival[-1])
            wait = engine.waits(arrival, waits[:n])
            if index == 0:
                continue
            positive = wait[wait > 0.0]
            if capacity is not None:
                blocked += int(np.count_nonzero(wait < 0.0))
            wait_sum += float(positive.sum())
            positive_parts.append(positive)
        if index == 0:
            continue
        admitted = count - blocked
        positive = positive_parts[0] if len(positive_parts) == 1 else np.concatenate(positive_parts)
        quantiles = _quantiles(positive, admitted) if admitted else [math.nan] * 4
        span = clock - opened
        rows.append([
            blocked / count,
            positive.size / admitted if admitted else math.nan,
            wait_sum / admitted if admitted else math.nan,
            *quantiles,
            admitted * service_time / (servers * span) if span > 0 else math.nan,
        ])
    table = np.array(rows)
    centre = table.mean(axis=0)
    half = float(stdtrit(_BATCHES - 1, 0.975)) * table.std(axis=0, ddof=1) / math.sqrt(_BATCHES)
    names = ["blocking_probability", "prob_wait", "wait_mean_s", *(f"wait_{k}_s" for k, _ in _PERCENTILES), "utilization"]
    out: dict[str, Any] = {}
    for column, name in enumerate(names):
        if name == "blocking_probability" and capacity is None:
            continue
        value, width = float(centre[column]), float(half[column])
        out[name] = value
        out[f"{name}_ci95"] = [max(value - width, 0.0), value + width]
    out["requests"] = requests
    out["batches"] = _BATCHES
    out["wall_s"] = time.perf_counter() - started
    return out
