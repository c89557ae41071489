"""The verdict on a simulated run: p99 per bucket and the shed + lost share, each judged at its upper 95% end."""

from __future__ import annotations

import pytest

from dimensioning.errors import InvalidInput
from dimensioning.simulate import DeterministicService, Failure, Poisson, Pool, simulate
from dimensioning.simulate.verdict import EXIT_CHECK_FAILED, EXIT_PASS, judge


def _run(replicas: int, failure: Failure | None = None, queue_cap: int | None = None):
    return simulate(Pool(replicas=replicas, queue_cap=queue_cap), Poisson(8.0), DeterministicService(1.0), seed=3,
                    requests=40_000, failure=failure)


def test_a_comfortable_pool_passes_with_exit_0() -> None:
    verdict = judge(_run(16), [3.0], unserved_target=1e-3)
    assert verdict.passed and verdict.exit_code == EXIT_PASS and verdict.failures == ()
    assert verdict.buckets[0].slo_ok is True
    assert verdict.unserved.ok is True and verdict.unserved.share == 0.0


def test_the_p99_is_judged_at_its_upper_end() -> None:
    result = _run(9)  # rho 0.89: a long tail
    p99 = result.summary.latency["p99"]
    # an SLO between the point and the upper end of the interval is NOT a pass
    between = (p99.value + p99.high) / 2
    verdict = judge(result, [between])
    assert p99.value < between < p99.high
    assert not verdict.passed and verdict.exit_code == EXIT_CHECK_FAILED
    assert "p99 latency" in verdict.failures[0]
    assert judge(result, [p99.high]).passed


def test_losses_above_target_fail_even_when_latency_passes() -> None:
    # two of 12 replicas die at t = 1000 s, lost in service and noticed after 30 s (timeouts)
    failure = Failure(replicas=(0, 1), at_s=1000.0, failover_time_s=30.0)
    result = _run(12, failure)
    assert result.summary.loss_rate.value > 1e-3
    verdict = judge(result, [60.0], unserved_target=1e-3)
    assert verdict.buckets[0].slo_ok is True
    assert verdict.unserved.ok is False and verdict.exit_code == EXIT_CHECK_FAILED
    assert "shed + lost" in verdict.failures[-1]
    # without a target the share is reported, not judged
    assert judge(result, [60.0]).unserved.ok is None


def test_one_slo_per_bucket() -> None:
    with pytest.raises(InvalidInput) as raised:
        judge(_run(16), [1.0, 2.0])
    assert raised.value.field == "slo_p99_s"
