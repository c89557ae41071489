"""NetBox bulk-import files: sites, locations, racks, device types, devices, power panels, feeds, cables.

Column names are the fields of NetBox's import forms
(``netbox/dcim/forms/bulk_import.py`` in github.com/netbox-community/netbox:
SiteImportForm, LocationImportForm, RackImportForm, DeviceImportForm,
PowerPanelImportForm, PowerFeedImportForm, CableImportForm); choice values
are NetBox's (``planned``, ``front``, ``primary``/``redundant``, ``ac``,
``three-phase``, ``power``). Failure domains travel as custom-field columns
(``cf_row``, ``cf_pod``, ``cf_cooling_zone``, ``cf_feed_side``, ``cf_replica``,
``cf_bucket``, ``cf_planned_kw``, ``cf_plan_id``): create those custom fields
in NetBox before importing. Rows are locations and pods are child locations.

Power is modelled as NetBox models it: every node has two power ports, ``PSU1``
on the rack's feed A and ``PSU2`` on feed B (either alone carries the node); each
rack has two zero-U PDUs (``{rack}-pdu-A``/``-B``, their own device type with one
outlet per node position, each outlet on the phase leg the plan assigns it);
``power_connections.csv`` (a CableImportForm file) connects each power feed to
its PDU's input and each node port to its PDU outlet, with the feed it ends on
in the description. NetBox's integer fields (``voltage``, ``amperage``,
``max_utilization``, ``position``, ``u_height``) are written as integers; a
voltage or amperage that is not a whole number is rounded down (NetBox then
understates the feed: the safe direction) and the exact figure is kept in the
description.

Import order: sites, locations, racks, device types (``device_type.yaml`` for
the node, ``pdu_type.yaml`` for the rack PDU: the devicetype-library form, with
the manufacturer), device roles ``lpu-node`` and ``rack-pdu``, devices, power
panels, power feeds, power connections. The files are NetBox import files, not
spreadsheets: names are written verbatim; YAML is written with
``yaml.safe_dump``, so a model named ``1.10`` stays a string.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

import yaml

from facility.export_csv import to_csv
from facility.plan import FacilityResult

__all__ = ["NETBOX_COLUMNS", "netbox_csvs", "plan_id", "slugify"]

NETBOX_COLUMNS: dict[str, tuple[str, ...]] = {
    "sites.csv": ("name", "slug", "status", "description"),
    "locations.csv": ("site", "parent", "name", "slug", "status", "description"),
    "racks.csv": (
        "site", "location", "name", "status", "width", "u_height", "description",
        "cf_row", "cf_pod", "cf_cooling_zone", "cf_planned_kw", "cf_plan_id",
    ),
    "devices.csv": (
        "name", "role", "manufacturer", "device_type", "status", "site", "location", "rack", "position", "face",
        "description", "cf_row", "cf_pod", "cf_cooling_zone", "cf_replica", "cf_bucket", "cf_feed_side",
        "cf_planned_kw", "cf_plan_id",
    ),
    "power_panels.csv": ("site", "location", "name", "description"),
    "power_feeds.csv": (
        "site", "power_panel", "location", "rack", "name", "status", "type", "supply", "phase",
        "voltage", "amperage", "max_utilization", "description", "cf_feed_side", "cf_planned_kw", "cf_plan_id",
    ),
    "power_connections.csv": (
        "side_a_site", "side_a_device", "side_a_type", "side_a_name",
        "side_b_site", "side_b_device", "side_b_power_panel", "side_b_type", "side_b_name",
        "type", "status", "label", "description",
    ),
}
"""Columns per file, in order; required fields of each import form included."""

MANUFACTURER = "Groq"
DEVICE_ROLE = "lpu-node"
PDU_ROLE = "rack-pdu"
PDU_MANUFACTURER = "Generic"
NODE_PORTS = {"A": "PSU1", "B": "PSU2"}
LEGS = "ABC"  # NetBox's feed_leg choices for a power outlet


def slugify(text: str) -> str:
    """NetBox slug: lowercase letters, digits, hyphens and underscores."""
    slug = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")
    return slug or "x"


def plan_id(result: FacilityResult) -> str:
    """A short, deterministic id of the placement (first 12 hex digits of a SHA-256)."""
    digest = hashlib.sha256(
        json.dumps([result.layout.to_dict(), [p.to_dict() for p in result.placements]], sort_keys=True).encode()
    )
    return digest.hexdigest()[:12]


def netbox_int(value: float) -> int:
    """A figure for one of NetBox's integer fields: exact when whole, else rounded down (the safe direction)."""
    nearest = round(value)
    return int(nearest) if abs(value - nearest) < 1e-9 else math.floor(value)


def _exact_note(name: str, value: float, unit: str) -> str:
    return "" if netbox_int(value) == value else f"; {name} is {value:g} {unit} (NetBox holds {netbox_int(value)})"


def pdu_model(result: FacilityResult) -> str:
    feed = result.layout.feed
    phases = "3ph" if feed.phases == 3 else "1ph"
    return f"lpuplan rack PDU {phases} {feed.voltage:g}V {feed.amperage:g}A {result.layout.nodes_per_rack} outlets"


def _yaml(data: dict) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False).encode("utf-8")


def _device_type_yaml(result: FacilityResult) -> bytes:
    lay = result.layout
    model = str(result.platform.node)
    ports = [
        {
            "name": NODE_PORTS[side],
            "type": "iec-60320-c20",
            # 2N: each PSU alone carries the node; in normal running each draws half
            "maximum_draw": netbox_int(round(lay.node_power_max_w)),
            "allocated_draw": netbox_int(round(lay.node_power_typical_w / 2)),
        }
        for side in ("A", "B")
    ]
    return _yaml({
        "manufacturer": MANUFACTURER,
        "model": model,
        "slug": slugify(MANUFACTURER + "-" + model),
        "u_height": int(lay.node_u_height),
        "is_full_depth": True,
        "comments": "power-ports: PSU1 on feed A, PSU2 on feed B; either alone carries the node (planned by lpuplan)",
        "power-ports": ports,
    })


def _pdu_type_yaml(result: FacilityResult) -> bytes:
    lay = result.layout
    model = pdu_model(result)
    outlets = [
        {"name": f"outlet{pos + 1:02d}", "type": "iec-60320-c19", "power_port": "input",
         "feed_leg": LEGS[lay.phase_of(pos)] if lay.feed.phases == 3 else "A"}
        for pos in range(lay.nodes_per_rack)
    ]
    return _yaml({
        "manufacturer": PDU_MANUFACTURER,
        "model": model,
        "slug": slugify(model),
        "u_height": 0,
        "is_full_depth": False,
        "comments": "zero-U rack PDU; outlet N feeds node position N on the phase leg lpuplan plans for it",
        "power-ports": [{"name": "input", "maximum_draw": netbox_int(lay.feed_usable_kw * 1e3),
                         "allocated_draw": 0}],
        "power-outlets": outlets,
    })


def netbox_csvs(result: FacilityResult) -> dict[str, bytes]:
    """Every NetBox import file by name (module docstring)."""
    lay = result.layout
    pid = plan_id(result)
    site = lay.site
    desc = "planned by lpuplan"
    files: dict[str, bytes] = {}
    files["sites.csv"] = to_csv(NETBOX_COLUMNS["sites.csv"], [(site, slugify(site), "planned", desc)])
    locations = []
    for row in range(lay.rows):
        locations.append((site, "", lay.row_name(row), lay.row_name(row), "planned", "row"))
    for pod in range(lay.pods):
        name = lay.pod_name(pod)
        locations.append((site, lay.row_name(pod // lay.pods_per_row), name, name, "planned", "pod (chip-to-chip fabric)"))
    files["locations.csv"] = to_csv(NETBOX_COLUMNS["locations.csv"], locations)
    racks = []
    feeds = []
    pdus = []
    cables = []
    feed = lay.feed
    phase = "three-phase" if feed.phases == 3 else "single-phase"
    volts, amps = netbox_int(feed.voltage), netbox_int(feed.amperage)
    exact = _exact_note("voltage", feed.voltage, "V") + _exact_note("amperage", feed.amperage, "A")
    for rack in result.racks:
        if rack.powered_nodes == 0:
            continue
        g = rack.index
        row, pod, zone = lay.row_name(lay.row_of(g)), lay.pod_name(lay.pod_of(g)), lay.zone_name(lay.zone_of(g))
        racks.append((site, pod, rack.rack, "planned", 19, int(lay.rack_u_height),
                      f"{desc}; {rack.used_nodes} compute nodes", row, pod, zone, f"{rack.max_kw:.3f}", pid))
        for side, kind in (("A", "primary"), ("B", "redundant")):
            feed_name, pdu = f"{rack.rack}-feed-{side}", f"{rack.rack}-pdu-{side}"
            feeds.append((
                site, f"{row}-panel-{side}", pod, rack.rack, feed_name, "planned", kind, "ac", phase,
                volts, amps, netbox_int(feed.derate * 100),
                f"either feed alone carries the rack's maximum (computed by lpuplan){exact}", side,
                f"{rack.max_kw:.3f}", pid,
            ))
            pdus.append((
                pdu, PDU_ROLE, PDU_MANUFACTURER, pdu_model(result), "planned", site, pod, rack.rack, "", "",
                f"zero-U PDU on {feed_name}", row, pod, zone, "", "", side, f"{rack.max_kw:.3f}", pid,
            ))
            cables.append((site, pdu, "dcim.powerport", "input", site, "", f"{row}-panel-{side}", "dcim.powerfeed",
                           feed_name, "power", "planned", feed_name, f"{pdu} input on {feed_name}"))
    files["racks.csv"] = to_csv(NETBOX_COLUMNS["racks.csv"], racks)
    index = {lay.rack_name(g): g for g in range(lay.racks)}
    devices = []
    for n in result.nodes:
        if n.role == "empty":
            continue
        g = index[n.rack]
        node = f"{n.rack}-node{n.position + 1:02d}"
        devices.append((
            node, DEVICE_ROLE, MANUFACTURER, result.platform.node, "planned", site,
            lay.pod_name(lay.pod_of(g)), n.rack, int(n.u_position), "front",
            "spare node" if n.role == "spare" else f"replica {n.replica}",
            lay.row_name(lay.row_of(g)), lay.pod_name(lay.pod_of(g)), lay.zone_name(lay.zone_of(g)),
            n.replica, n.pool, "A+B", f"{n.max_kw:.3f}", pid,
        ))
        leg = LEGS[n.phase] if feed.phases == 3 else "A"
        for side, port in NODE_PORTS.items():
            outlet = f"outlet{n.position + 1:02d}"
            cables.append((site, node, "dcim.powerport", port, site, f"{n.rack}-pdu-{side}", "", "dcim.poweroutlet",
                           outlet, "power", "planned", "",
                           f"{port} on feed {n.rack}-feed-{side} via {n.rack}-pdu-{side} {outlet} (phase leg {leg})"))
    files["devices.csv"] = to_csv(NETBOX_COLUMNS["devices.csv"], devices + pdus)
    panels = []
    for row in range(lay.rows):
        for side in ("A", "B"):
            panels.append((site, lay.row_name(row), f"{lay.row_name(row)}-panel-{side}", f"{desc}; side {side}"))
    files["power_panels.csv"] = to_csv(NETBOX_COLUMNS["power_panels.csv"], panels)
    files["power_feeds.csv"] = to_csv(NETBOX_COLUMNS["power_feeds.csv"], feeds)
    files["power_connections.csv"] = to_csv(NETBOX_COLUMNS["power_connections.csv"], cables)
    files["device_type.yaml"] = _device_type_yaml(result)
    files["pdu_type.yaml"] = _pdu_type_yaml(result)
    return files
