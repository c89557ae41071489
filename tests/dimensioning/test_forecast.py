"""Token-shape forecasts: scenario deltas, Little's law figures against an independent time-sampled count."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from dimensioning.forecast import Scenario, apply_scenario, limited_second_moment, token_shape
from dimensioning.inputs import Bucket, StepModel, TokenDistribution, Workload
from dimensioning.service_time import service_time
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
    assert b2[0].prefix_cache_hit_rate == 0.5
    assert service_time(b2[0]).prefill_s == pytest.approx(0.5 * 4096 / 20_000)  # half the prompt skips prefill
    assert notes and "optimistic" in notes[0]


def test_baseline_cache_rate_can_drop_to_zero():
    w = Workload(lambda_peak=1.0, prompt_tokens=TokenDistribution(distribution="constant", value=100),
                 output_tokens=TokenDistribution(distribution="constant", value=10))
    _, kept, _ = apply_scenario(w, (BUCKET,), Scenario(name="same"), baseline_cache_hit_rate=0.3)
    _, cold, notes = apply_scenario(w, (BUCKET,), Scenario(name="cold", cache_hit_rate=0.0), baseline_cache_hit_rate=0.3)
    assert service_time(kept[0]).prefill_s == pytest.approx(0.7 * 4096 / 20_000)
    assert cold[0].prefix_cache_hit_rate == 0.0 and not notes
    assert service_time(cold[0]) == service_time(BUCKET)


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


def test_cache_hit_enters_the_service_time_of_every_kind_of_bucket():
    """Hand arithmetic: P = 4096, O = 600, 8 slots, L_fixed = 50 ms, a quarter of the prompt cached."""
    w = Workload(lambda_peak=1.0, prompt_tokens=TokenDistribution(distribution="constant", value=3000),
                 output_tokens=TokenDistribution(distribution="constant", value=600))
    table = Bucket(name="t", max_prompt_tokens=4096, max_output_tokens=600, l_fixed_ms=50.0, slots=8,
                   rates_at_concurrency=((1, 30_000.0, 300.0), (8, 20_000.0, 200.0)))
    step = Bucket(name="s", max_prompt_tokens=4096, max_output_tokens=600, l_fixed_ms=50.0, slots=8,
                  step_model=StepModel(beta0_us=5000.0, beta1_us=10.0, beta2_us=100.0))
    _, (t, s), notes = apply_scenario(w, (table, step), Scenario(name="warm", cache_hit_rate=0.25))
    assert notes
    # table at 8 in flight: r_prefill 20,000 tok/s; 3/4 of 4096 tokens are prefilled: 0.1536 s; decode 600/200 = 3 s
    st = service_time(t)
    assert (st.prefill_s, st.decode_s, st.fixed_s) == (pytest.approx(0.1536), pytest.approx(3.0), pytest.approx(0.05))
    assert st.total_s == pytest.approx(3.2036)
    assert service_time(table).prefill_s == pytest.approx(4096 / 20_000)  # no cache: the whole prompt
    # BLIS step form at B = 8 with 3072 uncached prompt tokens:
    #   T_prefill = 5000 + 10 x 3072 + 100 x 7 = 36,420 us
    #   T_step    = 5000 + 100 x 8 + 10 x 7 x 3072 / 600 = 6,158.4 us, x 600 steps = 3.69504 s
    ss = service_time(s)
    assert ss.prefill_s == pytest.approx(0.036420)
    assert ss.decode_s == pytest.approx(3.69504)
    assert ss.total_s == pytest.approx(0.05 + 0.036420 + 3.69504)
    cold = service_time(step)  # 46,660 us and 6,277.87 us per step without the cache
    assert cold.prefill_s == pytest.approx(0.046660)
    assert cold.decode_s == pytest.approx(600 * (5800 + 70 * 4096 / 600) * 1e-6)
