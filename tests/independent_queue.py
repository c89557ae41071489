"""An independent FCFS multi-server queue simulation for tests (not the project's simulator).

Written from the textbook recursions, sharing no code with
``dimensioning.simulate``: c servers, one FCFS queue, arrivals from a gamma
renewal process (SCV 1 = Poisson), service times drawn from a discrete
mixture (one value: deterministic). Optionally at most ``capacity`` requests
in the system (in service + waiting); an arrival that finds it full is shed.

- Waits: Kiefer-Wolfowitz, the c server free times in a min-heap; a request
  starts at max(arrival, earliest free time).
- Shed (deterministic service only): departures leave in start order, so the
  number in system at an arrival is the count of admitted requests not yet
  departed, kept with a pointer into the admitted departures.

Intervals: 20 contiguous batches after a 2% warm-up, mean of the batch
figures +- t_{19, 0.975} standard errors (batch means).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency of the project
    def njit(*args, **kwargs):  # type: ignore[no-redef]
        return (lambda f: f) if not args or not callable(args[0]) else args[0]


@njit(cache=False)
def _waits(arrival, service, servers):
    free = np.zeros(servers)  # a binary min-heap of server free times
    wait = np.empty(arrival.size)
    for i in range(arrival.size):
        earliest = free[0]
        start = arrival[i] if arrival[i] > earliest else earliest
        wait[i] = start - arrival[i]
        # replace the root with the new free time and sift down
        value = start + service[i]
        j = 0
        while True:
            left = 2 * j + 1
            if left >= servers:
                break
            child = left
            if left + 1 < servers and free[left + 1] < free[left]:
                child = left + 1
            if free[child] < value:
                free[j] = free[child]
                j = child
            else:
                break
        free[j] = value
    return wait


@njit(cache=False)
def _shed_deterministic(arrival, service_s, servers, capacity):
    n = arrival.size
    departures = np.empty(n)
    shed = np.zeros(n, dtype=np.bool_)
    admitted = 0
    head = 0  # first admitted request not yet departed
    for i in range(n):
        t = arrival[i]
        while head < admitted and departures[head] <= t:
            head += 1
        in_system = admitted - head
        if in_system >= capacity:
            shed[i] = True
            continue
        # FCFS with deterministic service: start when the request c places ahead departs
        start = t
        if admitted >= servers:
            previous = departures[admitted - servers]
            if previous > start:
                start = previous
        departures[admitted] = start + service_s
        admitted += 1
    return shed


def gamma_arrivals(rng: np.random.Generator, rate: float, scv: float, count: int) -> np.ndarray:
    shape = 1.0 / scv
    return np.cumsum(rng.gamma(shape, 1.0 / (rate * shape), count))


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float


def _batch_interval(per_batch: np.ndarray, value: float) -> Interval:
    half = float(student_t.ppf(0.975, per_batch.size - 1)) * float(per_batch.std(ddof=1)) / math.sqrt(per_batch.size)
    return Interval(value, value - half, value + half)


def wait_quantile(rate: float, times, probs, servers: int, scv: float, quantile: float, count: int,
                  seed: int) -> Interval:
    """Quantile of the FCFS wait (s) with a batch-means interval."""
    rng = np.random.default_rng(seed)
    arrival = gamma_arrivals(rng, rate, scv, count)
    service = rng.choice(np.asarray(times, dtype=float), size=count, p=np.asarray(probs, dtype=float))
    wait = _waits(arrival, service, servers)[int(0.02 * count):]
    batches = np.array_split(wait, 20)
    per = np.array([np.quantile(b, quantile) for b in batches])
    return _batch_interval(per, float(np.quantile(wait, quantile)))


def class_latency_quantile(rate: float, times, probs, servers: int, scv: float, quantile: float, count: int,
                           seed: int) -> list[Interval]:
    """Per-class quantile of wait + own service (s) with batch-means intervals."""
    rng = np.random.default_rng(seed)
    arrival = gamma_arrivals(rng, rate, scv, count)
    index = rng.choice(len(times), size=count, p=np.asarray(probs, dtype=float))
    service = np.asarray(times, dtype=float)[index]
    latency = _waits(arrival, service, servers) + service
    keep = slice(int(0.02 * count), None)
    latency, index = latency[keep], index[keep]
    out = []
    for k in range(len(times)):
        mine = latency[index == k]
        per = np.array([np.quantile(b, quantile) for b in np.array_split(mine, 20)])
        out.append(_batch_interval(per, float(np.quantile(mine, quantile))))
    return out


def shed_fraction(rate: float, service_s: float, servers: int, capacity: int, scv: float, count: int,
                  seed: int) -> Interval:
    """Fraction of arrivals shed with at most ``capacity`` in system (deterministic service)."""
    rng = np.random.default_rng(seed)
    arrival = gamma_arrivals(rng, rate, scv, count)
    shed = _shed_deterministic(arrival, float(service_s), int(servers), int(capacity))[int(0.02 * count):]
    per = np.array([b.mean() for b in np.array_split(shed, 20)])
    return _batch_interval(per, float(shed.mean()))


def heap_waits_reference(arrival, service, servers):  # pragma: no cover - used to check _waits in a test
    free = [0.0] * servers
    out = []
    for a, s in zip(arrival, service):
        earliest = heapq.heappop(free)
        start = max(a, earliest)
        out.append(start - a)
        heapq.heappush(free, start + s)
    return np.array(out)
