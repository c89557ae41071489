"""Predicted vs measured on real sockets (docs/validate.md): isolated service, predictions with
run-to-run ranges, measured percentiles, service time under load, the fidelity loop."""

from benchmarks.validate.fidelity import (
    Comparison,
    FidelityReport,
    PoolDesign,
    PoolResult,
    RhoResult,
    run_fidelity,
    verdict,
)
from benchmarks.validate.isolated import IsolatedService, Mean, mean_interval, measure_isolated
from benchmarks.validate.measured import (
    Inflation,
    MeasuredPercentile,
    departure_spacing,
    measured_percentile,
    order_statistic_interval,
    ratio_interval,
    server_service_under_load,
)
from benchmarks.validate.predict import QUANTILES, Prediction, predict_pool
from benchmarks.validate.under_load import under_load_document

__all__ = [
    "QUANTILES",
    "Comparison",
    "FidelityReport",
    "Inflation",
    "IsolatedService",
    "Mean",
    "MeasuredPercentile",
    "PoolDesign",
    "PoolResult",
    "Prediction",
    "RhoResult",
    "departure_spacing",
    "mean_interval",
    "measure_isolated",
    "measured_percentile",
    "order_statistic_interval",
    "predict_pool",
    "ratio_interval",
    "run_fidelity",
    "server_service_under_load",
    "under_load_document",
    "verdict",
]
