"""Validated ``[hardware]`` and ``[facility]`` tables of the project file.

Units are those written in the names (``_kw``, ``_f``); the facility model
converts to SI watts at the point of use. Every model is frozen and rejects
unknown keys, like :mod:`dimensioning.inputs`.

Example (the contract of issue 5)::

    [hardware]
    platform = "groqrack-gen1"
    model = "llama-3.3-70b"
    precision = "int8"

    [facility]
    rows = 2
    pods_per_row = 2
    racks_per_pod = 9
    nodes_per_rack = 9
    spare_nodes_per_rack = 1
    rack_power_budget_kw = 30.0
    node_power_kw = { typical = 2.4, max = 3.3 }
    feed = { voltage = 415.0, amperage = 60.0, phases = 3, power_factor = 0.95, derate = 0.8 }
    cooling = { unit_kw = 150.0, racks_per_zone = 9, redundancy = 1, delta_t_f = 20.0 }
"""

from __future__ import annotations

import math
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "Precision",
    "BYTES_PER_PARAMETER",
    "HardwareSpec",
    "NodePower",
    "FeedSpec",
    "CoolingSpec",
    "SupplySpec",
    "FacilitySpec",
]

Precision = Literal["int4", "int8", "fp8", "fp16", "bf16", "fp32"]

BYTES_PER_PARAMETER: dict[str, float] = {
    "int4": 0.5,
    "int8": 1.0,
    "fp8": 1.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "fp32": 4.0,
}


MAX_COUNT = 100_000
"""Documented limit of every facility count without its own (rows, racks, nodes, cooling units...)."""
MAX_FIGURE = 1e9
"""Documented limit of every facility figure without its own (kW, V, A, degrees F)."""


def _first_non_finite(value: Any, path: str) -> tuple[str, float] | None:
    """The first ``inf``/``nan`` inside nested tables and lists, with its dotted path."""
    if isinstance(value, float) and not math.isfinite(value):
        return path, value
    if isinstance(value, dict):
        items = ((f"{path}.{key}", item) for key, item in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", item) for i, item in enumerate(value))
    else:
        return None
    for sub_path, item in items:
        found = _first_non_finite(item, sub_path)
        if found is not None:
            return found
    return None


# the most racks one project may hold: a 200,000-chip campus has 3,240 (docs/facility.md)
MAX_SITE_RACKS = 50_000

class _Frozen(BaseModel):
    """Base of every facility table: frozen, no unknown keys, no ``inf``/``nan`` anywhere.

    ``allow_inf_nan=False`` refuses non-finite floats in typed fields; free-form
    tables (``override``, ``catalog``: ``dict[str, Any]``) are walked by
    :meth:`_finite_free_form`, so a figure reaching the catalogue through them
    is finite too (issue 12: one validation path per model).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _finite_free_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        for name, field in cls.model_fields.items():
            if name in data and "Any" in str(field.annotation):
                found = _first_non_finite(data[name], name)
                if found is not None:
                    raise ValueError(f"{found[0]} = {found[1]} is not a finite number: give the real figure")
        return data

    @model_validator(mode="after")
    def _within_documented_limits(self) -> Any:
        # A field with its own upper bound (le/lt) keeps it; every other count or
        # figure is held to the generic limits, so a new field cannot forget one
        # and a typo (rows = 1e9) is refused instead of building a site forever.
        for name, field in type(self).model_fields.items():
            if any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in field.metadata):
                continue
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            limit = MAX_COUNT if isinstance(value, int) else MAX_FIGURE
            if value > limit:
                raise ValueError(f"{name} = {value} is above {limit:,}, lpuplan's documented limit for facility"
                                 " figures (README.md, Limits): check the unit and the figure")
        return self


class HardwareSpec(_Frozen):
    """``[hardware]``: the platform (catalogue rack entry) and the model for the memory fit."""

    platform: str = "groqrack-gen1"
    model: str | None = Field(default=None, description="catalogue model, for the memory fit")
    precision: Precision = "int8"
    kv_precision: Precision | None = Field(default=None, description="KV-cache precision (default: precision)")
    usable_sram_fraction: float = Field(
        default=0.90, gt=0, le=1, description="share of each chip's SRAM the compiled program may fill"
    )
    activation_reserve_fraction: float = Field(
        default=0.10, ge=0, lt=1, description="activation reserve, as a share of weights + KV cache"
    )
    override: dict[str, Any] = Field(default_factory=dict, description="platform figure -> number or figure table")
    catalog: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, description="entries added to the catalogue: {kind: {name: {field: figure}}}"
    )
    assumed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _assumed_known(self) -> "HardwareSpec":
        unknown = [name for name in self.assumed if name not in type(self).model_fields or name == "assumed"]
        if unknown:
            fields = [f for f in type(self).model_fields if f != "assumed"]
            raise ValueError(f"assumed lists unknown fields {unknown}; use some of {fields}")
        return self

    @property
    def kv_bytes(self) -> float:
        return BYTES_PER_PARAMETER[self.kv_precision or self.precision]


class NodePower(_Frozen):
    """Node draw, kW: typical (planning, energy) and maximum (breakers, budgets)."""

    typical: float = Field(gt=0)
    max: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "NodePower":
        if self.max < self.typical:
            raise ValueError(f"max = {self.max} kW is below typical = {self.typical} kW: max must be >= typical")
        return self


class FeedSpec(_Frozen):
    """One rack feed (each of A and B): breaker rating and how much of it continuous load may use."""

    voltage: float = Field(gt=0, description="line-to-line volts for three phase")
    amperage: float = Field(gt=0, description="breaker rating, A")
    phases: Literal[1, 3] = 3
    power_factor: float = Field(default=0.95, gt=0, le=1)
    derate: float = Field(default=0.8, gt=0, le=1, description="continuous-load share of the breaker (0.8: NEC 210.20(A), 215.3)")


class CoolingSpec(_Frozen):
    """Cooling: units serve zones of consecutive racks within a row."""

    unit_kw: float = Field(gt=0, description="net sensible capacity of one unit, kW")
    racks_per_zone: int = Field(ge=1)
    redundancy: int = Field(default=1, ge=0, description="units per zone beyond what the heat needs (N+redundancy)")
    delta_t_f: float = Field(default=20.0, gt=0, description="air temperature rise across the racks, degrees F")
    units_per_zone: int | None = Field(
        default=None, ge=1, description="installed units per zone; default: what the heat needs plus redundancy"
    )


class SupplySpec(_Frozen):
    """What each side (A or B) of the supply can deliver, kW; unchecked where absent."""

    row_kw: float | None = Field(default=None, gt=0)
    pod_kw: float | None = Field(default=None, gt=0)
    room_kw: float | None = Field(default=None, gt=0)


class FacilitySpec(_Frozen):
    """``[facility]``: the room (rows of pods of racks), power and cooling."""

    site: str = "site-1"
    rows: int = Field(ge=1)
    pods_per_row: int = Field(ge=1)
    racks_per_pod: int = Field(ge=1)
    nodes_per_rack: int | None = Field(default=None, ge=1, description="default: the platform's")
    spare_nodes_per_rack: int | None = Field(default=None, ge=0, description="default: the platform's")
    spare_nodes_powered: bool = Field(default=True, description="spare nodes are installed and draw power")
    rack_power_budget_kw: float | None = Field(default=None, gt=0, description="default: the platform's")
    node_power_kw: NodePower | None = Field(default=None, description="default: the platform's")
    feed: FeedSpec
    cooling: CoolingSpec
    supply: SupplySpec = SupplySpec()
    assumed: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _assumed_known(self) -> "FacilitySpec":
        unknown = [name for name in self.assumed if name not in type(self).model_fields or name == "assumed"]
        if unknown:
            fields = [f for f in type(self).model_fields if f != "assumed"]
            raise ValueError(f"assumed lists unknown fields {unknown}; use some of {fields}")
        return self

    @model_validator(mode="after")
    def _site_size(self) -> "FacilitySpec":
        # each count has its own limit, but their product sets the work (graph, placement, N+k)
        racks = self.rows * self.pods_per_row * self.racks_per_pod
        if racks > MAX_SITE_RACKS:
            raise ValueError(
                f"rows x pods_per_row x racks_per_pod = {racks:,} racks, above the {MAX_SITE_RACKS:,} lpuplan plans in"
                " bounded time (15x a 200,000-chip campus): plan the site as several rooms"
            )
        return self

    @model_validator(mode="after")
    def _spares(self) -> "FacilitySpec":
        if (
            self.nodes_per_rack is not None
            and self.spare_nodes_per_rack is not None
            and self.spare_nodes_per_rack >= self.nodes_per_rack
        ):
            raise ValueError(
                f"spare_nodes_per_rack = {self.spare_nodes_per_rack} leaves no compute node of"
                f" nodes_per_rack = {self.nodes_per_rack}: make it smaller"
            )
        return self
