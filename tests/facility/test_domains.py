"""Failure domains and N+1 feedback, worked by hand; the graph agrees with the fast path."""

from __future__ import annotations

import pytest

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand, check_pool
from facility.plan import plan_facility
from facility.topology import build_topology, contained_nodes

from .conftest import make_facility


def pool(name: str, replicas: int, chips: int, arrival: float = 9.0) -> PoolDemand:
    # capacity-decided (see test_placement): each operational replica carries 5 req/s at rho 0.5
    return PoolDemand(name, replicas, chips, 10, 1.0, arrival, 2.0, 0.5, rho_target_normal=0.5)


def one_pod_of_four():
    return make_facility(rows=1, pods_per_row=1, racks_per_pod=4,
                         cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})


def test_capacity_check_by_hand():
    d = pool("a", 2, 64)
    c = check_pool(d, 2)
    assert c.capacity_margin_rps == pytest.approx(0.5 * 2 * 10 / 1.0 - 9.0)
    assert c.utilisation == pytest.approx(9.0 / 20.0)
    assert c.p99_s == pytest.approx(1.0)  # P(wait) < 1% on 20 servers at 9 req/s
    assert c.passed
    assert not check_pool(d, 1).passed  # 5 < 9
    assert check_pool(d, 0).p99_s == float("inf")


def test_feedback_adds_the_replica_rack_n_plus_1_needs():
    # one replica per rack (64 chips = 8 nodes); start at N = 2 (normal: 9 / 20 = 0.45 <= 0.5).
    # A rack loss leaves 1 replica = 5 req/s < 9: N+1 fails; with 3, a loss leaves 10 >= 9.
    r = plan_facility(None, one_pod_of_four(), Redundancy(level="rack", n_plus=1), [pool("a", 2, 64)])
    a = r.pool("a")
    assert (a.replicas_initial, a.replicas_final, a.added) == (2, 3, 1)
    assert r.feedback_rounds == 1
    assert r.placements[-1].added_by_feedback
    rack = r.level("rack")
    assert rack.required and rack.passed
    assert rack.pools[0].check.n_operational == 2
    assert rack.pools[0].check.capacity_margin_rps == pytest.approx(1.0)
    # every populated rack is a domain that kills exactly one replica
    racks = [d for d in r.domains if d.level == "rack"]
    assert len(racks) == 3 and all(len(d.replicas_lost) == 1 and d.passed for d in racks)
    assert r.passed


def test_n_plus_2_needs_two_more():
    r = plan_facility(None, one_pod_of_four(), Redundancy(level="rack", n_plus=2), [pool("a", 2, 64)])
    assert r.pool("a").replicas_final == 4
    assert r.level("rack").pools[0].lost == 2 and r.level("rack").pools[0].method == "exact"
    assert r.passed


def test_pod_level_in_a_one_pod_room_cannot_hold():
    r = plan_facility(None, one_pod_of_four(), Redundancy(level="pod", n_plus=1), [pool("a", 2, 64)])
    pod = r.level("pod")
    assert pod.worst_domain == "row01-pod01"
    assert not pod.passed and not r.passed
    # futile: the room's only pod holds every replica, so none is added; the plan says why
    assert r.pool("a").replicas_final == 2 and r.pool("a").unplaced == 0
    assert any("cannot hold" in n for n in r.notes)
    assert any("N+1 at level pod fails" in f for f in r.failures)


def test_feedback_stops_when_added_replicas_never_survive():
    # two pods, replicas of a whole pod (32 nodes), row level: one row holds them all
    fac = make_facility(rows=1, pods_per_row=8, racks_per_pod=4,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="row", n_plus=1), [pool("a", 2, 256)])
    assert any("cannot hold" in n for n in r.notes)
    assert r.pool("a").replicas_final == 2


def test_every_level_is_reported_and_the_worst_domain_named():
    fac = make_facility(rows=2, pods_per_row=2, racks_per_pod=4,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="pod", n_plus=1), [pool("a", 4, 256)])
    levels = {v.level: v for v in r.levels}
    assert set(levels) == {"node", "rack", "pod", "row", "feed", "cooling", "fabric"}
    # 4 replicas of one pod each (256 chips = 32 nodes = 4 racks): a row holds 2 of them
    assert levels["pod"].worst_replicas_lost == 1 and levels["pod"].passed
    assert levels["row"].worst_replicas_lost == 2 and levels["row"].worst_domain == "row01"
    assert levels["feed"].worst_replicas_lost == 0 and levels["feed"].worst_domain is None
    # pod uplinks and rack chip-to-chip groups are fabric domains
    kinds = {d.kind for d in r.domains if d.level == "fabric"}
    assert kinds == {"chip-to-chip link group", "Ethernet uplink group"}
    assert r.passed


def test_domains_match_the_graph_descendants():
    fac = make_facility(rows=2, pods_per_row=2, racks_per_pod=3,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 3, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=1),
                      [pool("a", 3, 96), pool("b", 3, 32, arrival=2.0)])
    graph = build_topology(r)
    replica_of = {n: graph.nodes[n]["replica"] for n in graph if graph.nodes[n].get("kind") == "node"}
    checked = 0
    for d in r.domains:
        if d.level in ("rack", "pod", "row"):
            via_graph = {replica_of[n] for n in contained_nodes(graph, d.domain)} - {""}
            assert via_graph == set(d.replicas_lost), d.domain
            checked += 1
    assert checked > 10
    # power and cooling edges reach every populated rack from both sides
    for rack in r.racks:
        if rack.powered_nodes:
            preds = {graph.nodes[p]["kind"] for p in graph.predecessors(rack.rack)}
            assert {"pod", "rack PDU", "cooling zone", "chip-to-chip link group"} <= preds


def test_graphml_round_trip():
    import networkx as nx

    from facility.topology import graphml_text

    r = plan_facility(None, one_pod_of_four(), Redundancy(level="rack"), [pool("a", 2, 64)])
    g = nx.parse_graphml(graphml_text(r))
    assert g.nodes["row01-pod01-rack01"]["kind"] == "rack"
    assert g.number_of_nodes() == build_topology(r).number_of_nodes()


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=15, deadline=None)
@given(
    rows=st.integers(1, 2),
    pods_per_row=st.integers(1, 2),
    racks_per_pod=st.integers(1, 4),
    sizes=st.lists(st.tuples(st.integers(1, 4), st.integers(1, 24)), min_size=1, max_size=3),
)
def test_rack_pod_row_domains_match_the_graph_on_random_sites(rows, pods_per_row, racks_per_pod, sizes):
    fac = make_facility(rows=rows, pods_per_row=pods_per_row, racks_per_pod=racks_per_pod,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 2, "redundancy": 1})
    pools = [pool(f"b{i}", n, 8 * min(nodes, racks_per_pod * 8), arrival=1.0) for i, (n, nodes) in enumerate(sizes)]
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=1), pools)
    graph = build_topology(r, cards=False)
    replica_of = {n: graph.nodes[n]["replica"] for n in graph if graph.nodes[n].get("kind") == "node"}
    for d in r.domains:
        if d.level in ("rack", "pod", "row"):
            assert {replica_of[n] for n in contained_nodes(graph, d.domain)} - {""} == set(d.replicas_lost)


def test_feedback_gives_up_when_every_added_replica_dies_with_the_worst_domain():
    # 208 V feeds cannot carry a 29.7 kW rack alone, so a row's panel A takes the whole
    # (only) row down: every replica added for feed-level N+1 dies with it.
    fac = make_facility(rows=1, pods_per_row=8, racks_per_pod=4,
                        feed={"voltage": 208.0, "amperage": 60.0, "phases": 3, "power_factor": 0.95, "derate": 0.8},
                        cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="feed", n_plus=1), [pool("a", 2, 64)])
    assert r.level("feed").worst_domain == "row01-panel-A"
    assert r.pool("a").added == 3  # then it stops, and says so
    assert any("did not raise the survivors" in n for n in r.notes)
    assert not r.passed
