"""What the models predict for one pool at one load, and how far one run may stray.

Point prediction: the exact M/D/c latency (:class:`dimensioning.queueing.MDc`,
``sojourn.ppf``) with ``D`` the server's slot time and ``c`` the pool's
slots (replicas x slots), plus ``overhead_s``: the client and network part
of a request's latency, which holds no slot (``D`` = isolated e2el minus it).

Run-to-run range: a measured percentile comes from a FINITE run that starts
empty, and queue latencies are strongly correlated, so one run's p99 strays
from the stationary p99 far more than an i.i.d. interval says (issue: two
3,000-request runs at rho 0.85 gave -5% and +52%). The model's own range for
the same design is the spread of that percentile over ``replications``
independent simulated runs of exactly the measured design (Poisson arrivals
at the same rate, the same request count per run and number of pooled runs,
empty at the start), each an exact FCFS M/D/c path
(:func:`dimensioning.simulate.lindley_start_times`); the 2.5% and 97.5%
quantiles across replications bound where a correct model's measurement
falls 95% of the time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dimensioning.queueing import MDc
from dimensioning.simulate.lindley import lindley_start_times

__all__ = ["QUANTILES", "Prediction", "predict_pool"]

QUANTILES = (0.50, 0.95, 0.99)


@dataclass(frozen=True)
class Prediction:
    """Latency percentiles (s) of one pool: the stationary point and a run's 95% range."""

    arrival_rate: float
    service_s: float
    overhead_s: float
    servers: int
    utilization: float
    point_s: dict[float, float]
    run_range_s: dict[float, tuple[float, float]]
    method: str


def predict_pool(arrival_rate: float, service_s: float, servers: int, *, requests_per_run: int, runs: int = 1,
                 replications: int = 200, seed: int = 0, overhead_s: float = 0.0) -> Prediction:
    """M/D/c percentiles and the run-to-run range of the measured design (module docstring)."""
    model = MDc(arrival_rate=arrival_rate, service_time=service_s, servers=servers)
    point = {q: float(model.sojourn.ppf(q)) + overhead_s for q in QUANTILES}
    rng = np.random.default_rng(seed)
    values = {q: np.empty(replications) for q in QUANTILES}
    for r in range(replications):
        pooled = []
        for _ in range(runs):
            gaps = rng.exponential(1.0 / arrival_rate, requests_per_run)
            arrival = np.cumsum(gaps) - gaps[0]
            start = lindley_start_times(arrival, service_s, servers)
            pooled.append(start - arrival + service_s + overhead_s)
        latency = np.concatenate(pooled)
        for q in QUANTILES:
            values[q][r] = np.percentile(latency, q * 100)
    run_range = {q: (float(np.percentile(values[q], 2.5)), float(np.percentile(values[q], 97.5))) for q in QUANTILES}
    return Prediction(arrival_rate, service_s, overhead_s, servers, float(model.utilization), point, run_range,
                      model.method)
