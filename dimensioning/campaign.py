"""Offline campaigns (evaluation, RL rollouts): wall time on a fleet, fleet for a deadline.

A campaign is ``seeds x conditions`` independent runs of ``steps`` sequential
steps. A step generates ``batch_size x group_size`` sequences (every prompt of
the batch sampled ``group_size`` times) and ends when the last one ends (the
trainer waits for the whole group before its update). Each sequence has a
prompt of ``prompt_tokens`` (padded to its bucket) and at most ``max_tokens``
output tokens.

One step on ``c = replicas x slots`` servers, with ``n`` sequences of service
time at most ``S_max = S_bucket`` (output at ``max_tokens``) and of mean
``S_mean`` (output at ``token_hit_rate x max_tokens``), slots taking the next
sequence as soon as they free (list scheduling):

- bound: ``ceil(n / c) * S_max`` (every sequence at its cap: exact for equal
  jobs, and no schedule of the real jobs is longer);
- estimate: the smaller of the bound and Graham's list-scheduling bound
  ``n * S_mean / c + (1 - 1/c) * S_max`` (R. L. Graham, "Bounds on
  multiprocessing timing anomalies", SIAM J. Appl. Math. 17(2), 1969): safe
  for any output lengths with that mean whose longest job is ``S_max``.

Plus ``step_overhead_s`` (trainer time between steps, no inference).
``parallel_runs`` runs share the fleet (``floor(replicas / parallel_runs)``
replicas each); the wall time is ``ceil(runs / parallel_runs) * steps * T_step``.
When not given, the parallelism that minimises the wall time is chosen.

Calibration: a pilot's median step time on a known fleet, divided by the
estimate for that fleet, gives a factor that multiplies every estimate
(``calibration``); the bound is not calibrated (it stays a bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Bucket, _Frozen

__all__ = ["Pilot", "CampaignSpec", "StepTime", "CampaignPlan", "campaign_bucket", "step_time", "plan_campaign"]

_MAX_RUNS = 100_000


class Pilot(_Frozen):
    """``[campaign.pilot]``: what a short pilot run measured."""

    median_step_s: float = Field(gt=0, allow_inf_nan=False, description="median wall time of one step, s")
    replicas: int = Field(ge=1, le=1_000_000, description="replicas the pilot ran on (one run at a time)")
    token_hit_rate: float | None = Field(default=None, gt=0, le=1, allow_inf_nan=False,
                                         description="mean output tokens / max_tokens seen in the pilot")


class CampaignSpec(_Frozen):
    """``[campaign]``: the runs, their steps, and the fleet or deadline."""

    name: str = "campaign"
    steps: int = Field(ge=1, le=10_000_000)
    seeds: int = Field(default=1, ge=1, le=_MAX_RUNS)
    conditions: int = Field(default=1, ge=1, le=_MAX_RUNS)
    batch_size: int = Field(ge=1, le=10_000_000, description="prompts per step")
    group_size: int = Field(default=1, ge=1, le=100_000, description="samples per prompt")
    prompt_tokens: int = Field(gt=0, le=10_000_000)
    max_tokens: int = Field(gt=0, le=10_000_000, description="output cap per sequence (an upper bound)")
    token_hit_rate: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False,
                                  description="mean output tokens / max_tokens (1 = every sequence at its cap)")
    bucket: str | None = Field(default=None, description="bucket whose artifact serves the campaign (default: smallest that fits)")
    replicas: int | None = Field(default=None, ge=1, le=1_000_000, description="fleet available (default: the plan's)")
    parallel_runs: int | None = Field(default=None, ge=1, le=_MAX_RUNS)
    deadline_hours: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    step_overhead_s: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    pilot: Pilot | None = None
    assumed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _runs(self) -> "CampaignSpec":
        if self.seeds * self.conditions > _MAX_RUNS:
            raise ValueError(f"seeds x conditions = {self.seeds * self.conditions} runs; at most {_MAX_RUNS}")
        if self.parallel_runs is not None and self.parallel_runs > self.seeds * self.conditions:
            raise ValueError(f"parallel_runs = {self.parallel_runs} exceeds the {self.seeds * self.conditions} runs")
        return self

    @property
    def runs(self) -> int:
        return self.seeds * self.conditions

    @property
    def sequences_per_step(self) -> int:
        return self.batch_size * self.group_size


@dataclass(frozen=True)
class StepTime:
    """One step's wall time on ``replicas`` (seconds)."""

    replicas: int
    servers: int
    sequences: int
    s_max: float
    s_mean: float
    bound_s: float
    estimate_s: float


def campaign_bucket(spec: CampaignSpec, buckets: tuple[Bucket, ...]) -> Bucket:
    """The bucket named by ``spec.bucket``, else the smallest whose compiled prompt fits ``prompt_tokens``."""
    if spec.bucket is not None:
        for b in buckets:
            if b.label == spec.bucket:
                if b.max_prompt_tokens < spec.prompt_tokens:
                    raise InvalidInput("campaign.bucket", spec.bucket,
                                       f"its max_prompt_tokens {b.max_prompt_tokens} is below prompt_tokens {spec.prompt_tokens}")
                return b
        raise InvalidInput("campaign.bucket", spec.bucket, f"no such bucket; use one of {[b.label for b in buckets]}")
    for b in buckets:
        if b.max_prompt_tokens >= spec.prompt_tokens:
            return b
    raise InvalidInput("campaign.prompt_tokens", spec.prompt_tokens,
                       f"above every bucket (largest {buckets[-1].max_prompt_tokens}): add a bucket or shorten the prompt")


def step_time(spec: CampaignSpec, bucket: Bucket, replicas: int, calibration: float = 1.0) -> StepTime:
    """One step on ``replicas`` replicas of ``bucket`` (see the module docstring)."""
    from dimensioning.service_time import service_time  # scipy-free project loading: imported on use

    shaped = bucket.model_copy(update={"max_output_tokens": spec.max_tokens})
    service = service_time(shaped, spec.token_hit_rate * spec.max_tokens)
    c = replicas * bucket.slots
    n = spec.sequences_per_step
    s_max, s_mean = service.total_s, service.mean_s
    bound = math.ceil(n / c) * s_max
    # both are upper bounds on the makespan; the smaller is the estimate before calibration
    estimate = min(n * s_mean / c + (1 - 1 / c) * s_max, bound)
    return StepTime(replicas, c, n, s_max, s_mean, bound + spec.step_overhead_s,
                    estimate * calibration + spec.step_overhead_s)


@dataclass(frozen=True)
class CampaignPlan:
    """Wall time of the campaign on the fleet, and the fleet its deadline needs."""

    name: str
    bucket: str
    runs: int
    steps: int
    sequences_per_step: int
    replicas: int
    parallel_runs: int
    step: StepTime
    wall_bound_h: float
    wall_estimate_h: float
    calibration: float
    calibration_note: str
    deadline_hours: float | None
    meets_deadline: bool | None
    replicas_for_deadline: int | None
    parallel_runs_for_deadline: int | None

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _wall(spec: CampaignSpec, bucket: Bucket, replicas: int, parallel: int, calibration: float) -> tuple[float, float, StepTime]:
    per_run = replicas // parallel
    st = step_time(spec, bucket, per_run, calibration)
    waves = math.ceil(spec.runs / parallel)
    return waves * spec.steps * st.bound_s / 3600, waves * spec.steps * st.estimate_s / 3600, st


def _best_parallel(spec: CampaignSpec, bucket: Bucket, replicas: int, calibration: float) -> int:
    if spec.parallel_runs is not None:
        return spec.parallel_runs
    candidates = range(1, min(spec.runs, replicas) + 1)
    # fewest hours by the estimate; ties go to fewer parallel runs (less to coordinate)
    return min(candidates, key=lambda p: (_wall(spec, bucket, replicas, p, calibration)[1], p))


def plan_campaign(spec: CampaignSpec, buckets: tuple[Bucket, ...], fleet_replicas: int) -> CampaignPlan:
    """Wall time on the fleet (``spec.replicas`` or ``fleet_replicas``) and the fleet for the deadline."""
    from dimensioning.sizing import least_replicas

    bucket = campaign_bucket(spec, buckets)
    replicas = spec.replicas or fleet_replicas
    if replicas < 1:
        raise InvalidInput("campaign.replicas", replicas, "give at least one replica (the plan has none)")
    if spec.parallel_runs is not None and spec.parallel_runs > replicas:
        raise InvalidInput("campaign.parallel_runs", spec.parallel_runs, f"more parallel runs than the {replicas} replicas")
    calibration, note = 1.0, "no pilot: estimate from the token hit rate (Graham's bound)"
    if spec.pilot is not None:
        pilot_spec = spec if spec.pilot.token_hit_rate is None else spec.model_copy(update={"token_hit_rate": spec.pilot.token_hit_rate})
        predicted = step_time(pilot_spec, bucket, spec.pilot.replicas).estimate_s
        calibration = (spec.pilot.median_step_s - spec.step_overhead_s) / (predicted - spec.step_overhead_s)
        if calibration <= 0:
            raise InvalidInput("campaign.pilot.median_step_s", spec.pilot.median_step_s,
                               f"not above step_overhead_s = {spec.step_overhead_s:g} s: check the pilot's figures")
        note = (f"calibrated by the pilot: {spec.pilot.median_step_s:g} s median step on {spec.pilot.replicas} replicas"
                f" against {predicted:.3g} s predicted (factor {calibration:.3f})")
        if spec.pilot.token_hit_rate is not None:
            spec = pilot_spec
    parallel = _best_parallel(spec, bucket, replicas, calibration)
    bound_h, estimate_h, st = _wall(spec, bucket, replicas, parallel, calibration)
    meets = need = need_parallel = None
    if spec.deadline_hours is not None:
        meets = estimate_h <= spec.deadline_hours

        def fits(n: int) -> bool:
            return _wall(spec, bucket, n, _best_parallel(spec.model_copy(update={"parallel_runs": None}), bucket, n, calibration),
                         calibration)[1] <= spec.deadline_hours

        need = least_replicas(fits, 1)
        if need is not None:
            need_parallel = _best_parallel(spec.model_copy(update={"parallel_runs": None}), bucket, need, calibration)
    return CampaignPlan(
        name=spec.name,
        bucket=bucket.label,
        runs=spec.runs,
        steps=spec.steps,
        sequences_per_step=spec.sequences_per_step,
        replicas=replicas,
        parallel_runs=parallel,
        step=st,
        wall_bound_h=bound_h,
        wall_estimate_h=estimate_h,
        calibration=calibration,
        calibration_note=note,
        deadline_hours=spec.deadline_hours,
        meets_deadline=meets,
        replicas_for_deadline=need,
        parallel_runs_for_deadline=need_parallel,
    )
