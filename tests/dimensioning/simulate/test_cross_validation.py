"""The simulator against exact queueing results (issue 3, item 7).

Oracles are independent of the simulator: the exact M/D/c waiting-time law
(dimensioning.queueing.MDc: roots + FFT of the Crommelin chain), Erlang B
(truncated-Poisson closed form from scipy, insensitive to the service law),
the M/D/1/K departure-epoch chain (solved here as a dense linear system;
Tijms, *A First Course in Stochastic Models*, 2003, ch. 9), and the
Pollaczek-Khinchine means.

Each grid point asserts that the exact p99 lies inside the simulator's 99%
sectioning interval. With correct intervals, a point misses 1% of the time,
so a fixed seed per point keeps the test deterministic; about 15% of seed
sets would miss one of the 16 points, which is what a 99% interval means.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dimensioning.queueing import MDc, MDcK
from dimensioning.simulate import DeterministicService, Poisson, Pool, simulate, simulate_queue
import dimensioning.simulate.check as check

GRID_REQUESTS = 1_000_000


@pytest.mark.parametrize("servers", [1, 4, 32, 256])
@pytest.mark.parametrize("rho", [0.3, 0.7, 0.9, 0.97])
def test_wait_p99_matches_exact_mdc(servers: int, rho: float) -> None:
    rate = rho * servers
    exact = MDc(arrival_rate=rate, service_time=1.0, servers=servers)
    result = simulate(
        Pool(replicas=servers),
        Poisson(rate),
        DeterministicService(1.0),
        seed=servers * 1000 + round(rho * 100),
        requests=GRID_REQUESTS,
        confidence=0.99,
    )
    p99 = result.summary.wait["p99"]
    assert p99.contains(exact.wait.ppf(0.99)), (p99, exact.wait.ppf(0.99))
    latency = result.summary.latency["p99"]
    assert latency.contains(exact.sojourn.ppf(0.99))
    # P(W > 0) where it is large enough to be seen in a million requests.
    if exact.prob_wait * GRID_REQUESTS > 1000:
        assert result.summary.prob_wait.contains(exact.prob_wait)


def _md1k_blocking(rho: float, capacity: int) -> float:
    """M/D/1/K blocking: departure-epoch chain on {0..K-1}, P_B = 1 - 1/(pi_0 + rho) (Tijms; queueing.md)."""
    states = capacity
    a = stats.poisson.pmf(np.arange(states + 1), rho)
    matrix = np.zeros((states, states))
    for i in range(states):
        base = max(i - 1, 0)
        for k in range(states):
            target = min(base + k, states - 1)
            if base + k < states - 1:
                matrix[i, target] += a[k]
        matrix[i, states - 1] += 1 - matrix[i, : states - 1].sum()
    # Stationary vector: pi (P - I) = 0, sum pi = 1.
    system = np.vstack((matrix.T - np.eye(states), np.ones(states)))
    rhs = np.zeros(states + 1)
    rhs[-1] = 1
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    return 1 - 1 / (pi[0] + rho)


def _erlang_b(offered: float, servers: int) -> float:
    """Erlang's formula as a truncated Poisson: P(X = c) / P(X <= c), X ~ Poisson(a)."""
    return float(stats.poisson.pmf(servers, offered) / stats.poisson.cdf(servers, offered))


@pytest.mark.parametrize(("rho", "capacity"), [(0.9, 5), (1.3, 10), (0.7, 3)])
def test_md1k_blocking_matches_departure_chain(rho: float, capacity: int) -> None:
    out = simulate_queue(rho, 1.0, 1, capacity, 400_000, seed=7)
    low, high = out["blocking_probability_ci95"]
    exact = _md1k_blocking(rho, capacity)
    # 95% interval, widened by 1% of the value for the 3 x 1 comparisons' multiplicity.
    assert low - 0.01 * exact <= exact <= high + 0.01 * exact, (exact, low, high)


@pytest.mark.parametrize(("offered", "servers"), [(9.0, 10), (30.0, 32), (3.0, 2)])
def test_loss_system_matches_erlang_b(offered: float, servers: int) -> None:
    out = simulate_queue(offered, 1.0, servers, servers, 400_000, seed=3)
    low, high = out["blocking_probability_ci95"]
    exact = _erlang_b(offered, servers)
    assert low - 0.01 * exact <= exact <= high + 0.01 * exact, (exact, low, high)
    assert out["wait_p999_s"] == 0.0  # a loss system never queues


def test_mdck_exact_routes_agree_with_the_simulator() -> None:
    """Against MDcK where it calls its figure exact (c = 1: the chain; K = c: Erlang B)."""
    for servers, capacity, rho in [(1, 6, 0.9), (4, 4, 0.8)]:
        model = MDcK(arrival_rate=rho * servers, service_time=1.0, servers=servers, capacity=capacity)
        assert model.method == "exact"
        out = simulate_queue(rho * servers, 1.0, servers, capacity, 400_000, seed=11)
        low, high = out["blocking_probability_ci95"]
        exact = model.blocking_probability
        assert low - 0.01 * exact <= exact <= high + 0.01 * exact, (exact, low, high)
    # M/D/1/K is exact (departure-epoch chain): the admitted requests' p99 wait too.
    model = MDcK(arrival_rate=0.9, service_time=1.0, servers=1, capacity=6)
    result = simulate(Pool(replicas=1, queue_cap=5), Poisson(0.9), DeterministicService(1.0), seed=13,
                      requests=400_000, confidence=0.99)
    assert result.summary.wait["p99"].contains(model.wait.ppf(0.99))
    out = simulate_queue(0.9, 1.0, 1, 6, 400_000, seed=13)
    assert out["wait_p99_s_ci95"][0] <= model.wait.ppf(0.99) * 1.01
    assert model.wait.ppf(0.99) <= out["wait_p99_s_ci95"][1] * 1.01


def test_streaming_in_chunks_gives_the_same_figures(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's state crosses chunk boundaries exactly: chunk size never changes a figure."""
    whole = simulate_queue(14.4, 1.0, 16, 32, 200_000, seed=4)
    monkeypatch.setattr(check, "_CHUNK", 777)
    pieces = simulate_queue(14.4, 1.0, 16, 32, 200_000, seed=4)
    for key, value in whole.items():
        if key != "wall_s":
            assert pieces[key] == pytest.approx(value, rel=1e-12, abs=1e-15), key


def test_md1_mean_wait_matches_pollaczek_khinchine() -> None:
    rho = 0.8
    out = simulate_queue(rho / 2.0, 2.0, 1, None, 1_000_000, seed=5)
    exact = rho * 2.0 / (2 * (1 - rho))
    low, high = out["wait_mean_s_ci95"]
    assert low <= exact <= high
    assert math.isclose(out["utilization"], rho, rel_tol=0.01)
