"""``lpuplan sweep``: every pool's knee and the fleet's max sustainable peak.

Each dedicated pool keeps the replicas the plan gives it (after the
facility's N+k feedback when placed) and is swept from light load to past
saturation with the sizing's own pool model (:func:`dimensioning.knee.sweep_spec`),
in the normal state and with the provisioned loss (``replicas_lost``) down.
The fleet's max sustainable peak scales every bucket's share of
``lambda_peak`` together: ``lambda_peak * min_pool(max_sustainable / operating)``,
the least of the normal and degraded states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from dimensioning.knee import PoolSweep, fleet_max_scale, sweep_spec
from lpuplan.plan import Plan

__all__ = ["FleetSweep", "sweep_plan"]


@dataclass(frozen=True)
class FleetSweep:
    """Per-pool sweeps (normal and degraded) and the fleet's max sustainable peak (requests/s)."""

    lambda_peak: float
    normal: tuple[PoolSweep, ...]
    degraded: tuple[PoolSweep, ...]
    max_scale: float
    limiting: str
    notes: tuple[str, ...]

    @property
    def max_sustainable_lambda_peak(self) -> float:
        return self.lambda_peak * self.max_scale

    @property
    def passed(self) -> bool:
        """True when the fleet carries its planned peak in both states (headroom >= 0)."""
        return self.max_scale >= 1.0 - 1e-6

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "lpuplan.sweep/2",  # /2: latencies in ms (docs/plan-schema.md)
            "passed": self.passed,
            "lambda_peak": self.lambda_peak,
            "max_sustainable_lambda_peak": self.max_sustainable_lambda_peak,
            "max_scale": self.max_scale,
            "limiting": self.limiting,
            "normal": [s.to_dict() for s in self.normal],
            "degraded": [s.to_dict() for s in self.degraded],
            "notes": list(self.notes),
        }


def sweep_plan(plan: Plan, points: int = 41, progress: Callable[[str], None] | None = None) -> FleetSweep:
    """Sweep every dedicated pool of ``plan`` (pools with no traffic are skipped)."""
    replicas = plan.final_replicas
    normal: list[PoolSweep] = []
    degraded: list[PoolSweep] = []
    notes: list[str] = []
    for sizing in plan.dedicated:
        spec = sizing.pool
        if spec is None or sizing.traffic.arrival_rate == 0:
            notes.append(f"{sizing.name}: no traffic, not swept")
            continue
        if not sizing.feasible:
            notes.append(f"{sizing.name}: infeasible ({sizing.infeasible_reason}); swept with the replicas it has")
        n = replicas.get(sizing.name, sizing.replicas)
        if progress is not None:
            progress(f"sweeping {sizing.name}")
        normal.append(sweep_spec(spec, n, degraded=False, points=points))
        degraded.append(sweep_spec(spec, max(n - spec.replicas_lost, 0), degraded=True, points=points))
    scale_n, pool_n = fleet_max_scale(normal)
    scale_d, pool_d = fleet_max_scale(degraded)
    if scale_d < scale_n:
        scale, limiting = scale_d, f"{pool_d} (with {plan.targets.replicas_lost} replica(s) lost)"
    else:
        scale, limiting = scale_n, pool_n
    if math.isinf(scale):
        limiting = "no pool carries traffic"
    return FleetSweep(plan.traffic.lambda_peak, tuple(normal), tuple(degraded), scale, limiting, tuple(notes))
