"""A plan's cost: the fleet it places, the work it carries, priced by ``[cost]``.

The formulas live in :mod:`dimensioning.cost`; this module only reads the
plan (chips, racks and typical IT power from the facility; per-bucket traffic
and service times from the sizing).
"""

from __future__ import annotations

from dimensioning.cost import CostBreakdown, CostSpec, TokenWork, fleet_cost
from lpuplan.footprint import fleet_footprint
from lpuplan.plan import Plan

__all__ = ["plan_work", "plan_cost"]


def plan_work(plan: Plan) -> list[TokenWork]:
    """Each dedicated pool's traffic at the peak and the replica time per request (s)."""
    return [
        TokenWork(
            arrival_rate=b.traffic.arrival_rate,
            prompt_tokens_mean=b.traffic.prompt_mean,
            output_tokens_mean=b.traffic.output_mean,
            prefill_s=b.service.prefill_s,
            decode_mean_s=b.service.mean_decode_s,
        )
        for b in plan.dedicated
    ]


def plan_cost(plan: Plan, spec: CostSpec, max_sustainable_rps: float | None = None) -> CostBreakdown:
    """Price the plan's dedicated fleet (see :func:`dimensioning.cost.fleet_cost`)."""
    return fleet_cost(spec, fleet_footprint(plan, max_sustainable_rps), plan_work(plan))
