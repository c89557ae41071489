"""The facility model end to end: place, budget, failure domains, N+1 feedback.

:func:`plan_facility` is what ``lpuplan facility`` and ``lpuplan plan`` call.
Steps: resolve the platform from the catalogue; resolve the room
(:mod:`facility.layout`); place every pool's replicas (:mod:`facility.placement`);
then repeat: budgets (:mod:`facility.power`, :mod:`facility.cooling`), failure
domains (:mod:`facility.domains`), and for every pool that fails N+``n_plus``
at the required level (or its normal-state check), one more replica, placed
into the existing plan; until every pool passes or the room is full. The
result keeps every verdict with its margin, so a failing plan still shows
what fails and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Sequence

from dimensioning.errors import InvalidInput
from dimensioning.inputs import Redundancy

from facility.catalog import Catalog, Platform, load_catalog, resolve_platform
from facility.checks import BudgetCheck
from facility.cooling import ZoneCooling, zone_cooling
from facility.demand import PoolCheck, PoolDemand, check_pool
from facility.domains import DomainImpact, LevelVerdict, evaluate_domains
from facility.failure import FailureImpact, FailureModel
from facility.inputs import FacilitySpec, HardwareSpec
from facility.layout import Layout, build_layout
from facility.memory_fit import ReplicaSize
from facility.placement import Placer, ReplicaPlacement
from facility.power import PowerTotal, RackPower, power_checks, rack_power
from facility.topology import site_graph

_STALL_LIMIT = 3  # consecutive added replicas without more survivors

__all__ = ["NodeSlot", "SharedRack", "PoolResult", "FacilityResult", "plan_facility"]


@dataclass(frozen=True)
class NodeSlot:
    """One node position of a populated rack, for elevations and exports."""

    rack: str
    position: int
    u_position: int
    u_height: int
    role: str  # "compute" | "spare" | "empty"
    replica: str
    pool: str
    phase: int
    typical_kw: float
    max_kw: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "rack": self.rack,
            "position": self.position + 1,
            "u_position": self.u_position,
            "u_height": self.u_height,
            "role": self.role,
            "replica": self.replica,
            "pool": self.pool,
            "phase": self.phase + 1,
            "typical_kw": self.typical_kw,
            "max_kw": self.max_kw,
        }


@dataclass(frozen=True)
class SharedRack:
    """A rack holding parts of several replicas: losing it kills each of them."""

    rack: str
    replicas: tuple[str, ...]
    pools_hit_twice: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rack": self.rack, "replicas": list(self.replicas), "pools_hit_twice": list(self.pools_hit_twice)}


@dataclass(frozen=True)
class PoolResult:
    """One pool: its demand, replicas before and after the N+1 feedback, its normal-state check."""

    demand: PoolDemand
    nodes_per_replica: int
    replicas_initial: int
    replicas_final: int
    unplaced: int
    normal: PoolCheck
    size: ReplicaSize | None = None

    @property
    def name(self) -> str:
        return self.demand.name

    @property
    def added(self) -> int:
        return self.replicas_final - self.replicas_initial

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "demand": self.demand.to_dict(),
            "nodes_per_replica": self.nodes_per_replica,
            "replicas_initial": self.replicas_initial,
            "replicas_final": self.replicas_final,
            "replicas_added": self.added,
            "unplaced": self.unplaced,
            "normal": self.normal.to_dict(),
            "size": self.size.to_dict() if self.size is not None else None,
        }


@dataclass(frozen=True)
class FacilityResult:
    """Everything the facility model computed; renderers and exporters only read it."""

    passed: bool
    failures: tuple[str, ...]
    required_level: str
    required_level_source: str
    n_plus: int
    layout: Layout
    platform: Platform
    pools: tuple[PoolResult, ...]
    placements: tuple[ReplicaPlacement, ...]
    nodes: tuple[NodeSlot, ...]
    racks: tuple[RackPower, ...]
    power_totals: tuple[PowerTotal, ...]
    zones: tuple[ZoneCooling, ...]
    budget_checks: tuple[BudgetCheck, ...]
    levels: tuple[LevelVerdict, ...]
    domains: tuple[DomainImpact, ...]
    shared_racks: tuple[SharedRack, ...]
    feedback_rounds: int
    notes: tuple[str, ...] = field(default=())

    def level(self, name: str) -> LevelVerdict:
        return next(v for v in self.levels if v.level == name)

    @cached_property
    def failure_model(self) -> FailureModel:
        """The failure-domain model of this plan (built once, on first use): ``.impact("rack:...")``, ``.worst(...)``."""
        return FailureModel.from_result(self)

    def impact(self, domains: str | Sequence[str]) -> FailureImpact:
        """What losing ``domains`` (one id or several, all at once) takes and what survives.

        Ids are graph node names, optionally with their level: ``"rack:row01-pod02-rack05"``,
        ``["feed:row01-panel-A", "feed:row01-panel-B"]`` (:meth:`facility.failure.FailureModel.impact`).
        """
        return self.failure_model.impact(domains)

    def pool(self, name: str) -> PoolResult:
        return next(p for p in self.pools if p.name == name)

    @property
    def replica_counts(self) -> dict[str, int]:
        """Final replicas per pool, after the N+1 feedback."""
        return {p.name: p.replicas_final for p in self.pools}

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form (``lpuplan.output.dumps_json``)."""
        return {
            "passed": self.passed,
            "failures": list(self.failures),
            "required_level": self.required_level,
            "required_level_source": self.required_level_source,
            "n_plus": self.n_plus,
            "feedback_rounds": self.feedback_rounds,
            "layout": self.layout.to_dict(),
            "platform": self.platform.to_dict(),
            "pools": [p.to_dict() for p in self.pools],
            "placements": [p.to_dict() for p in self.placements],
            "nodes": [n.to_dict() for n in self.nodes],
            "racks": [r.to_dict() for r in self.racks if r.powered_nodes > 0],
            "power_totals": [t.to_dict() for t in self.power_totals],
            "cooling_zones": [z.to_dict() for z in self.zones if z.heat_max_kw > 0],
            "budget_checks": [c.to_dict() for c in self.budget_checks],
            "levels": [v.to_dict() for v in self.levels],
            "domains": [d.to_dict() for d in self.domains],
            "shared_racks": [s.to_dict() for s in self.shared_racks],
            "notes": list(self.notes),
        }


def _validate_pools(pools: Sequence[PoolDemand], layout: Layout, platform: Platform) -> dict[str, int]:
    names = [p.name for p in pools]
    if not pools:
        raise InvalidInput("pools", [], "give at least one pool (bucket) to place")
    if len(set(names)) != len(names):
        raise InvalidInput("pools", names, "pool names repeat: give each bucket a unique name")
    nodes: dict[str, int] = {}
    pod_nodes = layout.racks_per_pod * layout.usable_nodes_per_rack
    fabric_max = int(platform.fabric_max_chips.value)
    for p in pools:
        n = -(-p.chips_per_replica // layout.chips_per_node)
        if n > pod_nodes:
            need = -(-n // layout.usable_nodes_per_rack)
            raise InvalidInput(
                "facility.racks_per_pod",
                layout.racks_per_pod,
                f"a replica of pool {p.name} takes {n} nodes ({need} racks of {layout.usable_nodes_per_rack}"
                f" usable nodes) but must stay in one pod: use racks_per_pod >= {need}",
            )
        if p.chips_per_replica > fabric_max:
            raise InvalidInput(
                f"pool[{p.name}].chips_per_replica",
                p.chips_per_replica,
                f"above the fabric's {fabric_max} chips ({platform.fabric_max_chips.reference}):"
                " split the model or override fabric_max_chips",
            )
        nodes[p.name] = n
    return nodes


def _node_slots(layout: Layout, placer: Placer, placements: Sequence[ReplicaPlacement]) -> list[NodeSlot]:
    owner: dict[tuple[int, int], ReplicaPlacement] = {}
    for p in placements:
        for s in p.spans:
            for pos in range(s.first_position, s.first_position + s.nodes):
                owner[(s.rack_index, pos)] = p
    out = []
    usable = layout.usable_nodes_per_rack
    typ, mx = layout.node_power_typical_w / 1e3, layout.node_power_max_w / 1e3
    for g, used in enumerate(placer.fill):
        if used == 0:
            continue
        name = layout.rack_name(g)
        for pos in range(layout.nodes_per_rack):
            u = layout.node_u_position(pos)
            if pos < used:
                rep = owner[(g, pos)]
                out.append(NodeSlot(name, pos, u, layout.node_u_height, "compute", rep.replica, rep.pool,
                                    layout.phase_of(pos), typ, mx))
            elif pos >= usable:
                powered = layout.spare_nodes_powered
                out.append(NodeSlot(name, pos, u, layout.node_u_height, "spare", "", "", layout.phase_of(pos),
                                    typ if powered else 0.0, mx if powered else 0.0))
            else:
                out.append(NodeSlot(name, pos, u, layout.node_u_height, "empty", "", "", layout.phase_of(pos), 0.0, 0.0))
    return out


def _shared_racks(layout: Layout, placer: Placer) -> list[SharedRack]:
    out = []
    for g, rids in enumerate(placer.rack_replicas):
        if len(rids) > 1:
            reps = [placer.placements[r] for r in rids]
            pools = [p.pool for p in reps]
            twice = sorted({q for q in pools if pools.count(q) > 1})
            out.append(SharedRack(layout.rack_name(g), tuple(p.replica for p in reps), tuple(twice)))
    return out


def plan_facility(
    hardware: HardwareSpec | None,
    facility: FacilitySpec,
    redundancy: Redundancy,
    pools: Sequence[PoolDemand],
    *,
    catalog: Catalog | None = None,
    sizes: dict[str, ReplicaSize] | None = None,
    progress: Callable[[str], None] | None = None,
) -> FacilityResult:
    """Place ``pools`` in ``facility``, check every budget and failure domain, add replicas for N+k.

    Parameters
    ----------
    hardware, facility, redundancy
        The project file's ``[hardware]``, ``[facility]`` and ``[redundancy]``
        tables (``hardware=None``: the catalogue's default platform).
        ``redundancy.level`` is the level N+``n_plus`` must hold at (default
        ``"rack"``, reported as assumed).
    pools
        One :class:`PoolDemand` per bucket; ``replicas`` is the starting count.
    sizes
        Optional memory-fit arithmetic per pool, carried into the result.

    Returns
    -------
    FacilityResult
        ``passed`` is true when every budget check, every pool's normal check
        and N+``n_plus`` at the required level pass and every replica is placed.
    """
    hardware = hardware or HardwareSpec()
    catalog = catalog or load_catalog(hardware.catalog)
    platform = resolve_platform(catalog, hardware.platform, hardware.override)
    layout = build_layout(facility, platform)
    notes: list[str] = []
    level = redundancy.level or "rack"
    level_source = "given" if redundancy.level is not None else "assumed"
    if redundancy.level is None:
        notes.append('redundancy.level not given: N+1 is checked at level "rack" (assumed)')
    n_plus = redundancy.n_plus
    nodes = _validate_pools(pools, layout, platform)
    demands = {p.name: p for p in pools}
    say = progress or (lambda _msg: None)

    placer = Placer(layout, level)
    count = {p.name: 0 for p in pools}
    unplaced = {p.name: 0 for p in pools}
    order = sorted(pools, key=lambda p: (-nodes[p.name], p.name))
    say("placing replicas")
    for round_ in range(max((p.replicas for p in pools), default=0)):
        for p in order:
            if round_ < p.replicas:
                if placer.place(p.name, count[p.name], nodes[p.name]) is None:
                    unplaced[p.name] += 1
                else:
                    count[p.name] += 1

    rounds = 0
    best_operational: dict[str, int] = {}
    stalls = {name: 0 for name in demands}
    given_up: set[str] = set()
    while True:
        say(f"budgets and failure domains (feedback round {rounds})")
        racks = rack_power(layout, placer.fill)
        checks, totals = power_checks(layout, racks)
        zones, cooling_checks = zone_cooling(layout, racks)
        checks += cooling_checks
        placements = placer.placements
        model = FailureModel(site_graph(layout, placements, racks, zones))
        worst = model.worst(level, n_plus, pools=sorted(demands))
        failing = []
        for name in sorted(demands):
            w = worst[name]
            operational = count[name] - w.lost
            ok = check_pool(demands[name], operational).passed
            ok = ok and check_pool(demands[name], count[name], degraded=False).passed
            if not ok and w.whole_site and name not in given_up:
                # the worst k domains darken the whole room: no placement of another replica survives them
                given_up.add(name)
                notes.append(f"N+{n_plus} at level {level} cannot hold for pool {name}: losing"
                             f" {' + '.join(w.domains)} darkens every rack of the room; no replicas were added for it")
            # adding replicas that never raise the survivors (every one lands in the worst domain) is futile
            if operational > best_operational.get(name, -1):
                best_operational[name] = operational
                stalls[name] = 0
            elif rounds:
                stalls[name] += 1
            if not ok and stalls[name] >= _STALL_LIMIT and name not in given_up:
                given_up.add(name)
                notes.append(f"pool {name}: {_STALL_LIMIT} added replicas did not raise the survivors of the worst"
                             f" {level} loss; stopped adding")
            if not ok and unplaced[name] == 0 and name not in given_up:
                failing.append(name)
        if not failing:
            break
        rounds += 1
        for name in failing:
            if placer.place(name, count[name], nodes[name], added_by_feedback=True) is None:
                unplaced[name] += 1
                notes.append(f"pool {name}: no room for the replica N+{n_plus} at level {level} needs")
            else:
                count[name] += 1

    say("verdicts")
    verdicts, impacts = evaluate_domains(model, demands, count, required_level=level, n_plus=n_plus)
    pool_results = []
    for p in pools:
        pool_results.append(
            PoolResult(
                demand=p,
                nodes_per_replica=nodes[p.name],
                replicas_initial=p.replicas,
                replicas_final=count[p.name],
                unplaced=unplaced[p.name],
                normal=check_pool(p, count[p.name], degraded=False),
                size=(sizes or {}).get(p.name),
            )
        )
    failures: list[str] = []
    for c in checks:
        if not c.passed:
            failures.append(f"{c.element}: {c.kind} {c.value:.2f} {c.unit} > {c.limit:.2f} {c.unit} (short by {-c.margin:.2f})")
    for pr in pool_results:
        if pr.unplaced:
            failures.append(f"pool {pr.name}: {pr.unplaced} replica(s) could not be placed (room full)")
        if not pr.normal.passed:
            failures.append(f"pool {pr.name}: normal-state check fails with {pr.replicas_final} replicas")
    required = next(v for v in verdicts if v.level == level)
    for pv in required.pools:
        if not pv.check.passed:
            failures.append(
                f"pool {pv.pool}: N+{n_plus} at level {level} fails: worst domain {pv.worst_domain} leaves"
                f" {pv.check.n_operational} replicas (capacity margin {pv.check.capacity_margin_rps:.3g} req/s,"
                f" p99 {pv.check.p99_s:.3g} s vs {pv.check.slo_s:.3g} s)"
            )
    shared = _shared_racks(layout, placer)
    for s in shared:
        if s.pools_hit_twice:
            notes.append(
                f"{s.rack} holds parts of {', '.join(s.replicas)}: losing it kills"
                f" {len(s.replicas)} replicas ({', '.join(s.pools_hit_twice)} hit more than once)"
            )
    if any(c.method == "approximation" for v in verdicts for pv in v.pools for c in (pv.check,)):
        notes.append("degraded p99 from an approximation: dimensioning.queueing is not available")
    result = FacilityResult(
        passed=not failures,
        failures=tuple(failures),
        required_level=level,
        required_level_source=level_source,
        n_plus=n_plus,
        layout=layout,
        platform=platform,
        pools=tuple(pool_results),
        placements=tuple(placements),
        nodes=tuple(_node_slots(layout, placer, placements)),
        racks=tuple(racks),
        power_totals=tuple(totals),
        zones=tuple(zones),
        budget_checks=tuple(checks),
        levels=tuple(verdicts),
        domains=tuple(impacts),
        shared_racks=tuple(shared),
        feedback_rounds=rounds,
        notes=tuple(notes),
    )
    result.__dict__["failure_model"] = model  # the last round's model is this placement's
    return result
