"""Figures decided by a seeded simulation, reported at the conservative end of a 95% interval.

Used where no exact method exists and no approximation has a measured,
safe error bound: GI/D/c with bursty renewal arrivals (gamma gaps of a given
SCV), M/D/c/K and GI/D/c/K with 1 < c < K, and M/G/c for bucket mixtures.

The run: ``requests`` arrivals (a fixed count, so the same seed gives the
same figures on every machine), the first ``WARMUP`` fraction discarded (the
run starts empty), the rest cut into ``BATCHES`` = 20 contiguous batches
(batch means / sectioning, Asmussen & Glynn, *Stochastic Simulation* 2007,
ch. IV.5). Each figure's interval is the mean of the batch figures plus or
minus ``t_{19, 0.975}`` times their standard error; the model reports the
end that is unfavourable to the plan:

- blocking P_B and P(W > t): the upper end; for blocking also at least the
  rare-event bound: blocked arrivals are grouped into episodes (gaps shorter
  than one mean service time), the Garwood 95% upper limit of the episode
  count times the mean episode size, over the measured arrivals (so a run
  with no blocking still reports the resolution it had, never 0);
- wait quantiles and mean: the upper end.

The engine is :mod:`dimensioning.simulate.fcfs`: the queue's own recursions,
O(1) per request for deterministic service.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from scipy.special import chdtri, stdtrit

from dimensioning._queue_distributions import DelayDistribution

__all__ = ["SIM_REQUESTS", "SIM_SEED", "BATCHES", "WARMUP", "BatchFigures", "SimulatedDelay", "run_fcfs"]

SIM_REQUESTS = 2_000_000
SIM_SEED = 20_261_201
BATCHES = 20
WARMUP = 0.02
_T = float(stdtrit(BATCHES - 1, 0.975))


def _spread(values: NDArray[np.float64]) -> tuple[float, float]:
    """(mean, t-interval half-width) over the batches."""
    return float(values.mean()), _T * float(values.std(ddof=1)) / math.sqrt(values.size)


def _garwood_upper(count: int) -> float:
    """Upper end of the two-sided 95% Poisson interval for an observed ``count``."""
    return 0.5 * float(chdtri(2.0 * count + 2.0, 0.025))


@dataclass(frozen=True)
class BatchFigures:
    """What one run measured, batch by batch (after the warm-up)."""

    arrivals: NDArray[np.int64]  # arrivals per batch
    blocked: NDArray[np.int64]  # blocked arrivals per batch
    zeros: NDArray[np.int64]  # admitted arrivals that did not wait
    positive: tuple[NDArray[np.float64], ...]  # sorted positive waits (s) per batch
    wait_sum: NDArray[np.float64]  # sum of admitted waits per batch (s)
    episodes: int  # blocking episodes over the whole measured run
    requests: int
    seed: int
    wall_s: float

    @property
    def admitted(self) -> NDArray[np.int64]:
        return self.arrivals - self.blocked

    def blocking(self) -> tuple[float, float, float]:
        """(estimate, low, high) of P_B; high includes the rare-event bound."""
        fractions = self.blocked / self.arrivals
        mean, half = _spread(fractions)
        measured = int(self.arrivals.sum())
        total = int(self.blocked.sum())
        size = total / self.episodes if self.episodes else 1.0
        rare = _garwood_upper(self.episodes) * size / measured
        return float(total / measured), max(mean - half, 0.0), min(max(mean + half, rare), 1.0)

    def quantile(self, p: float) -> tuple[float, float, float]:
        """(estimate, low, high) of the p-quantile of admitted waits (inverted-cdf convention)."""
        values = np.empty(self.arrivals.size)
        for b, positive in enumerate(self.positive):
            n = int(self.admitted[b])
            k = max(math.ceil(p * n) - 1, 0)
            zeros = int(self.zeros[b])
            values[b] = 0.0 if k < zeros else (float(positive[min(k - zeros, positive.size - 1)]) if positive.size else 0.0)
        mean, half = _spread(values)
        return mean, max(mean - half, 0.0), mean + half

    def exceed(self, t: float) -> tuple[float, float, float]:
        """(estimate, low, high) of P(W > t) for admitted requests, t >= 0 seconds."""
        values = np.array([
            (positive.size - np.searchsorted(positive, t, side="right")) / max(int(n), 1)
            for positive, n in zip(self.positive, self.admitted)
        ])
        mean, half = _spread(values)
        return mean, max(mean - half, 0.0), min(mean + half, 1.0)

    def mean_wait(self) -> tuple[float, float, float]:
        values = self.wait_sum / np.maximum(self.admitted, 1)
        mean, half = _spread(values)
        return mean, max(mean - half, 0.0), mean + half

    @property
    def note(self) -> str:
        return (f"simulated: {self.requests:,} requests, seed {self.seed}, {BATCHES} batches after a "
                f"{WARMUP:.0%} warm-up; the upper end of each 95% interval")


class SimulatedDelay(DelayDistribution):
    """Conservative law of the admitted wait: every tail figure at the upper end of its 95% interval.

    ``sf(t)`` is the upper end for P(W > t), ``ppf(p)`` the upper end for the
    p-quantile, ``mean`` the upper end for E[W]; ``cdf = 1 - sf``. They bound
    the true law from the unfavourable side, each with 95% confidence, so
    ``ppf`` and ``cdf`` need not invert each other exactly.
    """

    def __init__(self, figures: BatchFigures, upper: float = math.inf) -> None:
        self.figures = figures
        self._positive = figures.exceed(0.0)[2]
        self.atom = 1.0 - self._positive
        self.upper = upper

    @property
    def positive(self) -> float:
        return self._positive

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.array([self.figures.exceed(float(x))[2] for x in t])

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return 1.0 - self._sf(t)

    def _ppf(self, p: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.array([min(self.figures.quantile(float(x))[2], self.upper) for x in p])

    def mean(self) -> float:
        return self.figures.mean_wait()[2]


def _gaps(rng: np.random.Generator, count: int, rate: float, scv: float) -> NDArray[np.float64]:
    if scv == 1.0:
        return rng.standard_exponential(count) * (1.0 / rate)
    shape = 1.0 / scv
    return rng.standard_gamma(shape, count) * (scv / rate)


@lru_cache(maxsize=32)
def run_fcfs(
    arrival_rate: float,
    arrival_scv: float,
    service_times: tuple[float, ...],
    probabilities: tuple[float, ...],
    servers: int,
    capacity: int | None,
    requests: int = SIM_REQUESTS,
    seed: int = SIM_SEED,
) -> BatchFigures:
    """Simulate one FCFS queue (renewal arrivals: Poisson at SCV 1, else gamma gaps) in batches.

    Deterministic for a seed: the arrival gaps and the service draws come from
    two streams spawned from ``seed``. Cached: the models ask for the same run
    many times while sizing (in memory), and a rerun of the same pool with the
    same code reads the run from disk (:mod:`dimensioning.result_cache`).
    """
    from dimensioning.result_cache import cached

    arguments = (arrival_rate, arrival_scv, service_times, probabilities, servers, capacity, requests, seed)
    return cached("run_fcfs", arguments, lambda: _simulate_fcfs(*arguments))


def _simulate_fcfs(
    arrival_rate: float,
    arrival_scv: float,
    service_times: tuple[float, ...],
    probabilities: tuple[float, ...],
    servers: int,
    capacity: int | None,
    requests: int,
    seed: int,
) -> BatchFigures:
    """The run behind :func:`run_fcfs` (uncached)."""
    import time

    from dimensioning.simulate.fcfs import DeterministicFCFS, GeneralFCFS

    started = time.perf_counter()
    arrival_stream, service_stream = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    deterministic = len(set(service_times)) == 1
    if deterministic:
        engine = DeterministicFCFS(service_times[0], servers, capacity)
    else:
        if capacity is not None:
            raise ValueError("a capacity needs one deterministic service time")
        engine = GeneralFCFS(servers)
        times = np.asarray(service_times, dtype=float)
        cumulative = np.cumsum(np.asarray(probabilities, dtype=float))
        cumulative[-1] = 1.0
    mean_service = float(np.dot(service_times, probabilities))
    warmup = int(requests * WARMUP)
    edges = np.linspace(warmup, requests, BATCHES + 1).astype(np.int64)
    bounds = [(0, warmup)] + [(int(edges[b]), int(edges[b + 1])) for b in range(BATCHES)]
    clock = 0.0
    arrivals, blocked, zeros, wait_sum, positive = [], [], [], [], []
    episodes = 0
    last_block = -math.inf
    for index, (low, high) in enumerate(bounds):
        count = high - low
        if count == 0:
            continue
        arrival = np.cumsum(_gaps(arrival_stream, count, arrival_rate, arrival_scv))
        arrival += clock
        clock = float(arrival[-1])
        if deterministic:
            wait = engine.waits(arrival)
        else:
            pick = np.searchsorted(cumulative, service_stream.random(count), side="right")
            wait = engine.waits(arrival, times[np.minimum(pick, times.size - 1)])
        if index == 0:
            continue  # warm-up
        is_blocked = wait < 0.0
        n_blocked = int(is_blocked.sum())
        if n_blocked:
            when = arrival[is_blocked]
            gaps = np.diff(np.concatenate(([last_block], when)))
            episodes += int((gaps > mean_service).sum())
            last_block = float(when[-1])
        admitted = wait[~is_blocked] if n_blocked else wait
        waiting = admitted[admitted > 0.0]
        waiting.sort()
        arrivals.append(count)
        blocked.append(n_blocked)
        zeros.append(admitted.size - waiting.size)
        wait_sum.append(float(waiting.sum()))
        positive.append(waiting)
    return BatchFigures(
        arrivals=np.array(arrivals, dtype=np.int64),
        blocked=np.array(blocked, dtype=np.int64),
        zeros=np.array(zeros, dtype=np.int64),
        positive=tuple(positive),
        wait_sum=np.array(wait_sum),
        episodes=episodes,
        requests=requests,
        seed=seed,
        wall_s=time.perf_counter() - started,
    )
