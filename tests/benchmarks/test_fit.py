"""Fits recover the mock's ground truth; intervals cover it at the nominal rate.

The references are the truth file's own figures (independent of the fit) and,
for coverage, the binomial law of the count of intervals that cover them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from benchmarks.fit import FitImpossible, fit_samples, mean_interval, rate_interval
from benchmarks.sweep import SweepPlan
from dimensioning.errors import InvalidInput
from tests.benchmarks.conftest import make_truth, sweep_records


def test_recovers_truth_within_one_percent_without_jitter():
    truth = make_truth(rates=((512, 40000.0), (2048, 32000.0), (8192, 25000.0)), r_decode=280.0, l_fixed_ms=30.0)
    records = sweep_records(truth, SweepPlan((512, 2048, 8192), (1, 64, 256), repeats=3, warmup=1))
    fit = fit_samples(records)
    assert [b.bucket for b in fit.r_prefill] == [512, 2048, 8192]
    assert_allclose([b.rate.value for b in fit.r_prefill], [40000.0, 32000.0, 25000.0], rtol=0.01)
    assert_allclose(fit.r_decode.value, 280.0, rtol=0.01)
    assert fit.r_decode_server is not None
    assert_allclose(fit.r_decode_server.value, 280.0, rtol=0.01)
    assert_allclose(fit.l_fixed_s.value, 0.030, rtol=0.01)
    assert all(s.cv < 1e-6 for s in fit.shapes)
    assert fit.counts["ok"] == 27 + 3  # 3 floor samples; warm-up records are not fitted


@settings(max_examples=25, deadline=None)
@given(
    rates=st.lists(st.floats(1e3, 1e5), min_size=2, max_size=3),
    r_decode=st.floats(20.0, 2000.0),
    l_fixed_ms=st.floats(1.0, 200.0),
)
def test_recovery_holds_over_physical_ranges(rates, r_decode, l_fixed_ms):
    edges = [512, 2048, 8192][: len(rates)]
    truth = make_truth(rates=tuple(zip(edges, rates)), r_decode=r_decode, l_fixed_ms=l_fixed_ms)
    fit = fit_samples(sweep_records(truth, SweepPlan(tuple(edges), (1, 16), repeats=2, warmup=0)))
    assert_allclose([b.rate.value for b in fit.r_prefill], rates, rtol=0.01)
    assert_allclose(fit.r_decode.value, r_decode, rtol=0.01)
    assert_allclose(fit.l_fixed_s.value, l_fixed_ms / 1e3, rtol=0.01)


def test_client_only_fit_recovers_an_unpadded_servers_truth():
    # The floor samples' one-token prefill (1/40000 s) is the documented bias: 0.2% of L_fixed.
    truth = make_truth(rates=((512, 40000.0), (2048, 30000.0), (8192, 20000.0)), r_decode=150.0, l_fixed_ms=12.0, padded=False)
    records = sweep_records(truth, SweepPlan((512, 2048, 8192), (1, 32), repeats=3, warmup=0), server_timings=False)
    fit = fit_samples(records)
    assert fit.prefill_method.startswith("least squares")
    assert fit.r_decode_server is None
    assert_allclose([b.rate.value for b in fit.r_prefill], [40000.0, 30000.0, 20000.0], rtol=0.01)
    assert_allclose(fit.r_decode.value, 150.0, rtol=0.01)
    assert_allclose(fit.l_fixed_s.value, 0.012, rtol=0.01)
    assert fit.l_fixed_s.value >= 0.012  # an upper bound


def test_client_only_fit_needs_floor_samples():
    truth = make_truth(rates=((512, 30000.0),), padded=False)
    records = sweep_records(truth, SweepPlan((512,), (1, 32), repeats=3, warmup=0, floor=False), server_timings=False)
    with pytest.raises(InvalidInput, match="floor"):
        fit_samples(records)


def test_decode_needs_a_multi_token_output():
    truth = make_truth(rates=((512, 30000.0),))
    records = sweep_records(truth, SweepPlan((512,), (1,), repeats=3, warmup=0), server_timings=False)
    with pytest.raises(InvalidInput, match="R_decode"):
        fit_samples(records)


def _covers(interval, truth: float) -> bool:
    return interval.ci95[0] <= truth <= interval.ci95[1]


def test_intervals_cover_truth_at_nominal_rate_with_jitter():
    # 300 independent sweeps (seeds): each 95% interval must cover the truth in
    # 95% of them; binomial(300, 0.95) lies in [274, 296] with probability > 0.999.
    truth = make_truth(jitter_cv=0.1, rates=((512, 40000.0), (2048, 32000.0)), r_decode=280.0, l_fixed_ms=30.0)
    plan = SweepPlan((512, 2048), (1, 16), repeats=5, warmup=0)
    hits = {"p512": 0, "p2048": 0, "decode_itl": 0, "decode_server": 0, "l_fixed": 0}
    runs = 300
    for seed in range(runs):
        fit = fit_samples(sweep_records(truth, plan, seed=seed))
        hits["p512"] += _covers(fit.r_prefill[0].rate, 40000.0)
        hits["p2048"] += _covers(fit.r_prefill[1].rate, 32000.0)
        hits["decode_itl"] += _covers(fit.r_decode, 280.0)
        hits["decode_server"] += _covers(fit.r_decode_server, 280.0)
        hits["l_fixed"] += _covers(fit.l_fixed_s, 0.030)
    for name, count in hits.items():
        assert 274 <= count <= 296, f"{name}: {count}/{runs} intervals cover the truth"


def test_mean_interval_matches_scipy_reference():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    interval = mean_interval(x)
    # t_{0.975,3} = 3.182446305284263 (statistical tables)
    half = 3.182446305284263 * np.std(x, ddof=1) / 2.0
    assert_allclose(interval.ci95, (3.5 - half, 3.5 + half), rtol=1e-9)


def test_rate_interval_is_the_mapped_time_interval():
    times = [0.010, 0.011, 0.009, 0.010]
    rate = rate_interval(times)
    t = mean_interval(times)
    assert_allclose(rate.value, 1 / t.value)
    assert_allclose(rate.ci95, (1 / t.ci95[1], 1 / t.ci95[0]))
    assert rate.ci95[0] <= rate.value <= rate.ci95[1]
    with pytest.raises(FitImpossible) as info:  # the time's interval reaches 0: the rate's would be unbounded
        rate_interval([0.001, 1.0], "R_decode")
    assert info.value.field == "R_decode" and "unbounded" in info.value.fix
