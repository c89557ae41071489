"""Token distributions: closed-form partial means against numerical integration."""

import math

import pytest
from hypothesis import given, settings, strategies as st
from scipy import integrate, stats

from dimensioning.inputs import TokenDistribution
from dimensioning.tokens import token_cdf, token_limited_mean, token_mean, token_partial_mean


def _lognormal(mean, std):
    return TokenDistribution(distribution="lognormal", mean=mean, std=std)


def test_lognormal_moments_match_the_parameterisation():
    dist = _lognormal(1800.0, 1500.0)
    sigma2 = math.log1p((1500 / 1800) ** 2)
    frozen = stats.lognorm(s=math.sqrt(sigma2), scale=1800 * math.exp(-sigma2 / 2))
    assert frozen.mean() == pytest.approx(1800, rel=1e-12)
    assert frozen.std() == pytest.approx(1500, rel=1e-12)
    assert token_cdf(dist, 2048) == pytest.approx(frozen.cdf(2048), rel=1e-12)


@pytest.mark.parametrize("family", ["lognormal", "gamma"])
@pytest.mark.parametrize("cap", [64.0, 350.0, 1024.0, 5000.0])
def test_limited_mean_equals_integral_of_survival(family, cap):
    dist = TokenDistribution(distribution=family, mean=350.0, std=250.0)
    # E[min(X, c)] = integral_0^c P(X > x) dx: an independent route
    expected, _ = integrate.quad(lambda x: 1 - token_cdf(dist, x), 0, cap, limit=200, epsabs=1e-10)
    assert token_limited_mean(dist, cap) == pytest.approx(expected, rel=1e-7)


def test_histogram_worked_by_hand():
    # 30% in (0,100], 50% in (100,300], 20% in (300,1000]
    dist = TokenDistribution(histogram=((100, 0.3), (300, 0.5), (1000, 0.2)))
    assert token_cdf(dist, 50) == pytest.approx(0.15)
    assert token_cdf(dist, 200) == pytest.approx(0.3 + 0.25)
    assert token_cdf(dist, 2000) == 1.0
    # mean: 0.3*50 + 0.5*200 + 0.2*650 = 245
    assert token_mean(dist) == pytest.approx(245.0)
    # E[X; 100 < X <= 300] = 0.5 * 200
    assert token_partial_mean(dist, 100, 300) == pytest.approx(100.0)
    # E[min(X, 200)] = 0.3*50 + 0.25*150 + 0.45*200
    assert token_limited_mean(dist, 200) == pytest.approx(15 + 37.5 + 90)


def test_constant():
    dist = TokenDistribution(distribution="constant", value=300)
    assert token_cdf(dist, 299) == 0.0 and token_cdf(dist, 300) == 1.0
    assert token_limited_mean(dist, 200) == 200
    assert token_limited_mean(dist, 400) == 300


@settings(max_examples=40, deadline=None)
@given(mean=st.floats(10, 5000), cv=st.floats(0.1, 3), cap1=st.floats(1, 20000), cap2=st.floats(1, 20000))
def test_limited_mean_is_monotone_and_below_the_mean(mean, cv, cap1, cap2):
    dist = _lognormal(mean, mean * cv)
    lo, hi = sorted((cap1, cap2))
    assert token_limited_mean(dist, lo) <= token_limited_mean(dist, hi) + 1e-9 * mean
    assert token_limited_mean(dist, hi) <= mean * (1 + 1e-9)
    assert token_limited_mean(dist, lo) <= lo * (1 + 1e-12)
