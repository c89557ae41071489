"""What a fleet costs: capex amortisation, energy, space, and per-unit prices.

Per hour (USD/h)::

    capex_h  = (chips * capex_usd_per_chip + racks * capex_usd_per_rack) / (amortisation_years * 8766 h)
    energy_h = it_power_kw * pue * power_usd_per_kwh
    space_h  = racks * space_usd_per_rack_month / 730.5 h
    total_h  = capex_h + energy_h + space_h

8766 h is a Julian year (365.25 days); 730.5 h its twelfth. Straight-line
amortisation with no residual value and no cost of capital (say so when a
finance team asks: they may discount).

Per unit of work, at the *average* traffic ``lambda_avg = lambda_peak *
average_to_peak`` (a fleet sized for the peak is paid for all day):

- per 1k requests: ``total_h / (3600 * lambda_avg / 1000)``;
- per 1M input and per 1M output tokens: the hour is split between prefill
  and decode in proportion to the replica time each uses (``sum lambda_b *
  prefill_b`` against ``sum lambda_b * decode_b``; the fixed overhead split
  in the same proportion, idle capacity too), then divided by the tokens of
  each kind per hour. Input plus output cost is exactly the hour's cost;
- QPS per dollar: ``max_sustainable_rps / total_h`` (SimFaaSInfer's
  ``qps_per_dollar``: sustainable requests/s bought per dollar-hour).

A cloud price per 1M tokens, when given, prices the same token volume for
comparison (``cloud_h``); the ratio ``total_h / cloud_h`` says which is
cheaper at this load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from pydantic import Field, model_validator

from dimensioning.errors import InvalidInput
from dimensioning.inputs import _Frozen

__all__ = [
    "HOURS_PER_YEAR",
    "HOURS_PER_MONTH",
    "CostSpec",
    "FleetFootprint",
    "TokenWork",
    "CostBreakdown",
    "fleet_cost",
]

HOURS_PER_YEAR = 8766.0  # Julian year, 365.25 d
HOURS_PER_MONTH = HOURS_PER_YEAR / 12.0

_COST_FIELDS = (
    "capex_usd_per_chip",
    "capex_usd_per_rack",
    "amortisation_years",
    "power_usd_per_kwh",
    "pue",
    "space_usd_per_rack_month",
    "average_to_peak",
    "watts_per_chip",
    "cloud_usd_per_1m_input_tokens",
    "cloud_usd_per_1m_output_tokens",
)


class CostSpec(_Frozen):
    """``[cost]``: prices and the load the fleet averages (USD; kW; hours).

    Give ``capex_usd_per_chip`` or ``capex_usd_per_rack`` (or both: e.g. chips
    plus rack infrastructure). ``watts_per_chip`` prices energy when the project
    has no ``[facility]`` (otherwise the facility's typical IT power is used).
    """

    capex_usd_per_chip: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    capex_usd_per_rack: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    amortisation_years: float = Field(default=4.0, gt=0, le=30, allow_inf_nan=False)
    power_usd_per_kwh: float = Field(default=0.10, ge=0, le=10, allow_inf_nan=False)
    pue: float = Field(default=1.3, ge=1.0, le=5.0, allow_inf_nan=False)
    space_usd_per_rack_month: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    average_to_peak: float = Field(default=1.0, gt=0, le=1.0, allow_inf_nan=False,
                                   description="average traffic as a fraction of lambda_peak")
    watts_per_chip: float | None = Field(default=None, gt=0, le=10_000, allow_inf_nan=False)
    cloud_usd_per_1m_input_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    cloud_usd_per_1m_output_tokens: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    assumed: tuple[str, ...] = ()
    sources: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _capex_given(self) -> "CostSpec":
        if self.capex_usd_per_chip is None and self.capex_usd_per_rack is None:
            raise ValueError("give capex_usd_per_chip or capex_usd_per_rack (USD, bought once)")
        unknown = [k for k in self.sources if k not in _COST_FIELDS]
        if unknown:
            raise ValueError(f"sources names unknown fields {unknown}; use some of {list(_COST_FIELDS)}")
        if (self.cloud_usd_per_1m_input_tokens is None) != (self.cloud_usd_per_1m_output_tokens is None):
            raise ValueError("give both cloud_usd_per_1m_input_tokens and cloud_usd_per_1m_output_tokens, or neither")
        return self

    def provenance(self) -> dict[str, str]:
        """field -> given | assumed | sourced | default (a default nobody confirmed is 'assumed')."""
        out: dict[str, str] = {}
        for name in _COST_FIELDS:
            if getattr(self, name) is None:
                continue
            if name in self.sources:
                out[name] = "sourced"
            elif name in self.assumed or name not in self.model_fields_set:
                out[name] = "assumed"
            else:
                out[name] = "given"
        return out


@dataclass(frozen=True)
class FleetFootprint:
    """What is bought and powered: chips, racks, typical IT power (kW)."""

    chips: int
    racks: int | None
    it_power_kw: float | None
    max_sustainable_rps: float | None = None


@dataclass(frozen=True)
class TokenWork:
    """One pool's traffic at peak, and the replica time each part of a request uses (s)."""

    arrival_rate: float  # requests/s at lambda_peak
    prompt_tokens_mean: float
    output_tokens_mean: float
    prefill_s: float
    decode_mean_s: float


@dataclass(frozen=True)
class CostBreakdown:
    """Costs in USD. ``*_h`` per hour; per-unit figures at the average load."""

    capex_h: float
    energy_h: float
    space_h: float
    total_h: float
    average_rps: float
    input_tokens_per_s: float
    output_tokens_per_s: float
    prefill_share: float
    per_1k_requests: float
    per_1m_input_tokens: float
    per_1m_output_tokens: float
    qps_per_dollar: float | None
    cloud_h: float | None
    cloud_ratio: float | None
    provenance: dict[str, str]
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def fleet_cost(spec: CostSpec, fleet: FleetFootprint, work: Sequence[TokenWork]) -> CostBreakdown:
    """Price ``fleet`` carrying ``work`` (see the module docstring for the formulas)."""
    notes: list[str] = []
    if spec.capex_usd_per_rack is not None and fleet.racks is None:
        raise InvalidInput("cost.capex_usd_per_rack", spec.capex_usd_per_rack,
                           "rack counts come from [facility]: add a [facility] table or price per chip")
    if spec.space_usd_per_rack_month > 0 and fleet.racks is None:
        raise InvalidInput("cost.space_usd_per_rack_month", spec.space_usd_per_rack_month,
                           "rack counts come from [facility]: add a [facility] table or set it to 0")
    capex = fleet.chips * (spec.capex_usd_per_chip or 0.0) + (fleet.racks or 0) * (spec.capex_usd_per_rack or 0.0)
    capex_h = capex / (spec.amortisation_years * HOURS_PER_YEAR)
    if fleet.it_power_kw is not None:
        it_kw = fleet.it_power_kw
    elif spec.watts_per_chip is not None:
        it_kw = fleet.chips * spec.watts_per_chip / 1e3
        notes.append(f"IT power from cost.watts_per_chip = {spec.watts_per_chip:g} W (no [facility])")
    else:
        raise InvalidInput("cost.watts_per_chip", None,
                           "energy needs the IT power: add a [facility] table or give watts_per_chip")
    energy_h = it_kw * spec.pue * spec.power_usd_per_kwh
    space_h = (fleet.racks or 0) * spec.space_usd_per_rack_month / HOURS_PER_MONTH
    total_h = capex_h + energy_h + space_h

    scale = spec.average_to_peak
    average_rps = scale * math.fsum(w.arrival_rate for w in work)
    in_tps = scale * math.fsum(w.arrival_rate * w.prompt_tokens_mean for w in work)
    out_tps = scale * math.fsum(w.arrival_rate * w.output_tokens_mean for w in work)
    prefill_time = math.fsum(w.arrival_rate * w.prefill_s for w in work)
    decode_time = math.fsum(w.arrival_rate * w.decode_mean_s for w in work)
    busy = prefill_time + decode_time
    prefill_share = prefill_time / busy if busy > 0 else 0.0
    inf = math.inf
    per_1k = total_h / (3.6 * average_rps) if average_rps > 0 else inf
    per_in = total_h * prefill_share / (in_tps * 3600 / 1e6) if in_tps > 0 else inf
    per_out = total_h * (1 - prefill_share) / (out_tps * 3600 / 1e6) if out_tps > 0 else inf
    qps_per_dollar = (fleet.max_sustainable_rps / total_h
                      if fleet.max_sustainable_rps is not None and total_h > 0 else None)
    cloud_h = cloud_ratio = None
    if spec.cloud_usd_per_1m_input_tokens is not None and spec.cloud_usd_per_1m_output_tokens is not None:
        cloud_h = 3600 / 1e6 * (in_tps * spec.cloud_usd_per_1m_input_tokens + out_tps * spec.cloud_usd_per_1m_output_tokens)
        cloud_ratio = total_h / cloud_h if cloud_h > 0 else None
    return CostBreakdown(
        capex_h=capex_h,
        energy_h=energy_h,
        space_h=space_h,
        total_h=total_h,
        average_rps=average_rps,
        input_tokens_per_s=in_tps,
        output_tokens_per_s=out_tps,
        prefill_share=prefill_share,
        per_1k_requests=per_1k,
        per_1m_input_tokens=per_in,
        per_1m_output_tokens=per_out,
        qps_per_dollar=qps_per_dollar,
        cloud_h=cloud_h,
        cloud_ratio=cloud_ratio,
        provenance=spec.provenance(),
        notes=tuple(notes),
    )
