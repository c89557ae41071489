"""Campaign planning: step times by hand, the deadline fleet is the least, the pilot calibrates."""

from __future__ import annotations

import math

import pytest

from dimensioning.campaign import CampaignSpec, Pilot, plan_campaign, step_time
from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket

# S_max = 1000/10000 + 1000/100 + 0.1 = 10.2 s ; with half the tokens S_mean = 0.1 + 5 + 0.1 = 5.2 s
BUCKET = Bucket(name="b", max_prompt_tokens=1000, max_output_tokens=500, r_prefill=10_000.0, r_decode=100.0,
                l_fixed_ms=100.0, slots=4)


def _spec(**kw):
    base = dict(steps=10, seeds=2, conditions=3, batch_size=16, group_size=4, prompt_tokens=800, max_tokens=1000,
                token_hit_rate=0.5)
    base.update(kw)
    return CampaignSpec(**base)


def test_step_time_by_hand():
    st = step_time(_spec(), BUCKET, replicas=2)  # 64 sequences on 8 slots
    assert st.s_max == pytest.approx(10.2)
    assert st.s_mean == pytest.approx(5.2)
    assert st.bound_s == pytest.approx(8 * 10.2)  # ceil(64/8) waves of S_max
    # Graham: 64 * 5.2 / 8 + (1 - 1/8) * 10.2
    assert st.estimate_s == pytest.approx(41.6 + 8.925)


def test_estimate_never_exceeds_the_bound():
    st = step_time(_spec(token_hit_rate=1.0), BUCKET, replicas=16)  # 64 sequences on 64 slots: one wave
    assert st.bound_s == pytest.approx(10.2)
    assert st.estimate_s == pytest.approx(10.2)


def test_wall_time_and_parallel_runs():
    plan = plan_campaign(_spec(parallel_runs=3), (BUCKET,), fleet_replicas=6)
    # 6 runs, 3 at a time with 2 replicas each: 2 waves of 10 steps
    assert plan.wall_estimate_h == pytest.approx(2 * 10 * (41.6 + 8.925) / 3600)
    assert plan.wall_bound_h == pytest.approx(2 * 10 * 81.6 / 3600)


def test_best_parallelism_is_the_fastest():
    plan = plan_campaign(_spec(), (BUCKET,), fleet_replicas=6)
    spans = {}
    for p in range(1, 7):
        fixed = plan_campaign(_spec(parallel_runs=p), (BUCKET,), fleet_replicas=6)
        spans[p] = fixed.wall_estimate_h
    assert plan.wall_estimate_h == pytest.approx(min(spans.values()))


def test_deadline_fleet_is_the_least_that_meets_it():
    spec = _spec(deadline_hours=0.5)
    plan = plan_campaign(spec, (BUCKET,), fleet_replicas=1)
    need = plan.replicas_for_deadline
    assert need is not None and need > 1
    assert plan_campaign(spec.model_copy(update={"replicas": need}), (BUCKET,), 1).meets_deadline
    assert not plan_campaign(spec.model_copy(update={"replicas": need - 1}), (BUCKET,), 1).meets_deadline


def test_pilot_calibrates_the_estimate():
    raw = step_time(_spec(), BUCKET, replicas=2).estimate_s
    plan = plan_campaign(_spec(replicas=2, parallel_runs=1, pilot=Pilot(median_step_s=1.5 * raw, replicas=2)), (BUCKET,), 2)
    assert plan.calibration == pytest.approx(1.5)
    assert plan.step.estimate_s == pytest.approx(1.5 * raw)
    assert plan.step.bound_s == pytest.approx(8 * 10.2)  # the bound is not calibrated


def test_bucket_is_the_smallest_that_fits():
    small = BUCKET.model_copy(update={"name": "s", "max_prompt_tokens": 512})
    assert plan_campaign(_spec(), (small, BUCKET), 4).bucket == "b"
    with pytest.raises(InvalidInput) as err:
        plan_campaign(_spec(prompt_tokens=5000), (small, BUCKET), 4)
    assert err.value.field == "campaign.prompt_tokens"


def test_too_many_parallel_runs_for_the_fleet():
    with pytest.raises(InvalidInput) as err:
        plan_campaign(_spec(parallel_runs=6), (BUCKET,), 2)
    assert err.value.field == "campaign.parallel_runs"
    assert math.isfinite(plan_campaign(_spec(parallel_runs=2), (BUCKET,), 2).wall_estimate_h)
