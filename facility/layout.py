"""The room resolved into numbers: rows of pods of racks of nodes, with names.

Racks are numbered globally, row-major: ``rack = (row * pods_per_row + pod) *
racks_per_pod + position``. Cooling zones are runs of ``racks_per_zone``
consecutive racks within a row (a zone never crosses a row). Power per side
(A, B) comes from one panel per row feeding one rack PDU per rack and side.
Node positions count from the bottom of the rack; the spare nodes take the
top positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from dimensioning.errors import InvalidInput

from facility.catalog import Platform
from facility.inputs import CoolingSpec, FacilitySpec, FeedSpec, SupplySpec

__all__ = ["Layout", "build_layout", "feed_usable_kw"]

SQRT3 = math.sqrt(3.0)


def feed_usable_kw(feed: FeedSpec) -> float:
    """Continuous power one feed may carry, kW.

    Three phase ``sqrt(3) * V_LL * I * PF * derate``; single phase
    ``V * I * PF * derate`` (NFPA 70 National Electrical Code 210.20(A) for
    branch circuits, 215.3 for feeders: the overcurrent device is rated at least
    125% of the continuous load, so continuous load is at most 80% of it).
    """
    factor = SQRT3 if feed.phases == 3 else 1.0
    return factor * feed.voltage * feed.amperage * feed.power_factor * feed.derate / 1e3


@dataclass(frozen=True)
class Layout:
    """Geometry and per-element figures of one facility (SI watts inside)."""

    site: str
    rows: int
    pods_per_row: int
    racks_per_pod: int
    nodes_per_rack: int
    spare_nodes_per_rack: int
    spare_nodes_powered: bool
    chips_per_node: int
    node_u_height: int
    rack_u_height: int
    node_power_typical_w: float
    node_power_max_w: float
    rack_power_budget_w: float
    feed: FeedSpec
    cooling: CoolingSpec
    supply: SupplySpec
    sources: dict[str, str]

    @property
    def usable_nodes_per_rack(self) -> int:
        return self.nodes_per_rack - self.spare_nodes_per_rack

    @property
    def pods(self) -> int:
        return self.rows * self.pods_per_row

    @property
    def racks(self) -> int:
        return self.pods * self.racks_per_pod

    @property
    def racks_per_row(self) -> int:
        return self.pods_per_row * self.racks_per_pod

    @property
    def zones_per_row(self) -> int:
        return -(-self.racks_per_row // self.cooling.racks_per_zone)

    @property
    def zones(self) -> int:
        return self.rows * self.zones_per_row

    @property
    def feed_usable_kw(self) -> float:
        return feed_usable_kw(self.feed)

    def row_of(self, rack: int) -> int:
        return rack // self.racks_per_row

    def pod_of(self, rack: int) -> int:
        """Global pod index."""
        return rack // self.racks_per_pod

    def position_in_pod(self, rack: int) -> int:
        return rack % self.racks_per_pod

    def zone_of(self, rack: int) -> int:
        """Global cooling-zone index."""
        return self.row_of(rack) * self.zones_per_row + (rack % self.racks_per_row) // self.cooling.racks_per_zone

    def row_name(self, row: int) -> str:
        return f"row{row + 1:02d}"

    def pod_name(self, pod: int) -> str:
        return f"{self.row_name(pod // self.pods_per_row)}-pod{pod % self.pods_per_row + 1:02d}"

    def rack_name(self, rack: int) -> str:
        return f"{self.pod_name(self.pod_of(rack))}-rack{self.position_in_pod(rack) + 1:02d}"

    def node_name(self, rack: int, position: int) -> str:
        return f"{self.rack_name(rack)}-node{position + 1:02d}"

    def zone_name(self, zone: int) -> str:
        return f"{self.row_name(zone // self.zones_per_row)}-zone{zone % self.zones_per_row + 1:02d}"

    def node_u_position(self, position: int) -> int:
        """Lowest U the node at ``position`` occupies (1-based, from the bottom)."""
        return 1 + position * self.node_u_height

    def phase_of(self, position: int) -> int:
        """Phase leg (0..phases-1) of a node's outlet: nodes alternate legs bottom up."""
        return position % self.feed.phases

    def basis(self, *names: str) -> str:
        """Provenance of the named figures, e.g. ``"node_power_kw: assumed; feed: given"``."""
        return "; ".join(f"{n}: {self.sources.get(n, 'given')}" for n in names)

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "rows": self.rows,
            "pods_per_row": self.pods_per_row,
            "racks_per_pod": self.racks_per_pod,
            "pods": self.pods,
            "racks": self.racks,
            "nodes_per_rack": self.nodes_per_rack,
            "spare_nodes_per_rack": self.spare_nodes_per_rack,
            "usable_nodes_per_rack": self.usable_nodes_per_rack,
            "chips_per_node": self.chips_per_node,
            "node_u_height": self.node_u_height,
            "rack_u_height": self.rack_u_height,
            "node_power_typical_kw": self.node_power_typical_w / 1e3,
            "node_power_max_kw": self.node_power_max_w / 1e3,
            "rack_power_budget_kw": self.rack_power_budget_w / 1e3,
            "feed": self.feed.model_dump(),
            "feed_usable_kw": self.feed_usable_kw,
            "cooling": self.cooling.model_dump(),
            "zones": self.zones,
            "supply": self.supply.model_dump(),
            "sources": dict(self.sources),
        }


def build_layout(facility: FacilitySpec, platform: Platform) -> Layout:
    """Resolve the facility table against the platform's figures; check that nodes fit the rack."""
    sources: dict[str, str] = {}

    def pick(given: Any, figure_name: str, name: str) -> Any:
        if given is not None:
            sources[name] = "assumed" if name in facility.assumed else "given"
            return given
        figure = platform.figures()[figure_name]
        sources[name] = figure.source
        return figure.value

    nodes = int(pick(facility.nodes_per_rack, "nodes_per_rack", "nodes_per_rack"))
    spare = int(pick(facility.spare_nodes_per_rack, "spare_nodes_per_rack", "spare_nodes_per_rack"))
    if spare >= nodes:
        raise InvalidInput(
            "facility.spare_nodes_per_rack", spare, f"leaves no compute node of {nodes} per rack: make it smaller"
        )
    budget_kw = pick(facility.rack_power_budget_kw, "rack_power_budget_w", "rack_power_budget_kw")
    budget_w = budget_kw * 1e3 if facility.rack_power_budget_kw is not None else budget_kw
    if facility.node_power_kw is not None:
        typical_w, max_w = facility.node_power_kw.typical * 1e3, facility.node_power_kw.max * 1e3
        sources["node_power_kw"] = "assumed" if "node_power_kw" in facility.assumed else "given"
    else:
        typical_w, max_w = platform.node_power_typical_w.value, platform.node_power_max_w.value
        sources["node_power_kw"] = platform.node_power_max_w.source
    for name in ("feed", "cooling", "supply"):
        sources[name] = "assumed" if name in facility.assumed else "given"
    node_u = int(platform.node_u_height.value)
    rack_u = int(platform.rack_u_height.value)
    if nodes * node_u > rack_u:
        raise InvalidInput(
            "facility.nodes_per_rack",
            nodes,
            f"{nodes} nodes x {node_u}U do not fit a {rack_u}U rack: use at most {rack_u // node_u}",
        )
    return Layout(
        site=facility.site,
        rows=facility.rows,
        pods_per_row=facility.pods_per_row,
        racks_per_pod=facility.racks_per_pod,
        nodes_per_rack=nodes,
        spare_nodes_per_rack=spare,
        spare_nodes_powered=facility.spare_nodes_powered,
        chips_per_node=platform.chips_per_node,
        node_u_height=node_u,
        rack_u_height=rack_u,
        node_power_typical_w=typical_w,
        node_power_max_w=max_w,
        rack_power_budget_w=budget_w,
        feed=facility.feed,
        cooling=facility.cooling,
        supply=facility.supply,
        sources=sources,
    )
