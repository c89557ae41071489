"""Kernels: M/D/c/K (K = most requests in the system, in service plus waiting).

- c = 1, exact at every rho (Tijms, *A First
  Course in Stochastic Models*, 2003, ch. 9; Brun & Garcia, J. Appl. Prob. 37, 2000):
  the departure-epoch chain on {0..K-1}, solved by the level-crossing
  recursion pi_{j+1} a_0 = pi_0 Abar_j + sum_{k=1}^{j} pi_k Abar_{j-k+1}
  (positive terms; a_i = Pois(i; rho), Abar_j = P(A > j)), then
  P_B = 1 - 1/(pi_0 + rho), time-average p_n = pi_n / (pi_0 + rho) for n < K.
  The wait of an admitted request: for t = kD + u < (K-1)D,
  P(admitted, W <= t) = sum_i Pois(i; lambda (D - u)) P(N <= k + 1 - i): the
  M/D/1 formula holds below K because the process censored to {N <= K-1} is
  the same as in the infinite queue (the excursions above K-1 start and end in
  the same states). W <= (K-1)D always.
- c = K: Erlang B (insensitive), admitted requests never wait.
- 1 < c < K: not here; ``dimensioning.queueing.MDcK`` bounds it by the infinite
  M/D/c tail or decides it by simulation (``dimensioning._queue_simulated``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import pdtrc

from dimensioning._queue_distributions import DelayDistribution
from dimensioning._queue_mdc import poisson_pmf
from dimensioning.root_finding import brent_root

__all__ = ["md1k_state_probabilities", "MD1KWaitKernel"]


def md1k_state_probabilities(rho: float, capacity: int) -> tuple[NDArray[np.float64], float]:
    """Time-average P(N = n), n = 0..K, and the blocking probability of M/D/1/K.

    Works for any rho > 0 (overload included): the recursion is homogeneous, so
    it is rescaled whenever it grows, and normalised at the end.
    """
    size = capacity  # states 0..K-1 at departure epochs
    j = np.arange(size + 1, dtype=float)
    a0 = math.exp(-rho)
    above = pdtrc(j, rho)  # Abar_j = P(A > j)
    # Abar_j underflows to exactly 0 past j ~ rho + 40 sqrt(rho) + 150: only
    # the last `reach` terms of the sum are non-zero, so the recursion is O(K reach)
    reach = int(np.count_nonzero(above))
    pi = np.zeros(size)
    pi[0] = 1.0
    for n in range(size - 1):
        # pi_{n+1} a0 = pi_0 Abar_n + sum_{k=1}^{n} pi_k Abar_{n-k+1}
        total = pi[0] * above[n]
        first = max(1, n + 2 - reach)
        if n >= first:
            total += float(pi[first : n + 1] @ above[n - first + 1 : 0 : -1])
        pi[n + 1] = total / a0
        if pi[n + 1] > 1e250:
            pi /= pi[n + 1]
    pi /= pi.sum()
    scale = pi[0] + rho
    # 1 - 1/(pi_0 + rho) cancels at light load: clamp the rounding (~1e-16) at 0
    blocking = max(1.0 - 1.0 / scale, 0.0)
    probabilities = np.append(pi / scale, blocking)
    return probabilities, blocking


class MD1KWaitKernel(DelayDistribution):
    """Exact wait of admitted requests in M/D/1/K, any rho."""

    def __init__(self, arrival_rate: float, service_time: float, capacity: int) -> None:
        self.arrival_rate = float(arrival_rate)
        self.service_time = float(service_time)
        self.capacity = int(capacity)
        self.rho = self.arrival_rate * self.service_time
        self.state, self.blocking = md1k_state_probabilities(self.rho, self.capacity)
        admitted = self.state[:-1]
        self.admitted_mass = float(admitted.sum())  # 1 - P_B, summed
        self.cumulative = np.cumsum(admitted)  # P(N <= n), n < K
        # P(n < N <= K-1), summed from the top
        self.between = np.append(np.cumsum(admitted[::-1])[::-1][1:], 0.0)
        self.atom = float(admitted[0] / self.admitted_mass)
        self.bound = (self.capacity - 1) * self.service_time
        self.upper = self.bound

    def _split(self, t: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        k = np.floor(t / self.service_time)
        u = t - k * self.service_time
        wrap = u >= self.service_time
        k = np.where(wrap, k + 1, k)
        u = np.where(wrap, 0.0, u)
        mean = np.maximum(self.arrival_rate * (self.service_time - u), 1e-300)
        return k.astype(np.int64), mean

    def _terms(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """(P(adm, W <= t), P(adm, W > t)) for t < (K-1)D, positive sums."""
        k, mean = self._split(t)
        # Poisson(x <= lambda D) weights vanish past x + 12 sqrt(x) + 40
        width = int(self.rho + 12.0 * math.sqrt(self.rho) + 41.0)
        top = min(int(k.max()) + 1, width)
        i = np.arange(top)[None, :]
        weights = poisson_pmf(i.astype(float), mean[:, None])
        level = k[:, None] + 1 - i  # P(N <= k + 1 - i), k + 1 <= K - 1
        valid = (i <= k[:, None]) & (level >= 0)
        index = np.clip(level, 0, self.capacity - 1)
        below = np.sum(np.where(valid, weights * self.cumulative[index], 0.0), axis=1)
        above = np.sum(np.where(valid, weights * self.between[index], 0.0), axis=1)
        above += pdtrc(k, mean) * self.admitted_mass
        return below, above

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.ones_like(t)
        inside = t < self.bound
        if inside.any():
            out[inside] = self._terms(t[inside])[0] / self.admitted_mass
        return out

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        out = np.zeros_like(t)
        inside = t < self.bound
        if inside.any():
            out[inside] = self._terms(t[inside])[1] / self.admitted_mass
        return out

    def _scale(self) -> float:
        return self.service_time

    def _ppf_scalar(self, p: float) -> float:
        # bracket on multiples of D by bisection (the cdf is continuous on (0, (K-1)D])
        D = self.service_time

        def at_multiple(k: int) -> float:
            return self.atom if k == 0 else float(self._cdf(np.array([k * D]))[0])

        low_k, high_k = 0, self.capacity - 1  # cdf((K-1)D) = 1 >= p
        while high_k - low_k > 1:
            middle = (low_k + high_k) // 2
            if at_multiple(middle) >= p:
                high_k = middle
            else:
                low_k = middle
        low, high = low_k * D, high_k * D
        if float(self._cdf(np.array([low]))[0]) >= p and low > 0:
            return low
        return brent_root(lambda t: float(self._cdf(np.array([t]))[0]) - p, low, high,
                      xtol=1e-14 * self.service_time, rtol=1e-15, maxiter=200)

    def mean(self) -> float:
        """Little's law on admitted requests: E[N_q] / (lambda (1 - P_B))."""
        n = np.arange(self.capacity + 1)
        queue = float(np.maximum(n - 1, 0) @ self.state)
        return queue / (self.arrival_rate * self.admitted_mass)
