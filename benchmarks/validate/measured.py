"""What a load run measured: percentiles with intervals, service time under load.

- Percentile ``q`` of the pooled completed requests' e2el (``numpy.percentile``)
  with a distribution-free 95% interval from order statistics (binomial
  ranks; valid for i.i.d. samples, so it UNDERSTATES the uncertainty of
  correlated queue latencies: it is reported, never used alone to decide),
  and the spread of that percentile across independent runs.
- Service time under load, two estimators:
  (a) server-reported per-request service (Groq ``total_time``, llama.cpp
  timings) under load against the same figure in isolation;
  (b) with one server (``c = 1``, FCFS), departure spacing inside busy
  periods: when request i was sent before request i-1 finished, it started
  when i-1 finished, so ``end_i - end_(i-1)`` is its service time (the
  return path's delay cancels in the difference). Its mean is compared with
  the isolated client e2el less the client's round trip (a trivial
  request's), so both sides are the server's time; the round trip's own
  interval is not propagated (it is small next to the service's).
  The inflation is a ratio of means with a delta-method 95% interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

from benchmarks.load.runner import RequestRecord
from benchmarks.validate.isolated import Mean, mean_interval

__all__ = ["MeasuredPercentile", "Inflation", "measured_percentile", "order_statistic_interval",
           "ratio_interval", "departure_spacing", "server_service_under_load"]


@dataclass(frozen=True)
class MeasuredPercentile:
    value_s: float
    iid_ci95_s: tuple[float, float]
    runs_s: tuple[float, ...]  # the same percentile in each run

    @property
    def run_spread_s(self) -> tuple[float, float]:
        return (min(self.runs_s), max(self.runs_s))


@dataclass(frozen=True)
class Inflation:
    """Service time under load over the isolated figure: ``ratio`` with its 95% interval."""

    source: str
    under_load: Mean
    isolated: Mean
    ratio: float
    ci95: tuple[float, float]
    note: str
    pool: str = ""


def order_statistic_interval(sorted_values: np.ndarray, q: float) -> tuple[float, float]:
    """Distribution-free 95% interval of the q-quantile (i.i.d. samples)."""
    n = sorted_values.size
    lo = int(stats.binom.ppf(0.025, n, q))
    hi = int(stats.binom.ppf(0.975, n, q)) + 1
    return float(sorted_values[max(lo - 1, 0)]), float(sorted_values[min(hi - 1, n - 1)])


def measured_percentile(runs: Sequence[np.ndarray], q: float) -> MeasuredPercentile:
    pooled = np.sort(np.concatenate(runs))
    return MeasuredPercentile(
        value_s=float(np.percentile(pooled, q * 100)),
        iid_ci95_s=order_statistic_interval(pooled, q),
        runs_s=tuple(float(np.percentile(r, q * 100)) for r in runs if r.size),
    )


def ratio_interval(a: Mean, b: Mean) -> tuple[float, tuple[float, float]]:
    """a/b with a delta-method 95% interval (independent means)."""
    ratio = a.value / b.value
    var = 0.0
    for m in (a, b):
        if m.n >= 2:
            se = (m.ci95[1] - m.ci95[0]) / 2 / float(stats.t.ppf(0.975, m.n - 1))
            var += (se / m.value) ** 2
    half = 1.959964 * ratio * math.sqrt(var)
    return ratio, (ratio - half, ratio + half)


def departure_spacing(records: Sequence[RequestRecord]) -> list[float]:
    """Service times (s) from departure spacing in busy periods (one FCFS server)."""
    done = sorted((r for r in records if r.ok), key=lambda r: r.end_s)  # type: ignore[arg-type, return-value]
    out = []
    for prev, cur in zip(done, done[1:]):
        if cur.sent_s < prev.end_s:  # type: ignore[operator]
            out.append(cur.end_s - prev.end_s)  # type: ignore[operator]
    return out


def server_service_under_load(records: Sequence[RequestRecord]) -> list[float]:
    """Server-reported service (s, the server's own clock) of each completed request."""
    out = []
    for r in records:
        s = r.server
        if not r.ok or not s:
            continue
        if "total_time" in s and isinstance(s["total_time"], (int, float)):
            out.append(float(s["total_time"]))
        elif isinstance(s.get("llama.cpp"), dict):
            t = s["llama.cpp"]
            if isinstance(t.get("prompt_ms"), (int, float)) and isinstance(t.get("predicted_ms"), (int, float)):
                out.append((t["prompt_ms"] + t["predicted_ms"]) / 1e3)
    return out


def inflation_from(source: str, under: list[float], isolated: Mean, note: str, pool: str = "") -> Inflation | None:
    """Mean service under load over the isolated mean, with its interval (None below 2 samples under load)."""
    if len(under) < 2:
        return None
    loaded = mean_interval(under)
    ratio, ci = ratio_interval(loaded, isolated)
    return Inflation(source, loaded, isolated, ratio, ci, note, pool)
