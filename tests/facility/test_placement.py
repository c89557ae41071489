"""Placement: hand-worked sites, the shared-rack hazard, invariants over random sites."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.plan import FacilityResult, plan_facility

from .conftest import make_facility

# A pool whose checks are decided by capacity alone: S = 1 s, 10 slots, rho_degraded 0.5
# -> each operational replica carries 5 req/s at the target; lambda 9 needs 2 operational.
# (At 9 req/s on 20+ servers P(wait) < 1%, so the p99 is S = 1 s, inside the 2 s SLO.)


def pool(name: str, replicas: int, chips: int, arrival: float = 9.0) -> PoolDemand:
    return PoolDemand(name, replicas, chips, 10, 1.0, arrival, 2.0, 0.5, rho_target_normal=0.5)


def two_pods_of_four(**changes) -> object:
    return make_facility(rows=1, pods_per_row=2, racks_per_pod=4,
                         cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1}, **changes)


def assert_invariants(result: FacilityResult) -> None:
    lay = result.layout
    # every replica placed once, on exactly its node count, in one pod, on contiguous racks
    per_replica = Counter(n.replica for n in result.nodes if n.role == "compute")
    for p in result.placements:
        assert per_replica[p.replica] == p.nodes
        assert sum(s.nodes for s in p.spans) == p.nodes
        racks = [s.rack_index for s in p.spans]
        assert racks == list(range(racks[0], racks[0] + len(racks)))
        assert len({lay.pod_of(g) for g in racks}) == 1
        # interior racks of a multi-rack replica are whole
        assert all(s.nodes == lay.usable_nodes_per_rack for s in p.spans[1:-1])
    # no node position used twice; spares never hold a replica
    positions = Counter((n.rack, n.position) for n in result.nodes)
    assert max(positions.values(), default=1) == 1
    for n in result.nodes:
        if n.position >= lay.usable_nodes_per_rack:
            assert n.role == "spare" and n.replica == ""
    # power is conserved: the room total is the sum of the node draws
    room = next(t for t in result.power_totals if t.kind == "room")
    assert abs(room.max_kw - sum(n.max_kw for n in result.nodes)) < 1e-6


def test_two_pods_of_four_by_hand():
    # replicas of 96 chips = 12 nodes = 1.5 racks of 8 usable nodes.
    # Worked by hand: a/1 pod1 racks 1-2, a/2 pod2 racks 1-2 (fewest per pod and zone),
    # a/3 pod1 racks 3-4, a/4 pod2 racks 3-4: no rack holds two replicas.
    r = plan_facility(None, two_pods_of_four(), Redundancy(level="rack", n_plus=1), [pool("a", 4, 96)])
    spans = {p.replica: [(s.rack, s.nodes) for s in p.spans] for p in r.placements}
    assert spans == {
        "a/1": [("row01-pod01-rack01", 8), ("row01-pod01-rack02", 4)],
        "a/2": [("row01-pod02-rack01", 8), ("row01-pod02-rack02", 4)],
        "a/3": [("row01-pod01-rack03", 8), ("row01-pod01-rack04", 4)],
        "a/4": [("row01-pod02-rack03", 8), ("row01-pod02-rack04", 4)],
    }
    assert r.shared_racks == ()
    assert r.level("rack").pools[0].lost == 1
    assert r.level("pod").pools[0].lost == 2
    assert r.passed and r.pool("a").added == 0
    assert_invariants(r)
    assert all(p.reason for p in r.placements)


def test_two_replicas_in_one_rack_are_hit_twice_and_flagged():
    # one pod of 3 racks (24 usable nodes), two replicas of 12 nodes: the only
    # windows make the middle rack hold 4 nodes of each, so losing it kills both.
    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=3)
    r = plan_facility(None, fac, Redundancy(level="rack", n_plus=1), [pool("a", 2, 96, arrival=4.0)])
    assert [(s.rack, s.nodes) for s in r.placements[1].spans] == [("row01-pod01-rack02", 4), ("row01-pod01-rack03", 8)]
    assert len(r.shared_racks) == 1
    shared = r.shared_racks[0]
    assert shared.rack == "row01-pod01-rack02" and shared.pools_hit_twice == ("a",)
    rack_level = r.level("rack")
    assert rack_level.worst_domain == "row01-pod01-rack02" and rack_level.worst_replicas_lost == 2
    impact = next(d for d in r.domains if d.domain == "row01-pod01-rack02")
    assert impact.replicas_lost == ("a/1", "a/2") and not impact.passed
    assert any("hit more than once" in n for n in r.notes)
    # no room to add a replica: the plan fails and says why
    assert not r.passed
    assert any("could not be placed" in f for f in r.failures)


def test_small_replicas_stay_in_one_rack_and_spread():
    # replicas of 4 nodes (32 chips): one per rack first, then pairs
    r = plan_facility(None, two_pods_of_four(), Redundancy(level="rack", n_plus=0), [pool("a", 8, 32, arrival=1.0)])
    assert all(len(p.spans) == 1 for p in r.placements)
    assert Counter(p.spans[0].rack for p in r.placements).most_common(1)[0][1] == 1
    assert_invariants(r)


def test_placement_is_deterministic():
    pools = [pool("a", 3, 96), pool("b", 2, 64, arrival=4.0)]
    a = plan_facility(None, two_pods_of_four(), Redundancy(level="rack"), pools).to_dict()
    b = plan_facility(None, two_pods_of_four(), Redundancy(level="rack"), pools).to_dict()
    assert a == b


@settings(max_examples=30, deadline=None)
@given(
    pods_per_row=st.integers(1, 3),
    racks_per_pod=st.integers(1, 5),
    rows=st.integers(1, 2),
    replicas=st.lists(st.tuples(st.integers(0, 5), st.integers(1, 40)), min_size=1, max_size=3),
    level=st.sampled_from(["node", "rack", "pod", "row", "feed", "cooling"]),
)
def test_invariants_hold_on_random_sites(pods_per_row, racks_per_pod, rows, replicas, level):
    fac = make_facility(rows=rows, pods_per_row=pods_per_row, racks_per_pod=racks_per_pod,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 3, "redundancy": 1})
    pod_nodes = racks_per_pod * 8
    pools = [pool(f"b{i}", n, 8 * min(nodes, pod_nodes), arrival=1.0) for i, (n, nodes) in enumerate(replicas)]
    r = plan_facility(None, fac, Redundancy(level=level, n_plus=1), pools)
    assert_invariants(r)
    placed = Counter(p.pool for p in r.placements)
    for pr in r.pools:
        assert placed[pr.name] == pr.replicas_final
        assert pr.replicas_final + pr.unplaced >= pr.replicas_initial
        required = next(v for v in r.pools and r.level(level).pools if v.pool == pr.name)
        stopped = any("cannot hold" in n or n.startswith(f"pool {pr.name}: ") for n in r.notes)
        if pr.unplaced == 0 and not stopped:
            # the feedback stops only when N+1 holds, the room is full, or adding is futile (noted)
            assert required.check.passed
