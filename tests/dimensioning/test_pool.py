"""The pool check's screening looks (``dimensioning.pool.screen_wait_objectives``).

A look judges a simulated p99 wait from a run of a given length at a widened
interval; the sizing uses two of them per count (a short run, then the full
one) where no replica count depends on the answer.
"""

import dataclasses

import pytest

from dimensioning.inputs import Bucket, TokenDistribution, Workload
from dimensioning.pool import evaluate_pool, screen_wait_objectives, wait_is_simulated
from dimensioning.shared_pool import shared_pool_spec
from dimensioning.sizing import Targets
from dimensioning.traffic import split_traffic


def _bucket(edge, cap, slots=16):
    return Bucket(max_prompt_tokens=edge, max_output_tokens=cap, r_prefill=40960.0, r_decode=256.0, l_fixed_ms=50.0,
                  slots=slots)


def _spec(slo_s=4.0, slots=16):
    """A shared pool of three buckets (S = 2.06, 2.10, 2.75 s), 40 req/s: about 84 busy slots."""
    buckets = [_bucket(512, 512, slots), _bucket(2048, 512, slots), _bucket(8192, 640, slots)]
    workload = Workload(lambda_peak=40.0, prompt_tokens=TokenDistribution(histogram=((512, 0.3), (2048, 0.5), (8192, 0.2))),
                        output_tokens=TokenDistribution(distribution="constant", value=1000))
    targets = Targets(rho_target_normal=0.5, rho_target_degraded=0.85, replicas_lost=1, shed_target=0.5,
                      e2el_p99_s=slo_s, e2el_degraded_p99_s=slo_s)
    return shared_pool_spec(buckets, split_traffic(workload, buckets), targets)


def _with_slo(spec, slo_s):
    return dataclasses.replace(spec, classes=tuple(dataclasses.replace(c, e2el_slo_s=slo_s, e2el_slo_degraded_s=slo_s)
                                                   for c in spec.classes))


def test_a_full_length_look_at_95_percent_reads_the_pool_checks_own_figure():
    spec = _spec()
    look = screen_wait_objectives(spec, 7, degraded=False, constraint="e2el_p99", requests=None, confidence=0.95)
    verdict = evaluate_pool(spec, 7, degraded=False, only=("e2el_p99",))
    assert look is not None and look.requests == 2_000_000
    for check, cls in zip(verdict.checks, spec.classes):
        assert check.kind == "simulated"
        assert check.value == pytest.approx(look.high_s + cls.service.total_s, rel=1e-12)
    wider = screen_wait_objectives(spec, 7, degraded=False, constraint="e2el_p99", requests=None, confidence=0.975)
    assert wider.high_s > look.high_s and wider.low_s <= look.low_s


def test_a_look_decides_only_where_its_whole_interval_is_on_one_side_of_the_limit():
    spec = _spec()
    look = screen_wait_objectives(spec, 6, degraded=False, constraint="e2el_p99", requests=250_000, confidence=0.975)
    assert look.requests == 250_000 and 0 < look.low_s < look.high_s
    worst = max(c.service.total_s for c in spec.classes)  # every bucket waits the same W: the slowest decides
    for slo, verdict in ((worst + look.high_s + 1e-6, True), (worst + look.low_s - 1e-6, False),
                         (worst + (look.low_s + look.high_s) / 2, None)):
        again = screen_wait_objectives(_with_slo(spec, slo), 6, degraded=False, constraint="e2el_p99",
                                       requests=250_000, confidence=0.975)
        assert again.passed is verdict, slo
    # the short run's interval is wider than the full run's
    full = screen_wait_objectives(spec, 6, degraded=False, constraint="e2el_p99", requests=None, confidence=0.975)
    assert full.high_s - full.low_s < look.high_s - look.low_s


def test_exact_and_unstable_pools_have_no_look():
    spec = _spec()
    one_time = dataclasses.replace(spec, classes=spec.classes[:1], arrival_rate=10.0)  # M/D/c: exact
    assert not wait_is_simulated(one_time, 4)
    assert screen_wait_objectives(one_time, 4, degraded=False, constraint="e2el_p99", requests=250_000,
                                  confidence=0.975) is None
    assert not wait_is_simulated(spec, 5)  # 80 slots for about 84 busy: unstable, exact (infinite)
    assert screen_wait_objectives(spec, 5, degraded=False, constraint="e2el_p99", requests=250_000,
                                  confidence=0.975) is None
    assert wait_is_simulated(spec, 6)
