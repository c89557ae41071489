"""The facility as a networkx graph: containment, power, cooling, fabric.

A directed graph whose edges point from what provides to what depends on it,
so a failure domain's victims are found by following the edges that carry
the dependency (DESIGN.md, "Facility"; the rules are in :mod:`facility.failure`):

- containment (``relation="contains"``): site -> row -> pod -> rack -> node -> card;
- power (``relation="powers"``), one tree per side A and B: room supply
  (``{site}-supply-A``, only where ``[facility.supply] room_kw`` is given) ->
  row power panel (``{row}-panel-A``) -> pod power panel (``{pod}-panel-A``,
  only where ``pod_kw`` is given) -> rack PDU (``{rack}-pdu-A``) -> rack. Every power element carries
  ``side`` and, where a limit is known, ``capacity_kw`` (what that side alone
  may carry continuously; rack PDUs also ``leg_capacity_kw`` per phase leg);
- cooling (``relation="cools"``): cooling unit -> zone -> rack;
- fabric (``relation="fabric"``): a rack's chip-to-chip link group -> the rack,
  chip-to-chip links between every pair of racks of a pod (``relation="c2c"``,
  both directions: the RealScale Dragonfly, Abts et al., "A Software-Defined
  Tensor Streaming Multiprocessor for Large-Scale Machine Learning", ISCA 2022),
  and Ethernet between pods: spine -> pod uplink group -> pod
  (``relation="ethernet"``).

Node attributes: ``kind``; racks carry ``max_kw``, ``typical_kw``, ``legs``
and ``leg1_max_kw`` ... (maximum draw per phase leg); nodes carry ``role``,
``replica``, ``pool``, ``chips``; zones ``heat_max_kw``; units ``unit_kw``.
Every attribute is a string, int or float, so the graph writes to GraphML as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import networkx as nx

from facility.cooling import ZoneCooling
from facility.layout import Layout
from facility.placement import ReplicaPlacement
from facility.power import RackPower

if TYPE_CHECKING:
    from facility.plan import FacilityResult

__all__ = ["SIDES", "POWER_KINDS", "build_topology", "site_graph", "contained_nodes", "graphml_text"]

SIDES: tuple[str, str] = ("A", "B")
POWER_KINDS: frozenset[str] = frozenset({"room supply", "power panel", "pod power panel", "rack PDU"})


def site_graph(
    layout: Layout,
    placements: Sequence[ReplicaPlacement],
    racks: Sequence[RackPower],
    zones: Sequence[ZoneCooling],
    *,
    cards_per_node: int = 0,
) -> nx.DiGraph:
    """The graph of a placed facility (module docstring); ``cards_per_node > 0`` adds the cards under each node.

    Parameters
    ----------
    layout
        The resolved room (:func:`facility.layout.build_layout`).
    placements
        Every placed replica, in placement order.
    racks, zones
        Per-rack draw (:func:`facility.power.rack_power`, every rack of the
        layout) and per-zone cooling (:func:`facility.cooling.zone_cooling`).

    Examples
    --------
    >>> from facility.layout import build_layout  # doctest: +SKIP
    >>> g = site_graph(layout, placements, racks, zones)  # doctest: +SKIP
    >>> sorted(g.successors("row01"))[:1]  # doctest: +SKIP
    ['row01-pod01']
    """
    lay = layout
    site = lay.site
    g = nx.DiGraph(site=site)
    g.add_node(site, kind="site")
    g.add_node("spine", kind="ethernet spine")
    supply = lay.supply
    if supply.room_kw is not None:
        for side in SIDES:
            g.add_node(f"{site}-supply-{side}", kind="room supply", side=side, capacity_kw=supply.room_kw)
    for row in range(lay.rows):
        rn = lay.row_name(row)
        g.add_node(rn, kind="row")
        g.add_edge(site, rn, relation="contains")
        for side in SIDES:
            attrs = {"capacity_kw": supply.row_kw} if supply.row_kw is not None else {}
            g.add_node(f"{rn}-panel-{side}", kind="power panel", side=side, **attrs)
            if supply.room_kw is not None:
                g.add_edge(f"{site}-supply-{side}", f"{rn}-panel-{side}", relation="powers")
    for pod in range(lay.pods):
        pn = lay.pod_name(pod)
        g.add_node(pn, kind="pod")
        rn = lay.row_name(pod // lay.pods_per_row)
        g.add_edge(rn, pn, relation="contains")
        g.add_node(f"{pn}-uplink", kind="Ethernet uplink group")
        g.add_edge("spine", f"{pn}-uplink", relation="ethernet")
        g.add_edge(f"{pn}-uplink", pn, relation="ethernet")
        if supply.pod_kw is not None:
            for side in SIDES:
                g.add_node(f"{pn}-panel-{side}", kind="pod power panel", side=side, capacity_kw=supply.pod_kw)
                g.add_edge(f"{rn}-panel-{side}", f"{pn}-panel-{side}", relation="powers")
    for zone in zones:
        g.add_node(zone.zone, kind="cooling zone", heat_max_kw=zone.heat_max_kw, units=zone.units_installed)
        for unit in range(zone.units_installed):
            un = f"{zone.zone}-unit{unit + 1:02d}"
            g.add_node(un, kind="cooling unit", unit_kw=zone.unit_kw)
            g.add_edge(un, zone.zone, relation="cools")
    usable_kw = lay.feed_usable_kw
    leg_kw = usable_kw / lay.feed.phases
    for rack in racks:
        rn = rack.rack
        idx = rack.index
        legs = {f"leg{i + 1}_max_kw": kw for i, kw in enumerate(rack.phase_max_kw)}
        g.add_node(rn, kind="rack", max_kw=rack.max_kw, typical_kw=rack.typical_kw, legs=len(rack.phase_max_kw), **legs)
        pod = lay.pod_name(lay.pod_of(idx))
        g.add_edge(pod, rn, relation="contains")
        g.add_edge(lay.zone_name(lay.zone_of(idx)), rn, relation="cools")
        row = lay.row_name(lay.row_of(idx))
        for side in SIDES:
            pdu = f"{rn}-pdu-{side}"
            g.add_node(pdu, kind="rack PDU", side=side, capacity_kw=usable_kw, leg_capacity_kw=leg_kw)
            upstream = f"{pod}-panel-{side}" if supply.pod_kw is not None else f"{row}-panel-{side}"
            g.add_edge(upstream, pdu, relation="powers")
            g.add_edge(pdu, rn, relation="powers")
        g.add_node(f"{rn}-c2c", kind="chip-to-chip link group")
        g.add_edge(f"{rn}-c2c", rn, relation="fabric")
    for pod in range(lay.pods):
        base = pod * lay.racks_per_pod
        names = [lay.rack_name(base + i) for i in range(lay.racks_per_pod)]
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                g.add_edge(a, b, relation="c2c")
                g.add_edge(b, a, relation="c2c")
    owner: dict[tuple[int, int], ReplicaPlacement] = {}
    for p in placements:
        for s in p.spans:
            for pos in range(s.first_position, s.first_position + s.nodes):
                owner[(s.rack_index, pos)] = p
    cpn = lay.chips_per_node
    usable = lay.usable_nodes_per_rack
    typ_kw, max_kw = lay.node_power_typical_w / 1e3, lay.node_power_max_w / 1e3
    for rack in racks:
        if rack.used_nodes == 0:
            continue
        for pos in range(lay.nodes_per_rack):
            rep = owner.get((rack.index, pos))
            if rep is not None:
                role, replica, pool = "compute", rep.replica, rep.pool
            elif pos >= usable:
                role, replica, pool = "spare", "", ""
            else:
                continue
            powered = role == "compute" or lay.spare_nodes_powered
            nn = lay.node_name(rack.index, pos)
            g.add_node(nn, kind="node", role=role, replica=replica, pool=pool, chips=cpn,
                       u_position=lay.node_u_position(pos), phase=lay.phase_of(pos) + 1,
                       max_kw=max_kw if powered else 0.0, typical_kw=typ_kw if powered else 0.0)
            g.add_edge(rack.rack, nn, relation="contains")
    if cards_per_node:
        _add_cards(g, cards_per_node)
    return g


def _add_cards(g: nx.DiGraph, cards_per_node: int) -> None:
    for nn in [n for n, kind in g.nodes(data="kind") if kind == "node"]:
        for c in range(cards_per_node):
            cn = f"{nn}-card{c + 1}"
            g.add_node(cn, kind="card")
            g.add_edge(nn, cn, relation="contains")


def build_topology(result: "FacilityResult", *, cards: bool = True) -> nx.DiGraph:
    """The graph of ``result``'s facility (module docstring); ``cards=False`` stops at nodes.

    Examples
    --------
    >>> g = build_topology(result)           # doctest: +SKIP
    >>> sorted(g.successors("row01"))[:1]    # doctest: +SKIP
    ['row01-pod01']
    """
    cards_per_node = int(result.platform.cards_per_node.value) if cards else 0
    return site_graph(result.layout, result.placements, result.racks, result.zones, cards_per_node=cards_per_node)


def contained_nodes(graph: nx.DiGraph, element: str) -> set[str]:
    """Hardware nodes (``kind == "node"``) inside ``element`` along containment edges."""
    contains = nx.subgraph_view(graph, filter_edge=lambda u, v: graph.edges[u, v]["relation"] == "contains")
    return {n for n in nx.descendants(contains, element) if graph.nodes[n].get("kind") == "node"}


def graphml_text(result: "FacilityResult", *, cards: bool = True) -> str:
    """The topology as GraphML text (the CLI writes it atomically)."""
    graph = build_topology(result, cards=cards)
    return "\n".join(nx.generate_graphml(graph)) + "\n"
