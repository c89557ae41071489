"""Erlang B and C at bounded cost for any number of servers (private kernel).

- c <= ``RECURSION_MAX`` servers: the stable recursion B(0) = 1,
  B(n) = a B(n-1) / (n + a B(n-1)) (Tijms 2003, section 2.7), exact to rounding.
- Larger c, a < c: B = P(X = c) / P(X <= c) with X ~ Poisson(a) (the
  truncated-Poisson form of Erlang's formula), the pmf in log space
  (``gammaln``) and the cdf by ``scipy.special.pdtr`` (which stays above ~1/2
  here, since the Poisson median is about a < c). Relative error about
  1e-16 * ln(c!) (~2e-6 at c = 1e9).
- Larger c, a >= c: 1/B = sum_{k=0}^{c} prod_{j<k} (c - j)/a, a series whose
  terms fall at least as fast as exp(-k^2 / (2c)): summed in log space until
  the next term is below 1e-18 of the sum, about 9 sqrt(c) terms at most.

No loop runs once per server: the cost is O(1) or O(sqrt(c)).
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import gammaln, pdtr

__all__ = ["erlang_b", "erlang_c", "RECURSION_MAX"]

RECURSION_MAX = 4096


def _series_inverse(offered: float, servers: int) -> float:
    """1/B for a >= c: sum_k exp(sum_{j<k} log1p(-j/c) + k log(c/a)), k = 0..c."""
    total = 0.0
    log_term = 0.0  # log of the k-th term
    k = 0
    block = 4096
    log_ratio = math.log(servers / offered)  # <= 0
    while k <= servers:
        j = np.arange(k, min(k + block, servers + 1), dtype=float)
        steps = np.log1p(-j / servers) + log_ratio  # log(term_{j+1} / term_j)
        logs = log_term + np.concatenate(([0.0], np.cumsum(steps)[:-1]))
        total += float(np.exp(logs).sum())
        log_term = logs[-1] + steps[-1]
        k += j.size
        if not math.isfinite(log_term) or log_term < math.log(total) - 41.5:  # e^-41.5 ~ 1e-18
            break
    return total


def erlang_b(offered: float, servers: int) -> float:
    """Erlang B blocking of M/G/c/c, offered load a = lambda E[S] erlangs (insensitive to the service law)."""
    if offered <= 0.0:
        return 0.0
    if servers <= RECURSION_MAX:
        blocking = 1.0
        for n in range(1, servers + 1):
            blocking = offered * blocking / (n + offered * blocking)
        return blocking
    if offered < servers:
        log_pmf = servers * math.log(offered) - offered - float(gammaln(servers + 1.0))
        return math.exp(log_pmf - math.log(float(pdtr(servers, offered))))
    return 1.0 / _series_inverse(offered, servers)


def erlang_c(offered: float, servers: int) -> float:
    """Erlang C: P(wait > 0) in M/M/c, C = B / (1 - rho (1 - B)); 1 when rho >= 1."""
    rho = offered / servers
    if rho >= 1.0:
        return 1.0
    blocking = erlang_b(offered, servers)
    return blocking / (1.0 - rho * (1.0 - blocking))
