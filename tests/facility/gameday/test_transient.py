"""The simulated transient against hand-checkable closed forms (independent references)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.executor import task_seeds
from dimensioning.queueing import MDc
from facility.gameday.model import GameDayPool, GameDaySettings
from facility.gameday.predict import predict_pool
from facility.gameday.steady import backlog_growth_rps, drain_time_s, expected_lost_failover, poisson_interval
from facility.gameday.transient import RunTask, simulate_pool_run

POOL = GameDayPool("p", replicas=4, slots=4, service_time_s=1.0, ttft_offset_s=0.1, arrival_rate=10.0,
                   slo_s=3.0, degraded_slo_s=3.0)


def _settings(**changes) -> GameDaySettings:
    base = dict(failover_time_s=30.0, warmup_s=60.0, before_s=60.0, restore_after_s=200.0, recovery_s=60.0,
                interval_s=5.0, seeds=10)
    base.update(changes)
    return GameDaySettings(**base)


def test_requests_lost_during_failover_are_lambda_times_failover_times_share_poisson() -> None:
    # Round-robin sends 1 of every N arrivals to the dead replica; arrivals are Poisson, so the count
    # lost in the failover window is Poisson with mean lambda * failover * k/N (thinning).
    settings = _settings()
    mean = 10.0 * 30.0 * 1 / 4  # 75 per run
    assert expected_lost_failover(POOL, 1, settings) == pytest.approx(mean)
    seeds = task_seeds(7, 40)
    total = sum(simulate_pool_run(RunTask(POOL, 1, settings, s)).lost_failover for s in seeds)
    # 40 runs: the sum is Poisson(40 * 75); 4 standard deviations
    assert abs(total - 40 * mean) <= 4 * math.sqrt(40 * mean)
    lo, hi = poisson_interval(mean, 0.99)
    assert lo < mean < hi and hi - lo == pytest.approx(2 * 2.5758 * math.sqrt(mean), abs=3)


def test_random_routing_loses_the_same_share() -> None:
    settings = _settings(routing="random")
    seeds = task_seeds(3, 30)
    total = sum(simulate_pool_run(RunTask(POOL, 2, settings, s)).lost_failover for s in seeds)
    mean = 10.0 * 30.0 * 2 / 4
    assert abs(total - 30 * mean) <= 4 * math.sqrt(30 * mean)


def test_in_flight_loss_is_the_busy_slots_of_the_dead_replicas() -> None:
    # Little's law: lambda * (S + W) requests are in the pool; a quarter of them sit on replica 0.
    settings = _settings()
    exact = MDc(arrival_rate=10.0, service_time=1.0, servers=16)
    mean = 10.0 * (1.0 + float(exact.wait.mean())) / 4
    counts = np.array([simulate_pool_run(RunTask(POOL, 1, settings, s)).lost_in_flight for s in task_seeds(11, 60)])
    # a replica's in-flight count is at most its 4 slots plus a short queue: sd <= 2.5
    assert abs(counts.mean() - mean) <= 4 * 2.5 / math.sqrt(counts.size)


def test_backlog_drains_at_the_spare_rate_central_queue() -> None:
    # 100 slots of 1 s at 80 req/s; losing 3 of 10 replicas leaves 70 slots: the queue grows 10/s.
    # After the restore it drains at 100 - 80 = 20/s (fluid limit; one central queue).
    pool = GameDayPool("big", replicas=10, slots=10, service_time_s=1.0, ttft_offset_s=0.1, arrival_rate=80.0,
                       slo_s=5.0, degraded_slo_s=5.0)
    settings = _settings(routing="central", failover_time_s=0.0, restore_after_s=100.0, recovery_s=150.0,
                         interval_s=1.0)
    assert backlog_growth_rps(70, 1.0, 80.0) == 10.0
    run = simulate_pool_run(RunTask(pool, 3, settings, 5))
    t = run.t_start_s
    depth = run.series["queue_depth"]
    backlog = depth[np.searchsorted(t, 99.0)]  # the interval ending at the restore
    assert backlog == pytest.approx(10.0 * 99.5, rel=0.15)  # growth over the degraded phase
    predicted = drain_time_s(backlog, 100, 1.0, 80.0)
    after = (t >= 100.0) & (depth < 0.02 * backlog)
    measured = float(t[np.argmax(after)]) - 100.0
    assert measured == pytest.approx(predicted, abs=6.0)  # arrival noise over the drain: sd ~ 3 s


def test_backlog_on_per_replica_queues_drains_on_the_survivors_only() -> None:
    # Round-robin: the backlog sits on the 7 survivors' own queues; the restored 3 get only new arrivals.
    pool = GameDayPool("big", replicas=10, slots=10, service_time_s=1.0, ttft_offset_s=0.1, arrival_rate=80.0,
                       slo_s=5.0, degraded_slo_s=5.0)
    settings = _settings(routing="round_robin", failover_time_s=0.0, restore_after_s=100.0, recovery_s=150.0,
                         interval_s=1.0)
    run = simulate_pool_run(RunTask(pool, 3, settings, 5))
    t, depth = run.t_start_s, run.series["queue_depth"]
    backlog = depth[np.searchsorted(t, 99.0)]
    predicted = drain_time_s(backlog, 100, 1.0, 80.0, queued_on=70)
    assert predicted == pytest.approx(backlog / 14.0)
    measured = float(t[np.argmax((t >= 100.0) & (depth < 0.02 * backlog))]) - 100.0
    assert measured == pytest.approx(predicted, abs=8.0)
    assert measured > drain_time_s(backlog, 100, 1.0, 80.0) + 10  # slower than a central queue would drain


def test_degraded_phase_p99_band_holds_the_exact_md_c_figure() -> None:
    # Round-robin with deterministic service is the central M/D/c queue: the exact p99 with 3 replicas
    # must fall inside the band the seeds give for a long degraded phase.
    settings = _settings(restore_after_s=1500.0, recovery_s=20.0, seeds=6)
    prediction = predict_pool(POOL, 1, settings, workers=1)
    exact = float(MDc(arrival_rate=10.0, service_time=1.0, servers=12).sojourn.ppf(0.99))
    assert prediction.degraded.latency_p99_s == pytest.approx(exact)
    assert prediction.degraded.method == "exact"
    band = prediction.phases["degraded"]["e2el_p99_s"]
    assert band.lo <= exact <= band.hi
    # the seeds' mean estimates the long-run p99: 6 runs of 1500 s (15,000 requests each)
    assert band.mean == pytest.approx(exact, rel=0.05)
    # before the failure: 4 replicas, the exact p99 with 16 slots
    before = float(MDc(arrival_rate=10.0, service_time=1.0, servers=16).sojourn.ppf(0.99))
    assert prediction.normal.latency_p99_s == pytest.approx(before)


def test_overloaded_survivors_shed_with_a_queue_cap_and_the_latency_stays_bounded() -> None:
    # 2 replicas of 4 slots at 10 req/s (S = 1 s) is rho = 1.25: with a cap of 4 waiting per replica
    # every admitted request waits at most one service time, so p99 <= 2 S, and about 20% is shed.
    pool = GameDayPool("p", replicas=4, slots=4, service_time_s=1.0, ttft_offset_s=0.1, arrival_rate=10.0,
                       slo_s=3.0, degraded_slo_s=3.0, queue_cap=4)
    settings = _settings(seeds=4)
    prediction = predict_pool(pool, 2, settings, workers=1)
    degraded = prediction.phases["degraded"]
    assert degraded["e2el_p99_s"].seeds_max <= 2.0 + 1e-9  # every run obeys the hard bound
    assert degraded["shed_rate"].mean == pytest.approx(1 - 8 / 10.0, abs=0.05)  # carried <= capacity 8/s
    assert not prediction.degraded.passed  # shed far above the target
    assert prediction.degraded.shed_probability == pytest.approx(0.2, abs=0.05)
    assert prediction.normal.shed_probability < 0.01


def test_same_seed_same_run_bytes() -> None:
    a = simulate_pool_run(RunTask(POOL, 1, _settings(), 123))
    b = simulate_pool_run(RunTask(POOL, 1, _settings(), 123))
    for key in a.series:
        assert np.array_equal(a.series[key], b.series[key], equal_nan=True)
    assert a.phases == b.phases or all(
        np.allclose(list(a.phases[p].values()), list(b.phases[p].values()), equal_nan=True) for p in a.phases)


@settings(max_examples=300, deadline=None)
@given(p=st.floats(1e-9, 1 - 1e-9), mean=st.floats(1e-6, 1e6))
def test_the_poisson_quantile_is_scipy_stats_poisson_ppf(p, mean):
    """The game day's quantile without importing scipy.stats: the same integer as scipy's ppf."""
    from scipy.stats import poisson

    from facility.gameday.steady import poisson_quantile

    assert poisson_quantile(p, mean) == int(poisson.ppf(p, mean))
