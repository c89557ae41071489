"""Kernels: M/D/c/K (K = most requests in the system, in service plus waiting).

- c = 1, exact at every rho (reference: /work/shared/reference/queueing.md,
  "Finite capacity"; Tijms 2003, 9.?; Brun & Garcia, J. Appl. Prob. 37, 2000):
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
- 1 < c < K: no finite exact chain exists; see ``MDcKApproximation``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import pdtrc

from dimensioning._queue_distributions import DelayDistribution
from dimensioning._queue_erlang import erlang_b, erlang_c
from dimensioning._queue_mdc import poisson_pmf

__all__ = ["md1k_state_probabilities", "MD1KWaitKernel", "MDcKApproximation", "ResidualMixtureWait"]


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
        from scipy.optimize import brentq

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
        return brentq(lambda t: float(self._cdf(np.array([t]))[0]) - p, low, high,
                      xtol=1e-14 * self.service_time, rtol=1e-15, maxiter=200)

    def mean(self) -> float:
        """Little's law on admitted requests: E[N_q] / (lambda (1 - P_B))."""
        n = np.arange(self.capacity + 1)
        queue = float(np.maximum(n - 1, 0) @ self.state)
        return queue / (self.arrival_rate * self.admitted_mass)


class ResidualMixtureWait(DelayDistribution):
    """Wait of an admitted request given the law of N it sees (an APPROXIMATION).

    Seeing n >= c in the system, the request is the (m+1)-th to start, m = n - c:
    it waits floor(m/c) full service times and then the (m mod c + 1)-th
    smallest of the c residual service times, taken as c independent
    uniforms on (0, D): a Beta(i, c + 1 - i) fraction of D.
    """

    def __init__(self, state: NDArray[np.float64], servers: int, service_time: float) -> None:
        from scipy.stats import beta

        self._beta = beta
        weights = np.asarray(state, dtype=float)
        self.weights = weights / weights.sum()
        self.servers = servers
        self.service_time = service_time
        self.atom = float(self.weights[:servers].sum())
        waiting = np.arange(max(self.weights.size - servers, 0))
        self.rounds = waiting // servers
        self.order = waiting % servers + 1
        self.queue_weights = self.weights[servers:]
        self.upper = float((self.rounds.max() + 1) * service_time) if waiting.size else 0.0

    def _parts(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        x = t[:, None] / self.service_time - self.rounds[None, :]
        a, b = self.order[None, :], self.servers + 1 - self.order[None, :]
        return self._beta.cdf(x, a, b), self._beta.sf(x, a, b)

    def _cdf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.atom + self._parts(t)[0] @ self.queue_weights

    def _sf(self, t: NDArray[np.float64]) -> NDArray[np.float64]:
        return self._parts(t)[1] @ self.queue_weights

    def _scale(self) -> float:
        return self.service_time

    def mean(self) -> float:
        parts = self.rounds + self.order / (self.servers + 1.0)
        return float(self.service_time * (parts @ self.queue_weights))


class MDcKApproximation:
    """M/D/c/K with 1 < c < K: an APPROXIMATION (no finite exact chain exists).

    rho < ``SWITCH_RHO`` (0.999): anchored truncation of the exact M/D/c law.
    Blocking P_B = (1 - rho) R / (1 - rho R), the M/G/1/K identity (Keilson;
    Tijms 2003) with R = C(a, c) P(N >= K) / P(N >= c): the M/D/c queue shape
    beyond c, anchored on the Erlang C delay probability so that K = c gives
    Erlang B exactly (for M/M/c the identity is exact). The plain truncation
    (R = P(N >= K)) under-estimates by 4-22% (reference queueing.md); this one
    was within -6% .. +21% of the exact recursion simulated (under-estimating
    at moderate load, over-estimating close to rho = 1; tests/dimensioning/
    test_queueing_finite.py and docs/queueing.md). Wait of admitted requests: the M/D/c law of N
    seen at arrival, restricted to N <= K - 1, with ``ResidualMixtureWait``
    (p50/p90/p99 within ~20% of the simulated recursion, mostly above it);
    where P(N >= K - 1) < 1e-9 the queue cap never binds and the exact M/D/c
    wait is used (so it tends to M/D/c as K grows).

    rho >= ``SWITCH_RHO`` (near saturation and overload, where the M/D/c
    grids grow without bound): blocking is the smaller of two estimates that
    both over-estimated it in every case simulated: (i) the c servers as one
    server of service time D/c with K - c + 1 places, solved exactly (M/D/1/K
    chain); (ii) rate balance over the measure nu_n = a^n/n! (n <= c),
    nu_c tau^-(n-c) (c < n < K), tau the root of z = e^{rho(z-1)} other than 1
    (exact for K = c: Erlang B): P_B = 1 - gamma S, gamma = c / ((a + c) S - B),
    S = sum nu_n, B = sum min(n, c) nu_n. Observed +0.2% to +25% (worst at
    rho = 1 with K - c small). Wait: ``ResidualMixtureWait`` over nu (p90/p99
    0-18% above the simulated recursion).
    """

    SWITCH_RHO = 0.999

    def __init__(self, arrival_rate: float, service_time: float, servers: int, capacity: int) -> None:
        from dimensioning._queue_distributions import TruncatedDelay
        from dimensioning._queue_mdc import MDcWaitKernel

        self.arrival_rate = arrival_rate
        self.service_time = service_time
        self.servers = servers
        self.capacity = capacity
        offered = arrival_rate * service_time
        rho = offered / servers
        from dimensioning._queue_mdc import grid_too_large

        if float(pdtrc(servers - 1, offered)) < 1e-12:
            # light traffic: P(N >= c) < 1e-12; Erlang B with c servers bounds the blocking
            from dimensioning._queue_distributions import NegligibleDelay

            self.route = "light traffic: P(N >= c) < 1e-12, blocking bounded by Erlang B(a, c)"
            self.blocking = erlang_b(offered, servers)
            self.wait = NegligibleDelay(float(pdtrc(servers - 1, offered)))
        elif rho < self.SWITCH_RHO and not grid_too_large(offered, servers):
            self.route = "anchored truncation of exact M/D/c"
            kernel = MDcWaitKernel(arrival_rate, service_time, servers)
            level = np.array([capacity - 1])
            beyond = float(kernel._sf_at(level, np.array([offered]))[0])  # P(N >= K)
            waiting = kernel.positive  # P(N >= c)
            delay = erlang_c(offered, servers)
            ratio = delay * beyond / waiting if waiting > 0 else 0.0
            self.blocking = (1.0 - rho) * ratio / (1.0 - rho * ratio)
            reach = float(kernel._sf_at(np.array([capacity - 2]), np.array([offered]))[0])
            if reach < 1e-9:
                bound = math.ceil((capacity - servers) / servers) * service_time
                self.wait: DelayDistribution = TruncatedDelay(kernel, bound)
            else:
                # P(N = n), n < K, of the infinite queue: Q (+) Poisson(a)
                spread = int(offered + 12.0 * math.sqrt(offered) + 40.0)
                state = np.convolve(kernel.queue.pmf, poisson_pmf(np.arange(spread, dtype=float), np.array(offered)))
                state = np.concatenate((state, np.zeros(max(capacity - state.size, 0))))[:capacity]
                self.wait = ResidualMixtureWait(state, servers, service_time)
        else:
            self.route = "near saturation/overload: min(one fast server M/D/1/K, rate balance), residual mixture"
            fast = MD1KWaitKernel(arrival_rate, service_time / servers, capacity - servers + 1)
            measure = _geometric_measure(offered, servers, capacity)
            n = np.arange(capacity)
            total = float(measure.sum())
            busy = float(np.minimum(n, servers) @ measure)
            balance = 1.0 - servers * total / ((offered + servers) * total - busy)
            self.blocking = min(fast.blocking, balance)
            self.wait = ResidualMixtureWait(measure, servers, service_time)


def _geometric_measure(offered: float, servers: int, capacity: int) -> NDArray[np.float64]:
    """nu_n, n < K: a^n/n! up to c, then geometric with the M/D/c decay root tau."""
    from scipy.special import gammaln, lambertw

    rho = offered / servers
    if abs(rho - 1.0) < 1e-9:
        tau = 1.0
    else:
        branch = 0 if rho > 1.0 else -1
        tau = float(np.real(-lambertw(-rho * math.exp(-rho), branch) / rho))
    n = np.arange(capacity)
    log_measure = np.where(
        n <= servers,
        n * math.log(offered) - gammaln(n + 1.0),
        servers * math.log(offered) - gammaln(servers + 1.0) - (n - servers) * math.log(tau),
    )
    return np.exp(log_measure - log_measure.max())
