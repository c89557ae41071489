"""What the models predict for one pool at one load, and how far one run may stray.

Point prediction: the exact M/D/c latency (:class:`dimensioning.queueing.MDc`,
``sojourn.ppf``) with ``D`` the server's slot time and ``c`` the pool's
slots (replicas x slots), plus ``overhead_s``: the client and network part
of a request's latency, which holds no slot (``D`` = isolated e2el minus it).
With one server and a measured service-time SAMPLE (``service_samples_s``:
the server's time per request, e.g. departure spacing at saturation), the
exact M/G/1 latency (:class:`dimensioning.queueing.MG1`, Pollaczek-Khinchine /
Benes) with that empirical law (each sample equally likely; above 48 samples,
the means of 48 equal groups of the sorted sample, which keeps the mean
exactly) instead: a
server whose service varies waits longer than M/D/1 says (mean wait x
(1 + CV^2) at the same utilisation), and the utilisation is ``lambda E[S]``.

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
falls 95% of the time. With a service sample, each simulated request draws
its service time from the sample (with replacement) and the path is the
exact FCFS single-server recursion ``start_n = max(A_n, start_(n-1) +
S_(n-1))``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.queueing import MG1, MDc
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
    model: str = "M/D/c"  # or "M/G/1" (empirical service law)
    service_cv: float = 0.0  # of the service law the model takes (0: deterministic)
    service_samples: int = 0  # size of the empirical law (0: deterministic D)


_MAX_ATOMS = 48


def _atoms(sample: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The sample as a discrete law of at most ``_MAX_ATOMS`` atoms: sorted, cut into contiguous groups of
    (nearly) equal size, each group's mean with its share. The mean is kept exactly; the variance loses only
    the spread within a group (the exact M/G/1 costs grow with the atoms; the simulation takes the raw sample)."""
    ordered = np.sort(sample)
    groups = np.array_split(ordered, min(ordered.size, _MAX_ATOMS))
    return tuple(float(g.mean()) for g in groups), tuple(g.size / ordered.size for g in groups)


def _single_server_starts(arrival: np.ndarray, service: np.ndarray) -> np.ndarray:
    """FCFS start times of one server, services ``service`` (s): ``start = C + cummax(A - C)``, C = services before."""
    before = np.concatenate(([0.0], np.cumsum(service[:-1])))
    return before + np.maximum.accumulate(arrival - before)


def predict_pool(arrival_rate: float, service_s: float, servers: int, *, requests_per_run: int, runs: int = 1,
                 replications: int = 200, seed: int = 0, overhead_s: float = 0.0,
                 service_samples_s: Sequence[float] | None = None) -> Prediction:
    """M/D/c (or, given ``service_samples_s`` and one server, M/G/1) percentiles and the run range (module docstring).

    With a sample, ``service_s`` is ignored: the law's mean is the service time.
    """
    law = None
    if service_samples_s is not None:
        if servers != 1:
            raise InvalidInput("servers", servers, "an empirical service law is modelled for one server only (M/G/1)")
        law = np.asarray(service_samples_s, dtype=float)
        if law.size < 2 or not (law > 0).all():
            raise InvalidInput("service_samples_s", law.size, "give at least 2 positive service times")
        service_s = float(law.mean())
        times, weights = _atoms(law)
        model: MDc | MG1 = MG1(arrival_rate=arrival_rate, service_times=times, probabilities=weights)
    else:
        model = MDc(arrival_rate=arrival_rate, service_time=service_s, servers=servers)
    point = {q: float(model.sojourn.ppf(q)) + overhead_s for q in QUANTILES}
    rng = np.random.default_rng(seed)
    values = {q: np.empty(replications) for q in QUANTILES}
    for r in range(replications):
        pooled = []
        for _ in range(runs):
            gaps = rng.exponential(1.0 / arrival_rate, requests_per_run)
            arrival = np.cumsum(gaps) - gaps[0]
            if law is None:
                start = lindley_start_times(arrival, service_s, servers)
                pooled.append(start - arrival + service_s + overhead_s)
            else:
                service = rng.choice(law, requests_per_run)
                start = _single_server_starts(arrival, service)
                pooled.append(start - arrival + service + overhead_s)
        latency = np.concatenate(pooled)
        for q in QUANTILES:
            values[q][r] = np.percentile(latency, q * 100)
    run_range = {q: (float(np.percentile(values[q], 2.5)), float(np.percentile(values[q], 97.5))) for q in QUANTILES}
    if law is None:
        return Prediction(arrival_rate, service_s, overhead_s, servers, float(model.utilization), point, run_range,
                          model.method)
    cv = float(law.std() / law.mean())
    return Prediction(arrival_rate, service_s, overhead_s, servers, float(model.utilization), point, run_range,
                      model.method, "M/G/1", cv, int(law.size))
