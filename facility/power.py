"""Rack, feed, phase, row, pod and room power against their budgets.

Formulas (three-phase power ``P = sqrt(3) V_LL I PF``, single phase ``P = V I PF``):

- rack draw = installed nodes x node power (typical and maximum); a spare node
  counts when ``spare_nodes_powered``; an empty rack (no replica) is not populated;
- feed capacity, three phase: ``sqrt(3) * V_LL * I * PF``, single phase
  ``V * I * PF``; continuous load at most ``derate`` of it (0.8: the overcurrent
  device must be rated at least 125% of the continuous load, NFPA 70 National
  Electrical Code 210.20(A) for branch circuits and 215.3 for feeders);
- A/B feeds (2N at the rack): either feed alone must carry the rack's maximum,
  so in normal running each feed carries half;
- per phase leg: nodes alternate legs bottom up (``position mod phases``); the
  most loaded leg must stay within ``usable / phases`` (an unbalanced PDU trips
  one leg while the total looks fine);
- row, pod and room totals (maximum draw) against what each supply side can
  deliver, where ``[facility.supply]`` gives it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

from facility.checks import BudgetCheck, budget_check
from facility.layout import Layout
from facility.thermal import airflow_cfm, airflow_m3_per_h, heat_btu_per_h

__all__ = ["RackPower", "PowerTotal", "rack_power", "power_checks"]


@dataclass(frozen=True)
class RackPower:
    """Draw of one rack, kW."""

    rack: str
    index: int
    used_nodes: int
    installed_nodes: int
    powered_nodes: int
    typical_kw: float
    max_kw: float
    phase_max_kw: tuple[float, ...]
    per_feed_normal_kw: float
    heat_btu_per_h: float = 0.0
    airflow_cfm: float = 0.0
    airflow_m3_per_h: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["phase_max_kw"] = list(self.phase_max_kw)
        return out


@dataclass(frozen=True)
class PowerTotal:
    """Sum over a row, pod or the room, kW (maximum and typical draw)."""

    element: str
    kind: str
    typical_kw: float
    max_kw: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def rack_power(layout: Layout, fill: Sequence[int]) -> list[RackPower]:
    """Per-rack draw from the used nodes per rack (``fill``); see the module formulas."""
    out = []
    phases = layout.feed.phases
    usable = layout.usable_nodes_per_rack
    typ_w, max_w = layout.node_power_typical_w, layout.node_power_max_w
    for g, used in enumerate(fill):
        if used == 0:
            out.append(RackPower(layout.rack_name(g), g, 0, 0, 0, 0.0, 0.0, (0.0,) * phases, 0.0))
            continue
        positions = list(range(used))
        if layout.spare_nodes_powered:
            positions += list(range(usable, layout.nodes_per_rack))
        legs = [0.0] * phases
        for p in positions:
            legs[layout.phase_of(p)] += max_w / 1e3
        powered = len(positions)
        max_kw = powered * max_w / 1e3
        out.append(
            RackPower(
                rack=layout.rack_name(g),
                index=g,
                used_nodes=used,
                installed_nodes=used + layout.spare_nodes_per_rack,
                powered_nodes=powered,
                typical_kw=powered * typ_w / 1e3,
                max_kw=max_kw,
                phase_max_kw=tuple(legs),
                per_feed_normal_kw=max_kw / 2,
                heat_btu_per_h=heat_btu_per_h(max_kw),  # at maximum draw
                airflow_cfm=airflow_cfm(max_kw * 1e3, layout.cooling.delta_t_f),
                airflow_m3_per_h=airflow_m3_per_h(max_kw * 1e3, layout.cooling.delta_t_f),
            )
        )
    return out


def power_checks(layout: Layout, racks: Sequence[RackPower]) -> tuple[list[BudgetCheck], list[PowerTotal]]:
    """Every rack, feed, phase leg, and the row/pod/room totals, with margins."""
    checks: list[BudgetCheck] = []
    budget = layout.rack_power_budget_w / 1e3
    usable = layout.feed_usable_kw
    feed = layout.feed
    phase_limit = usable / feed.phases
    cap_formula = (
        f"sqrt(3) x {feed.voltage:g} V x {feed.amperage:g} A x PF {feed.power_factor:g} x derate {feed.derate:g}"
        if feed.phases == 3
        else f"{feed.voltage:g} V x {feed.amperage:g} A x PF {feed.power_factor:g} x derate {feed.derate:g}"
    )
    rack_basis = layout.basis("node_power_kw", "rack_power_budget_kw")
    feed_basis = layout.basis("node_power_kw", "feed")
    supply_basis = layout.basis("node_power_kw", "supply")
    for r in racks:
        if r.powered_nodes == 0:
            continue
        checks.append(budget_check(r.rack, "rack power typical", r.typical_kw, budget, "kW",
                                   f"{r.powered_nodes} nodes x {layout.node_power_typical_w / 1e3:g} kW <= rack budget",
                                   rack_basis))
        checks.append(budget_check(r.rack, "rack power max", r.max_kw, budget, "kW",
                                   f"{r.powered_nodes} nodes x {layout.node_power_max_w / 1e3:g} kW <= rack budget",
                                   rack_basis))
        checks.append(budget_check(r.rack, "single feed carries rack", r.max_kw, usable, "kW",
                                   f"rack max on feed A or B alone <= {cap_formula}", feed_basis))
        if feed.phases > 1:
            checks.append(budget_check(r.rack, "phase leg max", max(r.phase_max_kw), phase_limit, "kW",
                                       f"most loaded of {feed.phases} legs <= ({cap_formula}) / {feed.phases}",
                                       feed_basis))
    row_sum = [[0.0, 0.0] for _ in range(layout.rows)]
    pod_sum = [[0.0, 0.0] for _ in range(layout.pods)]
    for r in racks:
        for acc in (row_sum[layout.row_of(r.index)], pod_sum[layout.pod_of(r.index)]):
            acc[0] += r.typical_kw
            acc[1] += r.max_kw
    groups: list[tuple[str, str, float | None, float, float]] = []
    groups += [(layout.row_name(i), "row", layout.supply.row_kw, t, m) for i, (t, m) in enumerate(row_sum)]
    groups += [(layout.pod_name(i), "pod", layout.supply.pod_kw, t, m) for i, (t, m) in enumerate(pod_sum)]
    groups.append((layout.site, "room", layout.supply.room_kw, sum(r.typical_kw for r in racks), sum(r.max_kw for r in racks)))
    totals: list[PowerTotal] = []
    for element, kind, limit, typical, maximum in groups:
        totals.append(PowerTotal(element, kind, typical, maximum))
        if limit is not None:
            checks.append(budget_check(element, f"{kind} supply per side", maximum, limit, "kW",
                                       f"sum of rack max <= {kind}_kw (each of A and B alone)", supply_basis))
    return checks, totals
