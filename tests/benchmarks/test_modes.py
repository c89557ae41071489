"""Serving modes: streamed and non-streamed fits recover the mock's truth; the streaming overhead is fitted separately.

Reference: the truth file's own figures (r_prefill, r_decode, l_fixed_ms,
stream_overhead_ms_per_token), independent of the fits.
"""

from __future__ import annotations

import pytest
from numpy.testing import assert_allclose

from benchmarks.fit import FitImpossible, fit_samples, fit_streaming_overhead
from benchmarks.mock import MockBackend, MockTruth
from benchmarks.run import measure_profile
from benchmarks.samples import MemoryStore
from benchmarks.sweep import SweepPlan
from dimensioning.profile import Profile


def _truth(overhead_ms: float = 1.0, jitter: float = 0.0, padded: bool = False) -> MockTruth:
    return MockTruth.model_validate({
        "jitter_cv": jitter, "padded": padded, "stream_overhead_ms_per_token": overhead_ms,
        "bucket": [{"max_prompt_tokens": 512, "r_prefill": 40000.0, "r_decode": 500.0, "l_fixed_ms": 20.0},
                   {"max_prompt_tokens": 2048, "r_prefill": 32000.0, "r_decode": 500.0, "l_fixed_ms": 20.0}],
    })


def _run(truth: MockTruth, modes, server_timings: bool = True, repeats: int = 3):
    backend = MockBackend(truth, report_server_timings=server_timings)
    plan = SweepPlan((512, 2048), (1, 32), repeats=repeats, warmup=0, modes=modes)
    return measure_profile(backend, plan, MemoryStore(), clock=backend.clock, created="2026-01-01T00:00:00+00:00")


def test_both_modes_give_one_fit_each_and_the_overhead_per_token():
    result = _run(_truth(overhead_ms=1.0), ("streamed", "non-streamed"), server_timings=False)
    streamed, whole = result.fits["streamed"], result.fits["non-streamed"]
    # streamed: each token costs 1/500 s + 1 ms; non-streamed: 1/500 s
    assert_allclose(1 / streamed.r_decode.value, 1 / 500 + 1e-3, rtol=1e-6)
    assert_allclose(1 / whole.r_decode.value, 1 / 500, rtol=1e-6)
    assert whole.prefill_method.startswith("least squares")
    # unpadded server: the floor's 1-token prefill folds into L_fixed (documented upper bound)
    assert_allclose(whole.l_fixed_s.value, 0.020 + 1 / 40000, rtol=1e-6)
    # ... so each bucket's fitted prefill time is its own less that one token: T_b = P_b / R_b - 1 / 40000
    expected = [p / (p / r - 1 / 40000) for p, r in ((512, 40000.0), (2048, 32000.0))]
    assert_allclose([b.rate.value for b in whole.r_prefill], expected, rtol=1e-6)
    overhead = result.streaming_overhead
    assert_allclose(overhead.per_token_s.value, 1e-3, rtol=1e-6)
    assert abs(overhead.per_request_s.value) < 1e-6
    document = result.profile
    profile = Profile.model_validate(document)
    assert profile.fit.mode == "streamed" and profile.measured_modes == ("non-streamed", "streamed")
    assert profile.fit_for_mode("non-streamed").r_decode.value == pytest.approx(500.0, rel=1e-6)
    assert document["measurement"]["modes"] == ["streamed", "non-streamed"]
    assert document["streaming_overhead"]["per_token_s"]["value"] == pytest.approx(1e-3, rel=1e-6)


def test_service_time_of_each_mode_matches_its_own_requests():
    truth = _truth(overhead_ms=1.0)
    result = _run(truth, ("streamed", "non-streamed"), server_timings=False)
    for mode, fit in result.fits.items():
        shape = next(s for s in fit.shapes if s.bucket == 2048 and s.output_tokens == 32)
        predicted = shape.prompt_tokens / fit.r_prefill[1].rate.value + 32 / fit.r_decode.value + fit.l_fixed_s.value
        assert predicted == pytest.approx(shape.mean_service_s, rel=1e-3), mode


def test_non_streamed_fit_with_server_timings_takes_the_server_route():
    result = _run(_truth(overhead_ms=0.0, padded=True), ("non-streamed",), server_timings=True)
    fit = result.fit
    assert fit.mode == "non-streamed" and fit.prefill_method.startswith("server")
    assert_allclose([b.rate.value for b in fit.r_prefill], [40000.0, 32000.0], rtol=1e-6)
    assert_allclose(fit.r_decode.value, 500.0, rtol=1e-6)
    assert_allclose(fit.l_fixed_s.value, 0.020, rtol=1e-6)
    assert result.profile["fit"]["mode"] == "non-streamed" and list(result.profile["fits"]) == ["non-streamed"]


def test_overhead_intervals_cover_the_truth_with_jitter():
    hits = 0
    runs = 40
    for seed in range(runs):
        backend = MockBackend(_truth(overhead_ms=0.5, jitter=0.05), seed=seed, report_server_timings=False)
        store = MemoryStore()
        from benchmarks.sweep import run_sweep

        run_sweep(backend, SweepPlan((512,), (1, 32), repeats=4, warmup=0, modes=("streamed", "non-streamed"), seed=seed),
                  store, clock=backend.clock)
        overhead = fit_streaming_overhead(store.records())
        lo, hi = overhead.per_token_s.ci95
        hits += lo <= 0.5e-3 <= hi
    assert hits >= 33  # 95% nominal; P(X < 33 | n=40, p=0.95) < 0.001


def test_the_overhead_needs_both_modes():
    result_records = MemoryStore()
    backend = MockBackend(_truth())
    from benchmarks.sweep import run_sweep

    run_sweep(backend, SweepPlan((512,), (1, 8), repeats=2, warmup=0), result_records, clock=backend.clock)
    with pytest.raises(FitImpossible) as info:
        fit_streaming_overhead(result_records.records())
    assert "--mode both" in info.value.fix
    with pytest.raises(FitImpossible) as info:
        fit_samples(result_records.records(), mode="non-streamed")
    assert "non-streamed" in info.value.field
