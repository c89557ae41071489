"""The shared-pool alternative: consistent with the dedicated sizing where they coincide."""

import pytest

from dimensioning.inputs import Bucket, TokenDistribution, Workload
from dimensioning.queueing import MG1
from dimensioning.shared_pool import size_shared_pool
from dimensioning.sizing import Targets, size_bucket
from dimensioning.traffic import split_traffic


def _bucket(edge, cap, slots=4):
    return Bucket(max_prompt_tokens=edge, max_output_tokens=cap, r_prefill=40960.0, r_decode=256.0, l_fixed_ms=50.0, slots=slots)


def _targets(**kw):
    base = dict(rho_target_normal=0.7, rho_target_degraded=0.85, e2el_p99_s=4.0, e2el_degraded_p99_s=4.0, replicas_lost=1, shed_target=0.5)
    base.update(kw)
    return Targets(**base)


def _workload(rate, histogram):
    return Workload(lambda_peak=rate, prompt_tokens=TokenDistribution(histogram=histogram),
                    output_tokens=TokenDistribution(distribution="constant", value=100))


def test_one_bucket_shared_equals_its_dedicated_pool():
    # one service time: M/G/c is M/D/c, exact, and the constraints are the same (shed does not bind at 0.5)
    buckets = [_bucket(2048, 512)]
    split = split_traffic(_workload(10.0, ((2048, 1.0),)), buckets)
    targets = _targets()
    shared = size_shared_pool(buckets, split, [(4.0, 4.0)], targets)
    dedicated = size_bucket(buckets[0], split.buckets[0], 4.0, 4.0, targets)
    assert shared.method == "exact"
    assert shared.replicas == dedicated.replicas
    assert shared.buckets[0].latency_p99_normal_s == pytest.approx(dedicated.normal.latency_p99_s, rel=1e-9)


def test_one_server_is_the_exact_mg1():
    buckets = [_bucket(512, 16, slots=1), _bucket(2048, 512, slots=1)]
    split = split_traffic(_workload(0.2, ((512, 0.7), (2048, 0.3))), buckets)
    shared = size_shared_pool(buckets, split, [(30.0, 30.0), (30.0, 30.0)], _targets(replicas_lost=0, rho_target_normal=0.9,
                                                                                    e2el_p99_s=30.0, e2el_degraded_p99_s=30.0))
    assert shared.replicas == 1 and shared.method == "exact"
    times = [v.service_s for v in shared.buckets]
    probs = [v.share_of_served for v in shared.buckets]
    w99 = MG1(arrival_rate=0.2, service_times=times, probabilities=probs).wait.ppf(0.99)
    for view in shared.buckets:
        assert view.latency_p99_normal_s == pytest.approx(w99 + view.service_s, rel=1e-12)


def test_work_threshold_per_bucket():
    buckets = [_bucket(512, 16), _bucket(2048, 512)]
    split = split_traffic(_workload(10.0, ((512, 0.5), (2048, 0.5))), buckets)
    shared = size_shared_pool(buckets, split, [(4.0, 4.0), (4.0, 4.0)], _targets())
    servers = shared.replicas * shared.slots
    for view in shared.buckets:
        assert view.work_threshold_s == pytest.approx(servers * (4.0 - view.service_s))
