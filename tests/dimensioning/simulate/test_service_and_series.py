"""Service models, summaries and time series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dimensioning.inputs import Bucket, TokenDistribution
from dimensioning.simulate import (
    BucketMixService,
    DeterministicService,
    Failure,
    Poisson,
    Pool,
    TokenService,
    bucket_service_time,
    sample_tokens,
    simulate,
)
from dimensioning.simulate.statistics import sectioning_estimate


def _bucket(prompt: int, output: int = 100) -> Bucket:
    return Bucket(max_prompt_tokens=prompt, max_output_tokens=output, r_prefill=1000.0, r_decode=50.0, l_fixed_ms=20.0)


def test_bucket_service_time_is_the_worksheet_formula():
    # S = 512/1000 + 100/50 + 0.020
    assert bucket_service_time(_bucket(512)) == pytest.approx(0.512 + 2.0 + 0.02)


def test_token_service_buckets_and_caps():
    service = TokenService.from_buckets([_bucket(512), _bucket(2048)], None, None)
    prompt = np.array([1, 512, 513, 2048, 5000])
    output = np.array([10, 500, 50, 100, 10])
    bucket, times = service.draw(np.random.default_rng(0), 5, prompt, output)
    assert bucket.tolist() == [0, 0, 1, 1, -1]
    np.testing.assert_allclose(
        times[:4], [0.512 + 0.2 + 0.02, 0.512 + 2.0 + 0.02, 2.048 + 1.0 + 0.02, 2.048 + 2.0 + 0.02]
    )


def test_rejected_prompts_are_counted_not_served():
    service = TokenService.from_buckets(
        [_bucket(512)],
        TokenDistribution(distribution="constant", value=1000.0),
        TokenDistribution(distribution="constant", value=10.0),
    )
    result = simulate(Pool(replicas=1), Poisson(1.0), service, seed=0, requests=100)
    assert result.summary.rejected == 100 and result.summary.completed == 0


@pytest.mark.parametrize(
    "distribution",
    [
        TokenDistribution(distribution="lognormal", mean=1800.0, std=1500.0),
        TokenDistribution(distribution="gamma", mean=300.0, std=100.0),
        TokenDistribution(histogram=((100.0, 0.5), (300.0, 0.5))),
    ],
)
def test_sample_tokens_moments(distribution):
    values = sample_tokens(distribution, np.random.default_rng(1), 400_000)
    if distribution.histogram is not None:
        # Uniform on (0,100] and (100,300], rounded up: mean 0.5*50.5 + 0.5*200.5.
        assert values.mean() == pytest.approx(0.5 * 50.5 + 0.5 * 200.5, rel=0.01)
    else:
        assert values.mean() == pytest.approx(distribution.mean + 0.5, rel=0.01)
        assert values.std() == pytest.approx(distribution.std, rel=0.03)


def test_mixture_mean_wait_matches_pollaczek_khinchine():
    """M/G/1 with a mixture of deterministic times: E[W] = lambda E[S^2] / (2 (1 - rho))."""
    times, shares = (0.5, 2.0), (0.8, 0.2)
    service = BucketMixService(times, shares)
    mean = 0.8 * 0.5 + 0.2 * 2.0
    second = 0.8 * 0.25 + 0.2 * 4.0
    rate = 0.75 / mean
    result = simulate(Pool(replicas=1), Poisson(rate), service, seed=12, requests=600_000)
    assert result.summary.wait["mean"].contains(rate * second / (2 * (1 - 0.75)))


def test_per_bucket_pools_are_independent_queues():
    service = BucketMixService((1.0, 3.0), (0.5, 0.5), ("small", "large"))
    pools = [Pool(replicas=2), Pool(replicas=3)]
    result = simulate(pools, Poisson(1.0), service, seed=4, requests=20_000)
    rec = result.records
    assert set(np.unique(rec.replica[rec.bucket == 0])) <= {0, 1}
    assert set(np.unique(rec.replica[rec.bucket == 1])) <= {2, 3, 4}
    assert result.engines == ("lindley", "lindley")
    small = result.bucket_summary(0)
    assert small.completed == (rec.bucket == 0).sum()


def test_time_series_counts_and_littles_law():
    rate, servers = 9.0, 10
    result = simulate(Pool(replicas=servers), Poisson(rate), DeterministicService(1.0), seed=1, requests=200_000)
    series = result.time_series(interval_s=100.0)
    rec = result.records
    assert series.arrivals.sum() == len(rec)
    assert series.completions.sum() == rec.completed.sum()
    span = series.interval_s * series.t_start_s.size
    # Little: time-average busy slots = lambda * D, queue depth = lambda * E[W] (over the whole span).
    busy = series.busy_slots.mean()
    depth = series.queue_depth.mean()
    assert busy == pytest.approx(rec.service.sum() / span, rel=1e-9)
    assert depth == pytest.approx(np.nansum(rec.wait) / span, rel=1e-9)
    text = series.to_csv()
    assert text.splitlines()[0].startswith("t_start_s,arrivals,completions")
    assert len(text.splitlines()) == series.t_start_s.size + 1


def test_failure_shows_in_the_time_series():
    failure = Failure(replicas=(0, 1), at_s=300.0, failover_time_s=20.0, unnoticed="timeout", timeout_s=5.0,
                      recover_at_s=600.0)
    result = simulate(
        Pool(replicas=4, slots=4, routing="round_robin"), Poisson(12.0), DeterministicService(1.0), seed=2,
        duration_s=900.0, failure=failure,
    )
    series = result.time_series(interval_s=10.0)
    before = series.t_start_s < 290
    window = (series.t_start_s >= 300) & (series.t_start_s < 320)
    assert series.losses[before].sum() == 0
    assert series.losses[window].sum() > 0
    assert result.summary.lost > 0


def test_sectioning_interval_covers_a_known_mean():
    """i.i.d. normal data: the 95% interval covers the true mean ~95% of the time."""
    rng = np.random.default_rng(0)
    hits = sum(
        sectioning_estimate(rng.normal(1.0, 2.0, 2000), lambda x: np.array([x.mean()]))[0].contains(1.0)
        for _ in range(400)
    )
    assert 0.92 * 400 <= hits <= 0.98 * 400


def test_summary_to_dict_is_json_ready():
    result = simulate(Pool(replicas=2), Poisson(1.5), DeterministicService(1.0), seed=0, requests=5000, slo_s=2.0)
    out = result.summary.to_dict()
    assert out["wait_p99_s_ci95"][0] <= out["wait_p99_s"] <= out["wait_p99_s_ci95"][1]
    assert 0 < out["goodput_rps"] <= out["throughput_rps"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in out.values())


def test_plan_estimate_of_one_bucket_matches_exact_mdc():
    from dimensioning.queueing import MDc
    from dimensioning.simulate import simulate_pool_latency

    bucket = Bucket(max_prompt_tokens=512, max_output_tokens=100, r_prefill=1000.0, r_decode=50.0, l_fixed_ms=20.0, slots=4)
    service_s = bucket_service_time(bucket)
    rate = 0.9 * 3 * 4 / service_s
    estimate = simulate_pool_latency([bucket], rate, 3, shares=[1.0], seed=1, requests=400_000)
    exact = MDc(arrival_rate=rate, service_time=service_s, servers=12)
    assert estimate.latency_p99_s.contains(exact.sojourn.ppf(0.99))
    assert estimate.method == "simulated" and "400,000 requests" in estimate.note
    assert estimate.bucket_latency_p99_s[bucket.label] is not None


def test_plan_estimate_with_real_output_lengths_is_below_the_bound():
    from dimensioning.simulate import simulate_pool_latency

    buckets = [_bucket(512, 400), _bucket(2048, 400)]
    prompt = TokenDistribution(distribution="lognormal", mean=600.0, std=400.0)
    output = TokenDistribution(distribution="lognormal", mean=100.0, std=80.0)
    bound = simulate_pool_latency(buckets, 1.0, 12, shares=[0.8, 0.2], seed=2, requests=100_000)
    real = simulate_pool_latency(buckets, 1.0, 12, prompt_tokens=prompt, output_tokens=output, seed=2, requests=100_000)
    assert real.latency_p99_s.value < bound.latency_p99_s.value
