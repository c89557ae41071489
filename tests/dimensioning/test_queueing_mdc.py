"""M/D/c against independent references: mpmath (Erlang 1909), closed forms,
Spitzer/Panjer (root-free), and the exact Lindley simulation.

Never against the same formula: the model uses roots + FFT + the
P(W <= kD+u) = P(Q + A_u <= (k+1)c - 1) sums.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.integrate import quad
from scipy.stats import poisson

from dimensioning.errors import InvalidInput
from dimensioning.queueing import MDc


# --- references -------------------------------------------------------------------
def erlang_md1_cdf(rho: float, service_time: float, t: float) -> float:
    """Erlang (1909): P(W <= t) = (1-rho) sum_{k<=t/D} [lam(kD-t)]^k/k! e^{-lam(kD-t)}.

    Alternating and catastrophically cancelling: evaluated in mpmath with the
    precision raised until two successive precisions agree to 1e-25.
    """
    previous = None
    for digits in (30, 60, 120, 240, 480):
        with mp.workdps(digits):
            lam = mp.mpf(rho) / service_time
            t_mp, d_mp = mp.mpf(t), mp.mpf(service_time)
            total = mp.mpf(0)
            for k in range(int(mp.floor(t_mp / d_mp)) + 1):
                x = lam * (k * d_mp - t_mp)
                total += x**k / mp.factorial(k) * mp.exp(-x)
            value = (1 - mp.mpf(rho)) * total
            if previous is not None and abs(value - previous) < mp.mpf(10) ** -25:
                return float(value)
            previous = value
    raise AssertionError("mpmath reference did not converge")


def spitzer_queue_pmf(servers: int, rho: float, size: int, terms: int) -> np.ndarray:
    """pmf of Q = max(N - c, 0) at multiples of D, root-free (Spitzer's identity + Panjer).

    Q is compound Poisson: h_m = sum_n Pois(nc + m; na)/n, q_0 = exp(-sum_n P(Pois(na) > nc)/n),
    q_k = (1/k) sum_{m=1}^k m h_m q_{k-m}.
    """
    a = servers * rho
    n = np.arange(1, terms + 1)[:, None]
    m = np.arange(1, size)[None, :]
    h = np.exp(poisson.logpmf(n * servers + m, n * a)) / n
    h = np.concatenate(([0.0], h.sum(axis=0)))
    q = np.zeros(size)
    q[0] = math.exp(-float(np.sum(poisson.sf(n[:, 0] * servers, n[:, 0] * a) / n[:, 0])))
    weights = np.arange(size) * h
    for k in range(1, size):
        q[k] = float(weights[1 : k + 1] @ q[k - 1 :: -1][:k]) / k
    return q


def spitzer_wait_cdf_at_multiples(servers: int, rho: float, k_max: int, size: int, terms: int) -> np.ndarray:
    """Crommelin: P(W <= kD) = P(N <= (k+1)c - 1), N = Q + Poisson(a), k = 0..k_max."""
    q = spitzer_queue_pmf(servers, rho, size, terms)
    a = servers * rho
    cdf_q = np.cumsum(q)
    out = []
    for k in range(k_max + 1):
        level = (k + 1) * servers - 1
        i = np.arange(level + 1)
        index = np.minimum(level - i, size - 1)
        out.append(float(poisson.pmf(i, a) @ cdf_q[index]))
    return np.array(out)


def lindley_waits(arrival_rate: float, service_time: float, servers: int, count: int, seed: int) -> np.ndarray:
    """Exact FCFS M/D/c waits: S_n = max(T_n, S_{n-c} + D), per residue class (vectorised)."""
    rng = np.random.default_rng(seed)
    count -= count % servers
    arrivals = np.cumsum(rng.exponential(1.0 / arrival_rate, count)).reshape(-1, servers)
    offsets = np.arange(arrivals.shape[0])[:, None] * service_time
    starts = np.maximum.accumulate(arrivals - offsets, axis=0) + offsets
    return (starts - arrivals).ravel()


def batch_ci(indicator: np.ndarray, batches: int = 40) -> tuple[float, float]:
    """Mean and standard error by batch means (waits are correlated)."""
    usable = indicator[: indicator.size - indicator.size % batches].reshape(batches, -1).mean(axis=1)
    return float(usable.mean()), float(usable.std(ddof=1) / math.sqrt(batches))


# --- M/D/1 against mpmath and closed forms -----------------------------------------
@pytest.mark.parametrize("rho", [0.3, 0.9, 0.99])
def test_md1_cdf_matches_erlang_formula_in_mpmath(rho: float) -> None:
    service_time = 0.25
    queue = MDc(arrival_rate=rho / service_time, service_time=service_time, servers=1)
    times = np.array([0.01, 0.1, 0.25, 0.6, 1.3, 5.0, 12.5]) * (1.0 if rho < 0.95 else 4.0)
    reference = np.array([erlang_md1_cdf(rho, service_time, t) for t in times])
    assert_allclose(queue.wait.cdf(times), reference, rtol=0, atol=1e-9)
    assert_allclose(queue.wait.sf(times), 1.0 - reference, rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_md1_p99_matches_mpmath_root(rho: float) -> None:
    queue = MDc(arrival_rate=rho, service_time=1.0, servers=1)
    p99 = queue.wait.ppf(0.99)
    # the mpmath cdf crosses 0.99 at p99 to within 1e-6 relative
    assert erlang_md1_cdf(rho, 1.0, p99 * (1 - 1e-6)) < 0.99 < erlang_md1_cdf(rho, 1.0, p99 * (1 + 1e-6))


@pytest.mark.parametrize("rho", [0.2, 0.7, 0.95, 0.99])
def test_md1_moments_match_pollaczek_khinchine(rho: float) -> None:
    service_time = 2.0
    lam = rho / service_time
    queue = MDc(arrival_rate=lam, service_time=service_time, servers=1)
    mean = rho * service_time / (2 * (1 - rho))
    second = 2 * mean**2 + lam * service_time**3 / (3 * (1 - rho))
    assert queue.wait.mean() == pytest.approx(mean, rel=1e-12)
    assert queue.wait.var() == pytest.approx(second - mean**2, rel=1e-10)
    # the distribution itself integrates to the closed-form moments
    upper = queue.wait.ppf(1 - 1e-15) * 1.5
    breaks = list(np.arange(service_time, min(upper, 200 * service_time), service_time))
    integral_1, _ = quad(lambda t: queue.wait.sf(t), 0, upper, points=breaks[:50], limit=2000)
    integral_2, _ = quad(lambda t: 2 * t * queue.wait.sf(t), 0, upper, points=breaks[:50], limit=2000)
    assert integral_1 == pytest.approx(mean, rel=1e-7)
    assert integral_2 == pytest.approx(second, rel=1e-7)


def test_md1_tail_matches_cramer_lundberg_from_20_service_times() -> None:
    rho = 0.9
    queue = MDc(arrival_rate=rho, service_time=1.0, servers=1)
    # tau from mpmath's Lambert W, independent of scipy
    tau = float(-mp.lambertw(-rho * mp.e ** (-rho), -1) / rho)
    delta = rho * (tau - 1)
    beta = (1 - rho) / (rho * tau - 1)
    times = np.array([20.0, 40.0, 80.0, 200.0])
    assert_allclose(queue.wait.sf(times), beta * np.exp(-delta * times), rtol=1e-8)


# --- M/D/c against Spitzer/Panjer and simulation -------------------------------------
@pytest.mark.parametrize(("servers", "rho", "terms"), [(2, 0.8, 3000), (10, 0.9, 3000), (64, 0.95, 3000)])
def test_mdc_at_multiples_of_d_matches_spitzer_panjer(servers: int, rho: float, terms: int) -> None:
    queue = MDc(arrival_rate=servers * rho, service_time=1.0, servers=servers)
    reference = spitzer_wait_cdf_at_multiples(servers, rho, k_max=6, size=600, terms=terms)
    assert_allclose(queue.wait.cdf(np.arange(7.0)), reference, rtol=0, atol=1e-9)


def test_mdc_1024_servers_rho_099_matches_spitzer_panjer() -> None:
    servers, rho = 1024, 0.99
    queue = MDc(arrival_rate=servers * rho, service_time=1.0, servers=servers)
    reference = spitzer_wait_cdf_at_multiples(servers, rho, k_max=2, size=2600, terms=900)
    assert_allclose(queue.wait.cdf(np.array([0.0, 1.0, 2.0])), reference, rtol=0, atol=1e-9)
    # the p99 lies inside the first service time: check it against the crossing of the reference body
    assert 0 < queue.wait.ppf(0.99) < 1.0
    assert queue.wait.cdf(queue.wait.ppf(0.99)) == pytest.approx(0.99, abs=1e-12)


def test_mdc_mean_matches_spitzer_series() -> None:
    """E[W] from the Spitzer/Panjer pmf (root-free) against the roots formula of the model.

    Integrating P(W > kD + u) = P(Q + A_u > L_k), L_k = (k+1)c - 1, over u gives
    lambda E[W] = sum_k E[a 1{Q > L_k} + 1{Q <= L_k} (A - (L_k - Q) - 1)+], A ~ Pois(a),
    with E[(A - j)+] = a P(A >= j) - j P(A > j).
    """
    servers, rho = 5, 0.85
    a = servers * rho
    q = spitzer_queue_pmf(servers, rho, 400, 3000)
    m = np.arange(q.size)
    total = 0.0
    for k in range(80):
        level = (k + 1) * servers - 1
        j = level - m + 1
        excess = a * poisson.sf(j - 1, a) - j * poisson.sf(j, a)
        total += float(q @ np.where(m > level, a, excess))
    reference = total / a  # lambda = a when D = 1
    assert MDc(a, 1.0, servers).wait.mean() == pytest.approx(reference, rel=1e-9)


@pytest.mark.parametrize(("servers", "rho"), [(3, 0.7), (10, 0.9)])
def test_mdc_matches_lindley_simulation(servers: int, rho: float) -> None:
    lam = servers * rho
    waits = lindley_waits(lam, 1.0, servers, 2_000_000, seed=7)[50_000:]
    queue = MDc(lam, 1.0, servers)
    for t in (0.0, 0.3, 1.0, 1.7, 3.0):
        estimate, error = batch_ci((waits <= t).astype(float))
        assert abs(queue.wait.cdf(t) - estimate) < 4 * error + 1e-4, t
    estimate, error = batch_ci(waits)
    assert abs(queue.wait.mean() - estimate) < 4 * error


@pytest.mark.parametrize("servers", [1, 8, 64, 512, 1024])
@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
def test_large_systems_are_consistent(servers: int, rho: float) -> None:
    queue = MDc(servers * rho / 0.2, 0.2, servers)
    w = queue.wait
    times = np.linspace(0.0, 3.0, 31)
    assert_allclose(w.cdf(times) + w.sf(times), 1.0, atol=1e-12)
    assert np.all(np.diff(w.cdf(times)) >= -1e-15)
    p = w.ppf(0.99)
    assert np.isfinite(p)
    if p > 0:
        assert w.cdf(p) == pytest.approx(0.99, abs=1e-10)
    assert w.mean() >= 0
    assert queue.sojourn.ppf(0.99) == pytest.approx(p + 0.2, rel=1e-12)


# --- conventions and validation ----------------------------------------------------------
@pytest.mark.parametrize("rho", [1.0, 1.5])
def test_unstable_queue_has_infinite_waits(rho: float) -> None:
    queue = MDc(arrival_rate=4 * rho, service_time=1.0, servers=4)
    assert not queue.stable
    assert queue.prob_wait == 1.0
    assert queue.wait.cdf(10.0) == 0.0
    assert queue.wait.sf(10.0) == 1.0
    assert math.isinf(queue.wait.mean())
    assert np.all(np.isinf(queue.wait.ppf(np.array([0.01, 0.5, 1.0]))))
    assert queue.sojourn.ppf(0.99) == math.inf


def test_scalar_in_float_out_array_in_array_out() -> None:
    w = MDc(9.0, 1.0, 10).wait
    assert isinstance(w.cdf(0.5), float)
    assert isinstance(w.ppf(0.5), float)
    out = w.cdf(np.array([[0.1, 0.2], [0.3, 0.4]]))
    assert isinstance(out, np.ndarray) and out.shape == (2, 2)
    assert w.ppf(w.cdf(0.0)) == 0.0  # p <= P(W = 0) gives 0
    assert w.ppf(1.0) == math.inf


def test_idle_system_never_waits() -> None:
    queue = MDc(0.0, 1.0, 3)
    assert queue.prob_wait == 0.0 and queue.wait.mean() == 0.0 and queue.wait.ppf(0.99) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"arrival_rate": -1.0, "service_time": 1.0, "servers": 1}, "arrival_rate"),
        ({"arrival_rate": math.nan, "service_time": 1.0, "servers": 1}, "arrival_rate"),
        ({"arrival_rate": 1.0, "service_time": 0.0, "servers": 1}, "service_time"),
        ({"arrival_rate": 1.0, "service_time": 1.0, "servers": 0}, "servers"),
        ({"arrival_rate": 1.0, "service_time": 1.0, "servers": 2.5}, "servers"),
    ],
)
def test_bad_parameters_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        MDc(**kwargs)
    assert raised.value.field == field


def test_bad_probability_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        MDc(0.5, 1.0, 1).wait.ppf(1.5)


def test_model_is_frozen() -> None:
    queue = MDc(0.5, 1.0, 1)
    with pytest.raises(AttributeError):
        queue.servers = 2  # type: ignore[misc]


# --- near saturation ------------------------------------------------------------------------
@pytest.mark.parametrize("rho", [0.5, 0.99, 1 - 1e-6, 1 - 1e-10])
def test_decay_root_keeps_relative_accuracy_near_saturation(rho: float) -> None:
    from dimensioning._queue_mdc import decay_excess

    with mp.workdps(60):
        r = mp.mpf(rho)
        tau = -mp.lambertw(-r * mp.e ** (-r), -1) / r
        reference = float(tau - 1)
    assert decay_excess(rho) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize(("servers", "rho"), [(1, 1 - 1e-7), (64, 1 - 1e-6), (1024, 0.9995)])
def test_heavy_traffic_fallback_is_labelled_and_keeps_exact_mean(servers: int, rho: float) -> None:
    queue = MDc(servers * rho, 1.0, servers)
    assert queue.method == "approximation" and "approximation" in queue.method_note
    if servers == 1:
        assert queue.wait.mean() == pytest.approx(rho / (2 * (1 - rho)), rel=1e-6)
        assert queue.prob_wait == pytest.approx(rho, rel=1e-12)
    p99 = queue.wait.ppf(0.99)
    assert math.isfinite(p99) and queue.wait.cdf(p99) == pytest.approx(0.99, abs=1e-12)


def test_heavy_traffic_switch_is_continuous_within_one_percent() -> None:
    """Exact at rho = 0.999 (c = 1024) against the fallback formula evaluated at the same point."""
    from dimensioning._queue_mdc import HeavyTrafficWait

    exact = MDc(1024 * 0.999, 1.0, 1024)
    assert exact.method == "exact"
    fallback = HeavyTrafficWait(1024 * 0.999, 1.0, 1024)
    for p in (0.9, 0.99, 0.999):
        assert fallback.ppf(p) == pytest.approx(exact.wait.ppf(p), rel=0.01)
