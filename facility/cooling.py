"""Cooling per zone: heat, airflow, units needed with N+redundancy.

Formulas (:mod:`facility.thermal` for heat and airflow; ASHRAE TC 9.9 for the
per-zone view: a cooling unit is a failure domain for the racks it serves):

- heat: every watt drawn is a watt of heat; 1 kW = 3,412.14 BTU/h;
  1 ton of refrigeration = 12,000 BTU/h;
- airflow: ``CFM = 3.16 * W / dT(F)`` (sea-level air); metric
  ``m3/h = 2.98 * W / dT(K)`` with ``dT(K) = dT(F) * 5/9``;
- units per zone: ``ceil(heat_max / unit_kw) + redundancy`` (N+1 adds one);
  with ``units_per_zone`` given, the check is
  ``(units - redundancy) * unit_kw >= heat_max``. A zone is a run of
  ``racks_per_zone`` consecutive racks of one row; each unit is a failure
  domain for the racks of its zone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from facility.checks import BudgetCheck, budget_check
from facility.layout import Layout
from facility.power import RackPower
from facility.thermal import (
    BTU_PER_H_PER_KW,
    BTU_PER_H_PER_TON,
    airflow_cfm,
    airflow_m3_per_h,
    heat_btu_per_h,
)

__all__ = [
    "BTU_PER_H_PER_KW",
    "BTU_PER_H_PER_TON",
    "ZoneCooling",
    "heat_btu_per_h",
    "airflow_cfm",
    "airflow_m3_per_h",
    "zone_cooling",
]

@dataclass(frozen=True)
class ZoneCooling:
    """One cooling zone: its racks, heat, airflow and units."""

    zone: str
    index: int
    racks: tuple[str, ...]
    heat_typical_kw: float
    heat_max_kw: float
    heat_btu_per_h: float
    tons: float
    airflow_cfm: float
    airflow_m3_per_h: float
    units_needed: int
    units_installed: int
    redundancy: int
    unit_kw: float
    survives_one_unit_loss: bool

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["racks"] = list(self.racks)
        return out


def zone_cooling(layout: Layout, racks: Sequence[RackPower]) -> tuple[list[ZoneCooling], list[BudgetCheck]]:
    """Heat, airflow and units per zone, with a check per populated zone (module formulas)."""
    cool = layout.cooling
    members: list[list[RackPower]] = [[] for _ in range(layout.zones)]
    for r in racks:
        members[layout.zone_of(r.index)].append(r)
    zones: list[ZoneCooling] = []
    checks: list[BudgetCheck] = []
    for z, sel in enumerate(members):
        heat_max = sum(r.max_kw for r in sel)
        heat_typ = sum(r.typical_kw for r in sel)
        needed = math.ceil(heat_max / cool.unit_kw - 1e-12) if heat_max > 0 else 0
        required = needed + cool.redundancy if heat_max > 0 else 0
        installed = cool.units_per_zone if cool.units_per_zone is not None else required
        btu = heat_btu_per_h(heat_max)
        zone = ZoneCooling(
            zone=layout.zone_name(z),
            index=z,
            racks=tuple(r.rack for r in sel),
            heat_typical_kw=heat_typ,
            heat_max_kw=heat_max,
            heat_btu_per_h=btu,
            tons=btu / BTU_PER_H_PER_TON,
            airflow_cfm=airflow_cfm(heat_max * 1e3, cool.delta_t_f),
            airflow_m3_per_h=airflow_m3_per_h(heat_max * 1e3, cool.delta_t_f),
            units_needed=needed,
            units_installed=installed,
            redundancy=cool.redundancy,
            unit_kw=cool.unit_kw,
            survives_one_unit_loss=heat_max == 0 or (installed - 1) * cool.unit_kw >= heat_max * (1 - 1e-9),
        )
        zones.append(zone)
        if heat_max > 0:
            checks.append(
                budget_check(
                    zone.zone,
                    "cooling N+redundancy",
                    heat_max,
                    max(installed - cool.redundancy, 0) * cool.unit_kw,
                    "kW",
                    f"zone heat (max draw) <= ({installed} units - {cool.redundancy} redundant) x {cool.unit_kw:g} kW",
                    layout.basis("node_power_kw", "cooling"),
                )
            )
    return zones, checks
