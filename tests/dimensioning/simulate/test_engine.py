"""The event loop against independent implementations and invariants.

- Central FCFS with any service times equals the Kiefer-Wolfowitz workload
  recursion (each arrival takes the earliest-free slot), written here in
  plain Python with heapq, with and without a queue cap.
- Deterministic service: the event loop equals the Lindley recursion.
- Round-robin over single-slot replicas with one deterministic time, and
  least-work-left over single-slot replicas with any times, are the central
  FCFS queue (customer n goes where customer n - c went; LWL joins the
  server with the least unfinished work), so their start times must agree.
- Hypothesis properties over every routing, caps and failures: each request
  ends once, times are ordered, no slot serves two requests at once, caps hold,
  nothing starts on a failed replica while it is down.
"""

from __future__ import annotations

import heapq

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dimensioning.errors import InvalidInput
from dimensioning.simulate import (
    BucketMixService,
    DeterministicService,
    Failure,
    JitteredService,
    Poisson,
    Pool,
    simulate,
)
from dimensioning.simulate.lindley import lindley_start_times
from dimensioning.simulate.scenario import COMPLETED, LOST, SHED


def _kiefer_wolfowitz(arrival, service, servers, queue_cap=None):
    """Reference central FCFS: start times (NaN when shed)."""
    free = [0.0] * servers
    heapq.heapify(free)
    starts = []
    accepted_starts: list[float] = []
    for t, s in zip(arrival, service):
        earliest = free[0]
        if earliest > t and queue_cap is not None:
            waiting = sum(1 for x in accepted_starts if x > t)
            if waiting >= queue_cap:
                starts.append(np.nan)
                continue
        begin = max(t, earliest)
        heapq.heapreplace(free, begin + s)
        accepted_starts.append(begin)
        starts.append(begin)
    return np.array(starts)


@pytest.mark.parametrize("queue_cap", [None, 0, 3])
@pytest.mark.parametrize("servers", [1, 3])
def test_central_queue_equals_kiefer_wolfowitz(servers, queue_cap):
    service = BucketMixService((0.5, 1.0, 4.0), (0.5, 0.3, 0.2))
    pool = Pool(replicas=servers, queue_cap=queue_cap, work_cap_s=None)
    result = simulate(pool, Poisson(0.8 * servers / service.mean_s), service, seed=2, requests=3000)
    records = result.records
    reference = _kiefer_wolfowitz(records.arrival, records.service, servers, queue_cap)
    assert result.engines == ("event",)
    np.testing.assert_array_equal(np.isnan(reference), records.outcome == SHED)
    np.testing.assert_allclose(records.start[~np.isnan(reference)], reference[~np.isnan(reference)], rtol=0, atol=1e-9)


@pytest.mark.parametrize("servers", [1, 5, 64])
def test_event_loop_equals_lindley_for_deterministic_service(servers):
    arrivals = Poisson(0.95 * servers)
    fast = simulate(Pool(replicas=servers), arrivals, DeterministicService(1.0), seed=4, requests=20_000)
    slow = simulate(Pool(replicas=servers, queue_cap=10**9), arrivals, DeterministicService(1.0), seed=4, requests=20_000)
    assert fast.engines == ("lindley",) and slow.engines == ("event",)
    np.testing.assert_allclose(fast.records.start, slow.records.start, rtol=0, atol=1e-9)
    vectorised = lindley_start_times(fast.records.arrival, 1.0, servers, method="vectorised")
    np.testing.assert_allclose(fast.records.start, vectorised, rtol=0, atol=1e-9)


def test_round_robin_is_central_for_deterministic_service():
    arrivals = Poisson(7.0)
    central = simulate(Pool(replicas=8), arrivals, DeterministicService(1.0), seed=9, requests=10_000)
    rr = simulate(Pool(replicas=8, routing="round_robin"), arrivals, DeterministicService(1.0), seed=9, requests=10_000)
    np.testing.assert_allclose(rr.records.start, central.records.start, rtol=0, atol=1e-9)


def test_least_work_left_is_central_for_single_slot_replicas():
    service = BucketMixService((0.2, 1.0, 3.0), (0.6, 0.3, 0.1))
    arrivals = Poisson(0.85 * 6 / service.mean_s)
    central = simulate(Pool(replicas=6, queue_cap=10**9), arrivals, service, seed=5, requests=10_000)
    lwl = simulate(Pool(replicas=6, routing="least_work_left"), arrivals, service, seed=5, requests=10_000)
    np.testing.assert_allclose(lwl.records.start, central.records.start, rtol=0, atol=1e-9)


def test_random_routing_gives_md1_per_replica():
    """Random split of Poisson traffic: each replica is M/D/1 at the same rho (P-K mean)."""
    rho, replicas = 0.7, 4
    result = simulate(
        Pool(replicas=replicas, routing="random"), Poisson(rho * replicas), DeterministicService(1.0), seed=1, requests=400_000
    )
    mean = result.summary.wait["mean"]
    assert mean.contains(rho / (2 * (1 - rho)))


def test_jsq_and_power_of_two_beat_random():
    kwargs = dict(seed=3, requests=100_000)
    waits = {}
    for routing in ("random", "power_of_two", "jsq"):
        result = simulate(Pool(replicas=8, routing=routing), Poisson(0.85 * 8), DeterministicService(1.0), **kwargs)
        waits[routing] = result.summary.wait["mean"].value
    assert waits["jsq"] < waits["power_of_two"] < waits["random"]


def test_seed_gives_the_same_records():
    pool = Pool(replicas=3, slots=2, routing="power_of_two", queue_cap=4)
    service = JitteredService(DeterministicService(1.0), 0.1)
    first = simulate(pool, Poisson(5.5), service, seed=42, requests=5000)
    second = simulate(pool, Poisson(5.5), service, seed=42, requests=5000)
    for name in ("start", "end", "replica", "outcome"):
        np.testing.assert_array_equal(getattr(first.records, name), getattr(second.records, name))


def test_jitter_keeps_the_mean_service_time():
    service = JitteredService(DeterministicService(2.0), 0.2)
    _, times = service.draw(np.random.default_rng(0), 200_000)
    assert abs(times.mean() - 2.0) < 4 * 0.4 / np.sqrt(times.size)
    assert abs(times.std() / times.mean() - 0.2) < 0.005


def test_work_cap_bounds_the_wait():
    """With deterministic service, work-based admission caps the queueing delay:
    the work ahead per slot is at most work_cap_s when admitted, plus one service."""
    cap = 2.0
    result = simulate(
        Pool(replicas=2, slots=2, routing="central", work_cap_s=cap),
        Poisson(6.0),
        DeterministicService(1.0),
        seed=8,
        requests=50_000,
    )
    waits = result.records.wait[result.records.completed]
    assert waits.max() <= cap + 1.0 + 1e-9
    assert result.summary.shed > 0


def _check_invariants(result, pool: Pool, failure: Failure | None) -> None:
    rec = result.records
    n = len(rec)
    assert np.isin(rec.outcome, [0, 1, 2, 3]).all()
    done = rec.outcome == COMPLETED
    assert np.isfinite(rec.end).all()
    assert (rec.end >= rec.arrival - 1e-12).all()
    assert (rec.start[done] >= rec.entered[done] - 1e-12).all()
    np.testing.assert_allclose(rec.end[done] - rec.start[done], rec.service[done], rtol=1e-9, atol=1e-9)
    assert (rec.replica[done] >= 0).all() and (rec.replica[done] < pool.replicas).all()
    assert (rec.attempts >= 1).all()
    # Slot occupancy: at no time more busy sequences on a replica than its slots.
    served = np.isfinite(rec.start)
    for r in range(pool.replicas):
        mine = served & (rec.replica == r)
        times = np.concatenate((rec.start[mine], rec.end[mine]))
        steps = np.concatenate((np.ones(mine.sum()), -np.ones(mine.sum())))
        order = np.lexsort((steps, times))  # ends before starts at equal times
        assert np.cumsum(steps[order]).max(initial=0) <= pool.slots
    if pool.queue_cap is not None:
        queued = np.isfinite(rec.left_queue) & (rec.left_queue > rec.entered)
        times = np.concatenate((rec.entered[queued], rec.left_queue[queued]))
        steps = np.concatenate((np.ones(queued.sum()), -np.ones(queued.sum())))
        order = np.lexsort((steps, times))
        queues = 1 if pool.routing == "central" else pool.replicas
        assert np.cumsum(steps[order]).max(initial=0) <= pool.queue_cap * queues
    if failure is not None:
        down_until = failure.recover_at_s if failure.recover_at_s is not None else np.inf
        on_failed = np.isin(rec.replica, failure.replicas) & served
        starts = rec.start[on_failed]
        assert not ((starts > failure.at_s) & (starts < down_until)).any()
        ends = rec.end[on_failed & done]
        begins = rec.start[on_failed & done]
        # Nothing in service on a failed replica across the failure instant completes.
        assert not ((begins < failure.at_s) & (ends > failure.at_s)).any()
    assert n == result.summary.requests


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    routing=st.sampled_from(["central", "random", "round_robin", "jsq", "power_of_two", "least_work_left"]),
    replicas=st.integers(2, 5),
    slots=st.integers(1, 3),
    rho=st.floats(0.3, 1.4),
    queue_cap=st.one_of(st.none(), st.integers(0, 5)),
    with_failure=st.booleans(),
    in_service=st.sampled_from(["lost", "retry"]),
    unnoticed=st.sampled_from(["lost", "timeout", "retry"]),
    recover=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_invariants_hold_for_every_configuration(
    routing, replicas, slots, rho, queue_cap, with_failure, in_service, unnoticed, recover, seed
):
    pool = Pool(replicas=replicas, slots=slots, routing=routing, queue_cap=queue_cap)
    service = BucketMixService((0.5, 1.0, 2.0), (0.3, 0.4, 0.3))
    rate = rho * pool.servers / service.mean_s
    failure = None
    if with_failure:
        failure = Failure(
            replicas=(0,),
            at_s=200 / rate,
            failover_time_s=3.0,
            in_service=in_service,
            unnoticed=unnoticed,
            timeout_s=1.5,
            recover_at_s=(600 / rate) if recover else None,
        )
    result = simulate(pool, Poisson(rate), service, seed=seed, requests=1000, failure=failure)
    _check_invariants(result, pool, failure)


def test_failure_loses_in_service_and_unnoticed_requests():
    """Two replicas, one slot each, round-robin, D = 1 s, arrivals every 0.6 s.

    Replica 0 fails at 10 s; the router notices at 13 s. Requests routed to
    replica 0 in (10, 13) are lost at once; the one in service at 10 s too.
    """
    arrivals = np.arange(1, 60) * 0.6

    class Fixed:
        mean_rate = 1 / 0.6

        def times(self, rng, *, count=None, duration=None):
            return arrivals[:count]

    failure = Failure(replicas=(0,), at_s=10.0, failover_time_s=3.0, in_service="lost", unnoticed="lost")
    result = simulate(
        Pool(replicas=2, routing="round_robin"), Fixed(), DeterministicService(1.0), seed=0, requests=59, failure=failure,
        warmup_fraction=0.0,
    )
    rec = result.records
    lost = rec.outcome == LOST
    # Round-robin sends even-indexed requests to replica 0 (index 0 = t 0.6 s).
    to_zero = np.arange(59) % 2 == 0
    in_service = to_zero & (rec.arrival <= 10.0) & (rec.arrival + 1.0 > 10.0)
    unnoticed = to_zero & (rec.arrival > 10.0) & (rec.arrival < 13.0)
    np.testing.assert_array_equal(lost, in_service | unnoticed)
    # After the notice everything goes to replica 1, which is overloaded (1/0.6 > 1/s) but serves all.
    after = rec.arrival >= 13.0
    assert (rec.replica[after] == 1).all() and (rec.outcome[after] == COMPLETED).all()


def test_retry_after_timeout_completes_with_the_delay():
    arrivals = np.array([1.0, 2.0, 3.0])

    class Fixed:
        mean_rate = 1.0

        def times(self, rng, *, count=None, duration=None):
            return arrivals

    failure = Failure(replicas=(0,), at_s=0.5, failover_time_s=10.0, unnoticed="retry", timeout_s=2.0)
    result = simulate(
        Pool(replicas=2, routing="round_robin"), Fixed(), DeterministicService(0.5), seed=0, requests=3, failure=failure,
        warmup_fraction=0.0,
    )
    rec = result.records
    # Request 0 -> replica 0 (dead, unnoticed): fails at 1 + 2 = 3 s and is retried at once,
    # ahead of request 2 (also at 3 s); the round-robin pointer sends the retry to replica 0
    # again, which fails it at 5 s: with max_retries = 1 it is lost.
    assert rec.outcome.tolist() == [LOST, COMPLETED, COMPLETED]
    assert rec.attempts.tolist() == [2, 1, 1]
    assert rec.end[0] == pytest.approx(5.0)
    assert rec.replica.tolist() == [0, 1, 1]
    assert rec.start[2] == pytest.approx(3.0)


def test_bad_pool_and_failure_are_rejected():
    with pytest.raises(InvalidInput):
        Pool(replicas=0)
    with pytest.raises(InvalidInput):
        Pool(replicas=2, routing="magic")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        simulate(Pool(replicas=2), Poisson(1.0), DeterministicService(1.0), seed=0, requests=10, failure=Failure((5,), 1.0))
    with pytest.raises(InvalidInput):
        Failure((0,), 5.0, recover_at_s=4.0)


def test_a_run_by_duration_too_long_for_memory_is_refused_before_drawing_naming_rate_and_duration():
    """1e6 requests/s for an 8-minute game day is 480 million arrivals: exit 2 with the figures, not an OOM kill."""
    from dimensioning.errors import InvalidInput
    from dimensioning.simulate import DeterministicService, Poisson, Pool, simulate
    from dimensioning.simulate.run import MAX_REQUESTS

    with pytest.raises(InvalidInput) as caught:
        simulate(Pool(replicas=4, slots=16), Poisson(1e6), DeterministicService(3.7, "p2048"), seed=1, duration_s=480.0)
    assert caught.value.field == "duration" and "480,000,000 requests" in str(caught.value)
    assert f"{MAX_REQUESTS:,}" in str(caught.value)


@pytest.mark.parametrize("queue_cap", [None, 2])
def test_a_buckets_latency_alone_is_its_summarys(queue_cap):
    # bucket_latency computes only the latency part of bucket_summary (the plan reads nothing else per bucket):
    # the same estimates, with sheds (a queue cap) and a failure among the requests
    service = BucketMixService((0.5, 1.5, 3.0), (0.5, 0.3, 0.2), ("a", "b", "c"))
    failure = Failure(replicas=(0,), at_s=200.0, failover_time_s=5.0, in_service="lost", unnoticed="lost")
    result = simulate(Pool(replicas=3, slots=2, queue_cap=queue_cap), Poisson(3.0), service, seed=4, requests=20_000,
                      failure=failure)
    assert (result.records.outcome != COMPLETED).any()
    for bucket in range(3):
        assert result.bucket_latency(bucket) == result.bucket_summary(bucket).latency
    assert result.bucket_latency(7) == {} == result.bucket_summary(7).latency  # no such bucket: nothing completed
