"""Knee and max sustainable rate: against an independent M/D/1 evaluation (Erlang's formula in mpmath)."""

from __future__ import annotations

import mpmath as mp
import pytest

from dimensioning.knee import max_sustainable_rate, sweep_spec
from dimensioning.pool import PoolSpec, ServiceClass, evaluate_pool
from dimensioning.service_time import ServiceTime

D = 0.1  # seconds


def _spec(slo_s: float, rho: float = 0.999, slots: int = 1, shed: float | None = None) -> PoolSpec:
    service = ServiceTime(prefill_s=0.02, decode_s=0.07, fixed_s=0.01, mean_decode_s=0.07, token_s=0.001)
    cls = ServiceClass("b", 1.0, service, slo_s, slo_s)
    return PoolSpec("b", 1.0, (cls,), slots, rho, rho, shed, 0)


def _md1_wait_cdf(lam: float, t: float) -> mp.mpf:
    """Erlang (1909): P(W <= t) = (1 - rho) sum_{k=0}^{floor(t/D)} (lam (kD - t))^k / k! exp(-lam (kD - t))."""
    lam, t, d = mp.mpf(lam), mp.mpf(t), mp.mpf(D)
    total = mp.mpf(0)
    for k in range(int(mp.floor(t / d)) + 1):
        x = lam * (k * d - t)
        total += x**k / mp.factorial(k) * mp.exp(-x)
    return (1 - lam * d) * total


def _md1_max_rate(slo_s: float) -> float:
    mp.mp.dps = 40
    lo, hi = mp.mpf("1e-6"), mp.mpf(1 / D) * (1 - mp.mpf("1e-9"))
    for _ in range(80):
        mid = (lo + hi) / 2
        if _md1_wait_cdf(float(mid), slo_s - D) >= mp.mpf("0.99"):
            lo = mid
        else:
            hi = mid
    return float(lo)


@pytest.mark.parametrize("slo_s", [0.25, 0.5, 1.0])
def test_max_rate_is_where_the_p99_meets_the_slo(slo_s):
    expected = _md1_max_rate(slo_s)
    got = max_sustainable_rate(_spec(slo_s), 1)
    assert got == pytest.approx(expected, rel=1e-5)


def test_utilisation_target_binds_exactly():
    # a loose SLO: only rho * c / S limits the rate (8 slots, rho 0.6, S = 0.1 s: 48 req/s)
    got = max_sustainable_rate(_spec(100.0, rho=0.6, slots=8), 1)
    assert got == pytest.approx(0.6 * 8 / D, rel=2e-6)


def test_rate_returned_passes_and_a_little_more_fails():
    spec = _spec(0.4, rho=0.95, slots=4, shed=1e-3)
    best = max_sustainable_rate(spec, 3)
    from dataclasses import replace

    assert evaluate_pool(replace(spec, arrival_rate=best), 3, degraded=False).passed
    assert not evaluate_pool(replace(spec, arrival_rate=best * 1.0001), 3, degraded=False).passed


def test_sweep_marks_knee_and_headroom():
    from dataclasses import replace

    spec = replace(_spec(0.5), arrival_rate=3.0)
    sweep = sweep_spec(spec, 1, points=11)
    assert sweep.saturation_rps == pytest.approx(10.0)
    assert 0 < sweep.knee_rps < sweep.saturation_rps
    assert sweep.max_sustainable_rps == pytest.approx(_md1_max_rate(0.5), rel=1e-5)
    assert sweep.headroom == pytest.approx(sweep.max_sustainable_rps / 3.0 - 1)
    # the knee: the p99 wait equals one service time there (independently: Erlang's formula)
    assert float(_md1_wait_cdf(sweep.knee_rps, D)) == pytest.approx(0.99, abs=1e-4)
    lat = [p.e2el_p99_s for p in sweep.points]
    assert lat == sorted(lat)
    assert any(p.offered_rps == 3.0 for p in sweep.points)
