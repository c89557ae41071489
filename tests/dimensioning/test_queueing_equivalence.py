"""M/D/c against the E_c/D/1 equivalence (queueing.md): a second, independent route.

FCFS M/D/c with identical D serves customers n, n+c, n+2c, ... on a cycle, so a
customer's wait equals the wait in a single-server queue fed by every c-th
arrival: inter-arrival Erlang(c, lambda), service D. That single-server queue is
simulated here by the random-walk form of Lindley's recursion,
``W_n = Z_n - min(0, min_{k<=n} Z_k)`` with ``Z`` the partial sums of ``D - T``,
and compared with the exact MDc figures through batch-means intervals.
"""

import numpy as np
import pytest
from scipy import stats

from dimensioning.queueing import MDc


def ec_d_1_waits(arrival_rate: float, service_time: float, servers: int, customers: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    gaps = rng.gamma(shape=servers, scale=1.0 / arrival_rate, size=customers)
    walk = np.cumsum(service_time - gaps)
    return walk - np.minimum(np.minimum.accumulate(walk), 0.0)


def batch_interval(values: np.ndarray, statistic, batches: int = 40, confidence: float = 0.999):
    figures = np.array([statistic(part) for part in np.array_split(values, batches)])
    half = stats.t.ppf(0.5 + confidence / 2, batches - 1) * figures.std(ddof=1) / np.sqrt(batches)
    return statistic(values) - half, statistic(values) + half


@pytest.mark.parametrize("servers, rho", [(1, 0.8), (4, 0.9), (16, 0.95), (64, 0.9)])
def test_wait_mean_and_p99_match_the_single_server_equivalent(servers, rho):
    service = 1.0
    rate = rho * servers / service
    waits = ec_d_1_waits(rate, service, servers, 2_000_000, seed=servers)[100_000:]
    exact = MDc(arrival_rate=rate, service_time=service, servers=servers)
    low, high = batch_interval(waits, np.mean)
    assert low <= exact.wait.mean() <= high
    low, high = batch_interval(waits, lambda w: np.quantile(w, 0.99))
    assert low <= exact.wait.ppf(0.99) <= high
    low, high = batch_interval(waits, lambda w: np.mean(w > 0))
    assert low <= exact.prob_wait <= high
