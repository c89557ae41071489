"""Microbenchmark harness: backends, sweeps, fits, profiles (docs/bench.md).

One backend protocol (:class:`Backend`: one measured request at a time), two
backends (:class:`MockBackend`, a deterministic LPU with a known ground truth
and a virtual clock; :class:`OpenAIBackend`, any OpenAI-compatible streaming
endpoint over httpx), resumable sweeps (:func:`run_sweep`), fits with 95%
intervals (:func:`fit_samples`), profile documents (:func:`build_profile`,
:func:`measure_profile`) and importers from SimFaaSInfer and BLIS.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names load on first use (PEP 562): a process that needs one module (the emulator, the load
# generator) does not pay for numpy and scipy through the fits and importers.
_HOMES = {
    "Backend": "benchmarks.protocol",
    "BackendError": "benchmarks.errors",
    "BackendHTTPError": "benchmarks.errors",
    "BackendProtocolError": "benchmarks.errors",
    "BackendRateLimited": "benchmarks.errors",
    "BackendStreamBroken": "benchmarks.errors",
    "BackendTimeout": "benchmarks.errors",
    "BackendUnavailable": "benchmarks.errors",
    "BenchResult": "benchmarks.run",
    "Clock": "benchmarks.clock",
    "FitResult": "benchmarks.fit",
    "Measurement": "benchmarks.protocol",
    "MemoryStore": "benchmarks.samples",
    "MockBackend": "benchmarks.mock",
    "MockTruth": "benchmarks.mock",
    "OpenAIBackend": "benchmarks.openai_backend",
    "RealClock": "benchmarks.clock",
    "RequestSpec": "benchmarks.protocol",
    "SampleRecord": "benchmarks.samples",
    "SampleStore": "benchmarks.samples",
    "ServerTimings": "benchmarks.protocol",
    "SweepAborted": "benchmarks.run",
    "SweepPlan": "benchmarks.sweep",
    "SweepSummary": "benchmarks.sweep",
    "VirtualClock": "benchmarks.clock",
    "build_profile": "benchmarks.profile_writer",
    "fit_samples": "benchmarks.fit",
    "import_blis": "benchmarks.importers",
    "import_simfaasinfer": "benchmarks.importers",
    "load_truth": "benchmarks.mock",
    "measure_profile": "benchmarks.run",
    "read_samples": "benchmarks.samples",
    "run_sweep": "benchmarks.sweep",
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'benchmarks' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
