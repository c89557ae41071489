"""Power and cooling arithmetic against the formulas and the reference's worked figures."""

from __future__ import annotations

import math

import pytest

from dimensioning.inputs import Redundancy
from facility.cooling import airflow_cfm, airflow_m3_per_h, heat_btu_per_h
from facility.demand import PoolDemand
from facility.inputs import FeedSpec
from facility.layout import feed_usable_kw
from facility.plan import plan_facility

from .conftest import make_facility


@pytest.mark.parametrize(
    "volts, amps, kva",
    # shared/reference/facility.md: usable per feed at 80% (kVA = sqrt(3) V I x 0.8)
    [(208.0, 30.0, 8.65), (208.0, 60.0, 17.3), (415.0, 32.0, 18.4), (415.0, 60.0, 34.5)],
)
def test_three_phase_feed_matches_the_reference_table(volts, amps, kva):
    usable = feed_usable_kw(FeedSpec(voltage=volts, amperage=amps, phases=3, power_factor=1.0, derate=0.8))
    assert usable == pytest.approx(kva, abs=0.05)


def test_single_phase_feed():
    assert feed_usable_kw(FeedSpec(voltage=230.0, amperage=32.0, phases=1, power_factor=0.9, derate=0.8)) == pytest.approx(
        230 * 32 * 0.9 * 0.8 / 1000
    )


def test_heat_and_airflow_reference_figures():
    # shared/reference/facility.md: 30 kW = ~102k BTU/h = 8.5 tons; 30 kW at dT 20 F = ~4,740 CFM
    assert heat_btu_per_h(30.0) == pytest.approx(102_364.2)
    assert heat_btu_per_h(30.0) / 12000 == pytest.approx(8.53, abs=0.01)
    assert airflow_cfm(30_000, 20.0) == pytest.approx(4740.0)
    # 1 CFM = 1.69901 m3/h: the two airflow formulas agree to their 3 digits
    assert airflow_m3_per_h(30_000, 20.0) == pytest.approx(4740.0 * 1.69901, rel=2e-3)


def worst_single_loss(result, level):
    """Replicas the worst single domain of ``level`` takes (these plans ask N+0, so the levels report none)."""
    return max((len(d.replicas_lost) for d in result.domains if d.level == level), default=0)


def _one_pod_plan(**facility_changes):
    fac = make_facility(rows=1, pods_per_row=1, **facility_changes)
    pool = PoolDemand("a", 1, 576, 16, 1.0, 1.0, 10.0, 0.85)
    return plan_facility(None, fac, Redundancy(level="node", n_plus=0), [pool])


def test_contract_rack_by_hand():
    r = _one_pod_plan()
    # 9 racks each: 8 compute + 1 spare node, powered: 9 x 3.3 = 29.7 kW max, 9 x 2.4 = 21.6 typical
    checks = {(c.element, c.kind): c for c in r.budget_checks}
    rack = "row01-pod01-rack01"
    assert checks[(rack, "rack power max")].value == pytest.approx(29.7)
    assert checks[(rack, "rack power max")].margin == pytest.approx(0.3)
    assert checks[(rack, "rack power typical")].value == pytest.approx(21.6)
    feed = checks[(rack, "single feed carries rack")]
    assert feed.limit == pytest.approx(math.sqrt(3) * 415 * 60 * 0.95 * 0.8 / 1000)
    # legs: positions 0..8 alternate, 3 nodes per leg = 9.9 kW against usable / 3
    leg = checks[(rack, "phase leg max")]
    assert leg.value == pytest.approx(9.9) and leg.limit == pytest.approx(feed.limit / 3)
    assert r.passed


def test_contract_zone_by_hand():
    r = _one_pod_plan()
    zone = next(z for z in r.zones if z.heat_max_kw > 0)
    assert zone.heat_max_kw == pytest.approx(9 * 29.7)
    assert zone.units_needed == 2  # ceil(267.3 / 150)
    assert zone.units_installed == 3  # N+1
    assert zone.heat_btu_per_h == pytest.approx(267.3 * 3412.14)
    assert zone.airflow_cfm == pytest.approx(3.16 * 267_300 / 20)
    assert zone.survives_one_unit_loss


def test_208v_feed_cannot_carry_a_30kw_rack_and_a_feed_loss_kills_it():
    r = _one_pod_plan(feed={"voltage": 208.0, "amperage": 60.0, "phases": 3, "power_factor": 0.95, "derate": 0.8})
    feed_checks = [c for c in r.budget_checks if c.kind == "single feed carries rack"]
    assert feed_checks and not any(c.passed for c in feed_checks)
    assert feed_checks[0].margin == pytest.approx(math.sqrt(3) * 208 * 60 * 0.95 * 0.8 / 1000 - 29.7)
    assert not r.passed
    assert worst_single_loss(r, "feed") == 1
    assert any("single feed carries rack" in f for f in r.failures)


def test_too_few_cooling_units_given():
    r = _one_pod_plan(cooling={"unit_kw": 150.0, "racks_per_zone": 9, "redundancy": 1, "units_per_zone": 2})
    zone_check = next(c for c in r.budget_checks if c.kind == "cooling N+redundancy")
    assert zone_check.limit == pytest.approx(150.0) and zone_check.margin == pytest.approx(150 - 267.3)
    assert not r.passed
    # two units for 267.3 kW: losing either leaves 150 kW, so every unit is a domain that kills the zone
    assert worst_single_loss(r, "cooling") == 1


def test_supply_checks_when_given():
    r = _one_pod_plan(supply={"row_kw": 200.0, "room_kw": 400.0})
    row = next(c for c in r.budget_checks if c.kind == "row supply per side")
    assert row.value == pytest.approx(267.3) and not row.passed
    room = next(c for c in r.budget_checks if c.kind == "room supply per side")
    assert room.passed
    # the row panel cannot take the row on one side: a panel loss takes the whole row down
    assert worst_single_loss(r, "feed") == 1


def test_spare_nodes_unpowered():
    r = _one_pod_plan(spare_nodes_powered=False)
    assert r.racks[0].max_kw == pytest.approx(8 * 3.3)


def test_checks_say_which_figures_are_assumed():
    r = _one_pod_plan(assumed=("node_power_kw",))
    check = next(c for c in r.budget_checks if c.kind == "rack power max")
    assert check.basis == "node_power_kw: assumed; rack_power_budget_kw: given"
    feed = next(c for c in r.budget_checks if c.kind == "single feed carries rack")
    assert "feed: given" in feed.basis
