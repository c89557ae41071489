"""Arrival processes against their defining moments (independent closed forms)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.errors import InvalidInput
from dimensioning.simulate import MMPP2, GammaRenewal, PiecewiseRate, Poisson, load_trace, parse_arrivals


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0.1, 1000), scv=st.floats(0.2, 8.0), seed=st.integers(0, 1000))
def test_gamma_renewal_rate_and_scv(rate, scv, seed):
    times = GammaRenewal(rate, scv).times(_rng(seed), count=200_000)
    gaps = np.diff(times)
    assert (gaps >= 0).all()  # tiny gamma gaps can vanish in float addition
    # Mean gap 1/rate and SCV within ~5 standard errors.
    assert abs(gaps.mean() * rate - 1) < 5 * np.sqrt(scv / gaps.size)
    assert abs(gaps.var() / gaps.mean() ** 2 - scv) < 0.08 * scv + 0.02


def test_poisson_duration_count_is_poisson():
    counts = [Poisson(50.0).times(_rng(s), duration=10.0).size for s in range(200)]
    assert abs(np.mean(counts) - 500) < 5 * np.sqrt(500 / 200)
    times = Poisson(50.0).times(_rng(1), duration=10.0)
    assert times.max() < 10.0 and (np.diff(times) >= 0).all()


def test_mmpp_mean_rate_and_index_of_dispersion():
    process = MMPP2(rate_1=20.0, rate_2=2.0, switch_1_to_2=0.5, switch_2_to_1=1.0)
    assert process.mean_rate == pytest.approx((20 * 1.0 + 2 * 0.5) / 1.5)
    times = process.times(_rng(3), duration=40_000.0)
    assert (np.diff(times) >= 0).all()
    assert times.size / 40_000 == pytest.approx(process.mean_rate, rel=0.02)
    # Counts over windows much longer than the switching time: variance/mean -> IDC(inf).
    counts = np.histogram(times, bins=np.arange(0, 40_000 + 1, 200.0))[0]
    assert counts.var() / counts.mean() == pytest.approx(process.index_of_dispersion, rel=0.2)


def test_mmpp_count_mode():
    times = MMPP2(5.0, 1.0, 0.1, 0.1).times(_rng(0), count=12_345)
    assert times.size == 12_345 and (np.diff(times) >= 0).all()


def test_piecewise_rate_counts_per_piece():
    process = PiecewiseRate(starts=(0.0, 100.0, 200.0), rates=(10.0, 50.0, 10.0))
    times = process.times(_rng(5), duration=300.0)
    per_piece = np.histogram(times, bins=[0, 100, 200, 300])[0]
    for got, expected in zip(per_piece, (1000, 5000, 1000)):
        assert abs(got - expected) < 5 * np.sqrt(expected)
    counted = process.times(_rng(5), count=7000)
    assert counted.size == 7000 and (np.diff(counted) >= 0).all()


def test_trace_replay(tmp_path):
    path = tmp_path / "trace.csv"
    path.write_text("timestamp,prompt_tokens,output_tokens\n12.5,100,20\n10.0,300,40\n11.0,50,5\n")
    trace = load_trace(path)
    np.testing.assert_allclose(trace.times(_rng(), count=3), [0.0, 1.0, 2.5])
    prompt, output = trace.tokens(count=3)
    assert prompt.tolist() == [300, 50, 100] and output.tolist() == [40, 5, 20]
    assert trace.times(_rng(), duration=2.0).size == 2
    with pytest.raises(InvalidInput):
        trace.times(_rng(), count=4)
    bad = tmp_path / "bad.csv"
    bad.write_text("time,prompt\n1,2\n")
    with pytest.raises(InvalidInput):
        load_trace(bad)


@pytest.mark.parametrize(
    ("spec", "kind"),
    [("poisson", Poisson), ("gamma:4", GammaRenewal), ("mmpp:10,1,0.5,0.5", MMPP2), ("piecewise:0=1,60=5", PiecewiseRate)],
)
def test_parse_arrivals(spec, kind):
    assert isinstance(parse_arrivals(spec, 3.0), kind)


@pytest.mark.parametrize("spec", ["bursty", "gamma:x", "mmpp:1,2", "gamma:-1", "piecewise:5=1"])
def test_parse_arrivals_rejects_bad_text(spec):
    with pytest.raises(InvalidInput) as error:
        parse_arrivals(spec, 3.0)
    assert error.value.field.startswith(("--arrivals", "arrivals"))
