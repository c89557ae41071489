"""What a plan occupies and what the site offers: chips, racks, IT power.

With a ``[facility]`` the figures come from the placement (populated racks,
typical IT draw of the powered nodes) and the room (its racks, chips and
supply). Without one, only chips are known; racks and power are None and the
reports say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dimensioning.cost import FleetFootprint
from lpuplan.plan import Plan

if TYPE_CHECKING:
    from facility import FacilityResult

__all__ = ["SiteCapacity", "fleet_footprint", "site_capacity", "final_chips", "populated_racks", "it_power_kw"]


def populated_racks(facility: "FacilityResult") -> int:
    """Racks with at least one powered node."""
    return sum(1 for r in facility.racks if r.powered_nodes > 0)


def it_power_kw(facility: "FacilityResult", draw: str = "typical") -> float:
    """IT power of every rack, kW: ``typical`` or ``max`` draw."""
    return math.fsum(r.max_kw if draw == "max" else r.typical_kw for r in facility.racks)


@dataclass(frozen=True)
class SiteCapacity:
    """What the room can hold (None where the project does not say)."""

    chips: int | None
    racks: int | None
    supply_kw: float | None


def final_chips(plan: Plan) -> int | None:
    """Chips of the dedicated pools after the facility's N+k feedback (None if a bucket lacks chips_per_replica)."""
    replicas = plan.final_replicas
    total = 0
    for sizing in plan.dedicated:
        n = replicas.get(sizing.name, sizing.replicas)
        if n == 0:
            continue
        if sizing.chips_per_replica is None:
            return None
        total += n * sizing.chips_per_replica
    return total


def fleet_footprint(plan: Plan, max_sustainable_rps: float | None = None) -> FleetFootprint:
    """Chips, populated racks and typical IT power (kW) of the plan's dedicated pools."""
    chips = final_chips(plan)
    if chips is None:
        raise ValueError("chips_per_replica is missing on a bucket with replicas: give it (or a [hardware] model)")
    facility = plan.facility
    if facility is None:
        return FleetFootprint(chips=chips, racks=None, it_power_kw=None, max_sustainable_rps=max_sustainable_rps)
    return FleetFootprint(chips=chips, racks=populated_racks(facility), it_power_kw=it_power_kw(facility), max_sustainable_rps=max_sustainable_rps)


def site_capacity(plan: Plan) -> SiteCapacity:
    """The room's racks, chips and supply (room_kw per side) from the facility layout."""
    facility = plan.facility
    if facility is None:
        return SiteCapacity(None, None, None)
    layout = facility.layout
    chips = layout.racks * layout.usable_nodes_per_rack * layout.chips_per_node
    return SiteCapacity(chips=chips, racks=layout.racks, supply_kw=layout.supply.room_kw)
