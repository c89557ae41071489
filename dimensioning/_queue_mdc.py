"""Kernel: the exact FCFS waiting-time law of the stable M/D/c queue.

Method (docs/queueing.md, "M/D/c"):

1. The chain at multiples of D (Crommelin 1932; Tijms, *A First Course in
   Stochastic Models*, ch. 9): Q' = max(Q + A - c, 0), A ~ Poisson(a), a = lambda D.
2. The c - 1 roots z_k inside the unit disk of z^c = exp(a (z - 1)) in closed
   form, z_k = -W0(-rho w^k e^{-rho}) / rho with w = exp(2 pi i / c), polished by
   Newton steps (Janssen & van Leeuwaarden, Statistica Neerlandica 2008).
3. The pmf of Q by an FFT of its generating function on the unit circle,
   P_Q(z) = (c - a)(z - 1) prod_k (z - z_k)/(1 - z_k) / (z^c - e^{a(z - 1)}),
   with a grid long enough that aliasing (tau^-M) is below 1e-17.
4. The waiting time, all terms positive: for t = kD + u, 0 <= u < D,
   P(W <= t) = P(Q + A_u <= (k+1)c - 1), A_u ~ Poisson(lambda (D - u)) independent
   of Q (at u = 0 this is Crommelin's P(W <= kD) = P(N <= (k+1)c - 1)); the
   tail is summed from P(Q > m) and Poisson survival functions, never 1 - cdf.
5. Beyond the grid (probabilities below ~1e-17) the Cramer-Lundberg tail
   P(W > t) ~ beta e^{-delta t}, delta = lambda (tau - 1),
   beta = (c - a)/(a tau - c) tau^{1-c} prod_k (tau - z_k)/(1 - z_k).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy.fft import next_fast_len
from scipy.special import gammaln, lambertw, pdtr, pdtrc

from dimensioning._queue_distributions import AtomExponentialDelay, DelayDistribution
from dimensioning.root_finding import brent_root

__all__ = ["MDcWaitKernel", "HeavyTrafficWait", "inner_roots", "decay_root", "decay_excess", "poisson_pmf", "grid_too_large"]


def poisson_pmf(i: NDArray[np.float64], mean: NDArray[np.float64]) -> NDArray[np.float64]:
    """Poisson pmf by its log (relative error ~1e-13 for means up to ~1e4)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log = i * np.log(mean) - mean - gammaln(i + 1.0)
    return np.where(i < 0, 0.0, np.exp(log))


def inner_roots(servers: int, rho: float) -> NDArray[np.complex128]:
    """The c - 1 roots inside the unit disk of z^c = exp(c rho (z - 1)), z != 1."""
    if servers == 1:
        return np.zeros(0, dtype=complex)
    k = np.arange(1, servers)
    unit = np.exp(2j * np.pi * k / servers)
    z = -lambertw(-rho * unit * math.exp(-rho), 0) / rho
    for _ in range(6):
        grow = unit * np.exp(rho * (z - 1.0))
        step = (z - grow) / (1.0 - rho * grow)
        z = z - step
        if np.max(np.abs(step)) < 1e-15:
            break
    return z


def decay_root(rho: float) -> float:
    """tau > 1: the real root of z = exp(rho (z - 1)) outside the unit disk (0 < rho < 1).

    Solved as log1p(x)/x = rho for x = tau - 1 > 0 (monotone in x), which keeps
    full relative accuracy in tau - 1 as rho -> 1, where Lambert W at its
    branch point does not.
    """
    return 1.0 + decay_excess(rho)


def decay_excess(rho: float) -> float:
    """x = tau - 1 > 0 with log(1 + x) = rho x (see ``decay_root``)."""

    def gap(x: float) -> float:
        return math.log1p(x) / x - rho

    low = max(1.0 - rho, 1e-300)
    high = max(2.0 * low, 1.0)
    while gap(high) > 0:
        high *= 2.0
    while gap(low) < 0:  # pragma: no cover - only for rho within rounding of 1
        low /= 2.0
    return brent_root(gap, low, high, xtol=1e-300, rtol=1e-15, maxiter=500)


def _root_product(
    z: NDArray[np.complex128], roots: NDArray[np.complex128]
) -> tuple[NDArray[np.complex128], NDArray[np.float64]]:
    """prod_k (z - z_k)/(1 - z_k) as (unit-scaled product, log of its size).

    Roots come in conjugate pairs (z_k, z_{c-k}); each pair is one real
    quadratic, which halves the work. The running product is rescaled after
    every chunk so that no partial product overflows for c in the thousands.
    """
    count = roots.size
    product = np.ones(z.size, dtype=complex)
    log_scale = np.zeros(z.size)
    if count == 0:
        return product, log_scale
    pairs = count // 2
    upper = roots[:pairs]  # z_1..z_pairs; their conjugates are z_{c-1}..z_{c-pairs}
    linear = (2.0 * upper.real)[None, :]
    constant = (np.abs(upper) ** 2)[None, :]
    norm = (np.abs(1.0 - upper) ** 2)[None, :]
    square = (z * z)[:, None]
    column = z[:, None]
    for start in range(0, pairs, 48):
        part = slice(start, start + 48)
        factors = (square - linear[:, part] * column + constant[:, part]) / norm[:, part]
        product *= np.prod(factors, axis=1)
        size_now = np.abs(product)
        log_scale += np.log(size_now)
        product /= size_now
    if count % 2 == 1:  # c even: one real root z_{c/2}
        middle = roots[pairs]
        product *= (z - middle.real) / (1.0 - middle.real)
    return product, log_scale


_MAX_GRID = 1 << 21
_MAX_WORK = 1 << 25


def _grid_points(offered: float, rho: float) -> int:
    """FFT length for Q: the body (12 sd of Poisson(a)) plus 40 e-folds of the tail."""
    body = 12.0 * math.sqrt(offered) + 40.0
    tail = 40.0 / math.log1p(decay_excess(rho))
    return int(min(body + tail, 2.0**62))


def grid_too_large(offered: float, servers: int) -> bool:
    """True where the exact FFT route would need more than 2^21 points or 2^25 root products
    (rho within ~1e-4 of 1 for large c): ``HeavyTrafficWait`` is used there."""
    points = _grid_points(offered, offered / servers)
    return points > _MAX_GRID or points * servers > _MAX_WORK


@dataclass(frozen=True)
class _QueueAtEpochs:
    """pmf, cdf and survival of Q on 0..M-1 and the tail constants."""

    pmf: NDArray[np.float64]
    cdf: NDArray[np.float64]
    sf: NDArray[np.float64]  # sf[m] = P(Q > m)


class MDcWaitKernel(DelayDistribution):
    """Exact waiting-time law of the stable FCFS M/D/c queue (rho < 1)."""

    def __init__(self, arrival_rate: float, service_time: float, servers: int) -> None:
        self.arrival_rate = float(arrival_rate)
        self.service_time = float(service_time)
        self.servers = int(servers)
        self.offered = self.arrival_rate * self.service_time  # a = lambda D
        self.rho = self.offered / self.servers
        if not self.rho < 1.0:
            raise ValueError("MDcWaitKernel needs rho < 1")
        self.roots = inner_roots(self.servers, self.rho)
        self.tau = decay_root(self.rho)
        self.queue = self._queue_at_epochs()
        first = np.array([self.servers - 1])
        self.atom = min(float(self._cdf_at(first, np.array([self.offered]))[0]), 1.0)
        self._positive = min(max(float(self._sf_at(first, np.array([self.offered]))[0]), 0.0), 1.0)

    @property
    def positive(self) -> float:
        """P(W > 0) = P(N >= c), summed from the tail."""
        return self._positive

    # --- the chain at multiples of D -----------------------------------
    def _grid_length(self) -> int:
        return int(next_fast_len(_grid_points(self.offered, self.rho) + 1))

    def _queue_at_epochs(self) -> _QueueAtEpochs:
        c, a = self.servers, self.offered
        size = self._grid_length()
        half = size // 2 + 1
        theta = 2.0 * np.pi * np.arange(half) / size
        z = np.exp(1j * theta)
        # z - 1 and z^c - e^{a(z-1)} without cancellation near z = 1
        z_minus_1 = 2j * np.sin(theta / 2.0) * np.exp(0.5j * theta)
        near_one = a * (1.0 - np.cos(theta)) < 1.0
        exponent = np.where(near_one, 1j * c * theta - a * z_minus_1, 0.0)
        denominator = np.where(
            near_one,
            np.exp(a * z_minus_1) * np.expm1(exponent),
            np.exp(1j * c * theta) - np.exp(a * z_minus_1),
        )
        product, log_scale = _root_product(z, self.roots)
        values = np.empty(half, dtype=complex)
        values[0] = 1.0
        values[1:] = ((c - a) * z_minus_1[1:] * product[1:] * np.exp(log_scale[1:])) / denominator[1:]
        pmf = np.fft.irfft(np.conj(values), n=size)
        pmf = np.maximum(pmf, 0.0)
        tail = np.cumsum(pmf[::-1])[::-1]
        survival = np.append(tail[1:], 0.0)
        cdf = np.minimum(np.cumsum(pmf), 1.0)
        return _QueueAtEpochs(pmf=pmf, cdf=cdf, sf=survival)

    # --- tail constants --------------------------------------------------
    @cached_property
    def tail_rate(self) -> float:
        """delta = lambda (tau - 1), 1/seconds."""
        return self.arrival_rate * decay_excess(self.rho)

    @cached_property
    def tail_constant(self) -> float:
        """beta of P(W > t) ~ beta exp(-delta t)."""
        c, a, tau = self.servers, self.offered, self.tau
        excess = decay_excess(self.rho)
        # a tau - c = a x - (c - a), x = tau - 1
        log_beta = math.log((c - a) / (a * excess - (c - a))) + (1 - c) * math.log1p(excess)
        if c > 1:
            log_beta += float(np.sum(np.log(np.abs((tau - self.roots) / (1.0 - self.roots)))))
        return math.exp(log_beta)

    # --- waiting time ------------------------------------------------------
    def _split(self, t: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """t = kD + u -> (level L = (k+1)c - 1, Poisson mean x = lambda (D - u))."""
        k = np.floor(t / self.service_time)
        u = t - k * self.service_time
        u = np.where(u >= self.service_time, 0.0, u)
        k = np.where(u == 0.0, np.round(t / self.service_time), k)
        level = ((k + 1) * self.servers - 1).astype(np.int64)
        mean = self.arrival_rate * (self.service_time - u)
        return level, np.maximum(mean, 1e-300)

    def _window(self, mean: NDArray[np.float64]) -> tuple[NDArray[np.int64], int]:
        spread = 12.0 * np.sqrt(mean) + 40.0
        low = np.maximum(np.floor(mean - spread), 0).astype(np.int64)
        width = int(np.ceil(2 * spread.max())) + 2
        return low, width

    def _cdf_at(self, level: NDArray[np.int64], mean: NDArray[np.float64]) -> NDArray[np.float64]:
        """sum_i Pois(i; x) P(Q <= L - i), i <= L (positive terms)."""
        size = self.queue.pmf.size
        low, width = self._window(mean)
        i = low[:, None] + np.arange(width)[None, :]
        weights = poisson_pmf(i.astype(float), mean[:, None])
        n = level[:, None] - i
        inside = (n >= 0) & (n < size)
        values = np.where(inside, self.queue.cdf[np.clip(n, 0, size - 1)], 0.0)
        values = np.where(n >= size, 1.0, values)
        # i below the window: L - i beyond the grid where P(Q <= .) = 1 up to 1e-17
        below = np.where(low > 0, pdtr(np.minimum(low - 1, level), mean), 0.0)
        below = np.where(level >= 0, below, 0.0)
        return below + np.sum(weights * values, axis=1)

    def _sf_at(self, level: NDArray[np.int64], mean: NDArray[np.float64]) -> NDArray[np.float64]:
        """P(A > L) + sum_{i <= L} Pois(i; x) P(Q > L - i) (positive terms)."""
        size = self.queue.pmf.size
        low, width = self._window(mean)
        i = low[:, None] + np.arange(width)[None, :]
        weights = poisson_pmf(i.astype(float), mean[:, None])
        n = level[:, None] - i
        inside = (n >= 0) & (n < size)
        values = np.where(inside, self.queue.sf[np.clip(n, 0, size - 1)], 0.0)
        return pdtrc(level, mean) + np.sum(weights * values, axis=1)

    @cached_property
    def asymptote_from(self) -> float:
        """Delay (s) from which the Cramer-Lundberg tail replaces the FFT sums.

        The FFT sums carry rounding noise of ~1e-16 (c = 1) to ~1e-13 (c = 1024)
        absolute, so deep in the tail they lose relative accuracy while the
        asymptote beta e^{-delta t} becomes exact (the next pole is farther out).
        The switch is made at the first of the levels 1e-8, 1e-6, 1e-4 where
        both agree to 1e-6 relative; if none, only past the end of the grid.
        """
        size = self.queue.pmf.size
        grid_end = (size - 12.0 * math.sqrt(self.offered) - 40.0) / self.servers * self.service_time
        for level_value in (1e-8, 1e-6, 1e-4):
            crossover = math.log(self.tail_constant / level_value) / self.tail_rate
            if 0 < crossover < grid_end:
                level, mean = self._split(np.array([crossover]))
                summed = float(self._sf_at(level, mean)[0])
                if abs(summed / level_value - 1.0) < 1e-6:
                    return crossover
        return max(grid_end, 0.0)

    def _beyond_grid(self, t: NDArray[np.float64]) -> NDArray[np.bool_]:
        return t > self.asymptote_from

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        level, mean = self._split(t)
        out = self._cdf_at(level, mean)
        far = self._beyond_grid(t)
        if far.any():
            out[far] = -np.expm1(np.log(self.tail_constant) - self.tail_rate * t[far])
        return out

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        level, mean = self._split(t)
        out = self._sf_at(level, mean)
        far = self._beyond_grid(t)
        if far.any():
            out[far] = self.tail_constant * np.exp(-self.tail_rate * t[far])
        return out

    def _ppf_scalar(self, p: float) -> float:
        D = self.service_time
        switch = self.asymptote_from
        tail_at_switch = self.tail_constant * math.exp(-self.tail_rate * switch)
        if 1.0 - p <= tail_at_switch:
            # inside the Cramer-Lundberg range: invert beta e^{-delta t} = 1 - p
            return math.log(self.tail_constant / (1.0 - p)) / self.tail_rate
        # bracket on multiples of D (Crommelin's P(N <= (k+1)c - 1)) by bisection, then Brent inside
        def at_multiple(k: int) -> float:
            return self.atom if k == 0 else float(self._cdf(np.array([k * D]))[0])

        top = int(math.ceil(switch / D)) + 1
        if at_multiple(top) < p:
            return math.log(self.tail_constant / (1.0 - p)) / self.tail_rate
        if at_multiple(0) >= p:
            return 0.0
        low_k, high_k = 0, top  # cdf(low_k D) < p <= cdf(high_k D)
        while high_k - low_k > 1:
            middle = (low_k + high_k) // 2
            if at_multiple(middle) >= p:
                high_k = middle
            else:
                low_k = middle
        low, high = low_k * D, high_k * D

        def gap(t: float) -> float:
            return float(self._cdf(np.array([t]))[0]) - p

        if gap(low) >= 0.0:  # rounding at the bracket's edge
            return low
        return brent_root(gap, low, high, xtol=1e-14 * D, rtol=1e-15, maxiter=200)

    def _scale(self) -> float:
        return self.service_time

    def mean(self) -> float:
        """E[W] from the roots (Janssen & van Leeuwaarden): Wq = (E[N] - a)/lambda."""
        c, a = self.servers, self.offered
        total = float(np.sum(np.real(1.0 / (1.0 - self.roots)))) if c > 1 else 0.0
        # E[N] - a = sum 1/(1 - z_k) + (2ac - a^2 - c(c-1)) / (2(c-a)) - a
        rest = (2 * a * c - a * a - c * (c - 1)) / (2.0 * (c - a)) - a
        # noise of order 1e-13 D where the true mean is far smaller
        return max((total + rest) / self.arrival_rate, 0.0)

    def var(self) -> float:
        """c = 1 only (Takacs): E[W^2] = 2 E[W]^2 + lambda D^3 / (3 (1 - rho))."""
        if self.servers != 1:
            raise NotImplementedError("the M/D/c variance has no cheap closed form for c > 1")
        mean = self.mean()
        return mean * mean + self.arrival_rate * self.service_time**3 / (3.0 * (1.0 - self.rho))


class HeavyTrafficWait(AtomExponentialDelay):
    """APPROXIMATION for M/D/c within ~1e-5 of saturation, where exact grids are too long.

    Exact atom P(W = 0) = (c - a) / prod_k (1 - z_k) and exact mean (roots
    formula, Janssen & van Leeuwaarden 2008); the positive part exponential
    with that mean (Kingman's heavy-traffic limit: W / E[W] -> Exp(1) as
    rho -> 1). The error is of order D / E[W] (<= ~1e-4 in the cdf here).
    """

    def __init__(self, arrival_rate: float, service_time: float, servers: int) -> None:
        c = int(servers)
        a = float(arrival_rate) * float(service_time)
        roots = inner_roots(c, a / c)
        log_product = float(np.sum(np.log(np.abs(1.0 - roots)))) if c > 1 else 0.0
        atom = (c - a) * math.exp(-log_product)
        total = float(np.sum(np.real(1.0 / (1.0 - roots)))) if c > 1 else 0.0
        rest = (2 * a * c - a * a - c * (c - 1)) / (2.0 * (c - a)) - a
        super().__init__(atom, max((total + rest) / float(arrival_rate), 0.0))
