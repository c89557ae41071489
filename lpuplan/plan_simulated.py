"""The plan's simulated figures: what has no exact formula (issue 3, item 10).

Three questions, each answered by the discrete-event simulator with a 95%
interval and labelled ``simulated``:

- expected latency of the dedicated pools with the real output-length
  distribution (each request's service from its own prompt and output), beside
  the bucket bound the sizing uses;
- the dedicated pools at the bound under bursty arrivals (``arrival_scv != 1``),
  where the sizing's GI/D/c figures are a two-moment approximation;
- the shared pool with more than one server (mixture of deterministic
  services), where M/G/c is an approximation.

Seeded and with a fixed request count, so the same project gives the same
figures on every machine; wall-clock times are not part of the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from dimensioning.simulate.estimates import LatencyEstimate, simulate_pool_latency
from dimensioning.shared_pool import SharedPoolSizing
from dimensioning.sizing import BucketSizing
from dimensioning.traffic import read_trace
from lpuplan.project import Project

__all__ = ["SimulatedFigures", "SIMULATION_SEED", "simulate_plan"]

SIMULATION_SEED = 20261123


@dataclass(frozen=True)
class SimulatedFigures:
    """Simulated figures keyed by question; each value is JSON-ready."""

    expected_with_real_outputs: dict[str, Any] | None
    bursty_at_bound: dict[str, Any] | None
    shared_pool: dict[str, Any] | None
    skipped: tuple[str, ...]


def _estimate_dict(est: LatencyEstimate, slo_by_bucket: dict[str, float] | None = None) -> dict[str, Any]:
    buckets = {}
    for name, figure in est.bucket_latency_p99_s.items():
        if figure is None:
            continue
        row = {"latency_p99_s": figure.value, "latency_p99_s_ci95": figure.interval}
        mean = est.bucket_latency_mean_s.get(name)
        if mean is not None:
            row.update(latency_mean_s=mean.value, latency_mean_s_ci95=mean.interval)
        if slo_by_bucket and name in slo_by_bucket:
            row["slo_s"] = slo_by_bucket[name]
            # judged on the interval's upper end: a figure whose interval crosses the SLO is not a pass
            row["within_slo"] = figure.high <= slo_by_bucket[name]
        buckets[name] = row
    return {
        "method": "simulated",
        "note": est.note,
        "requests": est.requests,
        "seed": est.seed,
        "utilization": est.utilization,
        "wait_p99_s": est.wait_p99_s.value,
        "wait_p99_s_ci95": est.wait_p99_s.interval,
        "wait_mean_s": est.wait_mean_s.value,
        "wait_mean_s_ci95": est.wait_mean_s.interval,
        "latency_p99_s": est.latency_p99_s.value,
        "latency_p99_s_ci95": est.latency_p99_s.interval,
        "buckets": buckets,
    }


# the M/G/c approximation is seldom more than a replica or two off; stop well after that
_MAX_REFEREE_STEPS = 8


def _referee_shared_pool(buckets: list, shared: SharedPoolSizing, shares: list[float], arrival_scv: float, seed: int,
                         extra: dict[str, Any], say: Callable[[str], None]) -> dict[str, Any]:
    """Simulate the shared pool; add replicas until every bucket's simulated p99 meets its SLO.

    The shared pool's size comes from M/G/c, an approximation whose p99 runs
    low for wide mixtures of service times (docs/queueing.md); the simulator
    referees it at the normal state. Each step is a fresh seeded simulation, so
    the result is reproducible.
    """
    slos = {v.name: v.slo_s for v in shared.buckets}
    replicas = shared.replicas
    for step in range(_MAX_REFEREE_STEPS):
        say(f"simulating the shared pool with {replicas} replicas")
        est = simulate_pool_latency(buckets, shared.arrival_rate, replicas, shares=shares,
                                    arrival_scv=arrival_scv, seed=seed, **extra)
        figures = _estimate_dict(est, slos)
        if all(row.get("within_slo", True) for row in figures["buckets"].values()):
            break
        if step < _MAX_REFEREE_STEPS - 1:
            replicas += 1
    figures["replicas"] = replicas
    figures["replicas_from_approximation"] = shared.replicas
    figures["within_slo"] = all(row.get("within_slo", True) for row in figures["buckets"].values())
    return figures


def simulate_plan(
    project: Project,
    dedicated: tuple[BucketSizing, ...],
    shared: SharedPoolSizing,
    *,
    seed: int = SIMULATION_SEED,
    requests: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulatedFigures:
    """Run the plan's simulations (a few seconds for the example)."""
    say = progress or (lambda _msg: None)
    extra: dict[str, Any] = {} if requests is None else {"requests": requests}
    workload = project.workload
    buckets = list(project.buckets)
    skipped: list[str] = []
    slos = {b.name: b.slo_s for b in dedicated}
    served = [b for b in dedicated if b.traffic.arrival_rate > 0]
    dedicated_ok = bool(served) and all(b.replicas > 0 and b.feasible for b in served)
    served_rate = sum(b.traffic.arrival_rate for b in served)
    shares = [b.traffic.arrival_rate / served_rate if served_rate else 0.0 for b in dedicated]
    replicas = [max(b.replicas, 1) for b in dedicated]

    expected = None
    if not dedicated_ok:
        skipped.append("expected latency: a bucket has no feasible sizing")
    else:
        say("simulating dedicated pools with real output lengths")
        pairs = None
        if workload.trace is not None:
            trace = read_trace(workload.trace)
            pairs = (trace.prompt_tokens, trace.output_tokens)
        est = simulate_pool_latency(
            buckets, workload.lambda_peak, replicas, arrival_scv=workload.arrival_scv,
            prompt_tokens=workload.prompt_tokens, output_tokens=workload.output_tokens, trace_pairs=pairs,
            seed=seed, **extra,
        )
        expected = _estimate_dict(est, slos)

    bursty = None
    if workload.arrival_scv != 1.0 and dedicated_ok:
        say("simulating dedicated pools at the bound with bursty arrivals")
        est = simulate_pool_latency(buckets, served_rate, replicas, shares=shares, arrival_scv=workload.arrival_scv, seed=seed + 1, **extra)
        bursty = _estimate_dict(est, slos)

    shared_fig = None
    if shared.replicas * shared.slots > 1 and shared.arrival_rate > 0:
        if not shared.feasible:
            skipped.append(f"shared pool: not sized ({shared.infeasible_reason})")
        elif len({b.slots for b in buckets}) > 1:
            skipped.append("shared pool: buckets have different slots; the simulator's shared pool needs one value")
        else:
            shared_fig = _referee_shared_pool(buckets, shared, shares, workload.arrival_scv, seed + 2, extra, say)
    return SimulatedFigures(expected, bursty, shared_fig, tuple(skipped))
