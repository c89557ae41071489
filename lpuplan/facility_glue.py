"""The glue from a project file to the facility model, for ``lpuplan facility`` and ``lpuplan plan``.

It lives in ``lpuplan`` because it reads the project (``lpuplan.project``):
dependencies point one way, ``lpuplan`` -> ``facility`` -> ``dimensioning``.

Each bucket's pool starts from the dimensioning package's sizing and carries
the sizing's pool spec, so the facility's N+k feedback judges it with the same
function and model (:func:`dimensioning.pool.evaluate_pool`, the workload's
arrival SCV included); its starting count is the sizing's
(:func:`dimensioning.sizing.size_bucket`), so ``lpuplan facility`` and
``lpuplan plan`` agree on every count.
Chips per replica: the bucket's ``chips_per_replica`` (the compiler's figure),
else the memory fit of ``[hardware] model`` (:mod:`facility.memory_fit`).
"""

from __future__ import annotations

from typing import Callable, Sequence

from dimensioning.errors import InvalidInput
from dimensioning.sizing import BucketSizing, Targets, bucket_slos, size_bucket
from dimensioning.traffic import split_traffic

from facility.catalog import load_catalog, resolve_model, resolve_platform
from facility.demand import PoolDemand
from facility.inputs import HardwareSpec
from facility.memory_fit import ReplicaSize, replica_size
from facility.plan import FacilityResult, plan_facility
from lpuplan.project import Project

__all__ = ["pool_demands", "plan_project_facility"]


def pool_demands(
    project: Project, sizings: Sequence[BucketSizing] | None = None
) -> tuple[list[PoolDemand], dict[str, ReplicaSize]]:
    """One :class:`PoolDemand` per bucket and each replica's size arithmetic.

    ``sizings`` are the plan's dedicated-pool sizings in bucket order; when
    omitted they are computed here with the same function.
    """
    hardware = project.hardware or HardwareSpec()
    catalog = load_catalog(hardware.catalog)
    platform = resolve_platform(catalog, hardware.platform, hardware.override)
    model = resolve_model(catalog, hardware.model) if hardware.model is not None else None
    targets = Targets.from_inputs(project.workload, project.slo, project.headroom, project.redundancy, project.admission)
    if sizings is None:
        split = split_traffic(project.workload, project.buckets)
        sizings = [
            size_bucket(b, t, *bucket_slos(project.slo, b), targets) for b, t in zip(project.buckets, split.buckets)
        ]
    demands: list[PoolDemand] = []
    sizes: dict[str, ReplicaSize] = {}
    for i, (bucket, sizing) in enumerate(zip(project.buckets, sizings)):
        if not sizing.feasible:
            raise InvalidInput(f"bucket[{i}]", bucket.label, f"cannot be sized: {sizing.infeasible_reason}")
        size = replica_size(
            platform,
            chips_given=bucket.chips_per_replica,
            model=model,
            hardware=hardware,
            context_tokens=bucket.max_prompt_tokens + bucket.max_output_tokens,
            slots=bucket.slots,
            field=f"bucket[{i}].chips_per_replica",
        )
        demands.append(
            PoolDemand(
                name=bucket.label,
                replicas=sizing.replicas,
                chips_per_replica=size.chips_per_replica,
                slots=bucket.slots,
                service_time_s=sizing.service.total_s,
                arrival_rate=sizing.traffic.arrival_rate,
                slo_p99_s=sizing.slo_s,
                rho_target_degraded=targets.rho_target_degraded,
                rho_target_normal=targets.rho_target_normal,
                slo_degraded_p99_s=sizing.degraded_slo_s,
                arrival_scv=targets.arrival_scv,
                pool=sizing.pool,
            )
        )
        sizes[bucket.label] = size
    return demands, sizes


def plan_project_facility(project: Project, progress: Callable[[str], None] | None = None) -> FacilityResult:
    """``lpuplan facility``: pool demands from the project, then :func:`plan_facility`."""
    if project.facility is None:
        raise InvalidInput("facility", None, "add a [facility] table (rows, pods_per_row, ...): see docs/facility.md")
    demands, sizes = pool_demands(project)
    return plan_facility(project.hardware, project.facility, project.redundancy, demands, sizes=sizes, progress=progress)
