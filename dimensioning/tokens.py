"""Token-count distributions: cdf and limited means, exact per family.

Functions over :class:`~dimensioning.inputs.TokenDistribution`. Counts are
treated as continuous (a prompt of ``x`` tokens falls in the bucket whose
edge is the first ``>= x``); with millions of requests the half-token
difference is far below the accuracy of any fitted distribution.

Parameterisation (mean m, standard deviation s):

- lognormal: ``sigma^2 = ln(1 + s^2/m^2)``, ``mu = ln m - sigma^2/2``;
  ``E[X; X <= c] = m * Phi((ln c - mu - sigma^2)/sigma)``.
- gamma: shape ``k = m^2/s^2``, scale ``theta = s^2/m``;
  ``E[X; X <= c] = m * G(c; k + 1, theta)``.
- histogram: uniform inside each bin, so the cdf is piecewise linear and the
  partial means are exact sums.
"""

from __future__ import annotations

import math

from scipy.special import gammainc, ndtr

from dimensioning.inputs import TokenDistribution

__all__ = ["token_cdf", "token_partial_mean", "token_limited_mean", "token_mean"]


def _lognormal(dist: TokenDistribution) -> tuple[float, float]:
    """(mu, sigma) of the underlying normal."""
    assert dist.mean is not None and dist.std is not None
    sigma2 = math.log1p((dist.std / dist.mean) ** 2)
    return math.log(dist.mean) - sigma2 / 2, math.sqrt(sigma2)


def _gamma(dist: TokenDistribution) -> tuple[float, float]:
    """(shape k, scale theta)."""
    assert dist.mean is not None and dist.std is not None
    return (dist.mean / dist.std) ** 2, dist.std**2 / dist.mean


def _family_cdf(dist: TokenDistribution, x: float) -> float:
    if dist.distribution == "lognormal":
        mu, sigma = _lognormal(dist)
        return float(ndtr((math.log(x) - mu) / sigma))
    k, theta = _gamma(dist)
    return float(gammainc(k, x / theta))  # regularised lower incomplete gamma = gamma cdf


def token_cdf(dist: TokenDistribution, x: float) -> float:
    """P(X <= x)."""
    if x <= 0:
        return 0.0
    if dist.histogram is not None:
        lo = 0.0
        acc = 0.0
        for edge, share in dist.histogram:
            if x >= edge:
                acc += share
            else:
                acc += share * (x - lo) / (edge - lo)
                return min(acc, 1.0)
            lo = edge
        return 1.0
    if dist.distribution == "constant":
        assert dist.value is not None
        return 1.0 if x >= dist.value else 0.0
    return _family_cdf(dist, x)


def _lower_partial_mean(dist: TokenDistribution, c: float) -> float:
    """E[X; X <= c]."""
    if c <= 0:
        return 0.0
    if dist.histogram is not None:
        lo = 0.0
        acc = 0.0
        for edge, share in dist.histogram:
            top = min(edge, c)
            if top > lo:
                width = edge - lo
                # uniform density share/width on (lo, edge]: integral of x over (lo, top]
                acc += share / width * (top * top - lo * lo) / 2
            if c <= edge:
                break
            lo = edge
        return acc
    if dist.distribution == "constant":
        assert dist.value is not None
        return dist.value if c >= dist.value else 0.0
    assert dist.mean is not None
    if dist.distribution == "lognormal":
        mu, sigma = _lognormal(dist)
        return dist.mean * float(ndtr((math.log(c) - mu - sigma * sigma) / sigma))
    k, theta = _gamma(dist)
    return dist.mean * float(gammainc(k + 1, c / theta))


def token_partial_mean(dist: TokenDistribution, lo: float, hi: float) -> float:
    """E[X; lo < X <= hi] (not normalised)."""
    return _lower_partial_mean(dist, hi) - _lower_partial_mean(dist, lo)


def token_limited_mean(dist: TokenDistribution, cap: float) -> float:
    """E[min(X, cap)]: the mean count when counts above ``cap`` are cut at it."""
    return _lower_partial_mean(dist, cap) + cap * (1.0 - token_cdf(dist, cap))


def token_mean(dist: TokenDistribution) -> float:
    """E[X]."""
    if dist.histogram is not None:
        return _lower_partial_mean(dist, dist.histogram[-1][0])
    if dist.distribution == "constant":
        assert dist.value is not None
        return dist.value
    assert dist.mean is not None
    return dist.mean

