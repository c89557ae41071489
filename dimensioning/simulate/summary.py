"""The summary of a run: wait and latency percentiles with intervals, rates.

Statistics skip the first ``warmup_fraction`` of requests (the run starts
empty, which biases the tail low) and use sectioning intervals
(:mod:`dimensioning.simulate.statistics`). Waits and latencies are over
completed requests; shed/loss rates over every request after the warm-up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dimensioning.keys import PERCENTILES as KEY_PERCENTILES, percentile_key
from dimensioning.simulate.records import Records
from dimensioning.simulate.statistics import DEFAULT_BATCHES, Estimate, quantile, sectioning_estimate

__all__ = ["Summary", "summarize", "latency_distribution", "PERCENTILES"]

# the output vocabulary's percentiles (dimensioning.keys): p50, p90, p95, p99, p99_9
PERCENTILES: dict[str, float] = {percentile_key(q): q / 100 for q in KEY_PERCENTILES}


def _distribution(values: np.ndarray, batches: int, confidence: float) -> dict[str, Estimate]:
    probabilities = np.array(list(PERCENTILES.values()))

    def statistic(x: np.ndarray) -> np.ndarray:
        return np.concatenate(([x.mean()], quantile(x, probabilities)))

    estimates = sectioning_estimate(values, statistic, batches, confidence)
    # Waits and latencies are >= 0: an interval below 0 would only restate the sampling noise.
    estimates = [Estimate(e.value, max(e.low, 0.0), e.high, e.confidence) for e in estimates]
    return dict(zip(["mean", *PERCENTILES], estimates))


@dataclass(frozen=True)
class Summary:
    """Figures of one run; times in seconds, rates in requests/s."""

    requests: int
    measured: int
    completed: int
    shed: int
    lost: int
    rejected: int
    span_s: float
    throughput_rps: float
    goodput_rps: float | None
    slo_s: float | None
    utilization: float
    servers: int
    wait: dict[str, Estimate] = field(default_factory=dict)
    latency: dict[str, Estimate] = field(default_factory=dict)
    prob_wait: Estimate | None = None
    shed_rate: Estimate | None = None
    loss_rate: Estimate | None = None
    retried: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``<name>`` and ``<name>_ci95`` (or ``_ci<level>``) for every estimate."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "measured": self.measured,
            "completed": self.completed,
            "shed": self.shed,
            "lost": self.lost,
            "rejected": self.rejected,
            "retried": self.retried,
            "span_s": self.span_s,
            "throughput_rps": self.throughput_rps,
            "goodput_rps": self.goodput_rps,
            "slo_s": self.slo_s,
            "utilization": self.utilization,
            "servers": self.servers,
        }

        def put(name: str, estimate: Estimate | None) -> None:
            if estimate is None:
                out[name] = None
                return
            level = round(estimate.confidence * 100)
            out[name] = estimate.value
            out[f"{name}_ci{level}"] = estimate.interval

        for key, estimate in self.wait.items():
            put(f"wait_{key}_s", estimate)
        for key, estimate in self.latency.items():
            put(f"latency_{key}_s", estimate)
        put("prob_wait", self.prob_wait)
        put("shed_rate", self.shed_rate)
        put("loss_rate", self.loss_rate)
        # An empty run has no throughput: None, never NaN, in JSON.
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}


def _busy_time(records: Records, until: float) -> float:
    """Slot-seconds of service inside ``[0, until]`` (lost services count up to the loss)."""
    served = ~np.isnan(records.start)
    start = records.start[served]
    end = np.minimum(records.end[served], until)
    return float(np.clip(end - start, 0.0, None).sum())


def _measured(records: Records, warmup_fraction: float, mask: np.ndarray | None) -> np.ndarray:
    """Which requests count: after the first ``warmup_fraction`` of all requests, and where ``mask`` holds."""
    n = len(records)
    keep = np.zeros(n, dtype=bool)
    keep[int(math.floor(warmup_fraction * n)):] = True
    if mask is not None:
        keep &= mask
    return keep


def latency_distribution(
    records: Records,
    *,
    warmup_fraction: float = 0.02,
    batches: int = DEFAULT_BATCHES,
    confidence: float = 0.95,
    mask: np.ndarray | None = None,
) -> dict[str, Estimate]:
    """:func:`summarize`'s ``latency`` alone (mean and percentiles of completed requests; {} if none).

    For a caller that reads nothing else (the plan's per-bucket latencies):
    the same figures without the waits, rates and busy time.
    """
    keep = _measured(records, warmup_fraction, mask)
    done = records.outcome[keep] == 0
    if not done.any():
        return {}
    return _distribution((records.end - records.arrival)[keep][done], batches, confidence)


def summarize(
    records: Records,
    servers: int,
    *,
    slo_s: float | None = None,
    warmup_fraction: float = 0.02,
    batches: int = DEFAULT_BATCHES,
    confidence: float = 0.95,
    mask: np.ndarray | None = None,
) -> Summary:
    """Summarise ``records`` (optionally only those where ``mask`` holds) of a pool of ``servers`` slots."""
    n = len(records)
    keep = _measured(records, warmup_fraction, mask)
    outcome = records.outcome[keep]
    done = outcome == 0
    span = float(records.arrival[-1] - records.arrival[0]) if n > 1 else 0.0
    completed_all = records.completed if mask is None else records.completed & mask
    latency_all = records.end - records.arrival
    throughput = float(completed_all.sum()) / span if span > 0 else math.nan
    goodput = None
    if slo_s is not None and span > 0:
        goodput = float((completed_all & (latency_all <= slo_s)).sum()) / span
    wait: dict[str, Estimate] = {}
    latency: dict[str, Estimate] = {}
    prob_wait = None
    if done.sum() > 0:
        waits = (records.start - records.arrival)[keep][done]
        latencies = latency_all[keep][done]
        wait = _distribution(waits, batches, confidence)
        latency = _distribution(latencies, batches, confidence)
        prob_wait = sectioning_estimate((waits > 0).astype(float), lambda x: np.array([x.mean()]), batches, confidence)[0]
    shed_rate = loss_rate = None
    if outcome.size > 0:
        shed_rate = sectioning_estimate((outcome == 1).astype(float), lambda x: np.array([x.mean()]), batches, confidence)[0]
        loss_rate = sectioning_estimate((outcome == 2).astype(float), lambda x: np.array([x.mean()]), batches, confidence)[0]
    until = float(records.arrival[-1]) if n else 0.0
    utilization = _busy_time(records, until) / (servers * until) if until > 0 else math.nan
    selected = np.ones(n, dtype=bool) if mask is None else mask
    return Summary(
        requests=int(selected.sum()),
        measured=int(keep.sum()),
        completed=int((records.outcome[selected] == 0).sum()),
        shed=int((records.outcome[selected] == 1).sum()),
        lost=int((records.outcome[selected] == 2).sum()),
        rejected=int((records.outcome[selected] == 3).sum()),
        retried=int((records.attempts[selected] > 1).sum()),
        span_s=span,
        throughput_rps=throughput,
        goodput_rps=goodput,
        slo_s=slo_s,
        utilization=utilization,
        servers=servers,
        wait=wait,
        latency=latency,
        prob_wait=prob_wait,
        shed_rate=shed_rate,
        loss_rate=loss_rate,
    )
