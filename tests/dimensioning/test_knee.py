"""Knee and max sustainable rate: against an independent M/D/1 evaluation (Erlang's formula in mpmath)."""

from __future__ import annotations

import mpmath as mp
import pytest

from dimensioning.knee import max_sustainable, max_sustainable_rate, sweep_spec
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


# --- c > 1: checked against an independently written simulation (tests/independent_queue.py) ----------------
def _pool(slo_s: float, slots: int, shed: float | None = None, rho: float = 0.999) -> PoolSpec:
    service = ServiceTime(prefill_s=0.02, decode_s=0.07, fixed_s=0.01, mean_decode_s=0.07, token_s=0.001)
    return PoolSpec("b", 1.0, (ServiceClass("b", 1.0, service, slo_s, slo_s),), slots, rho, rho, shed, 0)


def test_mdc_max_rate_is_where_an_independent_simulation_puts_the_p99_at_the_slo():
    from tests.independent_queue import wait_quantile

    # 2 replicas x 4 slots = 8 servers of D = 0.1 s; the e2el SLO 0.25 s leaves a p99 wait of 0.15 s
    best = max_sustainable(_pool(0.25, 4), 2)
    assert best.certified == "exact" and best.binding == "e2el_p99[b]"
    at = wait_quantile(best.rps, (D,), (1.0,), 8, 1.0, 0.99, 2_000_000, seed=1)
    assert at.low <= 0.15 <= at.high, at  # the exact M/D/c p99 there is the SLO's budget
    above = wait_quantile(best.rps * 1.03, (D,), (1.0,), 8, 1.0, 0.99, 2_000_000, seed=1)
    assert above.low > 0.15, above  # 3% more traffic is clearly past it: the rate is not conservative by much


def test_shed_bound_certifies_a_rate_an_independent_simulation_finds_safe():
    from tests.independent_queue import shed_fraction

    # SLO 0.3 s = 3 D: Queue_cap 2 per server, K = 8 x 3 = 24; shed target 1e-3 binds before the p99
    spec = _pool(0.3, 4, shed=1e-3)
    best = max_sustainable(spec, 2)
    assert best.binding == "shed[b]"
    assert best.certified in ("bound", "simulated-at-conservative-end")
    shed = shed_fraction(best.rps, D, 8, 24, 1.0, 1_000_000, seed=5)
    assert shed.value <= 1e-3, shed
    # the bound P(W >= 2 D) of the infinite M/D/c queue is above the blocking the simulation sees
    from dimensioning.queueing import MDc

    assert float(MDc(best.rps, D, 8).wait.sf(2 * D)) >= shed.value


def test_mixture_max_rate_is_safe_against_an_independent_simulation():
    from tests.independent_queue import class_latency_quantile

    short = ServiceTime(prefill_s=0.02, decode_s=0.07, fixed_s=0.01, mean_decode_s=0.07, token_s=0.001)
    long = ServiceTime(prefill_s=0.05, decode_s=0.24, fixed_s=0.01, mean_decode_s=0.24, token_s=0.001)
    spec = PoolSpec("shared", 1.0, (ServiceClass("s", 0.7, short, 0.5, 0.5), ServiceClass("l", 0.3, long, 0.7, 0.7)),
                    4, 0.95, 0.95, None, 0)
    best = max_sustainable(spec, 2)
    assert best.certified in ("bound", "simulated-at-conservative-end")
    # the dominating pool (every request 0.3 s) carries at least its exact M/D/c rate
    dominating = max_sustainable(PoolSpec("d", 1.0, (ServiceClass("d", 1.0, long, 0.7, 0.7),), 4, 0.95, 0.95, None, 0), 2)
    assert best.rps >= dominating.rps * (1 - 1e-6)
    lat = class_latency_quantile(best.rps, (0.1, 0.3), (0.7, 0.3), 8, 1.0, 0.99, 400_000, seed=3)
    assert lat[0].value <= 0.5 and lat[1].value <= 0.7, lat
