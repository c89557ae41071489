"""Point estimates with confidence intervals from one long, correlated run.

Waiting times of successive requests are correlated, so the textbook i.i.d.
interval is far too narrow. We use *sectioning* (Asmussen & Glynn,
Stochastic Simulation, 2007, ch. III.5 and IV.5; a variant of batch means):
the point estimate uses all observations, and the interval's half-width is
``t_{B-1, 1-alpha/2} * sd(batch statistics) / sqrt(B)`` over B contiguous
batches (in arrival order). Batch statistics of a quantile are slightly
biased for short batches, which is why the point estimate is not their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import stdtrit

__all__ = ["Estimate", "sectioning_estimate", "quantile", "DEFAULT_BATCHES"]

DEFAULT_BATCHES = 20


@dataclass(frozen=True)
class Estimate:
    """A simulated figure with its confidence interval ``[low, high]``."""

    value: float
    low: float
    high: float
    confidence: float = 0.95

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    @property
    def interval(self) -> list[float]:
        return [self.low, self.high]


def quantile(values: np.ndarray, probability: float | np.ndarray) -> np.ndarray | float:
    """Sample quantile as the smallest x with empirical CDF >= p (scipy's ``ppf`` convention).

    ``inverted_cdf`` keeps an atom (no wait: W = 0) at 0 exactly, as ``ppf`` does.
    """
    return np.quantile(values, probability, method="inverted_cdf")


def sectioning_estimate(
    values: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    batches: int = DEFAULT_BATCHES,
    confidence: float = 0.95,
) -> list[Estimate]:
    """Estimates of every component of ``statistic`` with sectioning intervals.

    ``values`` are in arrival order; ``statistic`` maps an array to a 1-d
    array of figures (e.g. several quantiles at once). With fewer values than
    batches the interval is the sample's range (honest, if wide).
    """
    values = np.asarray(values)
    if values.size == 0:
        raise ValueError("no observations to estimate from")
    point = np.atleast_1d(np.asarray(statistic(values), dtype=float))
    if values.size < 2 * batches:
        low, high = float(values.min()), float(values.max())
        return [Estimate(float(v), min(low, float(v)), max(high, float(v)), confidence) for v in point]
    per_batch = np.array([np.atleast_1d(statistic(chunk)) for chunk in np.array_split(values, batches)], dtype=float)
    spread = per_batch.std(axis=0, ddof=1) / np.sqrt(batches)
    half = float(stdtrit(batches - 1, 0.5 + confidence / 2)) * spread  # Student t quantile
    return [Estimate(float(v), float(v - h), float(v + h), confidence) for v, h in zip(point, half)]
