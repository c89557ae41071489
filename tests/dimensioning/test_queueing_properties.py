"""Identities and limits that every queue model must satisfy (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.queueing import GIDc, MDc, MDcK, MG1, MGc

servers = st.sampled_from([1, 2, 3, 8, 32, 128])
loads = st.floats(min_value=0.05, max_value=0.97)
service_times = st.floats(min_value=1e-3, max_value=10.0)


SHORT = 100_000  # simulated models: a short run keeps the properties quick (the figures are still upper ends)


def models(c: int, rho: float, d: float) -> list:
    lam = c * rho / d
    return [
        MDc(lam, d, c),
        MDcK(lam, d, c, c + 3 * c, requests=SHORT),
        MDcK(lam, d, c, c),
        MG1(rho / d, [0.5 * d, 1.5 * d], [0.5, 0.5]),
        MGc(lam, [0.5 * d, 1.5 * d], [0.5, 0.5], c, requests=SHORT),
        GIDc(lam, d, c, 1.7, requests=SHORT),
    ]


@settings(max_examples=25, deadline=None)
@given(c=servers, rho=loads, d=service_times, fractions=st.lists(st.floats(0.0, 8.0), min_size=1, max_size=6))
def test_cdf_plus_sf_is_one_and_cdf_is_monotone(c: int, rho: float, d: float, fractions: list[float]) -> None:
    times = np.sort(np.array(fractions) * d)
    for model in models(c, rho, d):
        for distribution in (model.wait, model.sojourn):
            cdf = distribution.cdf(times)
            sf = distribution.sf(times)
            np.testing.assert_allclose(cdf + sf, 1.0, atol=1e-9)
            assert np.all((cdf >= 0) & (cdf <= 1))
            if model.method != "simulated":
                # simulated laws are pointwise upper ends of intervals: bounds, not one monotone law
                assert np.all(np.diff(cdf) >= -1e-12)


@settings(max_examples=25, deadline=None)
@given(c=servers, rho=loads, d=service_times, p=st.floats(0.01, 0.999))
def test_ppf_inverts_cdf_on_the_continuous_part(c: int, rho: float, d: float, p: float) -> None:
    for model in models(c, rho, d):
        if model.method == "simulated":
            continue  # ppf and cdf are each the unfavourable end of their own interval
        wait = model.wait
        t = wait.ppf(p)
        if p <= wait.cdf(0.0):
            assert t == 0.0
        else:
            assert math.isfinite(t)
            assert abs(wait.cdf(t) - p) < 1e-8
            assert wait.ppf(wait.cdf(t)) == np.float64(t) or abs(wait.ppf(wait.cdf(t)) - t) <= 1e-7 * max(t, d)


@settings(max_examples=20, deadline=None)
@given(c=servers, low=st.floats(0.1, 0.9), step=st.floats(0.01, 0.08), d=service_times)
def test_wait_percentiles_grow_with_load(c: int, low: float, step: float, d: float) -> None:
    high = min(low + step, 0.98)
    for p in (0.5, 0.9, 0.99):
        assert MDc(c * low / d, d, c).wait.ppf(p) <= MDc(c * high / d, d, c).wait.ppf(p) + 1e-12 * d
    assert MDc(c * low / d, d, c).wait.mean() <= MDc(c * high / d, d, c).wait.mean() + 1e-12 * d
    # blocking figures carry ~1e-13 absolute rounding noise from the FFT; simulated ones
    # (common random numbers: the same seed) the noise of their interval's upper end
    lower = MDcK(c * low / d, d, c, 2 * c, requests=SHORT)
    upper = MDcK(c * high / d, d, c, 2 * c, requests=SHORT)
    slack = 0.25 * upper.blocking_probability if "simulated" in (lower.method, upper.method) else 0.0
    assert lower.blocking_probability <= upper.blocking_probability + slack + 1e-12


@given(c=servers, d=service_times)
@settings(max_examples=15, deadline=None)
def test_limits_in_load(c: int, d: float) -> None:
    idle = MDc(c * 1e-6 / d, d, c)
    assert idle.prob_wait < 1e-5 and idle.wait.ppf(0.99) == 0.0
    # rho -> 1: the mean wait diverges like 1/(1 - rho)
    near = [MDc(c * r / d, d, c).wait.mean() for r in (0.9, 0.99, 0.999)]
    assert near[0] < near[1] < near[2]
    assert near[2] > 5 * near[1] / 2


def test_finite_capacity_tends_to_infinite_queue() -> None:
    for c, rho in ((1, 0.8), (3, 0.8), (8, 0.9)):
        infinite = MDc(c * rho, 1.0, c).wait.ppf(0.99)
        gaps = [abs(MDcK(c * rho, 1.0, c, c + q).wait.ppf(0.99) - infinite) for q in (2 * c, 40 * c, 400)]
        assert gaps[-1] < 1e-6
        blocking = [MDcK(c * rho, 1.0, c, c + q).blocking_probability for q in (1, 4, 16, 64)]
        assert all(b1 > b2 for b1, b2 in zip(blocking, blocking[1:]))


def test_light_traffic_is_clean() -> None:
    """Vanishing load: no NaN, no rounding noise posing as waits; P(W > 0) ~ P(Poisson(a) >= c)."""
    from scipy.stats import poisson

    for c, rho in ((1, 1e-12), (2, 5e-8), (7, 1e-9), (3, 1e-300), (128, 1e-6)):
        queue = MDc(c * rho, 1.0, c)
        assert queue.wait.ppf(0.999999) == 0.0 and queue.wait.mean() == 0.0
        assert queue.prob_wait <= 1.01 * float(poisson.sf(c - 1, c * rho)) + 1e-300
        finite = MDcK(c * rho, 1.0, c, c + 3)
        assert 0.0 <= finite.blocking_probability < 1e-12 and finite.wait.ppf(0.99) == 0.0
