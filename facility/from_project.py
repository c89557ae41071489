"""Pool demands from a project file, for ``lpuplan facility FILE``.

``lpuplan plan`` adapts the sizing results instead; this path sizes each
bucket's pool on its own, with the worksheet formulas:

- service time (output at its cap, an upper bound):
  ``S = max_prompt_tokens / r_prefill + max_output_tokens / r_decode + l_fixed_ms / 1000``;
- arrival rate: ``lambda_peak x share`` (``dimensioning.traffic.split_traffic``);
- starting replicas: the least ``N`` with ``lambda S / (N slots) <= rho_target_normal``
  and the M/D/c p99 within the SLO (:func:`facility.demand.minimal_replicas`);
- chips per replica: the bucket's ``chips_per_replica`` (the compiler's figure),
  else the memory fit of ``[hardware] model`` (:mod:`facility.memory_fit`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from dimensioning.errors import InvalidInput
from dimensioning.traffic import split_traffic

from facility.catalog import load_catalog, resolve_model, resolve_platform
from facility.demand import PoolDemand, minimal_replicas
from facility.inputs import HardwareSpec
from facility.memory_fit import ReplicaSize, replica_size
from facility.plan import FacilityResult, plan_facility

if TYPE_CHECKING:
    from lpuplan.project import Project

__all__ = ["pool_demands", "plan_project_facility"]


def pool_demands(project: "Project") -> tuple[list[PoolDemand], dict[str, ReplicaSize]]:
    """One :class:`PoolDemand` per bucket (module formulas) and each replica's size arithmetic."""
    hardware = project.hardware or HardwareSpec()
    catalog = load_catalog(hardware.catalog)
    platform = resolve_platform(catalog, hardware.platform, hardware.override)
    model = resolve_model(catalog, hardware.model) if hardware.model is not None else None
    split = split_traffic(project.workload, project.buckets)
    demands: list[PoolDemand] = []
    sizes: dict[str, ReplicaSize] = {}
    for i, (bucket, traffic) in enumerate(zip(project.buckets, split.buckets)):
        assert bucket.r_prefill is not None and bucket.r_decode is not None
        size = replica_size(
            platform,
            chips_given=bucket.chips_per_replica,
            model=model,
            hardware=hardware,
            context_tokens=bucket.max_prompt_tokens + bucket.max_output_tokens,
            slots=bucket.slots,
            field=f"bucket[{i}].chips_per_replica",
        )
        service = bucket.max_prompt_tokens / bucket.r_prefill + bucket.max_output_tokens / bucket.r_decode + bucket.l_fixed_s
        slo_s = project.bucket_slo_ms(bucket) / 1e3
        degraded_s = (bucket.slo_p99_ms or project.slo.degraded_ms) / 1e3
        demand = PoolDemand(
            name=bucket.label,
            replicas=0,
            chips_per_replica=size.chips_per_replica,
            slots=bucket.slots,
            service_time_s=service,
            arrival_rate=traffic.arrival_rate,
            slo_p99_s=slo_s,
            rho_target_degraded=project.headroom.rho_target_degraded,
            rho_target_normal=project.headroom.rho_target_normal,
            slo_degraded_p99_s=degraded_s,
        )
        try:
            n = minimal_replicas(demand)
        except InvalidInput as exc:
            raise InvalidInput(f"bucket[{i}].slo_p99_ms", exc.value, exc.fix) from None
        demands.append(PoolDemand(**{**demand.to_dict(), "replicas": n}))
        sizes[bucket.label] = size
    return demands, sizes


def plan_project_facility(project: "Project", progress: Callable[[str], None] | None = None) -> FacilityResult:
    """``lpuplan facility``: pool demands from the project, then :func:`plan_facility`."""
    if project.facility is None:
        raise InvalidInput("facility", None, "add a [facility] table (rows, pods_per_row, ...): see docs/facility.md")
    demands, sizes = pool_demands(project)
    return plan_facility(project.hardware, project.facility, project.redundancy, demands, sizes=sizes, progress=progress)
