"""Microbenchmark harness: backends, sweeps, fits, profiles (docs/bench.md).

One backend protocol (:class:`Backend`: one measured request at a time), two
backends (:class:`MockBackend`, a deterministic LPU with a known ground truth
and a virtual clock; :class:`OpenAIBackend`, any OpenAI-compatible streaming
endpoint over httpx), resumable sweeps (:func:`run_sweep`), fits with 95%
intervals (:func:`fit_samples`), profile documents (:func:`build_profile`,
:func:`measure_profile`) and importers from SimFaaSInfer and BLIS.
"""

from benchmarks.clock import Clock, RealClock, VirtualClock
from benchmarks.errors import (
    BackendError,
    BackendHTTPError,
    BackendProtocolError,
    BackendRateLimited,
    BackendStreamBroken,
    BackendTimeout,
    BackendUnavailable,
)
from benchmarks.fit import FitResult, fit_samples
from benchmarks.importers import import_blis, import_simfaasinfer
from benchmarks.mock import MockBackend, MockTruth, load_truth
from benchmarks.openai_backend import OpenAIBackend
from benchmarks.profile_writer import build_profile
from benchmarks.protocol import Backend, Measurement, RequestSpec, ServerTimings
from benchmarks.run import BenchResult, SweepAborted, measure_profile
from benchmarks.samples import MemoryStore, SampleRecord, SampleStore, read_samples
from benchmarks.sweep import SweepPlan, SweepSummary, run_sweep

__all__ = [
    "Backend",
    "BackendError",
    "BackendHTTPError",
    "BackendProtocolError",
    "BackendRateLimited",
    "BackendStreamBroken",
    "BackendTimeout",
    "BackendUnavailable",
    "BenchResult",
    "Clock",
    "FitResult",
    "Measurement",
    "MemoryStore",
    "MockBackend",
    "MockTruth",
    "OpenAIBackend",
    "RealClock",
    "RequestSpec",
    "SampleRecord",
    "SampleStore",
    "ServerTimings",
    "SweepAborted",
    "SweepPlan",
    "SweepSummary",
    "VirtualClock",
    "build_profile",
    "fit_samples",
    "import_blis",
    "import_simfaasinfer",
    "load_truth",
    "measure_profile",
    "read_samples",
    "run_sweep",
]
