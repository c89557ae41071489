"""Power and cooling arithmetic against figures worked by hand from public ratings (NEC, NEMA, IEC, NIST, ASHRAE)."""

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
    # worked by hand: 208 V x 30 A x 1.732 = 10.81 kVA, x 0.8 (NEC 210.20(A) / 215.3) = 8.65 kVA;
    # 208 x 60 x 1.732 = 21.62 -> 17.3; 415 x 32 x 1.732 = 23.0 -> 18.4; 415 x 60 x 1.732 = 43.13 -> 34.5
    [(208.0, 30.0, 8.65), (208.0, 60.0, 17.3), (415.0, 32.0, 18.4), (415.0, 60.0, 34.5)],
)
def test_three_phase_feed_by_hand(volts, amps, kva):
    usable = feed_usable_kw(FeedSpec(voltage=volts, amperage=amps, phases=3, power_factor=1.0, derate=0.8))
    assert usable == pytest.approx(kva, abs=0.05)


@pytest.mark.parametrize(
    "volts, amps, pf, kw",
    [
        # NEMA 5-20 circuit, 120 V 20 A: 2,400 VA; NEC 210.20(A) allows 16 A continuous: 1,920 VA
        (120.0, 20.0, 1.0, 1.920),
        # NEMA L6-30 single phase, 208 V 30 A: 6,240 VA; 24 A continuous: 4,992 VA
        (208.0, 30.0, 1.0, 4.992),
        # IEC 60309 32 A single phase at 230 V: 7,360 VA (the "7.4 kVA" on such PDUs); x 0.8 = 5,888 VA;
        # at power factor 0.9: 5,299.2 W
        (230.0, 32.0, 0.9, 5.2992),
    ],
)
def test_single_phase_feed_by_hand(volts, amps, pf, kw):
    usable = feed_usable_kw(FeedSpec(voltage=volts, amperage=amps, phases=1, power_factor=pf, derate=0.8))
    assert usable == pytest.approx(kw, rel=1e-12)


def test_a_single_phase_rack_by_hand():
    # 230 V 32 A single phase, PF 0.95: 7,360 VA x 0.95 x 0.8 = 5,593.6 W per feed; a rack of 9 nodes x 3.3 kW
    # = 29.7 kW cannot sit on one such feed: short by 24.1064 kW. One phase: no leg check.
    r = _one_pod_plan(feed={"voltage": 230.0, "amperage": 32.0, "phases": 1, "power_factor": 0.95, "derate": 0.8})
    checks = {(c.element, c.kind): c for c in r.budget_checks}
    feed = checks[("row01-pod01-rack01", "single feed carries rack")]
    assert feed.limit == pytest.approx(5.5936, rel=1e-12)
    assert feed.margin == pytest.approx(-24.1064, rel=1e-9)
    assert ("row01-pod01-rack01", "phase leg max") not in checks
    assert not r.passed


def test_heat_and_airflow_by_hand():
    # NIST SP 811: 1 BTU_IT/h = 0.293071 W, so 30 kW = 30,000 / 0.293071 = 102,364 BTU/h = 8.53 tons of
    # 12,000 BTU/h. Standard air (ASHRAE Fundamentals): Q = 1.08 x CFM x dT(F), so at dT 20 F
    # CFM = 102,364 / 21.6 = 4,739.
    assert heat_btu_per_h(30.0) == pytest.approx(102_364, rel=1e-5)
    assert heat_btu_per_h(30.0) / 12000 == pytest.approx(8.53, abs=0.01)
    assert airflow_cfm(30_000, 20.0) == pytest.approx(4739, rel=1e-3)
    # 1 CFM = 1.69901 m3/h: the two airflow formulas agree to their 3 digits
    assert airflow_m3_per_h(30_000, 20.0) == pytest.approx(4739 * 1.69901, rel=2e-3)


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
