"""Token-shape forecasts: scenarios as deltas on the workload, and what each asks of the fleet.

A scenario (``[[forecast.scenario]]``) changes the workload, never the model:

- ``lambda_scale`` and ``lambda_add_rps``: ``lambda' = lambda_peak * lambda_scale + lambda_add_rps``
  (a launch peak x3; a regional failover adding one region's traffic);
- ``retry_rate``: a share of requests sent again, ``lambda' *= 1 + retry_rate``
  (retries are new arrivals to the queue: they carry the same shape);
- ``prompt_scale`` / ``output_scale``: every prompt (output) length times k
  (a lognormal or gamma keeps its coefficient of variation: mean and std
  both scale; a histogram's edges scale; a constant scales);
- ``prompt_tokens`` / ``output_tokens``: a new distribution altogether (a
  long-context cohort that becomes the workload);
- ``cache_hit_rate``: the share of prompt tokens served from a prefix cache,
  which skip prefill. Bucket ``r_prefill`` figures are cache-miss rates; with a
  hit rate h the prefill of a bucket takes ``(1 - h) * P / r_prefill``: the
  scenario sets every bucket's ``prefix_cache_hit_rate`` and
  :mod:`dimensioning.service_time` applies it to every kind of bucket (given
  rates, rate tables, step models). This is the mean prefill work: a request that
  misses the cache still takes the full prefill, so for a p99 SLO the hit
  rate is an approximation on the optimistic side, and the report says so.

The token shape of a workload at its peak (per bucket, then summed), with
``S_prefill = P_bucket / r_prefill`` and ``r = r_decode``:

- requests/s ``lambda``; prompt tokens/s ``lambda * E[P]``; output tokens/s
  ``lambda * E[min(O, cap)]``;
- active sequences (Little's law, L = lambda W): ``lambda * E[S]``;
- KV tokens held (the generalised Little's law H = lambda G, where G is the
  time-integral of one request's KV tokens): a request holds its prompt during
  prefill and ``P + k`` tokens while decoding its k-th output token, so
  ``G = E[P] * (S_prefill + L_fixed + E[O]/r) + (E[O^2] + E[O]) / (2 r)``
  (prompt and output lengths independent, as the sizing takes them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from pydantic import Field, model_validator

from dimensioning.inputs import Bucket, TokenDistribution, Workload, _Frozen

if TYPE_CHECKING:  # the project loader reads these models; numpy and scipy load only when a forecast runs
    from dimensioning.traffic import TrafficSplit

__all__ = [
    "ApiLimits",
    "Scenario",
    "ForecastSpec",
    "BucketShape",
    "TokenShape",
    "apply_scenario",
    "limited_second_moment",
    "token_shape",
]


class ApiLimits(_Frozen):
    """Rate limits of the API in front of the fleet (per minute)."""

    requests_per_min: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    tokens_per_min: float | None = Field(default=None, gt=0, allow_inf_nan=False,
                                         description="prompt + output tokens per minute")


class Scenario(_Frozen):
    """One ``[[forecast.scenario]]``: a delta on the workload (see the module docstring)."""

    name: str = Field(min_length=1)
    lambda_scale: float = Field(default=1.0, gt=0, le=1e4, allow_inf_nan=False)
    lambda_add_rps: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    retry_rate: float = Field(default=0.0, ge=0, le=10, allow_inf_nan=False)
    prompt_scale: float = Field(default=1.0, gt=0, le=1e3, allow_inf_nan=False)
    output_scale: float = Field(default=1.0, gt=0, le=1e3, allow_inf_nan=False)
    prompt_tokens: TokenDistribution | None = None
    output_tokens: TokenDistribution | None = None
    cache_hit_rate: float | None = Field(default=None, ge=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _scale_or_replace(self) -> "Scenario":
        if self.prompt_tokens is not None and self.prompt_scale != 1.0:
            raise ValueError("give prompt_tokens (a new distribution) or prompt_scale, not both")
        if self.output_tokens is not None and self.output_scale != 1.0:
            raise ValueError("give output_tokens (a new distribution) or output_scale, not both")
        return self


class ForecastSpec(_Frozen):
    """``[forecast]``: the baseline's cache hit rate, the API limits, the scenarios."""

    cache_hit_rate: float = Field(default=0.0, ge=0, lt=1, allow_inf_nan=False,
                                  description="share of prompt tokens served from the prefix cache today")
    api_limits: ApiLimits = ApiLimits()
    scenario: tuple[Scenario, ...] = Field(default=(), description="[[forecast.scenario]] tables")
    assumed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> "ForecastSpec":
        names = [s.name for s in self.scenario]
        if len(set(names)) != len(names):
            raise ValueError(f"scenario names {names} repeat: give each scenario a unique name")
        return self


def _scale_distribution(dist: TokenDistribution, k: float) -> TokenDistribution:
    if k == 1.0:
        return dist
    if dist.histogram is not None:
        return TokenDistribution(histogram=tuple((edge * k, share) for edge, share in dist.histogram))
    if dist.distribution == "constant":
        assert dist.value is not None
        return TokenDistribution(distribution="constant", value=dist.value * k)
    assert dist.mean is not None and dist.std is not None
    return TokenDistribution(distribution=dist.distribution, mean=dist.mean * k, std=dist.std * k)


def apply_scenario(workload: Workload, buckets: Sequence[Bucket], scenario: Scenario,
                   baseline_cache_hit_rate: float = 0.0) -> tuple[Workload, tuple[Bucket, ...], tuple[str, ...]]:
    """The scenario's workload and buckets, and notes on what is approximate.

    Buckets must have their rates resolved (given or from a profile).
    A trace workload cannot be rescaled in shape (its rows are the shape):
    only rate deltas and the cache hit rate apply; shape deltas raise ValueError.
    """
    notes: list[str] = []
    lam = (workload.lambda_peak * scenario.lambda_scale + scenario.lambda_add_rps) * (1.0 + scenario.retry_rate)
    update: dict[str, Any] = {"lambda_peak": lam}
    shape_change = (scenario.prompt_scale != 1.0 or scenario.output_scale != 1.0
                    or scenario.prompt_tokens is not None or scenario.output_tokens is not None)
    if workload.trace is not None:
        if shape_change:
            raise ValueError(f"scenario {scenario.name!r} changes token lengths, but the workload is a trace:"
                             " give prompt_tokens/output_tokens distributions in [workload] to forecast shape changes")
    else:
        assert workload.prompt_tokens is not None and workload.output_tokens is not None
        update["prompt_tokens"] = scenario.prompt_tokens or _scale_distribution(workload.prompt_tokens, scenario.prompt_scale)
        update["output_tokens"] = scenario.output_tokens or _scale_distribution(workload.output_tokens, scenario.output_scale)
    new_workload = workload.model_copy(update=update)
    hit = baseline_cache_hit_rate if scenario.cache_hit_rate is None else scenario.cache_hit_rate
    new_buckets = tuple(buckets)
    if scenario.cache_hit_rate is not None or hit > 0:
        # every kind of bucket (figures, rate tables, step models): dimensioning.service_time applies it
        new_buckets = tuple(b.model_copy(update={"prefix_cache_hit_rate": hit}) for b in buckets)
    if hit > 0:
        notes.append(f"prefix cache hit rate {hit:.0%} taken at its mean (prefill (1 - h) P / r_prefill):"
                     " requests that miss take the full prefill, so p99 figures are optimistic")
    return new_workload, new_buckets, tuple(notes)


def limited_second_moment(dist: TokenDistribution, cap: float, points: int = 4097) -> float:
    """``E[min(X, cap)^2] = 2 * integral_0^cap x P(X > x) dx`` (tokens^2), Simpson's rule."""
    import numpy as np

    from dimensioning.tokens import token_cdf

    xs = np.linspace(0.0, cap, points)
    survival = np.array([1.0 - token_cdf(dist, float(x)) for x in xs])
    f = 2.0 * xs * survival
    h = cap / (points - 1)
    return float(h / 3.0 * (f[0] + f[-1] + 4.0 * f[1:-1:2].sum() + 2.0 * f[2:-1:2].sum()))


@dataclass(frozen=True)
class BucketShape:
    """One bucket's token shape at the peak (tokens/s, sequences, tokens)."""

    name: str
    requests_per_s: float
    prompt_tokens_per_s: float
    output_tokens_per_s: float
    active_sequences: float
    kv_tokens: float


@dataclass(frozen=True)
class TokenShape:
    """The whole workload's token shape at the peak (sums over the buckets)."""

    requests_per_s: float
    prompt_tokens_per_s: float
    output_tokens_per_s: float
    active_sequences: float
    kv_tokens: float
    unserved_requests_per_s: float
    buckets: tuple[BucketShape, ...]

    @property
    def tokens_per_min(self) -> float:
        return 60.0 * (self.prompt_tokens_per_s + self.output_tokens_per_s)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def token_shape(workload: Workload, buckets: Sequence[Bucket], traffic: "TrafficSplit") -> TokenShape:
    """Token shape of ``workload`` served by ``buckets`` (rates resolved); see the module docstring.

    With a trace the KV area is averaged over the bucket's own rows, so any
    correlation of prompt and output lengths is kept.
    """
    import numpy as np

    from dimensioning.service_time import service_time
    from dimensioning.traffic import read_trace

    trace = read_trace(workload.trace) if workload.trace is not None else None
    rows = []
    lo = 0.0
    for bucket, part in zip(buckets, traffic.buckets):
        lam = part.arrival_rate
        o_mean = part.output_mean
        cap = float(bucket.max_output_tokens)
        service = service_time(bucket, o_mean)  # rates at the replica's occupancy, as the sizing takes them
        prefill, fixed, r_decode = service.prefill_s, service.fixed_s, 1.0 / service.token_s
        service_mean = service.mean_s
        if trace is not None:
            mask = (trace.prompt_tokens > lo) & (trace.prompt_tokens <= bucket.max_prompt_tokens)
            p = trace.prompt_tokens[mask]
            o = np.minimum(trace.output_tokens[mask], cap)
            area = p * (prefill + fixed + o / r_decode) + (o * o + o) / (2.0 * r_decode)
            kv_area = float(area.mean()) if p.size else 0.0
        else:
            assert workload.output_tokens is not None
            o_sq = limited_second_moment(workload.output_tokens, cap)
            kv_area = part.prompt_mean * service_mean + (o_sq + o_mean) / (2.0 * r_decode)
        lo = float(bucket.max_prompt_tokens)
        rows.append(BucketShape(
            name=bucket.label,
            requests_per_s=lam,
            prompt_tokens_per_s=lam * part.prompt_mean,
            output_tokens_per_s=lam * o_mean,
            active_sequences=lam * service_mean,
            kv_tokens=lam * kv_area,
        ))
    return TokenShape(
        requests_per_s=math.fsum(r.requests_per_s for r in rows),
        prompt_tokens_per_s=math.fsum(r.prompt_tokens_per_s for r in rows),
        output_tokens_per_s=math.fsum(r.output_tokens_per_s for r in rows),
        active_sequences=math.fsum(r.active_sequences for r in rows),
        kv_tokens=math.fsum(r.kv_tokens for r in rows),
        unserved_requests_per_s=traffic.lambda_unserved,
        buckets=tuple(rows),
    )
