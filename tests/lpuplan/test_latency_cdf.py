"""Latency CDFs of the report: exact (M/D/c) where the model is exact, simulated otherwise, seeded."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from dimensioning.queueing import MDc
from lpuplan.latency_cdf import _exact, _simulated, latency_curves
from lpuplan.plan import build_plan
from lpuplan.project import example_project_text, parse_project

SHOWCASE = Path(__file__).resolve().parents[2] / "lpuplan" / "showcase.toml"


def _plan(text: str):
    return build_plan(parse_project(tomllib.loads(text), Path.cwd()), place=False)


def test_exact_curves_agree_with_the_sizing_and_are_distributions():
    plan = _plan(example_project_text())
    curves = latency_curves(plan)
    assert {(c.pool, c.state) for c in curves} == {(b.name, s) for b in plan.dedicated for s in ("normal", "degraded")}
    for c in curves:
        b = next(b for b in plan.dedicated if b.name == c.pool)
        state = b.normal if c.state == "normal" else b.degraded
        assert c.method == "exact" and c.metric == "e2el"
        assert c.p99_ms == pytest.approx(state.latency_p99_s * 1e3, rel=1e-6)
        assert c.slo_ms == pytest.approx((b.slo_s if c.state == "normal" else b.degraded_slo_s) * 1e3)
        cdf = np.array(c.cdf)
        assert np.all(np.diff(cdf) >= -1e-12) and cdf[0] == 0.0 and cdf[-1] > 0.9999
        assert c.times_ms[0] == pytest.approx(b.service.total_s * 1e3)  # nobody is faster than S


def test_bursty_pools_are_simulated_with_ttft_where_its_slo_is_given():
    plan = _plan(SHOWCASE.read_text())
    curves = latency_curves(plan, requests=20_000)
    assert curves and all(c.method == "simulated" for c in curves)  # SCV 2: no exact law
    assert {c.metric for c in curves} == {"e2el", "ttft"}
    assert latency_curves(plan, requests=20_000) == curves  # seeded: the same plan, the same curve


def test_the_simulated_curve_matches_the_exact_mdc_law():
    """Independent methods: the discrete-event simulator's empirical CDF vs Crommelin's exact M/D/c
    waiting time (rho 0.8, c 4), within the simulation's noise (measured max gap ~0.004 at 200k requests)."""
    rate, service, servers = 3.2, 1.0, 4
    times, probs, p99, method, _ = _simulated(rate, 1.0, service, servers, 1, {"e2el": service}, {"e2el": service},
                                              240, 200_000, 7)["e2el"]
    exact = MDc(rate, service, servers).sojourn.cdf(np.asarray(times[1:]))
    assert method == "simulated" and np.max(np.abs(exact - probs[1:])) < 0.015
    exact_p99 = _exact(rate, service, servers, service, service, 240)[2]
    assert p99 == pytest.approx(exact_p99, rel=0.05)
