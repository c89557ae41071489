"""Fixed concurrency: a closed loop with exactly N requests in flight, on real loopback sockets."""

from __future__ import annotations

import pytest

from benchmarks.openai_backend import OpenAIBackend
from benchmarks.run import measure_profile
from benchmarks.samples import MemoryStore
from benchmarks.sweep import SweepPlan, run_sweep
from dimensioning.errors import InvalidInput
from tests.benchmarks.conftest import make_truth
from tests.benchmarks.openai_like_server import serve_openai_like


def test_exactly_n_in_flight_and_every_fitted_sample_at_occupancy_n():
    plan = SweepPlan((64,), (1, 24), repeats=3, warmup=0, concurrency=3)
    with serve_openai_like() as (url, server):
        server.token_gap_s, server.prefill_s_per_token = 0.004, 1e-3  # decode and prefill terms well above a busy machine's noise (2e-4: a 64-token prefill of 13 ms was lost in it at load 8)
        with OpenAIBackend(url, "m", api_key_env=None, tokenizer="none") as backend:
            backend.prepare()
            server.max_in_flight = 0
            store = MemoryStore()
            result = measure_profile(backend, plan, store, created="2026-01-01T00:00:00+00:00")
    assert server.max_in_flight == 3  # never more than N on the server
    ok = [r for r in store.records() if r.status == "ok"]
    assert len(ok) == 9 and result.summary.measured == 9
    assert all(r.in_flight <= 3 for r in ok)
    assert sum(r.in_flight == 3 for r in ok) >= 7  # fillers keep N in flight while the last samples finish
    assert result.summary.fillers >= 1 and any(r.status == "filler" for r in store.records())
    fit = result.fits["streamed"]
    assert fit.occupancy == 3 and fit.counts["ok"] == sum(r.in_flight == 3 for r in ok)
    assert fit.counts["below_occupancy"] == 9 - fit.counts["ok"]
    assert result.profile["fit"]["occupancy"] == 3 and result.profile["measurement"]["concurrency"] == 3


def test_the_mock_refuses_concurrency_naming_the_field():
    from benchmarks.mock import MockBackend

    backend = MockBackend(make_truth())
    with pytest.raises(InvalidInput) as info:
        run_sweep(backend, SweepPlan((512,), (1, 4), repeats=2, concurrency=2), MemoryStore(), clock=backend.clock)
    assert info.value.field == "concurrency"
