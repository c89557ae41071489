"""Discrete-event simulation of LPU serving pools: the referee for the queueing
math and the engine for transients (DESIGN.md, "Queueing core").

Entry points: :func:`simulate` (a pool or one pool per bucket, any arrival
process, service model, routing, admission and failure),
:func:`simulate_queue` (the M/D/c(/K) check of ``lpuplan queue --simulate``)
and :func:`simulate_pool_latency` (the plan's simulated p99 figures).

Names load on first use (PEP 562), so importing this package (or its light
``scenario`` module, for the CLI's help) does not pay for numba and scipy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ArrivalProcess": "arrivals",
    "Poisson": "arrivals",
    "GammaRenewal": "arrivals",
    "MMPP2": "arrivals",
    "PiecewiseRate": "arrivals",
    "TraceArrivals": "arrivals",
    "load_trace": "arrivals",
    "parse_arrivals": "arrivals",
    "ServiceModel": "service",
    "BucketShape": "service",
    "DeterministicService": "service",
    "BucketMixService": "service",
    "TokenService": "service",
    "JitteredService": "service",
    "bucket_service_time": "service",
    "sample_tokens": "service",
    "Pool": "scenario",
    "Failure": "scenario",
    "parse_failure": "scenario",
    "ROUTINGS": "scenario",
    "OUTCOMES": "scenario",
    "Records": "records",
    "Estimate": "statistics",
    "Summary": "summary",
    "summarize": "summary",
    "TimeSeries": "timeseries",
    "time_series": "timeseries",
    "SimulationResult": "run",
    "simulate": "run",
    "simulate_queue": "check",
    "simulate_pool_latency": "estimates",
    "LatencyEstimate": "estimates",
    "lindley_start_times": "lindley",
    "SimulationVerdict": "verdict",
    "judge": "verdict",
    "DeterministicFCFS": "fcfs",
    "GeneralFCFS": "fcfs",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dimensioning.simulate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"dimensioning.simulate.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
