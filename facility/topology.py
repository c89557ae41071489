"""The facility as a networkx graph: containment, power, cooling, fabric.

A directed graph whose edges point from what provides to what depends on it,
so a failure domain's victims are its descendants along the edges that carry
the dependency (DESIGN.md, "Facility"):

- containment (``relation="contains"``): site -> row -> pod -> rack -> node -> card;
- power (``relation="powers"``): panel (row, side A/B) -> rack PDU (side) -> rack;
- cooling (``relation="cools"``): cooling unit -> zone -> rack;
- fabric (``relation="fabric"``): a rack's chip-to-chip link group -> the rack,
  chip-to-chip links between every pair of racks of a pod (``relation="c2c"``,
  both directions: the RealScale Dragonfly, Abts et al. ISCA 2022), and
  Ethernet between pods: spine -> pod uplink group -> pod (``relation="ethernet"``).

Node attributes: ``kind``, and for nodes ``role``/``replica``/``pool``;
rack attributes carry ``max_kw`` and ``typical_kw``. Every attribute is a
string, int or float, so the graph writes to GraphML as is.

The checks in :mod:`facility.domains` do not walk this graph (they use the
placement's rack membership, which is faster and equivalent); the tests check
that equivalence on small sites.
"""

from __future__ import annotations

import networkx as nx

from facility.plan import FacilityResult

__all__ = ["build_topology", "contained_nodes", "graphml_text"]


def build_topology(result: FacilityResult, *, cards: bool = True) -> nx.DiGraph:
    """The graph of ``result``'s facility (module docstring); ``cards=False`` stops at nodes.

    Examples
    --------
    >>> g = build_topology(result)           # doctest: +SKIP
    >>> sorted(g.successors("row01"))[:1]    # doctest: +SKIP
    ['row01-pod01']
    """
    lay = result.layout
    g = nx.DiGraph(site=lay.site)
    site = lay.site
    g.add_node(site, kind="site")
    g.add_node("spine", kind="ethernet spine")
    for row in range(lay.rows):
        rn = lay.row_name(row)
        g.add_node(rn, kind="row")
        g.add_edge(site, rn, relation="contains")
        for side in ("A", "B"):
            g.add_node(f"{rn}-panel-{side}", kind="power panel", side=side)
    for pod in range(lay.pods):
        pn = lay.pod_name(pod)
        g.add_node(pn, kind="pod")
        g.add_edge(lay.row_name(pod // lay.pods_per_row), pn, relation="contains")
        g.add_node(f"{pn}-uplink", kind="Ethernet uplink group")
        g.add_edge("spine", f"{pn}-uplink", relation="ethernet")
        g.add_edge(f"{pn}-uplink", pn, relation="ethernet")
    for zone in result.zones:
        g.add_node(zone.zone, kind="cooling zone", heat_max_kw=zone.heat_max_kw)
        for unit in range(zone.units_installed):
            un = f"{zone.zone}-unit{unit + 1:02d}"
            g.add_node(un, kind="cooling unit", unit_kw=zone.unit_kw)
            g.add_edge(un, zone.zone, relation="cools")
    for rack in result.racks:
        rn = rack.rack
        idx = rack.index
        g.add_node(rn, kind="rack", max_kw=rack.max_kw, typical_kw=rack.typical_kw)
        g.add_edge(lay.pod_name(lay.pod_of(idx)), rn, relation="contains")
        g.add_edge(lay.zone_name(lay.zone_of(idx)), rn, relation="cools")
        row = lay.row_name(lay.row_of(idx))
        for side in ("A", "B"):
            pdu = f"{rn}-pdu-{side}"
            g.add_node(pdu, kind="rack PDU", side=side)
            g.add_edge(f"{row}-panel-{side}", pdu, relation="powers")
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
    cards_per_node = int(result.platform.cards_per_node.value)
    for slot in result.nodes:
        if slot.role == "empty":
            continue
        nn = f"{slot.rack}-node{slot.position + 1:02d}"
        g.add_node(nn, kind="node", role=slot.role, replica=slot.replica, pool=slot.pool,
                   u_position=slot.u_position, phase=slot.phase + 1, max_kw=slot.max_kw)
        g.add_edge(slot.rack, nn, relation="contains")
        if cards:
            for c in range(cards_per_node):
                cn = f"{nn}-card{c + 1}"
                g.add_node(cn, kind="card")
                g.add_edge(nn, cn, relation="contains")
    return g


def contained_nodes(graph: nx.DiGraph, element: str) -> set[str]:
    """Hardware nodes (``kind == "node"``) inside ``element`` along containment edges."""
    contains = nx.subgraph_view(graph, filter_edge=lambda u, v: graph.edges[u, v]["relation"] == "contains")
    return {n for n in nx.descendants(contains, element) if graph.nodes[n].get("kind") == "node"}


def graphml_text(result: FacilityResult, *, cards: bool = True) -> str:
    """The topology as GraphML text (the CLI writes it atomically)."""
    graph = build_topology(result, cards=cards)
    return "\n".join(nx.generate_graphml(graph)) + "\n"
