"""Failure domains over the topology graph: what a loss takes down, and the worst k of a level.

A failure domain is a node of the graph (:mod:`facility.topology`) whose loss
removes everything that depends on it (DESIGN.md, "Facility"). The rules,
applied to any set of failed elements at once:

- **containment**: a failed site, row, pod, rack or node takes everything it
  contains (site -> row -> pod -> rack -> node -> card); a failed card takes
  its node. A replica dies when any of its nodes dies (a replica is one
  compiled program over all its chips).
- **power** (one tree per side, A and B): a failed power element cuts every
  rack below it on its side. A rack dies only when **all** its feeds are cut.
  A surviving element carries, for each rack below it that still draws through
  it, the rack's maximum draw when the rack's other side is cut and half of it
  otherwise; an element whose load then exceeds its ``capacity_kw`` (or, for a
  rack PDU, a phase leg above ``leg_capacity_kw``) trips and cuts its subtree
  too, repeated until nothing more trips. So a room, row or pod supply that
  cannot carry its load alone takes down what it feeds when the other side is
  lost. Loads follow the power trees only: a rack lost to another cause
  (containment, cooling, fabric) is still counted as drawing (the safe side).
- **cooling**: a zone dies (and takes its racks) when the units left cannot
  remove its heat (the planned maximum draw of its racks): ``heat_max_kw >
  (units installed - units lost) x unit_kw``; a failed zone element dies outright.
- **fabric**: a rack's chip-to-chip link group takes every replica that spans
  that rack and another; a pod's Ethernet uplink group (or the spine) takes
  every replica of the pod (or of the site) off the network.

What a set takes is what dies with it and not without it (a normal state that
already fails a budget is reported by the budget checks, not charged to a domain).

**N+k at a level** (:meth:`FailureModel.worst`) is decided by the worst
``k``-subset of that level's domains, exactly. Losses only interact where the
domains' influence overlaps: power domains over the racks they feed (closed
over the supplies that could trip), cooling units over their zone; containment
and fabric domains never interact (their loss is fixed). The search:

1. every domain's own loss ``J(d)``;
2. a domain that another domain of the same level always outdoes is dropped
   (a containment domain whose loss is inside another's; a power element below
   another of its side when no supply can trip; cooling units beyond ``k`` in
   one zone, which are interchangeable);
3. every connected set of at most ``k`` interacting domains is evaluated
   jointly, and kept when it takes more than its members do one by one
   (panel A with panel B of one row; two units of one zone);
4. a branch and bound over these items picks the ``k`` domains whose union of
   losses is largest for each pool (the bound: the best additive value with
   the budget left).

Sets that do not interact lose exactly the union of their parts, and every
subset decomposes into interacting clusters, so the result is the exact
maximum. Where a supply can trip, losses need not grow with more failures
(a dead rack no longer loads its feed); the search then returns an upper
bound, and :meth:`FailureModel.worst` evaluates the chosen set directly and
says ``exact`` only when it reaches that bound. The same holds when a level
has more than 200,000 interacting sets to evaluate (``k >= 3`` around a
supply that can trip): each domain then stands for everything it could take
in any combination.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping, Sequence

import networkx as nx

from dimensioning.errors import InvalidInput

from facility.topology import POWER_KINDS, SIDES

__all__ = [
    "LEVELS",
    "LEVEL_OF_KIND",
    "UnknownDomain",
    "FeedLoad",
    "PoolImpact",
    "FailureImpact",
    "WorstCase",
    "FailureModel",
]

LEVELS: tuple[str, ...] = ("node", "rack", "pod", "row", "feed", "cooling", "fabric")
"""Failure-domain levels, in the order reports list them."""

LEVEL_OF_KIND: dict[str, str] = {
    "node": "node",
    "rack": "rack",
    "pod": "pod",
    "row": "row",
    "room supply": "feed",
    "power panel": "feed",
    "pod power panel": "feed",
    "rack PDU": "feed",
    "cooling unit": "cooling",
    "chip-to-chip link group": "fabric",
    "Ethernet uplink group": "fabric",
}
"""The level of each kind of graph node that is a failure domain."""

_TOL = 1e-9  # relative: a load equal to its limit holds despite float rounding
_DETERMINISTIC_LEVELS = frozenset({"node", "rack", "pod", "row", "fabric"})
_JOINT_LIMIT = 200_000  # interacting sets evaluated jointly before the search settles for an upper bound


class UnknownDomain(InvalidInput):
    """A domain id that names no element of the facility graph (or one of another level)."""

    def __init__(self, domain: str, fix: str) -> None:
        super().__init__("domain", domain, fix)


@dataclass(frozen=True)
class FeedLoad:
    """A surviving power element whose load changed: what it carries now against its limit, kW."""

    element: str
    kind: str
    side: str
    load_kw: float
    baseline_kw: float
    limit_kw: float | None
    worst_leg_kw: float | None = None
    leg_limit_kw: float | None = None

    @property
    def share_of_limit(self) -> float | None:
        """``load / limit`` (1.0 = at the continuous-load limit, i.e. 80% of the breaker)."""
        return self.load_kw / self.limit_kw if self.limit_kw else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "element": self.element,
            "kind": self.kind,
            "side": self.side,
            "load_kw": self.load_kw,
            "baseline_kw": self.baseline_kw,
            "limit_kw": self.limit_kw,
            "worst_leg_kw": self.worst_leg_kw,
            "leg_limit_kw": self.leg_limit_kw,
        }


@dataclass(frozen=True)
class PoolImpact:
    """One pool under a loss: replicas before, lost, left, and which ones die."""

    pool: str
    replicas: int
    lost: int
    left: int
    replicas_lost: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "replicas": self.replicas, "lost": self.lost, "left": self.left,
                "replicas_lost": list(self.replicas_lost)}


@dataclass(frozen=True)
class FailureImpact:
    """What the loss of ``domains`` (all at once) takes and what survives.

    ``chips_lost`` counts the chips on nodes that die; ``replica_chips_lost``
    the chips of every replica that dies (a replica with one dead node idles
    all its chips). ``feeds_lost`` are the power elements that stop carrying
    (failed, below a failure, or tripped); ``feeds_tripped`` the ones that
    tripped on overload; ``feed_loads`` the surviving power elements whose
    load changed, with their limits (``limit_kw`` is the continuous limit:
    breaker x power factor x derate).
    """

    domains: tuple[str, ...]
    replicas_lost: tuple[str, ...]
    pools: tuple[PoolImpact, ...]
    racks_lost: tuple[str, ...]
    nodes_lost: int
    chips_lost: int
    replica_chips_lost: int
    feeds_lost: tuple[str, ...]
    feeds_tripped: tuple[str, ...]
    zones_lost: tuple[str, ...]
    feed_loads: tuple[FeedLoad, ...]

    def pool(self, name: str) -> PoolImpact:
        return next(p for p in self.pools if p.pool == name)

    @property
    def replicas_left(self) -> dict[str, int]:
        return {p.pool: p.left for p in self.pools}

    def to_dict(self) -> dict[str, Any]:
        return {
            "domains": list(self.domains),
            "replicas_lost": list(self.replicas_lost),
            "pools": [p.to_dict() for p in self.pools],
            "racks_lost": list(self.racks_lost),
            "nodes_lost": self.nodes_lost,
            "chips_lost": self.chips_lost,
            "replica_chips_lost": self.replica_chips_lost,
            "feeds_lost": list(self.feeds_lost),
            "feeds_tripped": list(self.feeds_tripped),
            "zones_lost": list(self.zones_lost),
            "feed_loads": [f.to_dict() for f in self.feed_loads],
        }


@dataclass(frozen=True)
class WorstCase:
    """The worst ``k`` domains of a level for one pool (or all pools): replicas lost and which domains."""

    level: str
    k: int
    pool: str | None
    lost: int
    domains: tuple[str, ...]
    exact: bool
    whole_site: bool  # the worst set darkens every rack: adding replicas cannot help


@dataclass
class _Outage:
    replicas: set[int]
    racks: set[int]
    nodes: set[str]
    power_off: set[str]
    tripped: list[str]
    zones: set[str]
    cut: dict[str, set[int]]


class FailureModel:
    """The failure rules (module docstring) compiled from a facility graph.

    Build once per placement (``FailureModel(graph)`` or
    :meth:`from_result`), then ask :meth:`impact` for any set of domains and
    :meth:`worst` for the worst ``k`` of a level. Domain ids are graph node
    names (``"row01-pod02-rack05"``), optionally prefixed with their level
    (``"rack:row01-pod02-rack05"``, ``"feed:row01-panel-A"``).
    """

    def __init__(self, graph: nx.DiGraph) -> None:
        self.graph = graph
        nodes = graph.nodes
        self._kind: dict[str, str] = {n: k for n, k in graph.nodes(data="kind")}
        by_rel: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for u, v, rel in graph.edges(data="relation"):
            by_rel[rel].append((u, v))
        # racks
        self.rack_names: list[str] = [n for n, k in self._kind.items() if k == "rack"]
        self._rack_index = {n: i for i, n in enumerate(self.rack_names)}
        self._rack_max = [float(nodes[n].get("max_kw", 0.0)) for n in self.rack_names]
        self._rack_legs = [
            tuple(float(nodes[n].get(f"leg{i + 1}_max_kw", 0.0)) for i in range(int(nodes[n].get("legs", 1))))
            for n in self.rack_names
        ]
        # containment
        children: dict[str, list[str]] = defaultdict(list)
        for u, v in by_rel["contains"]:
            children[u].append(v)
        self._rack_nodes: list[list[str]] = [[] for _ in self.rack_names]
        self._node_rack: dict[str, int] = {}
        self._card_node: dict[str, str] = {}
        for rack, r in self._rack_index.items():
            for child in children.get(rack, ()):
                if self._kind.get(child) == "node":
                    self._rack_nodes[r].append(child)
                    self._node_rack[child] = r
                    for card in children.get(child, ()):
                        self._card_node[card] = child
        self._contain_racks: dict[str, frozenset[int]] = {}
        for n, k in self._kind.items():
            if k in ("site", "row", "pod", "rack"):
                self._contain_racks[n] = frozenset(self._descendant_racks(n, children))
        # replicas
        self.replica_names: list[str] = []
        self.replica_pool: list[str] = []
        rid_of: dict[str, int] = {}
        self._node_rid: dict[str, int] = {}
        self._node_chips: dict[str, int] = {}
        replica_racks: list[set[int]] = []
        replica_chips: list[int] = []
        for r, members in enumerate(self._rack_nodes):
            for n in members:
                attrs = nodes[n]
                self._node_chips[n] = int(attrs.get("chips", 0))
                name = attrs.get("replica") or ""
                if attrs.get("role") != "compute" or not name:
                    continue
                rid = rid_of.get(name)
                if rid is None:
                    rid = rid_of[name] = len(self.replica_names)
                    self.replica_names.append(name)
                    self.replica_pool.append(str(attrs.get("pool", "")))
                    replica_racks.append(set())
                    replica_chips.append(0)
                self._node_rid[n] = rid
                replica_racks[rid].add(r)
                replica_chips[rid] += self._node_chips[n]
        self._rid_of = rid_of
        self._replica_chips = replica_chips
        self._rack_rids: list[frozenset[int]] = [
            frozenset(self._node_rid[n] for n in members if n in self._node_rid) for members in self._rack_nodes
        ]
        self.pool_replicas: dict[str, int] = dict(Counter(self.replica_pool))
        # power trees
        self._power: dict[str, dict[str, Any]] = {}
        power_children: dict[str, list[str]] = defaultdict(list)
        parent: dict[str, str] = {}
        rack_feeds: list[list[str]] = [[] for _ in self.rack_names]
        for u, v in by_rel["powers"]:
            if v in self._rack_index:
                rack_feeds[self._rack_index[v]].append(u)
            else:
                power_children[u].append(v)
                parent[v] = u
        for n, k in self._kind.items():
            if k in POWER_KINDS:
                attrs = nodes[n]
                cap = attrs.get("capacity_kw")
                leg = attrs.get("leg_capacity_kw")
                self._power[n] = {
                    "side": str(attrs.get("side", "")),
                    "capacity": float(cap) if cap is not None else None,
                    "leg_capacity": float(leg) if leg is not None else None,
                    "parent": parent.get(n),
                }
        desc: dict[str, set[int]] = {n: set() for n in self._power}
        for r, feeds in enumerate(rack_feeds):
            for f in feeds:
                e: str | None = f
                while e is not None:
                    desc[e].add(r)
                    e = self._power[e]["parent"]
        self._power_racks = {n: frozenset(s) for n, s in desc.items()}
        self._power_below: dict[str, tuple[str, ...]] = {}
        for n in self._power:
            below, stack = [], list(power_children.get(n, ()))
            while stack:
                c = stack.pop()
                below.append(c)
                stack.extend(power_children.get(c, ()))
            self._power_below[n] = tuple(below)
        self._rack_feeds = rack_feeds
        # weak elements: can trip when their side carries the whole subtree alone
        self._weak: list[str] = [n for n in self._power if self._can_trip(n)]
        # cooling
        self._zone_racks: dict[str, frozenset[int]] = {}
        self._zone_units: dict[str, list[str]] = defaultdict(list)
        self._unit_zone: dict[str, str] = {}
        zone_members: dict[str, set[int]] = defaultdict(set)
        for u, v in by_rel["cools"]:
            if v in self._rack_index:
                zone_members[u].add(self._rack_index[v])
            else:
                self._zone_units[v].append(u)
                self._unit_zone[u] = v
        for n, k in self._kind.items():
            if k == "cooling zone":
                self._zone_racks[n] = frozenset(zone_members.get(n, ()))
        self._zone_heat = {z: sum(self._rack_max[r] for r in racks) for z, racks in self._zone_racks.items()}
        self._unit_kw = {u: float(nodes[u].get("unit_kw", 0.0)) for u in self._unit_zone}
        # fabric
        self._c2c_rids: dict[str, frozenset[int]] = {}
        for u, v in by_rel["fabric"]:
            r = self._rack_index[v]
            self._c2c_rids[u] = frozenset(rid for rid in self._rack_rids[r] if len(replica_racks[rid]) > 1)
        eth_children: dict[str, list[str]] = defaultdict(list)
        for u, v in by_rel["ethernet"]:
            eth_children[u].append(v)
        self._eth_racks: dict[str, frozenset[int]] = {}
        for n in eth_children:
            pods, stack = set(), [n]
            while stack:
                c = stack.pop()
                for d in eth_children.get(c, ()):
                    if self._kind.get(d) == "pod":
                        pods.add(d)
                    else:
                        stack.append(d)
            self._eth_racks[n] = frozenset().union(*(self._contain_racks[p] for p in pods)) if pods else frozenset()
        self._single: dict[str, frozenset[int]] = {}
        self._base = self._outage(())
        self._populated = frozenset(r for r, rids in enumerate(self._rack_rids) if rids)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_result(cls, result: Any) -> "FailureModel":
        """The model of a :class:`facility.plan.FacilityResult` (its graph without cards)."""
        from facility.topology import build_topology

        return cls(build_topology(result, cards=False))

    def _descendant_racks(self, start: str, children: Mapping[str, list[str]]) -> set[int]:
        out, stack = set(), [start]
        while stack:
            n = stack.pop()
            if n in self._rack_index:
                out.add(self._rack_index[n])
                continue
            stack.extend(c for c in children.get(n, ()) if self._kind.get(c) in ("row", "pod", "rack"))
        return out

    def _can_trip(self, element: str) -> bool:
        info = self._power[element]
        racks = self._power_racks[element]
        if info["capacity"] is not None and sum(self._rack_max[r] for r in racks) > info["capacity"] * (1 + _TOL) + _TOL:
            return True
        if info["leg_capacity"] is not None:
            for leg in range(max((len(self._rack_legs[r]) for r in racks), default=0)):
                load = sum(self._rack_legs[r][leg] for r in racks if leg < len(self._rack_legs[r]))
                if load > info["leg_capacity"] * (1 + _TOL) + _TOL:
                    return True
        return False

    @property
    def supplies_can_trip(self) -> bool:
        """True when some power element cannot carry its whole subtree alone (a failing per-side check)."""
        return bool(self._weak)

    # ------------------------------------------------------------------ domain ids
    def level_of(self, element: str) -> str | None:
        return LEVEL_OF_KIND.get(self._kind.get(element, ""))

    def resolve(self, domain: str) -> str:
        """The graph node a domain id names (``"level:name"`` or ``"name"``); :class:`UnknownDomain` if none."""
        level, sep, name = domain.partition(":")
        if not sep:
            level, name = "", domain
        if name not in self._kind:
            raise UnknownDomain(domain, "name an element of the facility graph, e.g. rack:row01-pod01-rack01,"
                                        " feed:row01-panel-A, cooling:row01-zone01-unit01 (see failure_domains.csv)")
        if level and level != self.level_of(name) and level != self._kind[name]:
            raise UnknownDomain(domain, f"{name} is a {self._kind[name]} (level {self.level_of(name) or 'none'}):"
                                        f" write {self.level_of(name) or self._kind[name]}:{name} or just {name}")
        return name

    def domains(self, level: str) -> tuple[str, ...]:
        """The failure domains of ``level`` that touch a placed replica, in site order."""
        if level not in LEVELS:
            raise InvalidInput("level", level, f"use one of {list(LEVELS)}")
        pop = self._populated
        out = []
        for n, k in self._kind.items():
            if LEVEL_OF_KIND.get(k) != level:
                continue
            if k == "node":
                if n in self._node_rid:
                    out.append(n)
            elif k in ("rack", "pod", "row"):
                if self._contain_racks[n] & pop:
                    out.append(n)
            elif k in POWER_KINDS:
                if self._power_racks[n] & pop:
                    out.append(n)
            elif k == "cooling unit":
                if self._zone_racks[self._unit_zone[n]] & pop:
                    out.append(n)
            elif k == "chip-to-chip link group":
                if self._rack_rids[self._rack_index[next(iter(self.graph.successors(n)))]]:
                    out.append(n)
            elif k == "Ethernet uplink group":
                if self._eth_racks[n] & pop:
                    out.append(n)
        return tuple(out)

    # ------------------------------------------------------------------ evaluation
    def _power_off(self, cut_elements: Iterable[str]) -> set[str]:
        off = set()
        for e in cut_elements:
            off.add(e)
            off.update(self._power_below[e])
        return off

    def _loads(self, element: str, cut: Mapping[str, set[int]]) -> tuple[float, tuple[float, ...]]:
        side = self._power[element]["side"]
        other = "B" if side == "A" else "A"
        mine, theirs = cut.get(side, set()), cut.get(other, set())
        total = 0.0
        legs: list[float] = []
        for r in self._power_racks[element]:
            if r in mine:
                continue
            share = 1.0 if r in theirs else 0.5
            total += self._rack_max[r] * share
            rl = self._rack_legs[r]
            if len(legs) < len(rl):
                legs.extend([0.0] * (len(rl) - len(legs)))
            for i, kw in enumerate(rl):
                legs[i] += kw * share
        return total, tuple(legs)

    def _overloaded(self, element: str, cut: Mapping[str, set[int]]) -> bool:
        info = self._power[element]
        total, legs = self._loads(element, cut)
        if info["capacity"] is not None and total > info["capacity"] * (1 + _TOL) + _TOL:
            return True
        leg_cap = info["leg_capacity"]
        return leg_cap is not None and any(kw > leg_cap * (1 + _TOL) + _TOL for kw in legs)

    def _outage(self, failed: Iterable[str]) -> _Outage:
        cont: set[int] = set()
        nodes: set[str] = set()
        rids: set[int] = set()
        cut: dict[str, set[int]] = {s: set() for s in SIDES}
        power_failed: list[str] = []
        units_lost: Counter[str] = Counter()
        zones: set[str] = set()
        for e in failed:
            kind = self._kind[e]
            if e in self._contain_racks:
                cont |= self._contain_racks[e]
            elif kind == "node":
                nodes.add(e)
            elif kind == "card":
                nodes.add(self._card_node[e])
            elif e in self._power:
                power_failed.append(e)
                cut[self._power[e]["side"]] |= self._power_racks[e]
            elif kind == "cooling unit":
                units_lost[self._unit_zone[e]] += 1
            elif kind == "cooling zone":
                zones.add(e)
            elif e in self._c2c_rids:
                rids |= self._c2c_rids[e]
            elif e in self._eth_racks:
                cont |= self._eth_racks[e]
        off = self._power_off(power_failed)
        tripped: list[str] = []
        if self._weak:
            changed = True
            while changed:
                changed = False
                for w in self._weak:
                    if w in off:
                        continue
                    if self._overloaded(w, cut):
                        tripped.append(w)
                        off |= self._power_off([w])
                        cut[self._power[w]["side"]] |= self._power_racks[w]
                        changed = True
        dead_racks = cont | (cut["A"] & cut["B"])
        for zone, lost in units_lost.items():
            left = (len(self._zone_units[zone]) - lost) * max((self._unit_kw[u] for u in self._zone_units[zone]), default=0.0)
            if self._zone_heat[zone] > left * (1 + _TOL) + _TOL:
                zones.add(zone)
        for zone in zones:
            dead_racks |= self._zone_racks[zone]
        for r in dead_racks:
            rids |= self._rack_rids[r]
            nodes.update(self._rack_nodes[r])
        for n in nodes:
            rid = self._node_rid.get(n)
            if rid is not None:
                rids.add(rid)
        return _Outage(rids, dead_racks, nodes, off, tripped, zones, cut)

    def lost_replicas(self, failed: Iterable[str]) -> frozenset[int]:
        """Replica indices (into :attr:`replica_names`) that die with ``failed`` and not without (resolved names)."""
        key = tuple(failed)
        if len(key) == 1:  # single domains are asked for by every level's search and by the reports
            hit = self._single.get(key[0])
            if hit is None:
                hit = self._single[key[0]] = frozenset(self._outage(key).replicas - self._base.replicas)
            return hit
        return frozenset(self._outage(key).replicas - self._base.replicas)

    def impact(self, domains: str | Iterable[str]) -> FailureImpact:
        """What losing ``domains`` all at once takes, and what survives (:class:`FailureImpact`).

        ``domains`` is one id or several: graph node names, optionally with
        their level (``"rack:row01-pod02-rack05"``, ``"feed:row01-panel-A"``).

        Examples
        --------
        >>> model = FailureModel.from_result(result)                      # doctest: +SKIP
        >>> model.impact(["row01-panel-A", "row01-panel-B"]).racks_lost   # doctest: +SKIP
        """
        ids = [domains] if isinstance(domains, str) else list(domains)
        names = tuple(dict.fromkeys(self.resolve(d) for d in ids))
        out = self._outage(names)
        base = self._base
        rids = sorted(out.replicas - base.replicas)
        racks = sorted(out.racks - base.racks)
        dead_nodes = out.nodes - base.nodes
        by_pool: dict[str, list[str]] = defaultdict(list)
        for rid in rids:
            by_pool[self.replica_pool[rid]].append(self.replica_names[rid])
        pools = tuple(
            PoolImpact(p, n, len(by_pool.get(p, ())), n - len(by_pool.get(p, ())), tuple(by_pool.get(p, ())))
            for p, n in sorted(self.pool_replicas.items())
        )
        feed_loads = []
        # a load changes only where a rack it feeds changed sides (an element fed by no such rack computes
        # the same sums as in normal running): a rack or pod loss cuts no power and changes no load
        changed = frozenset().union(*(out.cut[side] ^ base.cut[side] for side in SIDES))
        for e, info in self._power.items():
            if e in out.power_off or not self._power_racks[e] & self._populated or not self._power_racks[e] & changed:
                continue
            load, legs = self._loads(e, out.cut)
            base_load, _ = self._loads(e, base.cut)
            if abs(load - base_load) > 1e-12:
                feed_loads.append(FeedLoad(e, self._kind[e], info["side"], load, base_load, info["capacity"],
                                           max(legs) if legs and info["leg_capacity"] is not None else None,
                                           info["leg_capacity"]))
        return FailureImpact(
            domains=names,
            replicas_lost=tuple(self.replica_names[r] for r in rids),
            pools=pools,
            racks_lost=tuple(self.rack_names[r] for r in racks),
            nodes_lost=len(dead_nodes),
            chips_lost=sum(self._node_chips.get(n, 0) for n in dead_nodes),
            replica_chips_lost=sum(self._replica_chips[r] for r in rids),
            feeds_lost=tuple(sorted(out.power_off - base.power_off)),
            feeds_tripped=tuple(t for t in out.tripped if t not in base.tripped),
            zones_lost=tuple(sorted(out.zones - base.zones)),
            feed_loads=tuple(feed_loads),
        )

    # ------------------------------------------------------------------ worst k
    def _tokens(self, element: str) -> frozenset[Any]:
        """What ``element``'s loss can change in combination with others (empty: its loss is fixed)."""
        kind = self._kind[element]
        if kind == "cooling unit":
            return frozenset({("zone", self._unit_zone[element])})
        if element not in self._power:
            return frozenset()
        racks = set(self._power_racks[element])
        grew = True
        while grew:  # load shifted onto a supply that can trip reaches what that supply feeds
            grew = False
            for w in self._weak:
                wr = self._power_racks[w]
                if wr & racks and not wr <= racks:
                    racks |= wr
                    grew = True
        return frozenset(("rack", r) for r in racks)

    def _candidates(self, level: str, k: int) -> list[str]:
        doms = list(self.domains(level))
        if level == "feed" and not self._weak:
            # a power element below a candidate of its side cuts a subset of what that candidate cuts;
            # with no supply able to trip, losing the upper one takes at least what losing the lower one
            # takes, alone or with any other set: the lower one can be dropped
            present = set(doms)
            kept = []
            for d in doms:
                e, dominated = self._power[d]["parent"], False
                while e is not None:
                    if e in present:
                        dominated = True
                        break
                    e = self._power[e]["parent"]
                if not dominated:
                    kept.append(d)
            doms = kept
        elif level == "cooling":
            per_zone: Counter[str] = Counter()
            kept = []
            for d in doms:  # units of one zone are interchangeable: k of them cover every choice
                z = self._unit_zone[d]
                if per_zone[z] < k:
                    per_zone[z] += 1
                    kept.append(d)
            doms = kept
        return doms

    def _items(self, level: str, k: int) -> list[tuple[tuple[str, ...], frozenset[int]]]:
        """Candidate items (domain tuple, replicas lost): singletons and synergistic interacting sets."""
        doms = self._candidates(level, k)
        single = {d: self.lost_replicas([d]) for d in doms}
        items: list[tuple[tuple[str, ...], frozenset[int]]] = []
        if level in _DETERMINISTIC_LEVELS:
            seen: set[frozenset[int]] = set()
            for d in doms:  # equal losses: one of them stands for all
                if single[d] and single[d] not in seen:
                    seen.add(single[d])
                    items.append(((d,), single[d]))
            return items
        items = [((d,), single[d]) for d in doms if single[d]]
        if k < 2:
            return items
        tokens = {d: self._tokens(d) for d in doms}
        holders: dict[Any, list[str]] = defaultdict(list)
        for d in doms:
            for t in tokens[d]:
                holders[t].append(d)
        adj: dict[str, set[str]] = {d: set() for d in doms}
        for group in holders.values():
            if len(group) > 1:
                for a in group:
                    adj[a].update(group)
        for d in doms:
            adj[d].discard(d)
        synergistic = []
        for count, cluster in enumerate(_connected_sets(doms, adj, k)):
            if count >= _JOINT_LIMIT:
                # too many interacting sets to evaluate jointly (k >= 3 around a supply that can trip):
                # each domain stands for everything it could take in any combination, an upper bound
                return [((d,), self._potential(tokens[d]) | single[d]) for d in doms
                        if self._potential(tokens[d]) | single[d]]
            joint = self.lost_replicas(cluster)
            parts = frozenset().union(*(single[d] for d in cluster))
            if joint - parts:
                synergistic.append((cluster, joint))
        return items + synergistic

    def _potential(self, tokens: frozenset[Any]) -> frozenset[int]:
        """Replicas on the racks (or zones) a domain's loss can reach in combination with any others."""
        out: set[int] = set()
        for kind, key in tokens:
            racks = (key,) if kind == "rack" else self._zone_racks[key]
            for r in racks:
                out |= self._rack_rids[r]
        return frozenset(out)

    def worst(self, level: str, k: int, *, pools: Sequence[str] | None = None) -> dict[str | None, WorstCase]:
        """The worst ``k`` domains of ``level``: per pool (keys: pool names) and for all pools (key ``None``).

        ``lost`` is the largest number of the pool's replicas any ``k`` domains
        of the level take together (exact: module docstring); ``domains`` a
        set that takes them (empty when nothing is lost).
        """
        if k < 0:
            raise InvalidInput("n_plus", k, "use 0 or more")
        names = list(pools) if pools is not None else sorted(self.pool_replicas)
        if k == 0:
            return {p: WorstCase(level, 0, p, 0, (), True, False) for p in [*names, None]}
        items = self._items(level, k)
        out: dict[str | None, WorstCase] = {}
        for pool in [*names, None]:
            if pool is None:
                view = items
            else:
                view = []
                for doms, lost in items:
                    mine = frozenset(r for r in lost if self.replica_pool[r] == pool)
                    if mine:
                        view.append((doms, mine))
            value, chosen = _max_cover(view, k)
            exact, whole = True, False
            if chosen:
                direct = self._outage(chosen)
                got = direct.replicas - self._base.replicas
                if pool is not None:
                    got = {r for r in got if self.replica_pool[r] == pool}
                exact = len(got) >= value
                whole = bool(self.rack_names) and len(direct.racks) == len(self.rack_names)
            out[pool] = WorstCase(level, k, pool, value, chosen, exact, whole)
        return out


def _connected_sets(order: Sequence[str], adj: Mapping[str, set[str]], k: int) -> Iterator[tuple[str, ...]]:
    """Every connected set of 2..``k`` vertices, once each (ESU: Wernicke, 2006)."""
    index = {v: i for i, v in enumerate(order)}

    def extend(sub: list[str], sub_nbhd: set[str], ext: set[str], root: int) -> Iterator[tuple[str, ...]]:
        if len(sub) > 1:
            yield tuple(sub)
        if len(sub) == k:
            return
        ext = set(ext)
        while ext:
            w = ext.pop()
            new_ext = set(ext)
            for u in adj[w]:
                if index[u] > root and u not in sub_nbhd and u not in sub:
                    new_ext.add(u)
            yield from extend(sub + [w], sub_nbhd | adj[w] | {w}, new_ext, root)

    for v in order:
        root = index[v]
        ext = {u for u in adj[v] if index[u] > root}
        yield from extend([v], set(adj[v]) | {v}, ext, root)


def _max_cover(items: Sequence[tuple[tuple[str, ...], frozenset[int]]], k: int) -> tuple[int, tuple[str, ...]]:
    """Items of cost ``len(domains)`` with total cost <= ``k`` maximising the union's size (branch and bound)."""
    items = sorted((it for it in items if it[1] and len(it[0]) <= k), key=lambda it: (-len(it[1]), it[0]))
    n = len(items)
    if n == 0:
        return 0, ()
    # ub[i][b]: best additive value from items[i:] with budget b, an item reusable (a relaxation: an upper bound)
    ub = [[0] * (k + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        cost, val = len(items[i][0]), len(items[i][1])
        row, nxt = ub[i], ub[i + 1]
        for b in range(k + 1):
            best = nxt[b]
            if cost <= b:
                best = max(best, val + row[b - cost])
            row[b] = best
    total_replicas = len(frozenset().union(*(it[1] for it in items)))
    best_value = 0
    best_set: tuple[str, ...] = ()

    def dfs(start: int, budget: int, covered: frozenset[int], chosen: tuple[str, ...]) -> None:
        nonlocal best_value, best_set
        value = len(covered)
        if value > best_value:
            best_value, best_set = value, chosen
        if budget == 0 or best_value == total_replicas:
            return
        for j in range(start, n):
            if value + ub[j][budget] <= best_value:
                return
            doms, lost = items[j]
            if len(doms) > budget or lost <= covered:
                continue
            dfs(j + 1, budget - len(doms), covered | lost, chosen + tuple(d for d in doms if d not in chosen))
            if best_value == total_replicas:
                return

    dfs(0, k, frozenset(), ())
    return best_value, best_set
