"""The facility's headline for plan.json: totals and verdicts, with the detail left in facility.json.

plan.json used to embed the whole :class:`facility.FacilityResult` (every
node, rack, budget check and failure domain: about 90% of its bytes). It now
carries what a reader of the plan decides on (racks, chips, power and cooling
totals, the failed budget checks, N+k per level with the worst domains) and a
relative pointer, ``detail``, to ``facility/facility.json``, which keeps every
figure (schema lpuplan.plan/3, docs/plan-schema.md). Read only: nothing here
computes a verdict, it copies them from the result.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dimensioning.keys import latency_key, slo_key, E2EL, to_ms

if TYPE_CHECKING:
    from facility import FacilityResult

__all__ = ["FACILITY_DETAIL", "facility_summary", "MAX_LISTED"]

FACILITY_DETAIL = "facility/facility.json"
"""Where ``lpuplan plan`` writes the facility's detail, relative to plan.json."""

MAX_LISTED = 20
"""Most failing domains or budget checks listed by name (the count is always given)."""


def facility_summary(result: FacilityResult, detail: str | None = FACILITY_DETAIL) -> dict[str, Any]:
    """The facility summary of plan.json (see the module docstring); ``detail``: the pointer (None: not written)."""
    from lpuplan.footprint import it_power_kw, populated_racks  # footprint imports lpuplan.plan

    layout = result.layout
    chips = sum(p.replicas_final * p.demand.chips_per_replica for p in result.pools)
    failed_budgets = [c for c in result.budget_checks if not c.passed]
    failing_domains = [d for d in result.domains if not d.passed]
    zones = [z for z in result.zones if z.heat_max_kw > 0]
    return {
        "detail": detail,
        "passed": result.passed,
        "failures": list(result.failures),
        "site": layout.site,
        "required_level": result.required_level,
        "required_level_source": result.required_level_source,
        "n_plus": result.n_plus,
        "feedback_rounds": result.feedback_rounds,
        "racks": populated_racks(result),
        "racks_in_site": layout.racks,
        "chips": chips,
        "compute_nodes": sum(1 for n in result.nodes if n.role == "compute"),
        "pools": [{
            "name": p.name,
            "replicas_initial": p.replicas_initial,
            "replicas_final": p.replicas_final,
            "replicas_added": p.added,
            "chips_per_replica": p.demand.chips_per_replica,
            "nodes_per_replica": p.nodes_per_replica,
            "unplaced": p.unplaced,
        } for p in result.pools],
        "power": {
            "it_typical_kw": it_power_kw(result, "typical"),
            "it_max_kw": it_power_kw(result, "max"),
            "supply_room_kw": layout.supply.room_kw,
            "supply_row_kw": layout.supply.row_kw,
            "totals": [t.to_dict() for t in result.power_totals if t.kind in ("room", "row")],
        },
        "cooling": {
            "zones": len(zones),
            "heat_max_kw": math.fsum(z.heat_max_kw for z in zones),
            "heat_typical_kw": math.fsum(z.heat_typical_kw for z in zones),
            "units_needed": sum(z.units_needed for z in zones),
            "units_installed": sum(z.units_installed for z in zones),
            "zones_not_surviving_one_unit_loss": [z.zone for z in zones if not z.survives_one_unit_loss],
        },
        "budget_checks": {
            "checked": len(result.budget_checks),
            "failed": len(failed_budgets),
            "failed_first": [c.to_dict() for c in failed_budgets[:MAX_LISTED]],
        },
        "levels": [_level(v) for v in result.levels],
        "domains": {
            "checked": len(result.domains),
            "failing": len(failing_domains),
            "failing_first": [d.domain for d in failing_domains[:MAX_LISTED]],
        },
        "shared_racks": len(result.shared_racks),
        "notes": list(result.notes),
    }


def _level(verdict: Any) -> dict[str, Any]:
    """N+k at one level: the verdict, the worst domains, and each pool's survivors' check."""
    return {
        "level": verdict.level,
        "n_plus": verdict.n_plus,
        "required": verdict.required,
        "passed": verdict.passed,
        "domains": verdict.domains,
        "worst_domains": list(verdict.worst_domains),
        "worst_replicas_lost": verdict.worst_replicas_lost,
        "pools": [{
            "pool": p.pool,
            "replicas": p.replicas,
            "lost": p.lost,
            "worst_domains": list(p.worst_domains),
            "passed": p.check.passed,
            "method": p.check.method,
            "utilisation": p.check.utilisation,
            latency_key(E2EL, 99.0): to_ms(p.check.p99_s),
            slo_key(E2EL): to_ms(p.check.slo_s),
            "failed": list(p.check.failed),
        } for p in verdict.pools],
    }
