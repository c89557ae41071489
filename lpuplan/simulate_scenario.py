"""Project -> simulation scenario: the pools, arrival process and service model ``lpuplan simulate`` runs.

Glue between the project file (``lpuplan.project``), the sizing (replica
counts) and ``dimensioning.simulate``; the CLI only parses its options into
these arguments.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dimensioning.errors import InvalidInput
from dimensioning.simulate.scenario import ROUTINGS, Pool

if TYPE_CHECKING:
    from lpuplan.project import Project

__all__ = ["build_scenario", "check_rate", "bucket_slos_s"]


def check_rate(rate: float | None) -> None:
    """``--rate`` must be a positive, finite number of requests/s (named as ``--rate``, never ``--arrivals``)."""
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise InvalidInput("--rate", rate, "give a positive, finite arrival rate in requests/s (or omit it: lambda_peak)")


def bucket_slos_s(project: Project, degraded: bool) -> list[float]:
    """Each bucket's p99 SLO (s): its own or the project's; with a failure, at least the degraded SLO."""
    out = []
    for bucket in project.buckets:
        slo_ms = project.bucket_slo_ms(bucket)
        if degraded:
            slo_ms = max(slo_ms, project.slo.degraded_ms)
        out.append(slo_ms / 1e3)
    return out


def _planned_replicas(project: Project, shared: bool) -> list[int]:
    """Replica counts from the sizing (per bucket, or the one shared pool)."""
    from lpuplan.plan import size_project  # the plan pipeline; imported late (it is heavier)

    try:
        _, split, dedicated, shared_sizing = size_project(project)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - sizing failure becomes an input problem here
        raise InvalidInput("--replicas", None, f"the sizing could not give replica counts ({exc}); pass --replicas") from None
    if shared:
        if shared_sizing.replicas < 1:
            raise InvalidInput("--replicas", None, "the shared-pool sizing is infeasible; pass --replicas N")
        return [shared_sizing.replicas]
    counts = []
    for sizing, traffic in zip(dedicated, split.buckets):
        if sizing.replicas < 1 and traffic.arrival_rate > 0:
            raise InvalidInput("--replicas", None, f"bucket {sizing.name} has no feasible size; pass --replicas N1,N2,...")
        counts.append(max(sizing.replicas, 1))  # a bucket without traffic gets an idle replica
    return counts


def _served_shares(project: Project) -> tuple[list[float], float]:
    """Bucket shares among served requests, and the unserved share (prompts above the largest bucket)."""
    from dimensioning.traffic import split_traffic

    split = split_traffic(project.workload, project.buckets)
    shares = [b.share for b in split.buckets]
    total = math.fsum(shares)
    if total <= 0:
        raise InvalidInput("workload", None, "no request falls in any bucket: check the prompt distribution")
    return [s / total for s in shares], split.share_unserved


def build_scenario(
    project: Project,
    *,
    pool: str = "per-bucket",
    replicas: str | None = None,
    routing: str = "central",
    arrivals: str | None = None,
    service: str = "auto",
    jitter: float = 0.0,
    queue_cap: int | None = None,
    work_cap_ms: float | None = None,
    rate: float | None = None,
) -> tuple[list[Pool], Any, Any, dict[str, Any]]:
    """Pools, arrival process, service model and a description, from a project and the CLI's choices."""
    check_rate(rate)
    from dimensioning.simulate.arrivals import TraceArrivals, parse_arrivals
    from dimensioning.simulate.service import BucketMixService, JitteredService, TokenService, bucket_service_time

    if pool not in ("per-bucket", "shared"):
        raise InvalidInput("--pool", pool, "use per-bucket or shared")
    if routing not in ROUTINGS:
        raise InvalidInput("--routing", routing, f"use one of {', '.join(ROUTINGS)}")
    if service not in ("auto", "bucket", "tokens"):
        raise InvalidInput("--service", service, "use auto, bucket or tokens")
    shared = pool == "shared"
    buckets = project.buckets
    lambda_peak = rate if rate is not None else project.workload.lambda_peak
    if arrivals is None:
        scv = project.workload.arrival_scv
        arrivals = "poisson" if scv == 1.0 else f"gamma:{scv}"
    if arrivals.strip().lower() == "trace":
        if project.workload.trace is None:
            raise InvalidInput("--arrivals", arrivals, "the project has no workload.trace: write trace:PATH")
        arrivals = f"trace:{project.workload.trace}"  # the project's own trace (needs a timestamp column)
    is_trace = arrivals.strip().lower().startswith("trace:")
    mode = service if service != "auto" else ("tokens" if is_trace else "bucket")
    if mode == "bucket":
        shares, unserved = _served_shares(project)
        # Requests above the largest bucket are rejected by the API; the pool never sees them.
        process = parse_arrivals(arrivals, lambda_peak * (1 - unserved))
        times = tuple(bucket_service_time(b) for b in buckets)
        model: Any = BucketMixService(times, tuple(shares), tuple(b.label for b in buckets))
    else:
        process = parse_arrivals(arrivals, lambda_peak)
        if isinstance(process, TraceArrivals) or (
            project.workload.prompt_tokens is not None and project.workload.output_tokens is not None
        ):
            model = TokenService.from_buckets(buckets, project.workload.prompt_tokens, project.workload.output_tokens)
        else:
            raise InvalidInput(
                "--service", "tokens", "the workload is a trace without timestamps here: use --arrivals trace:PATH"
            )
        unserved = None
    if jitter:
        model = JitteredService(model, jitter)
    if replicas is None:
        counts = _planned_replicas(project, shared)
    else:
        try:
            counts = [int(v) for v in replicas.split(",")]
        except ValueError:
            raise InvalidInput("--replicas", replicas, "give a whole number, or one per bucket: N1,N2,...") from None
    expected = 1 if shared else len(buckets)
    if len(counts) == 1 and expected > 1:
        counts = counts * expected
    if len(counts) != expected:
        raise InvalidInput("--replicas", replicas, f"give one count (or {expected}, one per bucket)")
    slots = [b.slots for b in buckets]
    if shared and len(set(slots)) > 1:
        raise InvalidInput("--pool", pool, f"buckets have different slots {slots}: a shared pool needs one value")
    work_cap_s = None if work_cap_ms is None else work_cap_ms / 1e3
    pools = [
        Pool(replicas=n, slots=s, routing=routing, queue_cap=queue_cap, work_cap_s=work_cap_s)  # type: ignore[arg-type]
        for n, s in zip(counts, slots[:1] if shared else slots)
    ]
    description = {
        "pool": pool,
        "replicas": counts,
        "slots": [p.slots for p in pools],
        "routing": routing,
        "arrivals": arrivals,
        "arrival_rate_rps": getattr(process, "mean_rate", None),
        "service": mode,
        "jitter_cv": jitter,
        "queue_cap": queue_cap,
        "work_cap_ms": work_cap_ms,
        "unserved_share": unserved,
    }
    return pools, process, model, description
