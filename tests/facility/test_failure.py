"""Failure domains over the graph, worked by hand: A/B feeds, phase legs, cooling zones, supplies, N+k.

Every expected figure below is computed in the comment beside it from the
site's numbers (node 3.3 kW max; feed ``sqrt(3) x V x I x PF x 0.8``, the
continuous-load limit of NEC 210.20(A) / 215.3), not by the code under test.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.failure import FailureModel, UnknownDomain
from facility.plan import plan_facility

from .conftest import make_facility

ONE_RACK = 64  # chips: 8 nodes of 8 chips = the 8 usable nodes of one rack (9 nodes, 1 spare)


def pool(name: str, replicas: int, chips: int = ONE_RACK, arrival: float = 1.0) -> PoolDemand:
    # 10 slots x 1 s: mu = 10 req/s per replica; at rho_target 0.5 each replica carries 5 req/s
    return PoolDemand(name, replicas, chips, 10, 1.0, arrival, 2.0, 0.5, rho_target_normal=0.5)


def two_rows_of_two_racks(**changes):
    return make_facility(rows=2, pods_per_row=1, racks_per_pod=2,
                         cooling={"unit_kw": 150.0, "racks_per_zone": 2, "redundancy": 1}, **changes)


# --- A/B feeds -------------------------------------------------------------------------------------


def test_losing_panel_a_and_panel_b_of_one_row_darkens_the_row():
    # 4 racks, one replica each (2 per row). Each rack is fed from its row's panel A and panel B.
    # Any one feed element: the other side carries the rack (29.7 kW <= 32.78 kW): nothing lost.
    # Panel A + panel B of row01: both feeds of its 2 racks are gone: 2 replicas lost, 2 left.
    # 12 req/s needs 12 / 5 = 2.4 -> 3 replicas at rho 0.5: N+2 at feed level fails (and the room is full).
    r = plan_facility(None, two_rows_of_two_racks(), Redundancy(level="feed", n_plus=2), [pool("a", 4, arrival=12.0)])
    feed = r.level("feed")
    assert feed.pools[0].lost == 2
    assert feed.pools[0].worst_domains == ("row01-panel-A", "row01-panel-B")
    assert feed.pools[0].method == "exact"
    assert feed.pools[0].check.n_operational == 2 and not feed.pools[0].check.passed
    assert not feed.passed and not r.passed
    assert any("N+2 at level feed fails" in f for f in r.failures)
    # one domain alone takes nothing: N+1 at feed level would hold
    assert all(not d.replicas_lost for d in r.domains if d.level == "feed")


def test_two_pdus_of_one_rack_and_a_panel_with_the_other_sides_pdu():
    r = plan_facility(None, two_rows_of_two_racks(), Redundancy(level="rack", n_plus=1), [pool("a", 4)])
    model = FailureModel.from_result(r)
    both = model.impact(["feed:row01-pod01-rack01-pdu-A", "feed:row01-pod01-rack01-pdu-B"])
    assert both.racks_lost == ("row01-pod01-rack01",)
    assert both.pool("a").lost == 1 and both.pool("a").left == 3
    assert both.nodes_lost == 9 and both.chips_lost == 72  # 8 compute + 1 spare node of 8 chips
    assert both.replica_chips_lost == 64
    cross = model.impact(["row01-panel-A", "row01-pod01-rack02-pdu-B"])
    assert cross.racks_lost == ("row01-pod01-rack02",)
    same_side = model.impact(["row01-panel-A", "row02-panel-A"])
    assert same_side.replicas_lost == ()


def test_a_lost_pdu_moves_the_whole_rack_onto_the_other_feed():
    r = plan_facility(None, two_rows_of_two_racks(), Redundancy(level="rack", n_plus=1), [pool("a", 4)])
    impact = FailureModel.from_result(r).impact("row01-pod01-rack01-pdu-A")
    assert impact.replicas_lost == () and impact.feeds_lost == ("row01-pod01-rack01-pdu-A",)
    loads = {f.element: f for f in impact.feed_loads}
    # PDU B: 9 nodes x 3.3 kW = 29.7 kW (was 14.85); limit sqrt(3) x 415 V x 60 A x 0.95 x 0.8 = 32.78 kW
    pdu_b = loads["row01-pod01-rack01-pdu-B"]
    assert pdu_b.load_kw == pytest.approx(29.7) and pdu_b.baseline_kw == pytest.approx(14.85)
    assert pdu_b.limit_kw == pytest.approx(32.777, abs=1e-3)
    # its worst leg: 3 nodes x 3.3 = 9.9 kW of 32.78 / 3 = 10.93 kW
    assert pdu_b.worst_leg_kw == pytest.approx(9.9) and pdu_b.leg_limit_kw == pytest.approx(10.926, abs=1e-3)
    # panel B of row01 now carries rack01 whole and rack02 half: 29.7 + 14.85
    assert loads["row01-panel-B"].load_kw == pytest.approx(44.55)


# --- per phase ------------------------------------------------------------------------------------


def test_an_unbalanced_phase_leg_trips_the_surviving_pdu():
    # 8 nodes per rack (7 compute + 1 powered spare) on 3 legs bottom up: 3, 3, 2 nodes = 9.9, 9.9, 6.6 kW,
    # 26.4 kW in all. 420 V x 50 A: sqrt(3) x 420 x 50 x 0.95 x 0.8 = 27.64 kW per feed (the total fits),
    # 27.64 / 3 = 9.21 kW per leg: a leg of 9.9 kW does not. With both feeds a leg carries 4.95 kW.
    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=2, nodes_per_rack=8,
                        feed={"voltage": 420.0, "amperage": 50.0, "phases": 3, "power_factor": 0.95, "derate": 0.8},
                        cooling={"unit_kw": 150.0, "racks_per_zone": 2, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=1), [pool("a", 2, chips=56)])
    checks = {(c.element, c.kind): c for c in r.budget_checks}
    rack = "row01-pod01-rack01"
    assert checks[(rack, "single feed carries rack")].passed
    assert not checks[(rack, "phase leg max")].passed
    assert checks[(rack, "phase leg max")].limit == pytest.approx(math.sqrt(3) * 420 * 50 * 0.95 * 0.8 / 3e3)
    impact = FailureModel.from_result(r).impact(f"{rack}-pdu-A")
    assert impact.feeds_tripped == (f"{rack}-pdu-B",)
    assert impact.racks_lost == (rack,) and impact.pool("a").lost == 1
    # the row's panel A moves both racks onto their PDUs B at once: both trip, both replicas go
    assert {d.domain: len(d.replicas_lost) for d in r.domains if d.level == "feed"}["row01-panel-A"] == 2


# --- cooling --------------------------------------------------------------------------------------


def cooling_site(redundancy: int):
    # 4 racks of 29.7 kW in 2 zones of 2 racks: 59.4 kW per zone. Units of 30 kW: ceil(59.4 / 30) = 2 needed,
    # plus the redundancy. With 3 units, one lost leaves 60 >= 59.4; two lost leave 30 < 59.4: the zone dies.
    return make_facility(rows=1, pods_per_row=1, racks_per_pod=4,
                         cooling={"unit_kw": 30.0, "racks_per_zone": 2, "redundancy": redundancy})


def test_two_lost_units_of_one_zone_kill_the_zone():
    r = plan_facility(None, cooling_site(1), Redundancy(level="cooling", n_plus=2), [pool("a", 4, arrival=12.0)])
    zone = next(z for z in r.zones if z.heat_max_kw > 0)
    assert zone.units_installed == 3
    cooling = r.level("cooling")
    assert cooling.pools[0].lost == 2
    assert cooling.pools[0].worst_domains == ("row01-zone01-unit01", "row01-zone01-unit02")
    assert not cooling.passed and not r.passed
    # units of different zones: each zone keeps 60 kW, nothing is lost
    model = FailureModel.from_result(r)
    assert model.impact(["row01-zone01-unit01", "row01-zone02-unit01"]).replicas_lost == ()
    assert model.impact(["row01-zone01-unit01", "row01-zone01-unit03"]).zones_lost == ("row01-zone01",)


def test_a_second_redundant_unit_carries_two_losses():
    # 4 units: two lost leave 2 x 30 = 60 >= 59.4 kW; three lost leave 30: the zone dies
    r = plan_facility(None, cooling_site(2), Redundancy(level="cooling", n_plus=2), [pool("a", 4, arrival=12.0)])
    assert r.level("cooling").pools[0].lost == 0 and r.level("cooling").passed
    model = FailureModel.from_result(r)
    assert model.worst("cooling", 3)["a"].lost == 2


# --- supplies ------------------------------------------------------------------------------------


def test_a_pod_supply_that_cannot_carry_its_pod_alone_takes_the_pod_down():
    # 2 racks of 29.7 kW in one pod = 59.4 kW; pod_kw = 40 per side: with both sides each carries 29.7 (holds);
    # with side A lost, side B must carry 59.4 > 40 and trips: the pod goes dark.
    fac = two_rows_of_two_racks(supply={"pod_kw": 40.0})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=1), [pool("a", 4)])
    model = FailureModel.from_result(r)
    impact = model.impact("feed:row01-pod01-panel-A")
    assert impact.feeds_tripped == ("row01-pod01-panel-B",)
    assert impact.racks_lost == ("row01-pod01-rack01", "row01-pod01-rack02")
    # the row panel above it takes the pod panel with it: same result
    assert model.impact("row01-panel-A").racks_lost == impact.racks_lost
    assert max(len(d.replicas_lost) for d in r.domains if d.level == "feed") == 2
    assert not r.passed  # the pod supply check itself fails


def test_a_room_supply_that_cannot_carry_the_room_alone_takes_everything():
    # 4 racks x 29.7 = 118.8 kW; room_kw 100 per side: losing side A trips side B
    r = plan_facility(None, two_rows_of_two_racks(supply={"room_kw": 100.0}), Redundancy(level="rack", n_plus=1),
                      [pool("a", 4)])
    impact = FailureModel.from_result(r).impact("site-1-supply-A")
    assert impact.feeds_tripped == ("site-1-supply-B",)
    assert impact.pool("a").lost == 4


def test_a_room_supply_that_carries_the_room_takes_nothing_alone_and_everything_with_the_other_side():
    r = plan_facility(None, two_rows_of_two_racks(supply={"room_kw": 200.0}), Redundancy(level="rack", n_plus=1),
                      [pool("a", 4)])
    model = FailureModel.from_result(r)
    assert model.impact("site-1-supply-A").replicas_lost == ()
    assert model.worst("feed", 2)["a"].domains == ("site-1-supply-A", "site-1-supply-B")
    assert model.worst("feed", 2)["a"].whole_site


# --- the domain API --------------------------------------------------------------------------------


def test_domain_ids_with_and_without_their_level():
    r = plan_facility(None, two_rows_of_two_racks(), Redundancy(level="rack", n_plus=1), [pool("a", 4)])
    model = FailureModel.from_result(r)
    assert model.impact("rack:row02-pod01-rack01").replicas_lost == model.impact("row02-pod01-rack01").replicas_lost
    assert model.impact("row02").pool("a").lost == 2
    with pytest.raises(UnknownDomain, match="rack:row09"):
        model.impact("rack:row09-pod01-rack01")
    with pytest.raises(UnknownDomain, match="feed:row01-panel-A"):
        model.impact("rack:row01-panel-A")
    assert set(model.domains("feed")) == {"row01-panel-A", "row01-panel-B", "row02-panel-A", "row02-panel-B"} | {
        f"row0{i}-pod01-rack0{j}-pdu-{s}" for i in (1, 2) for j in (1, 2) for s in "AB"}


def test_the_results_own_model_is_the_final_placements():
    # the feedback adds a replica (3 racks used of 4): the model kept on the result must see it
    r = plan_facility(None, make_facility(rows=1, pods_per_row=1, racks_per_pod=4,
                                          cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1}),
                      Redundancy(level="rack", n_plus=1), [pool("a", 2, arrival=9.0)])
    assert r.pool("a").added == 1
    fresh = FailureModel.from_result(r)
    for level in ("node", "rack", "feed", "cooling"):
        assert r.failure_model.domains(level) == fresh.domains(level)
        for d in fresh.domains(level):
            assert r.impact(d) == fresh.impact(d)


def test_a_replica_across_two_racks_dies_once():
    # 96 chips = 12 nodes: racks of 8 usable nodes, so each replica spans 2 racks of its pod
    fac = make_facility(rows=1, pods_per_row=2, racks_per_pod=3,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 3, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=0), [pool("a", 2, chips=96)])
    model = FailureModel.from_result(r)
    rep = r.placements[0]
    both = [s.rack for s in rep.spans]
    assert len(both) == 2
    assert model.impact(both).pool("a").lost == 1
    assert model.impact(f"{both[0]}-c2c").pool("a").lost == 1  # its chip-to-chip links cross the rack


# --- exactness of the worst-k search against brute force -----------------------------------------------


def brute_force_worst(model: FailureModel, level: str, k: int, pool_name: str) -> int:
    doms = model.domains(level)
    best = 0
    for size in range(1, min(k, len(doms)) + 1):
        for subset in itertools.combinations(doms, size):
            lost = sum(1 for rid in model.lost_replicas(subset) if model.replica_pool[rid] == pool_name)
            best = max(best, lost)
    return best


@settings(max_examples=12, deadline=None)
@given(
    rows=st.integers(1, 2),
    pods_per_row=st.integers(1, 2),
    racks_per_pod=st.integers(1, 2),
    sizes=st.lists(st.tuples(st.integers(1, 3), st.sampled_from([8, 32, 64, 96])), min_size=1, max_size=2),
    unit_kw=st.sampled_from([30.0, 60.0, 150.0]),
    supply=st.sampled_from([{}, {"row_kw": 70.0}, {"pod_kw": 40.0}, {"room_kw": 120.0}, {"row_kw": 1000.0, "room_kw": 1000.0}]),
    k=st.integers(1, 3),
)
def test_worst_k_equals_brute_force_on_random_sites(rows, pods_per_row, racks_per_pod, sizes, unit_kw, supply, k):
    fac = make_facility(rows=rows, pods_per_row=pods_per_row, racks_per_pod=racks_per_pod, supply=supply,
                        cooling={"unit_kw": unit_kw, "racks_per_zone": 2, "redundancy": 1})
    pools = [pool(f"b{i}", n, chips=min(c, racks_per_pod * ONE_RACK)) for i, (n, c) in enumerate(sizes)]
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=0), pools)
    model = FailureModel.from_result(r)
    for level in ("rack", "feed", "cooling", "fabric", "node"):
        if level == "node" and k > 2:
            continue
        worst = model.worst(level, k, pools=[p.name for p in pools])
        for p in pools:
            truth = brute_force_worst(model, level, k, p.name)
            got = worst[p.name]
            if got.exact:
                assert got.lost == truth, (level, k, p.name)
                if got.lost:  # the named set takes that many
                    taken = sum(1 for rid in model.lost_replicas(got.domains) if model.replica_pool[rid] == p.name)
                    assert taken == truth
            else:  # a supply can trip: an upper bound, the safe direction
                assert got.lost >= truth


@pytest.mark.parametrize("supply", [{}, {"row_kw": 40.0}, {"pod_kw": 40.0}, {"room_kw": 100.0}])
def test_the_fallback_for_too_many_interacting_sets_is_a_safe_bound(monkeypatch, supply):
    import facility.failure

    monkeypatch.setattr(facility.failure, "_JOINT_LIMIT", 0)  # as if every level had too many sets
    fac = make_facility(rows=2, pods_per_row=1, racks_per_pod=2, supply=supply,
                        cooling={"unit_kw": 30.0, "racks_per_zone": 2, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=0), [pool("a", 4)])
    model = FailureModel.from_result(r)
    for level in ("feed", "cooling"):
        for k in (1, 2, 3):
            got = model.worst(level, k)["a"]
            truth = brute_force_worst(model, level, k, "a")
            assert got.lost >= truth
            assert not got.exact or got.lost == truth


def _every_changed_load(model: FailureModel, domains) -> tuple[tuple[str, float, float], ...]:
    """Brute force: every powered element feeding a placed rack whose load differs from normal running."""
    names = tuple(dict.fromkeys(model.resolve(d) for d in domains))
    out, base = model._outage(names), model._base
    return tuple((e, model._loads(e, out.cut)[0], model._loads(e, base.cut)[0]) for e in model._power
                 if e not in out.power_off and model._power_racks[e] & model._populated
                 and abs(model._loads(e, out.cut)[0] - model._loads(e, base.cut)[0]) > 1e-12)


@settings(max_examples=10, deadline=None)
@given(
    rows=st.integers(1, 2),
    racks_per_pod=st.integers(1, 2),
    replicas=st.integers(1, 4),
    supply=st.sampled_from([{}, {"row_kw": 70.0}, {"pod_kw": 40.0}, {"room_kw": 120.0}]),
)
def test_a_domains_feed_loads_are_every_load_it_changes(rows, racks_per_pod, replicas, supply):
    # impact() only looks at elements feeding a rack whose supply changed side: the same list as looking at all
    fac = make_facility(rows=rows, pods_per_row=2, racks_per_pod=racks_per_pod, supply=supply,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 2, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=0), [pool("a", replicas, chips=32)])
    model = FailureModel.from_result(r)
    sets = [(d,) for level in ("node", "rack", "pod", "row", "feed", "cooling", "fabric") for d in model.domains(level)]
    sets += list(itertools.combinations(model.domains("feed"), 2))
    seen = 0
    for domains in sets:
        got = tuple((f.element, f.load_kw, f.baseline_kw) for f in model.impact(list(domains)).feed_loads)
        assert got == _every_changed_load(model, domains), domains
        seen += bool(got)
    assert seen  # a lost feed moves its racks onto the other side: some loads change
