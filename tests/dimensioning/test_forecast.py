"""Token-shape forecasts: scenario deltas, Little's law figures against an independent time-sampled count."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dimensioning.forecast import Scenario, apply_scenario, limited_second_moment, token_shape
from dimensioning.inputs import Bucket, TokenDistribution, Workload
from dimensioning.traffic import split_traffic

BUCKET = Bucket(name="b", max_prompt_tokens=4096, max_output_tokens=600, r_prefill=20_000.0, r_decode=200.0,
                l_fixed_ms=50.0, slots=8)


def test_limited_second_moment_matches_scipy():
    dist = TokenDistribution(distribution="lognormal", mean=300.0, std=200.0)
    sigma2 = math.log1p((200 / 300) ** 2)
    frozen = stats.lognorm(s=math.sqrt(sigma2), scale=300 * math.exp(-sigma2 / 2))
    cap = 600.0
    expected = frozen.expect(lambda x: x * x, lb=0, ub=cap) + cap**2 * frozen.sf(cap)
    assert limited_second_moment(dist, cap) == pytest.approx(expected, rel=1e-5)


def test_scenario_deltas():
    w = Workload(lambda_peak=10.0, prompt_tokens=TokenDistribution(distribution="gamma", mean=1000, std=500),
                 output_tokens=TokenDistribution(histogram=((100, 0.5), (400, 0.5))))
    s = Scenario(name="x", lambda_scale=3.0, lambda_add_rps=5.0, retry_rate=0.15, prompt_scale=2.0, output_scale=0.5,
                 cache_hit_rate=0.5)
    w2, b2, notes = apply_scenario(w, (BUCKET,), s)
    assert w2.lambda_peak == pytest.approx((10 * 3 + 5) * 1.15)
    assert (w2.prompt_tokens.mean, w2.prompt_tokens.std) == (2000, 1000)
    assert w2.output_tokens.histogram == ((50, 0.5), (200, 0.5))
    assert b2[0].r_prefill == pytest.approx(40_000.0)  # half the prompt tokens skip prefill
    assert notes and "optimistic" in notes[0]


def test_baseline_cache_rate_can_drop_to_zero():
    w = Workload(lambda_peak=1.0, prompt_tokens=TokenDistribution(distribution="constant", value=100),
                 output_tokens=TokenDistribution(distribution="constant", value=10))
    _, kept, _ = apply_scenario(w, (BUCKET,), Scenario(name="same"), baseline_cache_hit_rate=0.3)
    _, cold, notes = apply_scenario(w, (BUCKET,), Scenario(name="cold", cache_hit_rate=0.0), baseline_cache_hit_rate=0.3)
    assert kept[0].r_prefill == pytest.approx(20_000 / 0.7)
    assert cold[0].r_prefill == BUCKET.r_prefill and not notes


def test_littles_law_against_time_sampling():
    """Count sequences and KV tokens held at random instants of a simulated stream (no queueing)."""
    w = Workload(lambda_peak=4.0, prompt_tokens=TokenDistribution(distribution="lognormal", mean=1500, std=900),
                 output_tokens=TokenDistribution(distribution="gamma", mean=250, std=150))
    split = split_traffic(w, (BUCKET,))
    shape = token_shape(w, (BUCKET,), split)
    rng = np.random.default_rng(7)
    horizon = 20_000.0
    n = rng.poisson(w.lambda_peak * horizon)
    t0 = np.sort(rng.uniform(0, horizon, n))
    s2 = math.log1p((900 / 1500) ** 2)
    p = rng.lognormal(math.log(1500) - s2 / 2, math.sqrt(s2), n)
    o = np.minimum(rng.gamma((250 / 150) ** 2, 150**2 / 250, n), 600)
    keep = p <= 4096  # the bucket's share
    t0, p, o = t0[keep], p[keep], o[keep]
    prefill_end = t0 + 0.05 + 4096 / 20_000.0
    end = prefill_end + o / 200.0
    probes = rng.uniform(100, horizon - 100, 4000)
    active, kv = [], []
    for t in probes:
        on = (t0 <= t) & (end > t)
        active.append(on.sum())
        decoded = np.clip((t - prefill_end[on]) * 200.0, 0, None)
        kv.append(np.sum(p[on] + decoded))
    for got, samples in ((shape.active_sequences, active), (shape.kv_tokens, kv)):
        mean, half = np.mean(samples), 2.6 * np.std(samples) / math.sqrt(len(samples))
        assert abs(got - mean) <= half + 0.01 * mean, (got, mean, half)


def test_trace_keeps_the_correlation(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("prompt_tokens,output_tokens\n100,10\n2000,500\n")
    w = Workload(lambda_peak=2.0, trace=path)
    shape = token_shape(w, (BUCKET,), split_traffic(w, (BUCKET,)))
    # by hand: each request's area P*(prefill+fixed+O/r) + (O^2+O)/(2r), averaged, times lambda
    pre = 4096 / 20_000.0 + 0.05
    area = [100 * (pre + 10 / 200) + (100 + 10) / 400, 2000 * (pre + 500 / 200) + (500**2 + 500) / 400]
    assert shape.kv_tokens == pytest.approx(2.0 * sum(area) / 2)
    with pytest.raises(ValueError):
        apply_scenario(w, (BUCKET,), Scenario(name="longer", prompt_scale=2.0))
