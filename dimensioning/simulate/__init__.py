"""Discrete-event simulation of LPU serving pools: the referee for the queueing
math and the engine for transients (DESIGN.md, "Queueing core").

Entry points: :func:`simulate` (a pool or one pool per bucket, any arrival
process, service model, routing, admission and failure) and
:func:`simulate_queue` (the M/D/c(/K) check of ``lpuplan queue --simulate``).
"""

from dimensioning.simulate.arrivals import (
    MMPP2,
    ArrivalProcess,
    GammaRenewal,
    PiecewiseRate,
    Poisson,
    TraceArrivals,
    load_trace,
    parse_arrivals,
)
from dimensioning.simulate.check import simulate_queue
from dimensioning.simulate.estimates import LatencyEstimate, simulate_pool_latency
from dimensioning.simulate.lindley import lindley_start_times
from dimensioning.simulate.records import Records
from dimensioning.simulate.run import SimulationResult, simulate
from dimensioning.simulate.scenario import OUTCOMES, ROUTINGS, Failure, Pool, parse_failure
from dimensioning.simulate.service import (
    BucketMixService,
    BucketShape,
    DeterministicService,
    JitteredService,
    ServiceModel,
    TokenService,
    bucket_service_time,
    sample_tokens,
)
from dimensioning.simulate.statistics import Estimate
from dimensioning.simulate.summary import Summary, summarize
from dimensioning.simulate.timeseries import TimeSeries, time_series

__all__ = [
    "ArrivalProcess",
    "Poisson",
    "GammaRenewal",
    "MMPP2",
    "PiecewiseRate",
    "TraceArrivals",
    "load_trace",
    "parse_arrivals",
    "ServiceModel",
    "BucketShape",
    "DeterministicService",
    "BucketMixService",
    "TokenService",
    "JitteredService",
    "bucket_service_time",
    "sample_tokens",
    "Pool",
    "Failure",
    "parse_failure",
    "ROUTINGS",
    "OUTCOMES",
    "Records",
    "Estimate",
    "Summary",
    "summarize",
    "TimeSeries",
    "time_series",
    "SimulationResult",
    "simulate",
    "simulate_queue",
    "simulate_pool_latency",
    "LatencyEstimate",
    "lindley_start_times",
]
