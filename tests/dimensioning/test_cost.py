"""Fleet cost: hand-computed prices, the input/output split, provenance."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from dimensioning.cost import CostSpec, FleetFootprint, TokenWork, fleet_cost
from dimensioning.errors import InvalidInput


def _spec(**kw):
    base = dict(capex_usd_per_chip=20_000.0, amortisation_years=4.0, power_usd_per_kwh=0.10, pue=1.5,
                space_usd_per_rack_month=730.5)
    base.update(kw)
    return CostSpec(**base)


def test_hourly_cost_by_hand():
    # 8766 chips at $20k over 4 years: 175.32 M$ / 35,064 h = $5,000/h exactly
    fleet = FleetFootprint(chips=8766, racks=10, it_power_kw=100.0, max_sustainable_rps=50.0)
    work = [TokenWork(arrival_rate=10.0, prompt_tokens_mean=1000, output_tokens_mean=100, prefill_s=0.5, decode_mean_s=1.5)]
    c = fleet_cost(_spec(), fleet, work)
    assert c.capex_h == pytest.approx(5000.0, rel=1e-12)
    assert c.energy_h == pytest.approx(100 * 1.5 * 0.10, rel=1e-12)  # 15 $/h
    assert c.space_h == pytest.approx(10 * 730.5 / 730.5, rel=1e-12)  # a month of 730.5 h: $1/rack/h
    assert c.total_h == pytest.approx(5025.0, rel=1e-12)
    # 10 req/s = 36,000 req/h -> 36 thousand
    assert c.per_1k_requests == pytest.approx(5025.0 / 36.0, rel=1e-12)
    # prefill uses 0.5 of every 2.0 s of replica time: a quarter of the cost goes to input tokens
    assert c.prefill_share == pytest.approx(0.25)
    assert c.per_1m_input_tokens == pytest.approx(5025.0 * 0.25 / 36.0, rel=1e-12)  # 36M input tokens/h
    assert c.per_1m_output_tokens == pytest.approx(5025.0 * 0.75 / 3.6, rel=1e-12)  # 3.6M output tokens/h
    assert c.qps_per_dollar == pytest.approx(50.0 / 5025.0)


def test_input_and_output_costs_add_up_to_the_hour():
    fleet = FleetFootprint(chips=100, racks=None, it_power_kw=5.0)
    work = [TokenWork(3.0, 700, 200, 0.2, 0.9), TokenWork(1.0, 5000, 300, 1.1, 1.2)]
    c = fleet_cost(_spec(space_usd_per_rack_month=0.0), fleet, work)
    hour_in = c.per_1m_input_tokens * c.input_tokens_per_s * 3600 / 1e6
    hour_out = c.per_1m_output_tokens * c.output_tokens_per_s * 3600 / 1e6
    assert hour_in + hour_out == pytest.approx(c.total_h, rel=1e-12)


def test_average_load_raises_unit_costs_not_the_hour():
    fleet = FleetFootprint(chips=100, racks=None, it_power_kw=5.0)
    work = [TokenWork(4.0, 700, 200, 0.2, 0.9)]
    peak = fleet_cost(_spec(space_usd_per_rack_month=0.0), fleet, work)
    half = fleet_cost(_spec(space_usd_per_rack_month=0.0, average_to_peak=0.5), fleet, work)
    assert half.total_h == peak.total_h
    assert half.per_1k_requests == pytest.approx(2 * peak.per_1k_requests)


def test_cloud_comparison_prices_the_same_tokens():
    fleet = FleetFootprint(chips=10, racks=None, it_power_kw=1.0)
    work = [TokenWork(1.0, 1000, 500, 0.1, 0.5)]
    c = fleet_cost(_spec(space_usd_per_rack_month=0.0, cloud_usd_per_1m_input_tokens=0.5,
                         cloud_usd_per_1m_output_tokens=1.0), fleet, work)
    # 3.6M input tokens/h at $0.5 + 1.8M output at $1.0 = $3.6/h
    assert c.cloud_h == pytest.approx(3.6)
    assert c.cloud_ratio == pytest.approx(c.total_h / 3.6)


def test_racks_needed_for_rack_prices():
    with pytest.raises(InvalidInput) as err:
        fleet_cost(_spec(), FleetFootprint(chips=10, racks=None, it_power_kw=1.0), [])
    assert err.value.field == "cost.space_usd_per_rack_month"


def test_power_needs_a_facility_or_watts_per_chip():
    spec = _spec(space_usd_per_rack_month=0.0)
    with pytest.raises(InvalidInput) as err:
        fleet_cost(spec, FleetFootprint(chips=10, racks=None, it_power_kw=None), [])
    assert err.value.field == "cost.watts_per_chip"
    c = fleet_cost(_spec(space_usd_per_rack_month=0.0, watts_per_chip=250.0),
                   FleetFootprint(chips=10, racks=None, it_power_kw=None), [])
    assert c.energy_h == pytest.approx(10 * 0.25 * 1.5 * 0.10)


@pytest.mark.parametrize("field,value", [("pue", 0.9), ("power_usd_per_kwh", math.inf), ("amortisation_years", 0),
                                         ("average_to_peak", 1.5), ("capex_usd_per_chip", math.nan)])
def test_bad_prices_are_refused(field, value):
    with pytest.raises(ValidationError):
        _spec(**{field: value})


def test_provenance_marks_defaults_as_assumed():
    spec = CostSpec(capex_usd_per_chip=1.0, pue=1.2, sources={"capex_usd_per_chip": "vendor quote"}, assumed=["pue"])
    prov = spec.provenance()
    assert prov["capex_usd_per_chip"] == "sourced"
    assert prov["pue"] == "assumed"
    assert prov["power_usd_per_kwh"] == "assumed"  # a default nobody confirmed
