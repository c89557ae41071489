"""Admission: the SLO-safe queue cap is checked by an exact simulation.

The simulation is the exact recursion for FCFS deterministic service with a
bounded system (queueing.md, "Exact simulation"): finish times of admitted
requests never decrease, so the number in system at an arrival is a count
over the admitted finish times. It shares no code with the cap's derivation.
"""

import bisect
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from dimensioning.admission import admission_state, queue_cap_for_slo, queue_depth_factor, work_threshold_s


def simulate_capped(arrival_rate, service_s, servers, queue_cap, requests, seed):
    """Latencies of admitted requests and the shed fraction (M/D/c/K, K = c + cap)."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / arrival_rate, requests))
    capacity = servers + queue_cap
    finishes: list[float] = []
    latencies = []
    shed = 0
    for t in arrivals:
        in_system = len(finishes) - bisect.bisect_right(finishes, t)
        if in_system >= capacity:
            shed += 1
            continue
        start = t if len(finishes) < servers else max(t, finishes[-servers])
        finishes.append(start + service_s)
        latencies.append(start + service_s - t)
    return np.asarray(latencies), shed / requests


def test_cap_formula_by_hand():
    # SLO 10 s, D 3 s: floor(10/3) - 1 = 2 waiting per server
    assert queue_depth_factor(3.0, 10.0) == 2
    assert queue_cap_for_slo(3.0, 4, 10.0) == 8
    # exactly two service times fit: one waiting round is allowed
    assert queue_cap_for_slo(2.0, 3, 4.0) == 3
    # D <= SLO < 2D: admit only onto a free slot
    assert queue_cap_for_slo(3.0, 4, 5.9) == 0
    # SLO below the service time: no cap helps
    assert queue_cap_for_slo(3.0, 4, 2.9) is None


@pytest.mark.parametrize("servers, service_s, slo_s", [(1, 1.0, 3.5), (4, 1.0, 2.0), (8, 0.7, 3.0), (16, 2.0, 5.0)])
def test_every_admitted_request_meets_the_slo_under_overload(servers, service_s, slo_s):
    cap = queue_cap_for_slo(service_s, servers, slo_s)
    # 1.3x overload keeps the queue at its cap most of the time: the worst case
    latencies, shed = simulate_capped(1.3 * servers / service_s, service_s, servers, cap, 40_000, seed=7)
    assert shed > 0.1
    assert latencies.max() <= slo_s + 1e-9


@pytest.mark.parametrize("servers, service_s, slo_s", [(1, 1.0, 3.5), (4, 1.0, 2.0), (8, 0.7, 3.0)])
def test_one_more_round_of_queue_breaks_the_slo(servers, service_s, slo_s):
    cap = queue_cap_for_slo(service_s, servers, slo_s)
    latencies, _ = simulate_capped(1.3 * servers / service_s, service_s, servers, cap + servers, 40_000, seed=7)
    assert latencies.max() > slo_s


def test_shed_probability_matches_the_simulation():
    # c = 1: M/D/1/K is exact; compare with the simulation's 99.9% interval
    service_s, slo_s, rate = 1.0, 3.0, 0.9
    state = admission_state(rate, service_s, replicas=1, slots=1, slo_s=slo_s)
    assert state.queue_cap == 2 and state.capacity == 3 and state.method == "exact"
    n = 400_000
    _, shed = simulate_capped(rate, service_s, 1, state.queue_cap, n, seed=11)
    half_width = 3.3 * math.sqrt(shed * (1 - shed) / n) * 3  # x3: shed events are correlated in time
    assert abs(shed - state.shed_probability) < half_width


def test_erlang_b_when_no_queue_is_allowed():
    # SLO < 2D: Queue_cap = 0, blocking is Erlang B (insensitive to the service law)
    state = admission_state(arrival_rate=10.0, service_time_s=1.0, replicas=2, slots=8, slo_s=1.5)
    a, c = 10.0, 16
    inv = 1.0
    for k in range(1, c + 1):
        inv = 1 + inv * k / a
    assert state.queue_cap == 0
    assert state.shed_probability == pytest.approx(1 / inv, rel=1e-9)


def test_work_threshold_is_grahams_bound():
    assert work_threshold_s(service_time_s=2.0, servers=10, slo_s=5.0) == pytest.approx(30.0)
    assert work_threshold_s(service_time_s=6.0, servers=10, slo_s=5.0) is None


@settings(max_examples=30, deadline=None)
@given(service=st.floats(0.01, 10), ratio=st.floats(1.0, 20), servers=st.integers(1, 64))
def test_cap_bound_never_exceeds_the_slo(service, ratio, servers):
    slo = service * ratio
    factor = queue_depth_factor(service, slo)
    assert factor is not None
    # worst admitted latency: (floor(q/c) + 1) D + D with q = cap - 1
    cap = servers * factor
    worst = ((cap - 1) // servers + 1) * service + service if cap else service
    assert worst <= slo * (1 + 1e-9)
