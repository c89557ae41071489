"""Sizing: service time by hand; N is the LEAST that meets every constraint (N - 1 fails one by an
exact model); binding names; TTFT/TPOT objectives; the figure kinds of the rule."""

import math

import pytest
from hypothesis import given, settings, strategies as st

from dimensioning.inputs import Bucket
from dimensioning.queueing import MDc
from dimensioning.sizing import Targets, latency_targets, service_time, size_bucket
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


def _erlang_b(load, servers):
    """Erlang B by its textbook recursion (independent of the package's kernel)."""
    b = 1.0
    for n in range(1, servers + 1):
        b = load * b / (n + load * b)
    return b


def _p99(rate, s, servers):
    """Exact p99 latency of M/D/c (inf when unstable)."""
    if servers * 1.0 <= rate * s:
        return math.inf
    return MDc(arrival_rate=rate, service_time=s, servers=servers).sojourn.ppf(0.99)


def test_service_time_by_hand():
    s = service_time(_bucket(), output_mean=256.0)
    # 2048/40960 = 0.05 s; 512/256 = 2 s; 0.05 s fixed
    assert s.prefill_s == pytest.approx(0.05)
    assert s.decode_s == pytest.approx(2.0)
    assert s.total_s == pytest.approx(2.1)
    # mean: 256/256 = 1 s of decode
    assert s.mean_s == pytest.approx(1.1)
    assert s.conservatism == pytest.approx(2.1 / 1.1)
    # TTFT service part: 50 ms fixed + 50 ms prefill + one token at 256 tok/s; TPOT 1/256 s
    assert s.first_token_s == pytest.approx(0.1 + 1 / 256)
    assert s.token_s == pytest.approx(1 / 256)


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


def test_the_e2el_slo_binds_when_tight_and_n_minus_1_misses_it_exactly():
    # SLO 2.15 s leaves 50 ms of queueing for a 2.1 s service time
    sizing = size_bucket(_bucket(), _traffic(10.0), 2.15, 2.15, _targets(replicas_lost=0, shed_target=0.5))
    # no replica lost: the degraded state is the normal one, so both name the e2el p99
    assert set(sizing.binding) == {"e2el p99 (normal)", "e2el p99 (degraded)"}
    n = sizing.replicas
    assert _p99(10.0, 2.1, n * 4) <= 2.15
    assert _p99(10.0, 2.1, (n - 1) * 4) > 2.15


def test_the_ttft_slo_binds_and_is_named():
    # e2el loose (20 s), TTFT 150 ms: T_first = 103.9 ms leaves 46 ms of queueing
    targets = _targets(replicas_lost=0, shed_target=0.5, e2el_p99_s=20.0, e2el_degraded_p99_s=20.0, ttft_p99_s=0.15)
    sizing = size_bucket(_bucket(), _traffic(10.0), targets=targets)
    assert set(sizing.binding) == {"ttft p99 (normal)", "ttft p99 (degraded)"}
    n = sizing.replicas
    first = service_time(_bucket()).first_token_s

    def ttft(servers):
        return MDc(arrival_rate=10.0, service_time=2.1, servers=servers).wait.ppf(0.99) + first

    assert ttft(n * 4) <= 0.15 < ttft((n - 1) * 4)
    # and the utilisation alone would have asked for fewer
    assert next(c.replicas_needed for c in sizing.constraints if c.name == "utilisation (normal)") < n


def test_a_per_bucket_ttft_overrides_the_project_and_the_degraded_one_may_be_looser():
    targets = _targets(ttft_p99_s=0.5, ttft_degraded_p99_s=0.8)
    lat = latency_targets(targets, _bucket(ttft_p99_ms=300.0))
    assert (lat.ttft_s, lat.ttft_degraded_s) == (0.3, 0.8)
    lat = latency_targets(targets, _bucket(ttft_p99_ms=900.0))
    assert (lat.ttft_s, lat.ttft_degraded_s) == (0.9, 0.9)
    lat = latency_targets(targets, _bucket())
    assert (lat.ttft_s, lat.ttft_degraded_s) == (0.5, 0.8)


def test_an_unmeetable_tpot_makes_the_bucket_infeasible_and_names_tpot():
    # 1/256 s = 3.9 ms per token against 3 ms
    sizing = size_bucket(_bucket(), _traffic(10.0), targets=_targets(tpot_p99_s=0.003))
    assert not sizing.feasible and sizing.binding == ("tpot p99",)
    assert "TPOT" in sizing.infeasible_reason and "raise r_decode" in sizing.infeasible_reason
    met = size_bucket(_bucket(), _traffic(10.0), targets=_targets(tpot_p99_s=0.004))
    assert met.feasible and met.verdict_normal.check("tpot_p99").passed


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
    slack=st.floats(1.05, 1.99),
    lost=st.integers(0, 2),
    rho=st.floats(0.3, 0.95),
    shed_target=st.sampled_from([1e-4, 1e-3, 1e-2]),
)
def test_n_is_the_least_that_meets_every_constraint(rate, slots, slack, lost, rho, shed_target):
    # SLO < 2 S: the SLO-safe queue cap is 0, so shed is Erlang B (exact) and every constraint has an exact model
    bucket = _bucket(slots=slots)
    s = service_time(bucket, 256.0).total_s
    slo = s * slack
    targets = _targets(rho_target_normal=rho, rho_target_degraded=min(rho + 0.04, 0.99), replicas_lost=lost,
                       e2el_p99_s=slo, e2el_degraded_p99_s=slo, shed_target=shed_target)
    sizing = size_bucket(bucket, _traffic(rate), targets=targets)
    assert sizing.feasible
    n = sizing.replicas
    load = rate * s
    rho_d = targets.rho_target_degraded

    def meets(normal_n, degraded_n):
        """Every constraint by an exact model, computed here: (normal ok, degraded ok) per constraint."""
        return {
            "utilisation (normal)": load / (normal_n * slots) <= rho + 1e-12,
            "e2el p99 (normal)": _p99(rate, s, normal_n * slots) <= slo * (1 + 1e-9),
            "shed (normal)": _erlang_b(load, normal_n * slots) <= shed_target,
            "utilisation (degraded)": degraded_n > 0 and load / (degraded_n * slots) <= rho_d + 1e-12,
            "e2el p99 (degraded)": degraded_n > 0 and _p99(rate, s, degraded_n * slots) <= slo * (1 + 1e-9),
            "shed (degraded)": degraded_n > 0 and _erlang_b(load, degraded_n * slots) <= shed_target,
        }

    at_n = meets(n, n - lost)
    assert all(at_n.values()), at_n
    if n > 1:  # (N = 1: no pool of 0 replicas serves anything)
        one_less = meets(n - 1, n - 1 - lost)
        failed = [name for name, ok in one_less.items() if not ok]
        assert failed, "N - 1 meets every constraint: N is not the least"
        # the binding constraints are exactly those that N - 1 misses
        assert set(sizing.binding) == set(failed)
    assert all(k == "exact" for k in sizing.figure_kinds.values()), sizing.figure_kinds


def test_bursty_arrivals_are_decided_by_simulation_and_say_so():
    bucket = _bucket()
    sizing = size_bucket(bucket, _traffic(10.0), 10.0, 10.0, _targets(arrival_scv=4.0))
    assert sizing.normal.method == "simulated"
    assert sizing.admission_normal.method == "simulated"
    assert "SCV 4" in sizing.admission_normal.method_note
    kinds = sizing.figure_kinds
    assert kinds["e2el_p99 (normal)"] == kinds["shed (degraded)"] == "simulated"
    assert not sizing.unsafe_figures
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
    low = size_bucket(bucket, _traffic(rate), targets=targets)
    high = size_bucket(bucket, _traffic(rate * more), targets=targets)
    assert high.replicas >= low.replicas


@settings(max_examples=20, deadline=None)
@given(rate=st.floats(0.1, 40.0), slack=st.floats(1.05, 3.0), tighter=st.floats(0.5, 1.0))
def test_a_tighter_slo_never_needs_fewer_replicas(rate, slack, tighter):
    bucket = _bucket()
    s = service_time(bucket, 256.0).total_s
    loose_slo, tight_slo = s * slack, s * max(slack * tighter, 1.01)
    loose = size_bucket(bucket, _traffic(rate), targets=_targets(e2el_p99_s=loose_slo, e2el_degraded_p99_s=loose_slo))
    tight = size_bucket(bucket, _traffic(rate), targets=_targets(e2el_p99_s=tight_slo, e2el_degraded_p99_s=tight_slo))
    assert tight.replicas >= loose.replicas


def test_an_slo_between_s_and_the_degraded_slo_names_only_the_real_reason():
    # S = 2.1 s: the normal SLO (2 s) cannot hold, the degraded one (5 s) could
    sizing = size_bucket(_bucket(), _traffic(10.0), 2.0, 5.0, _targets(e2el_p99_s=2.0, e2el_degraded_p99_s=5.0))
    assert not sizing.feasible
    assert sizing.infeasible_reason.startswith("the service time S = 2100 ms exceeds the SLO 2000 ms")
    assert "not attainable" not in sizing.infeasible_reason


def test_the_pool_spec_is_what_the_facility_check_needs():
    sizing = size_bucket(_bucket(), _traffic(10.0), 10.0, 10.0, _targets())
    spec = sizing.pool
    assert spec.mu == pytest.approx(4 / 2.1)  # requests/s per replica
    assert spec.offered_load == pytest.approx(21.0)
    from dimensioning.pool import evaluate_pool

    assert evaluate_pool(spec, sizing.replicas - sizing.replicas_lost, degraded=True).passed
    assert not evaluate_pool(spec, sizing.replicas - sizing.replicas_lost - 1, degraded=True).passed
