"""Queue models with deterministic service: exact where an exact answer exists.

Frozen model objects in the spirit of ``scipy.stats``: built from parameters
(SI units: requests/s and seconds), they answer questions and expose the
queueing delay ``wait`` and the latency ``sojourn`` (wait + service) as
distributions with ``cdf``, ``sf``, ``ppf``, ``mean`` (and ``var`` where cheap).
Distribution methods take a scalar (and return a float) or an array (and
return an ndarray).

Every model carries ``method`` ("exact" or "approximation") and a one-line
``method_note`` naming its source, so that reports can show which figures are
exact. References: /work/shared/reference/queueing.md; Crommelin (1932);
Tijms, *A First Course in Stochastic Models* (2003), ch. 9; Janssen & van
Leeuwaarden, Statistica Neerlandica 62 (2008); Franx, Oper. Res. Letters 29
(2001); Kingman (1961); Allen (1990) for Allen-Cunneen.

Conventions
-----------
- ``utilization`` rho = lambda E[S] / c; ``stable`` is rho < 1 for infinite
  queues (always True for the loss/finite-buffer model ``MDcK``).
- An unstable queue is a result, not an error: ``wait.cdf(t) = 0`` and
  ``wait.sf(t) = 1`` for every finite t, ``wait.ppf(p) = inf`` for every p in
  (0, 1] (``ppf(0) = 0``), ``wait.mean() = inf``, ``prob_wait = 1``.
- ``wait.ppf(p) = 0`` for p <= P(W = 0); ``ppf(1) = inf`` for an unbounded wait.
- Bad parameters raise ``dimensioning.errors.InvalidInput(field, value, fix)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from scipy.special import pdtrc

from dimensioning._queue_distributions import (
    AtomExponentialDelay,
    DelayDistribution,
    NegligibleDelay,
    InfiniteDelay,
    MixtureShiftedDelay,
    ScaledDelay,
    ShiftedDelay,
    ZeroDelay,
)
from dimensioning._queue_erlang import erlang_b, erlang_c
from dimensioning._queue_mdc import HeavyTrafficWait, MDcWaitKernel, grid_too_large
from dimensioning.errors import InvalidInput

__all__ = [
    "MDc",
    "GIDc",
    "MG1",
    "MGc",
    "MDcK",
    "DelayDistribution",
    "erlang_b",
    "erlang_c",
]

EXACT = "exact"
APPROXIMATION = "approximation"
_MDC_NOTE = "exact M/D/c (Crommelin chain, roots by Lambert W, FFT; Tijms 2003 ch. 9)"


# --- validation ------------------------------------------------------------
def _rate(value: float, name: str = "arrival_rate") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidInput(name, value, "give a rate in requests per second as a number")
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(name, value, "give a finite rate >= 0 requests per second")
    return float(value)


def _duration(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidInput(name, value, "give a service time in seconds as a number")
    if not math.isfinite(value) or value <= 0:
        raise InvalidInput(name, value, "give a finite service time > 0 seconds")
    return float(value)


def _count(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise InvalidInput(name, value, f"give a whole number >= {minimum}")
    if value < minimum:
        raise InvalidInput(name, value, f"give a whole number >= {minimum}")
    return int(value)


def _scv(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidInput(name, value, "give a squared coefficient of variation as a number")
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(name, value, "give a squared coefficient of variation >= 0 (1 = Poisson)")
    return float(value)


def _mixture(
    service_times: Sequence[float], probabilities: Sequence[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    times = tuple(service_times)
    weights = tuple(probabilities)
    if len(times) == 0:
        raise InvalidInput("service_times", service_times, "give at least one service time")
    if len(weights) != len(times):
        raise InvalidInput(
            "probabilities", probabilities, f"give one probability per service time ({len(times)})"
        )
    checked = tuple(_duration(t, f"service_times[{i}]") for i, t in enumerate(times))
    for i, p in enumerate(weights):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not (0 <= p <= 1):
            raise InvalidInput(f"probabilities[{i}]", p, "give a probability between 0 and 1")
    total = math.fsum(weights)
    if abs(total - 1.0) > 1e-9:
        raise InvalidInput("probabilities", probabilities, f"they sum to {total!r}; make them sum to 1")
    return checked, tuple(float(p) / total for p in weights)


# --- models -------------------------------------------------------------------
@dataclass(frozen=True)
class MDc:
    """M/D/c FCFS: Poisson arrivals, deterministic service D, c servers, infinite queue.

    Exact for c from 1 to thousands and rho up to 0.99 and beyond: the chain at
    multiples of D (Crommelin 1932; Tijms 2003 ch. 9), the roots of
    z^c = e^{a(z-1)} by Lambert W + Newton (Janssen & van Leeuwaarden 2008),
    the pmf of the queue by FFT of its generating function, and the waiting
    time as P(W <= kD + u) = P(Q + A_u <= (k+1)c - 1) with positive terms only
    (see ``dimensioning._queue_mdc``). Mean from the roots.

    Parameters
    ----------
    arrival_rate : float
        lambda, requests/s (>= 0).
    service_time : float
        D, seconds (> 0).
    servers : int
        c (>= 1).
    """

    arrival_rate: float
    service_time: float
    servers: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rate", _rate(self.arrival_rate))
        object.__setattr__(self, "service_time", _duration(self.service_time, "service_time"))
        object.__setattr__(self, "servers", _count(self.servers, "servers", 1))

    @property
    def method(self) -> str:
        """"exact", or "approximation" within ~1e-5 of saturation (see ``method_note``)."""
        return APPROXIMATION if isinstance(self.wait, HeavyTrafficWait) else EXACT

    @property
    def method_note(self) -> str:
        if isinstance(self.wait, HeavyTrafficWait):
            return "approximation: exact P(W=0) and E[W], exponential shape (rho within ~1e-5 of 1)"
        return _MDC_NOTE

    @property
    def offered_load(self) -> float:
        """a = lambda D (erlangs)."""
        return self.arrival_rate * self.service_time

    @property
    def utilization(self) -> float:
        """rho = lambda D / c."""
        return self.offered_load / self.servers

    @property
    def stable(self) -> bool:
        """rho < 1."""
        return self.utilization < 1.0

    @cached_property
    def wait(self) -> DelayDistribution:
        """Queueing delay W (seconds) of an arriving request."""
        if not self.stable:
            return InfiniteDelay()
        if self.arrival_rate == 0.0:
            return ZeroDelay()
        light = float(pdtrc(self.servers - 1, self.offered_load))  # P(Poisson(a) >= c)
        if light < 1e-12:
            # light traffic: N is Poisson(a) to first order, so P(W > 0) ~ P(A >= c) < 1e-12
            return NegligibleDelay(light)
        if grid_too_large(self.offered_load, self.servers):
            return HeavyTrafficWait(self.arrival_rate, self.service_time, self.servers)
        return MDcWaitKernel(self.arrival_rate, self.service_time, self.servers)

    @cached_property
    def sojourn(self) -> DelayDistribution:
        """Latency W + D (seconds)."""
        if not self.stable:
            return InfiniteDelay()
        return ShiftedDelay(self.wait, self.service_time)

    @property
    def prob_wait(self) -> float:
        """P(W > 0) = P(N >= c) (1 when unstable)."""
        return float(self.wait.positive) if self.stable else 1.0

    @property
    def tail_rate(self) -> float:
        """delta (1/s) of P(W > t) ~ beta e^{-delta t}; 0 when unstable."""
        wait = self.wait
        return wait.tail_rate if isinstance(wait, MDcWaitKernel) else (math.inf if self.stable else 0.0)


@dataclass(frozen=True)
class GIDc:
    """GI/D/c with bursty arrivals (SCV ca2): a labelled two-moment APPROXIMATION.

    Mean: the exact M/D/c mean times the Kingman/Allen-Cunneen factor
    (ca2 + cs2) / (1 + cs2) with cs2 = 0, i.e. E[W] ~ ca2 * E[W_MDc]
    (Kingman 1961; Allen 1990). Percentiles: the exact M/D/c waiting-time
    distribution scaled by the same factor (W ~ ca2 * W_MDc), so the mean
    matches and P(W = 0) is that of M/D/c. Reduces exactly to ``MDc`` at
    ca2 = 1; ca2 = 0 (evenly spaced arrivals) gives no wait when rho < 1.
    Correlated input (MMPP) is not covered: use the simulator.
    """

    arrival_rate: float
    service_time: float
    servers: int
    arrival_scv: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rate", _rate(self.arrival_rate))
        object.__setattr__(self, "service_time", _duration(self.service_time, "service_time"))
        object.__setattr__(self, "servers", _count(self.servers, "servers", 1))
        object.__setattr__(self, "arrival_scv", _scv(self.arrival_scv, "arrival_scv"))

    @property
    def method(self) -> str:
        """"exact" at ca2 = 1 (it is M/D/c), "approximation" otherwise."""
        return self._poisson.method if self.arrival_scv == 1.0 else APPROXIMATION

    @property
    def method_note(self) -> str:
        if self.arrival_scv == 1.0:
            return self._poisson.method_note
        return "approximation: exact M/D/c scaled by the Kingman/Allen-Cunneen factor ca2"

    @cached_property
    def _poisson(self) -> MDc:
        return MDc(self.arrival_rate, self.service_time, self.servers)

    @property
    def utilization(self) -> float:
        return self._poisson.utilization

    @property
    def stable(self) -> bool:
        return self._poisson.stable

    @cached_property
    def wait(self) -> DelayDistribution:
        """Queueing delay (seconds): ca2 * W_MDc (approximation unless ca2 = 1)."""
        if not self.stable:
            return InfiniteDelay()
        if self.arrival_scv == 1.0:
            return self._poisson.wait
        if self.arrival_scv == 0.0 or self.arrival_rate == 0.0:
            return ZeroDelay()
        return ScaledDelay(self._poisson.wait, self.arrival_scv)

    @cached_property
    def sojourn(self) -> DelayDistribution:
        if not self.stable:
            return InfiniteDelay()
        return ShiftedDelay(self.wait, self.service_time)

    @property
    def prob_wait(self) -> float:
        """P(W > 0) of the approximation (that of M/D/c; 0 when ca2 = 0)."""
        return float(self.wait.positive) if self.stable else 1.0


@dataclass(frozen=True)
class MG1:
    """M/G/1 FCFS with service time d_i with probability p_i (buckets on one server).

    Exact: Beneš / Pollaczek-Khinchine compound-geometric law, the terms
    n <= 2 in closed form and the rest by lattice bounds (one FFT each) with
    Richardson extrapolation and cubic interpolation; agrees with the exact
    M/D/1 law to ~2e-9 absolute (see ``dimensioning._queue_mg1``). Mean is
    Pollaczek-Khinchine lambda E[S^2] / (2 (1 - rho)); ``var`` from Takacs.
    A single service time gives the M/D/1 law (``MDc`` with c = 1).
    """

    arrival_rate: float
    service_times: tuple[float, ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rate", _rate(self.arrival_rate))
        times, weights = _mixture(self.service_times, self.probabilities)
        object.__setattr__(self, "service_times", times)
        object.__setattr__(self, "probabilities", weights)

    @property
    def method(self) -> str:
        """"exact", or "approximation" within ~1e-5 of saturation (see ``method_note``)."""
        return APPROXIMATION if isinstance(self.wait, AtomExponentialDelay) else EXACT

    @property
    def method_note(self) -> str:
        if isinstance(self.wait, AtomExponentialDelay):
            return "approximation: exact P(W=0) and P-K mean, exponential shape (rho within ~1e-5 of 1)"
        if len(set(self.service_times)) == 1:
            return _MDC_NOTE
        return "exact M/G/1 (Pollaczek-Khinchine/Benes, lattice bounds + Richardson)"

    @property
    def mean_service_time(self) -> float:
        """E[S] (seconds)."""
        return math.fsum(d * p for d, p in zip(self.service_times, self.probabilities))

    @property
    def service_scv(self) -> float:
        """cs2 = Var(S) / E[S]^2."""
        mean = self.mean_service_time
        second = math.fsum(d * d * p for d, p in zip(self.service_times, self.probabilities))
        return max(second / (mean * mean) - 1.0, 0.0)

    @property
    def utilization(self) -> float:
        """rho = lambda E[S]."""
        return self.arrival_rate * self.mean_service_time

    @property
    def stable(self) -> bool:
        return self.utilization < 1.0

    @cached_property
    def wait(self) -> DelayDistribution:
        """Queueing delay (seconds)."""
        if not self.stable:
            return InfiniteDelay()
        if self.arrival_rate == 0.0:
            return ZeroDelay()
        if len(set(self.service_times)) == 1:
            # one service time: the M/D/1 kernel is exact and cheaper
            return MDc(self.arrival_rate, self.service_times[0], 1).wait
        from dimensioning._queue_mg1 import MG1WaitKernel, lattice_too_coarse

        times, weights = np.array(self.service_times), np.array(self.probabilities)
        if lattice_too_coarse(self.arrival_rate, times, weights):
            second = float(weights @ times**2)
            mean = self.arrival_rate * second / (2.0 * (1.0 - self.utilization))
            return AtomExponentialDelay(1.0 - self.utilization, mean)
        return MG1WaitKernel(self.arrival_rate, times, weights)

    @cached_property
    def sojourn(self) -> DelayDistribution:
        """Latency W + S with S drawn from the mixture independently of W."""
        if not self.stable:
            return InfiniteDelay()
        return MixtureShiftedDelay(self.wait, self.service_times, self.probabilities)

    @property
    def prob_wait(self) -> float:
        """P(W > 0) = rho (PASTA), 1 when unstable."""
        return min(self.utilization, 1.0)


@dataclass(frozen=True)
class MGc:
    """M/G/c FCFS with a discrete service law on c servers: a labelled APPROXIMATION.

    Mean: the two-moment interpolation
    E[W] ~ cs2 E[W_M/M/c] + (1 - cs2) E[W_M/D/c], both at the mean service
    time E[S] (exact M/D/c; Erlang C for M/M/c). It is the exact
    Pollaczek-Khinchine mean at c = 1 for any cs2. Percentiles: the exact M/D/c
    law at E[S] scaled so that its mean matches (P(W = 0) is that of M/D/c).
    With c = 1 the model is exact: it is ``MG1`` (method "exact").
    """

    arrival_rate: float
    service_times: tuple[float, ...]
    probabilities: tuple[float, ...]
    servers: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rate", _rate(self.arrival_rate))
        times, weights = _mixture(self.service_times, self.probabilities)
        object.__setattr__(self, "service_times", times)
        object.__setattr__(self, "probabilities", weights)
        object.__setattr__(self, "servers", _count(self.servers, "servers", 1))

    @cached_property
    def _single(self) -> MG1:
        return MG1(self.arrival_rate, self.service_times, self.probabilities)

    @property
    def method(self) -> str:
        """"exact" for c = 1 or a single service time, else "approximation"."""
        if self.servers == 1:
            return self._single.method
        if len(set(self.service_times)) == 1:
            return self._deterministic.method
        return APPROXIMATION

    @property
    def method_note(self) -> str:
        if self.servers == 1:
            return self._single.method_note
        if len(set(self.service_times)) == 1:
            return self._deterministic.method_note
        return "approximation: cs2 * M/M/c + (1 - cs2) * M/D/c mean; M/D/c law scaled to that mean"

    @property
    def mean_service_time(self) -> float:
        return self._single.mean_service_time

    @property
    def service_scv(self) -> float:
        return self._single.service_scv

    @property
    def utilization(self) -> float:
        """rho = lambda E[S] / c."""
        return self.arrival_rate * self.mean_service_time / self.servers

    @property
    def stable(self) -> bool:
        return self.utilization < 1.0

    @cached_property
    def _deterministic(self) -> MDc:
        return MDc(self.arrival_rate, self.mean_service_time, self.servers)

    @cached_property
    def wait(self) -> DelayDistribution:
        """Queueing delay (seconds); see the class docstring for what is exact."""
        if not self.stable:
            return InfiniteDelay()
        if self.servers == 1:
            return self._single.wait
        base = self._deterministic.wait
        if self.arrival_rate == 0.0 or len(set(self.service_times)) == 1:
            return base
        deterministic_mean = base.mean()
        offered = self._deterministic.offered_load
        # M/M/c: E[W] = C(a, c) E[S] / (c - a)
        markov_mean = erlang_c(offered, self.servers) * self.mean_service_time / (self.servers - offered)
        scv = self.service_scv
        if deterministic_mean <= 1e-12 * self.mean_service_time:
            # waits below the kernel's resolution: the heavy-traffic ratio 2 of M/M/c to M/D/c
            factor = 1.0 + scv
        else:
            factor = scv * markov_mean / deterministic_mean + (1.0 - scv)
        return ScaledDelay(base, max(factor, 1e-12))

    @cached_property
    def sojourn(self) -> DelayDistribution:
        """Latency W + S with S drawn from the mixture independently of W."""
        if not self.stable:
            return InfiniteDelay()
        return MixtureShiftedDelay(self.wait, self.service_times, self.probabilities)

    @property
    def prob_wait(self) -> float:
        """P(W > 0) of the model (exact rho at c = 1; that of M/D/c at E[S] otherwise)."""
        if not self.stable:
            return 1.0
        return float(self.wait.positive)


@dataclass(frozen=True)
class MDcK:
    """M/D/c/K: at most K requests in the system (c in service + K - c waiting); the rest are blocked.

    Stable at any load (blocking absorbs overload). ``wait`` is the queueing
    delay of ADMITTED requests; it never exceeds ceil((K - c)/c) D.

    - c = 1: exact at every rho (departure-epoch chain; Tijms 2003;
      Brun & Garcia 2000), see ``dimensioning._queue_finite``.
    - K = c: Erlang B, exact (insensitivity); admitted requests never wait.
    - 1 < c < K: an APPROXIMATION (no finite exact chain exists); see
      ``dimensioning._queue_finite.MDcKApproximation`` for the two routes and
      the errors seen against the exact recursion simulated.

    ``method`` says which; ``method_note`` names the route.
    """

    arrival_rate: float
    service_time: float
    servers: int
    capacity: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "arrival_rate", _rate(self.arrival_rate))
        object.__setattr__(self, "service_time", _duration(self.service_time, "service_time"))
        object.__setattr__(self, "servers", _count(self.servers, "servers", 1))
        capacity = _count(self.capacity, "capacity", 1)
        if capacity < self.servers:
            raise InvalidInput(
                "capacity", capacity, f"give K >= servers ({self.servers}): K counts those in service too"
            )
        object.__setattr__(self, "capacity", capacity)

    @property
    def queue_capacity(self) -> int:
        """K - c: places to wait (Queue_cap)."""
        return self.capacity - self.servers

    @property
    def offered_load(self) -> float:
        return self.arrival_rate * self.service_time

    @property
    def utilization(self) -> float:
        """Offered rho = lambda D / c (may exceed 1)."""
        return self.offered_load / self.servers

    @property
    def carried_utilization(self) -> float:
        """Busy fraction of the servers: lambda (1 - P_B) D / c."""
        return self.utilization * (1.0 - self.blocking_probability)

    @property
    def stable(self) -> bool:
        """Always True: blocking bounds the queue."""
        return True

    @property
    def method(self) -> str:
        return EXACT if self.servers == 1 or self.capacity == self.servers else APPROXIMATION

    @property
    def method_note(self) -> str:
        if self.arrival_rate == 0.0:
            return "exact: no traffic"
        if self.capacity == self.servers:
            return "exact: Erlang B (loss system, insensitive to the service law)"
        if self.servers == 1:
            return "exact M/D/1/K (departure-epoch chain, level-crossing recursion)"
        return f"approximation: {self._approximation.route}"

    @cached_property
    def _approximation(self):  # type: ignore[no-untyped-def]
        from dimensioning._queue_finite import MDcKApproximation

        return MDcKApproximation(self.arrival_rate, self.service_time, self.servers, self.capacity)

    @cached_property
    def _single(self):  # type: ignore[no-untyped-def]
        from dimensioning._queue_finite import MD1KWaitKernel

        return MD1KWaitKernel(self.arrival_rate, self.service_time, self.capacity)

    @cached_property
    def blocking_probability(self) -> float:
        """P_B: fraction of arrivals turned away (PASTA: P(N = K))."""
        if self.arrival_rate == 0.0:
            return 0.0
        if self.capacity == self.servers:
            return erlang_b(self.offered_load, self.servers)
        if self.servers == 1:
            return float(self._single.blocking)
        return float(self._approximation.blocking)

    @property
    def throughput(self) -> float:
        """Admitted rate lambda (1 - P_B), requests/s."""
        return self.arrival_rate * (1.0 - self.blocking_probability)

    @cached_property
    def wait(self) -> DelayDistribution:
        """Queueing delay of admitted requests (seconds)."""
        if self.arrival_rate == 0.0 or self.capacity == self.servers:
            return ZeroDelay()
        if self.servers == 1:
            return self._single
        return self._approximation.wait

    @cached_property
    def sojourn(self) -> DelayDistribution:
        """Latency of admitted requests: wait + D."""
        return ShiftedDelay(self.wait, self.service_time)

    @property
    def prob_wait(self) -> float:
        """P(W > 0) for an admitted request."""
        return float(self.wait.positive)
