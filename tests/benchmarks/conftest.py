"""Shared fixtures of the harness tests: ground truths and a sweep helper."""

from __future__ import annotations

import pytest

from benchmarks.mock import MockBackend, MockTruth
from benchmarks.samples import MemoryStore
from benchmarks.sweep import SweepPlan, run_sweep


def make_truth(
    jitter_cv: float = 0.0, rates=((512, 40000.0), (2048, 32000.0)), r_decode: float = 280.0, l_fixed_ms: float = 30.0,
    padded: bool = True,
) -> MockTruth:
    return MockTruth.model_validate(
        {
            "jitter_cv": jitter_cv,
            "padded": padded,
            "bucket": [
                {"max_prompt_tokens": p, "r_prefill": r, "r_decode": r_decode, "l_fixed_ms": l_fixed_ms} for p, r in rates
            ],
        }
    )


def sweep_records(truth: MockTruth, plan: SweepPlan, seed: int = 0, server_timings: bool = True):
    backend = MockBackend(truth, seed=seed, report_server_timings=server_timings)
    store = MemoryStore()
    run_sweep(backend, plan, store, clock=backend.clock)
    return store.records()


@pytest.fixture
def truth_text() -> str:
    return """
jitter_cv = 0.0
[[bucket]]
max_prompt_tokens = 512
r_prefill = 40000
r_decode = 280
l_fixed_ms = 30
[[bucket]]
max_prompt_tokens = 2048
r_prefill = 32000
r_decode = 280
l_fixed_ms = 30
"""
