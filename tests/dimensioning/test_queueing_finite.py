"""M/D/c/K against independent references: the departure-epoch chain solved as a
dense linear system, Keilson's formula via the infinite M/D/1 queue, Erlang B in
closed form, and the exact FCFS recursion with blocking simulated here in plain
Python (a list of departures, not the project's simulator: S_n = max(T_n,
S_{n-c} + D) over ACCEPTED requests) with batch-means intervals.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln
from scipy.stats import poisson

from dimensioning.errors import InvalidInput
from dimensioning.queueing import MDc, MDcK


def simulate_finite(arrival_rate: float, service_time: float, servers: int, capacity: int,
                    count: int, seed: int) -> tuple[float, np.ndarray]:
    """Exact FCFS M/D/c/K: returns (blocked fraction, waits of admitted requests).

    Admitted requests leave in admission order (identical D, FCFS), so the
    number in system at an arrival is len(departures) - (index of the first
    departure still ahead); a request starts at max(T, departure of the one c
    places earlier).
    """
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1.0 / arrival_rate, count)).tolist()
    departures: list[float] = []
    head = 0
    waits: list[float] = []
    blocked = 0
    for t in arrivals:
        while head < len(departures) and departures[head] <= t:
            head += 1
        if len(departures) - head >= capacity:
            blocked += 1
            continue
        start = t if len(departures) < servers else max(t, departures[-servers])
        departures.append(start + service_time)
        waits.append(start - t)
    return blocked / count, np.array(waits)


def md1k_blocking_by_linear_solve(rho: float, capacity: int) -> float:
    """Departure-epoch chain on {0..K-1} solved densely: P_B = 1 - 1/(pi_0 + rho)."""
    size = capacity
    a = poisson.pmf(np.arange(size + 1), rho)
    matrix = np.zeros((size, size))
    for i in range(size):
        base = max(i - 1, 0)
        for j in range(base, size):
            matrix[i, j] = a[j - base] if j < size - 1 else poisson.sf(size - 2 - base, rho)
    system = matrix.T - np.eye(size)
    system[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    pi = np.linalg.solve(system, rhs)
    return 1.0 - 1.0 / (pi[0] + rho)


def erlang_b_closed_form(offered: float, servers: int) -> float:
    n = np.arange(servers + 1)
    log_terms = n * math.log(offered) - gammaln(n + 1)
    return float(math.exp(log_terms[-1] - np.logaddexp.reduce(log_terms)))


@pytest.mark.parametrize(("rho", "capacity"), [(0.5, 2), (0.8, 5), (0.95, 20), (1.0, 7), (1.3, 4), (3.0, 10)])
def test_md1k_blocking_matches_dense_chain(rho: float, capacity: int) -> None:
    model = MDcK(arrival_rate=rho / 0.1, service_time=0.1, servers=1, capacity=capacity)
    assert model.method == "exact"
    assert model.blocking_probability == pytest.approx(md1k_blocking_by_linear_solve(rho, capacity), rel=1e-10)


@pytest.mark.parametrize(("rho", "capacity"), [(0.6, 3), (0.9, 10)])
def test_md1k_blocking_matches_keilson_via_infinite_queue(rho: float, capacity: int) -> None:
    # P_B = (1 - rho) Q_K / (1 - rho Q_K), Q_K = P(N >= K) = P(W > (K - 1) D) in M/D/1
    tail = MDc(rho, 1.0, 1).wait.sf(capacity - 1.0)
    keilson = (1 - rho) * tail / (1 - rho * tail)
    assert MDcK(rho, 1.0, 1, capacity).blocking_probability == pytest.approx(keilson, rel=1e-9)


@pytest.mark.parametrize(("offered", "servers"), [(0.5, 1), (5.0, 4), (40.0, 50), (900.0, 1000)])
def test_loss_system_is_erlang_b(offered: float, servers: int) -> None:
    model = MDcK(offered, 1.0, servers, servers)
    assert model.method == "exact"
    assert model.blocking_probability == pytest.approx(erlang_b_closed_form(offered, servers), rel=1e-10)
    assert model.wait.ppf(0.99) == 0.0 and model.prob_wait == 0.0


@pytest.mark.parametrize(("rho", "capacity"), [(0.8, 5), (1.3, 4), (0.95, 12)])
def test_md1k_matches_simulated_recursion(rho: float, capacity: int) -> None:
    model = MDcK(rho, 1.0, 1, capacity)
    blocked, waits = simulate_finite(rho, 1.0, 1, capacity, 300_000, seed=11)
    # blocking: binomial-ish error inflated for correlation
    assert model.blocking_probability == pytest.approx(blocked, rel=0.04)
    for t in (0.0, 0.5, 1.5, 2.7):
        assert model.wait.cdf(t) == pytest.approx(float((waits <= t).mean()), abs=0.012)
    assert model.wait.mean() == pytest.approx(float(waits.mean()), rel=0.03)
    assert waits.max() <= (capacity - 1) * 1.0 + 1e-9
    assert model.wait.ppf(1.0) <= (capacity - 1) * 1.0 + 1e-12


def test_md1k_wait_is_the_infinite_wait_truncated() -> None:
    """Censoring: below (K-1)D the admitted wait of M/D/1/K is M/D/1's, renormalised."""
    rho, capacity = 0.7, 6
    infinite = MDc(rho, 1.0, 1).wait
    finite = MDcK(rho, 1.0, 1, capacity).wait
    times = np.array([0.2, 1.0, 2.5, 4.9])
    expected = infinite.cdf(times) / infinite.cdf(capacity - 1.0)
    np.testing.assert_allclose(finite.cdf(times), expected, rtol=1e-9)


def reference_interval(arrival_rate: float, servers: int, capacity: int, count: int, seed: int,
                       batches: int = 10) -> tuple[float, float, float, np.ndarray]:
    """Blocking of the independent recursion: (estimate, low, high) by batch means (t, 95%), and admitted waits."""
    pieces = [simulate_finite(arrival_rate, 1.0, servers, capacity, count // batches, seed + b) for b in range(batches)]
    fractions = np.array([p[0] for p in pieces])
    half = 2.262 * fractions.std(ddof=1) / math.sqrt(batches)  # t_{9, 0.975}
    return float(fractions.mean()), float(fractions.mean() - half), float(fractions.mean() + half), \
        np.concatenate([p[1] for p in pieces])


# (servers, capacity, rho) where no exact method exists (1 < c < K): the examples, overload, near K = c
SIMULATED_CASES = [
    (2, 4, 0.8), (8, 16, 0.7), (16, 32, 0.9), (8, 9, 0.7), (4, 6, 1.2), (16, 20, 1.0), (64, 80, 1.3),
]


@pytest.mark.parametrize(("servers", "capacity", "rho"), SIMULATED_CASES)
def test_mdck_simulated_blocking_is_safe_against_an_independent_simulation(servers: int, capacity: int,
                                                                          rho: float) -> None:
    """The reported P_B is the upper end of an interval: never below the independent recursion's
    interval, consistent with its point, and not needlessly far above (within 1.6x its upper end)."""
    lam = servers * rho
    model = MDcK(lam, 1.0, servers, capacity)
    assert model.method == "simulated" and "2,000,000 requests" in model.method_note
    point, low, high = model._simulated.figures.blocking()
    ref, ref_low, ref_high, waits = reference_interval(lam, servers, capacity, 200_000, seed=5)
    assert model.blocking_probability == high
    assert high >= ref_low
    assert low <= ref_high and ref_low <= high  # the two intervals overlap
    assert high <= 1.6 * ref_high
    bound = math.ceil((capacity - servers) / servers) * 1.0
    assert waits.max() <= bound + 1e-9
    assert model.wait.ppf(1.0) <= bound + 1e-9
    if rho >= 1.0:
        # overloaded: the admitted wait is reported as its hard bound
        assert model.wait.ppf(0.5) == bound
        return
    # the admitted p90 and p99 at the upper end: at least the reference's, within 0.1 D above it
    for p in (0.9, 0.99):
        reference = float(np.quantile(waits, p, method="inverted_cdf"))
        assert reference - 0.02 <= model.wait.ppf(p) <= reference + 0.1


def test_mdck_bound_route_where_the_cap_never_binds() -> None:
    """P(N >= K) of the infinite queue < 1e-7: blocking is bounded by it (sample-path monotonicity)."""
    model = MDcK(0.8 * 16, 1.0, 16, 64)
    assert model.method == "bound"
    infinite = MDc(0.8 * 16, 1.0, 16)
    assert 0.0 < model.blocking_probability < 1e-7
    assert model.wait.ppf(0.99) == infinite.wait.ppf(0.99)


def test_mdck_simulation_is_deterministic_for_a_seed() -> None:
    one = MDcK(14.4, 1.0, 16, 32, requests=100_000, seed=3)
    two = MDcK(14.4, 1.0, 16, 32, requests=100_000, seed=3)
    other = MDcK(14.4, 1.0, 16, 32, requests=100_000, seed=4)
    assert one.blocking_probability == two.blocking_probability != other.blocking_probability
    assert "100,000 requests, seed 3" in one.method_note


@pytest.mark.parametrize(("servers", "rho"), [(1, 0.9), (4, 0.8)])
def test_finite_tends_to_infinite_as_capacity_grows(servers: int, rho: float) -> None:
    lam = servers * rho
    infinite = MDc(lam, 1.0, servers)
    finite = MDcK(lam, 1.0, servers, servers + 400)
    assert finite.blocking_probability < 1e-12
    assert finite.wait.ppf(0.99) == pytest.approx(infinite.wait.ppf(0.99), rel=1e-9)
    assert finite.wait.mean() == pytest.approx(infinite.wait.mean(), rel=1e-6)


def test_overload_is_absorbed_by_blocking() -> None:
    model = MDcK(arrival_rate=30.0, service_time=1.0, servers=1, capacity=3)
    assert model.stable
    assert model.blocking_probability == pytest.approx(1 - 1 / (md1k_pi0(30.0, 3) + 30.0), rel=1e-9)
    assert 0.9 < model.blocking_probability < 1.0
    assert model.carried_utilization < 1.0
    assert model.wait.ppf(0.99) <= 2.0


def md1k_pi0(rho: float, capacity: int) -> float:
    size = capacity
    a = poisson.pmf(np.arange(size + 1), rho)
    matrix = np.zeros((size, size))
    for i in range(size):
        base = max(i - 1, 0)
        for j in range(base, size):
            matrix[i, j] = a[j - base] if j < size - 1 else poisson.sf(size - 2 - base, rho)
    system = matrix.T - np.eye(size)
    system[-1, :] = 1.0
    rhs = np.zeros(size)
    rhs[-1] = 1.0
    return float(np.linalg.solve(system, rhs)[0])


def test_capacity_below_servers_is_invalid() -> None:
    with pytest.raises(InvalidInput) as raised:
        MDcK(1.0, 1.0, 4, 3)
    assert raised.value.field == "capacity"
    assert MDcK(1.0, 1.0, 4, 6).queue_capacity == 2
