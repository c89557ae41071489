"""Sizing: service time by hand, the least N that meets every constraint, binding names."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from dimensioning.inputs import Bucket
from dimensioning.queueing import MDc
from dimensioning.sizing import Targets, service_time, size_bucket
from dimensioning.traffic import BucketTraffic


def _bucket(**kw):
    base = dict(max_prompt_tokens=2048, max_output_tokens=512, r_prefill=40960.0, r_decode=256.0, l_fixed_ms=50.0, slots=4)
    base.update(kw)
    return Bucket(**base)


def _traffic(rate, output_mean=256.0):
    return BucketTraffic("b", 2048, 1.0, rate, 1000.0, output_mean, 0.0)


def _targets(**kw):
    base = dict(rho_target_normal=0.7, rho_target_degraded=0.85, e2el_p99_s=10.0, e2el_degraded_p99_s=10.0,
                replicas_lost=1, shed_target=0.001)
    base.update(kw)
    return Targets(**base)


def test_service_time_by_hand():
    s = service_time(_bucket(), output_mean=256.0)
    # 2048/40960 = 0.05 s; 512/256 = 2 s; 0.05 s fixed
    assert s.prefill_s == pytest.approx(0.05)
    assert s.decode_s == pytest.approx(2.0)
    assert s.total_s == pytest.approx(2.1)
    # mean: 256/256 = 1 s of decode
    assert s.mean_s == pytest.approx(1.1)
    assert s.conservatism == pytest.approx(2.1 / 1.1)


def test_utilisation_binds_with_a_loose_slo():
    # load = 10 req/s * 2.1 s = 21 busy slots; 4 slots per replica at 0.7 -> 7.5 -> 8 replicas
    sizing = size_bucket(_bucket(), _traffic(10.0), 10.0, 10.0, _targets(replicas_lost=0))
    assert sizing.replicas == 8
    assert "utilisation (normal)" in sizing.binding
    assert sizing.normal.utilization == pytest.approx(21 / 32)


def test_degraded_utilisation_binds_with_a_replica_lost():
    # degraded: 21 / (4 * 0.85) = 6.18 -> 7 operational + 1 lost = 8; normal also 8 -> both bind
    sizing = size_bucket(_bucket(), _traffic(10.0), 10.0, 10.0, _targets(replicas_lost=1))
    assert sizing.replicas == 8
    lost2 = size_bucket(_bucket(), _traffic(10.0), 10.0, 10.0, _targets(replicas_lost=2))
    assert lost2.replicas == 9 and lost2.binding == ("utilisation (degraded)",)


def test_the_slo_binds_when_tight():
    # SLO 2.15 s leaves 50 ms of queueing for a 2.1 s service time
    sizing = size_bucket(_bucket(), _traffic(10.0), 2.15, 2.15, _targets(replicas_lost=0, shed_target=0.5))
    assert "e2el p99 (normal)" in sizing.binding
    n = sizing.replicas
    assert MDc(arrival_rate=10.0, service_time=2.1, servers=n * 4).sojourn.ppf(0.99) <= 2.15
    assert MDc(arrival_rate=10.0, service_time=2.1, servers=(n - 1) * 4).sojourn.ppf(0.99) > 2.15


def test_a_service_time_above_the_slo_is_infeasible_not_a_crash():
    sizing = size_bucket(_bucket(), _traffic(10.0), 2.0, 2.0, _targets())
    assert not sizing.feasible
    assert "exceeds the SLO" in sizing.infeasible_reason


def test_no_traffic_needs_no_replica():
    sizing = size_bucket(_bucket(), _traffic(0.0), 10.0, 10.0, _targets())
    assert sizing.replicas == 0 and sizing.feasible


@settings(max_examples=25, deadline=None)
@given(
    rate=st.floats(0.05, 60.0),
    slots=st.integers(1, 16),
    slack=st.floats(1.05, 4.0),
    lost=st.integers(0, 2),
    rho=st.floats(0.3, 0.95),
)
def test_n_is_the_least_that_meets_every_constraint(rate, slots, slack, lost, rho):
    bucket = _bucket(slots=slots)
    s = service_time(bucket, 256.0).total_s
    targets = _targets(rho_target_normal=rho, rho_target_degraded=min(rho + 0.04, 0.99), replicas_lost=lost,
                       e2el_p99_s=s * slack, e2el_degraded_p99_s=s * slack)
    sizing = size_bucket(bucket, _traffic(rate), s * slack, s * slack, targets)
    assert sizing.feasible
    n = sizing.replicas
    # every constraint holds at N ...
    assert rate * s / (n * slots) <= rho + 1e-12
    assert sizing.normal.latency_p99_s <= s * slack * (1 + 1e-9)
    assert sizing.degraded.latency_p99_s <= s * slack * (1 + 1e-9)
    assert sizing.admission_normal.shed_probability <= targets.shed_target
    # ... and N is what the binding constraint alone asks for
    needed = {c.name: c.replicas_needed for c in sizing.constraints}
    assert all(v <= n for v in needed.values())
    assert all(needed[name] == n for name in sizing.binding)


def test_bursty_arrivals_are_labelled_approximations():
    bucket = _bucket()
    sizing = size_bucket(bucket, _traffic(10.0), 10.0, 10.0, _targets(arrival_scv=4.0))
    assert sizing.normal.method == "simulated"  # GIDc at SCV != 1 is decided by simulation (queuecore)
    assert sizing.admission_normal.method == "approximation"
    assert "bursty" in sizing.admission_normal.method_note
    poisson = size_bucket(bucket, _traffic(10.0), 10.0, 10.0, _targets())
    assert poisson.normal.method == "exact"
    # burstier input never needs fewer replicas
    assert sizing.replicas >= poisson.replicas


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0.1, 40.0), more=st.floats(1.0, 3.0), slots=st.integers(1, 16), slack=st.floats(1.05, 3.0))
def test_more_load_never_needs_fewer_replicas(rate, more, slots, slack):
    bucket = _bucket(slots=slots)
    s = service_time(bucket, 256.0).total_s
    targets = _targets(e2el_p99_s=s * slack, e2el_degraded_p99_s=s * slack)
    low = size_bucket(bucket, _traffic(rate), s * slack, s * slack, targets)
    high = size_bucket(bucket, _traffic(rate * more), s * slack, s * slack, targets)
    assert high.replicas >= low.replicas


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0.1, 40.0), slack=st.floats(1.05, 3.0), tighter=st.floats(0.5, 1.0))
def test_a_tighter_slo_never_needs_fewer_replicas(rate, slack, tighter):
    bucket = _bucket()
    s = service_time(bucket, 256.0).total_s
    loose_slo, tight_slo = s * slack, s * max(slack * tighter, 1.01)
    loose = size_bucket(bucket, _traffic(rate), loose_slo, loose_slo, _targets(e2el_p99_s=loose_slo, e2el_degraded_p99_s=loose_slo))
    tight = size_bucket(bucket, _traffic(rate), tight_slo, tight_slo, _targets(e2el_p99_s=tight_slo, e2el_degraded_p99_s=tight_slo))
    assert tight.replicas >= loose.replicas


def test_an_slo_between_s_and_the_degraded_slo_names_only_the_real_reason():
    # S = 2.1 s: the normal SLO (2 s) cannot hold, the degraded one (5 s) could
    sizing = size_bucket(_bucket(), _traffic(10.0), 2.0, 5.0, _targets(e2el_p99_s=2.0, e2el_degraded_p99_s=5.0))
    assert not sizing.feasible
    assert sizing.infeasible_reason.startswith("the service time S = 2100 ms exceeds the SLO 2000 ms")
    assert "not attainable" not in sizing.infeasible_reason
