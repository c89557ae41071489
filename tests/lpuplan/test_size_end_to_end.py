"""End to end: the N that `size` returns meets every target in an INDEPENDENT simulation, and N - 1 misses one.

Random small project files go through the same path as `lpuplan size`
(parse the file, build the plan without placement). Each dedicated pool is
then simulated by ``tests.independent_queue`` (textbook recursions, not the
project's simulator): p99 e2el latency without a queue cap, shed with the
sizing's SLO-safe queue cap, with N replicas (normal targets) and N - lost
(degraded targets). "Meets" means the independent 95% interval does not lie
above the target; "misses" at N - 1 means some constraint's interval does not
lie below it (or the exact utilisation rule fails).
"""

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from dimensioning.pool import queue_factor
from lpuplan.plan import build_plan
from lpuplan.project import parse_project
from tests.independent_queue import shed_fraction, wait_quantile

REQUESTS = 300_000


def _project(rate, slots, s_target, slack, scv, rho, shed, lost):
    # one bucket whose S_bucket is about s_target seconds: 1024 output tokens at r_decode, 512-token prompts
    r_decode = 1024 / (s_target - 0.05 - 512 / 50_000)
    return {
        "workload": {"lambda_peak": rate, "arrival_scv": scv,
                     "prompt_tokens": {"distribution": "constant", "value": 300},
                     "output_tokens": {"distribution": "constant", "value": 1024}},
        "slo": {"p99_ms": s_target * slack * 1e3},
        "headroom": {"rho_target_normal": rho, "rho_target_degraded": min(rho + 0.02, 0.99)},
        "redundancy": {"replicas_lost_worst": lost},
        "admission": {"shed_target": shed},
        "bucket": [{"max_prompt_tokens": 512, "max_output_tokens": 1024, "r_prefill": 50_000.0,
                    "r_decode": r_decode, "l_fixed_ms": 50.0, "slots": slots}],
    }


def _figures(sizing, operational, degraded, seed):
    """Independent (e2el p99 interval, shed interval) of the pool with ``operational`` replicas up."""
    spec = sizing.pool
    cls = spec.classes[0]
    s = cls.service.total_s
    servers = operational * spec.slots
    if servers == 0 or spec.offered_load >= servers:
        return None
    w = wait_quantile(spec.arrival_rate, (s,), (1.0,), servers, spec.arrival_scv, 0.99, REQUESTS, seed)
    cap = queue_factor(cls, spec, degraded) * servers
    shed = shed_fraction(spec.arrival_rate, s, servers, servers + cap, spec.arrival_scv, REQUESTS, seed + 1)
    return (w.low + s, w.high + s), (shed.low, shed.high)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    rate=st.floats(2.0, 30.0),
    slots=st.sampled_from([1, 2, 4]),
    s_target=st.floats(0.5, 2.0),
    slack=st.floats(1.1, 2.6),
    scv=st.sampled_from([1.0, 1.0, 2.0]),
    rho=st.floats(0.85, 0.97),
    shed=st.sampled_from([0.01, 0.02]),
    lost=st.integers(0, 1),
)
def test_size_meets_every_target_in_an_independent_simulation_and_n_minus_1_does_not(
        rate, slots, s_target, slack, scv, rho, shed, lost):
    project = parse_project(_project(rate, slots, s_target, slack, scv, rho, shed, lost), Path.cwd())
    plan = build_plan(project, place=False)
    sizing = plan.dedicated[0]
    assert sizing.feasible, sizing.infeasible_reason
    spec = sizing.pool
    cls = spec.classes[0]
    n, lost = sizing.replicas, spec.replicas_lost
    for degraded, operational in ((False, n), (True, n - lost)):
        (p99_low, _), (shed_low, _) = _figures(sizing, operational, degraded, seed=11)
        assert p99_low <= cls.e2el_slo(degraded), ("p99", degraded, n)
        assert shed_low <= spec.shed_target, ("shed", degraded, n)
        assert spec.offered_load / (operational * spec.slots) <= spec.rho_target(degraded) * (1 + 1e-12)
    # N - 1: some target cannot be shown to hold
    missed = []
    for degraded, operational in ((False, n - 1), (True, n - 1 - lost)):
        if operational <= 0 or spec.offered_load / (operational * spec.slots) > spec.rho_target(degraded) * (1 + 1e-12):
            missed.append(("utilisation", degraded))
            continue
        figures = _figures(sizing, operational, degraded, seed=13)
        if figures is None:
            missed.append(("unstable", degraded))
            continue
        (_, p99_high), (_, shed_high) = figures
        if p99_high > cls.e2el_slo(degraded):
            missed.append(("p99", degraded))
        if shed_high > spec.shed_target:
            missed.append(("shed", degraded))
    assert missed, f"N - 1 = {n - 1} meets every target in the independent simulation: N is not the least"
    assert not math.isnan(n)
