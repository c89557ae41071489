"""Simulated latency figures for the plan, where no exact formula exists.

One call per question the plan asks (issue 3, item 10): a shared pool with
c > 1 serving a mixture of deterministic bucket times; bursty arrivals
(gamma renewal with SCV != 1); the latency with the real output-length
distribution (per-request service from (P, O)) beside the bucket bound.
The request count is fixed (not chosen from a clock), so the figures are
the same bytes on every machine for a seed; 1,000,000 requests take about
0.5-1 s on one core (event loop + summary).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dimensioning.inputs import Bucket, TokenDistribution
from dimensioning.simulate.arrivals import GammaRenewal, Poisson
from dimensioning.simulate.run import SimulationResult, simulate
from dimensioning.simulate.scenario import Pool
from dimensioning.simulate.service import BucketMixService, TokenService, bucket_service_time
from dimensioning.simulate.statistics import Estimate

__all__ = ["LatencyEstimate", "simulate_pool_latency"]

PLAN_REQUESTS = 1_000_000


@dataclass(frozen=True)
class LatencyEstimate:
    """Simulated p99 wait and latency (s) with 95% intervals, pool-wide and per bucket."""

    wait_p99_s: Estimate
    latency_p99_s: Estimate
    wait_mean_s: Estimate
    bucket_latency_p99_s: dict[str, Estimate | None]
    bucket_latency_mean_s: dict[str, Estimate | None]
    utilization: float
    requests: int
    seed: int
    wall_s: float
    note: str
    result: SimulationResult

    @property
    def method(self) -> str:
        return "simulated"


def simulate_pool_latency(
    buckets: Sequence[Bucket],
    arrival_rate: float,
    replicas: int | Sequence[int],
    *,
    shares: Sequence[float] | None = None,
    arrival_scv: float = 1.0,
    prompt_tokens: TokenDistribution | None = None,
    output_tokens: TokenDistribution | None = None,
    trace_pairs: tuple[np.ndarray, np.ndarray] | None = None,
    seed: int = 0,
    requests: int = PLAN_REQUESTS,
) -> LatencyEstimate:
    """p99 wait and latency of a pool of LPU replicas, simulated.

    - ``replicas``: one count (a shared pool serving every bucket; all buckets
      must have the same ``slots``) or one count per bucket (dedicated pools).
    - Service: with ``shares`` (bucket shares of the served requests, summing
      to 1), each request takes its bucket's deterministic ``S_bucket`` at the
      output cap (the sizing bound); with ``prompt_tokens`` and
      ``output_tokens`` instead, each request's service comes from its own
      (P, O): ``max_prompt/r_prefill + min(O, max_output)/r_decode + l_fixed``,
      and prompts above the largest bucket are rejected (not in the figures);
      ``trace_pairs`` (prompt and output arrays of a trace) instead draws each
      request's (P, O) from the trace's rows, keeping their correlation.
    - Arrivals at ``arrival_rate`` requests/s: Poisson for ``arrival_scv`` = 1,
      else gamma renewal with that SCV.
    """
    if shares is not None:
        service = BucketMixService(
            tuple(bucket_service_time(b) for b in buckets), tuple(shares), tuple(b.label for b in buckets)
        )
        mode = "each request at its bucket bound S_bucket"
    else:
        service = TokenService.from_buckets(buckets, prompt_tokens, output_tokens, trace_pairs)
        mode = "each request's service from its own prompt and output tokens" + (
            " (rows of the trace, drawn with replacement)" if trace_pairs is not None else "")
    process = Poisson(arrival_rate) if arrival_scv == 1.0 else GammaRenewal(arrival_rate, arrival_scv)
    if isinstance(replicas, int):
        pool: Pool | list[Pool] = Pool(replicas=replicas, slots=buckets[0].slots)
        if len({b.slots for b in buckets}) > 1:
            from dimensioning.errors import InvalidInput

            raise InvalidInput("slots", [b.slots for b in buckets], "a shared pool needs one slots value for all buckets")
    else:
        pool = [Pool(replicas=n, slots=b.slots) for n, b in zip(replicas, buckets)]
    result = simulate(pool, process, service, seed=seed, requests=requests)
    summary = result.summary
    per_bucket: dict[str, Estimate | None] = {}
    per_bucket_mean: dict[str, Estimate | None] = {}
    for index, bucket in enumerate(buckets):
        latency = result.bucket_latency(index)
        per_bucket[bucket.label] = latency.get("p99")
        per_bucket_mean[bucket.label] = latency.get("mean")
    arrivals_note = "Poisson" if arrival_scv == 1.0 else f"gamma renewal, SCV {arrival_scv:g}"
    return LatencyEstimate(
        wait_p99_s=summary.wait["p99"],
        latency_p99_s=summary.latency["p99"],
        wait_mean_s=summary.wait["mean"],
        bucket_latency_p99_s=per_bucket,
        bucket_latency_mean_s=per_bucket_mean,
        utilization=summary.utilization,
        requests=requests,
        seed=seed,
        wall_s=result.wall_s,
        note=f"simulated: {requests:,} requests, seed {seed}, {arrivals_note}, {mode}; 95% sectioning interval",
        result=result,
    )
