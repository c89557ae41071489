"""NetBox bulk-import CSVs: sites, locations, racks, devices, power panels, power feeds.

Column names are the fields of NetBox's import forms
(``netbox/dcim/forms/bulk_import.py``: SiteImportForm, LocationImportForm,
RackImportForm, DeviceImportForm, PowerPanelImportForm, PowerFeedImportForm);
choice values are NetBox's (``planned``, ``front``, ``primary``/``redundant``,
``ac``, ``three-phase``). Failure domains travel as custom-field columns
(``cf_row``, ``cf_pod``, ``cf_cooling_zone``, ``cf_feed_side``, ``cf_replica``,
``cf_bucket``, ``cf_planned_kw``, ``cf_plan_id``): create those custom fields
in NetBox before importing. Rows are locations and pods are child locations.

Import order: sites, locations, racks, device type (``device_type.yaml``, the
devicetype-library form, with the manufacturer), devices, power panels, power
feeds. The files are NetBox import files, not spreadsheets: names are written
verbatim.
"""

from __future__ import annotations

import hashlib
import json
import re

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
}
"""Columns per file, in order; required fields of each import form included."""

MANUFACTURER = "Groq"
DEVICE_ROLE = "lpu-node"


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


def _device_type_yaml(result: FacilityResult) -> bytes:
    lay = result.layout
    model = result.platform.node
    lines = [
        f"manufacturer: {MANUFACTURER}",
        f"model: {model}",
        f"slug: {slugify(MANUFACTURER + '-' + model)}",
        f"u_height: {lay.node_u_height}",
        "is_full_depth: true",
        "power-ports:",
        "  - name: PSU1",
        "    type: iec-60320-c20",
        f"    maximum_draw: {round(lay.node_power_max_w)}",
        f"    allocated_draw: {round(lay.node_power_typical_w)}",
        "",
    ]
    return "\n".join(lines).encode("utf-8")


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
    for rack in result.racks:
        if rack.powered_nodes == 0:
            continue
        g = rack.index
        row, pod, zone = lay.row_name(lay.row_of(g)), lay.pod_name(lay.pod_of(g)), lay.zone_name(lay.zone_of(g))
        racks.append((site, pod, rack.rack, "planned", 19, lay.rack_u_height, f"{desc}; {rack.used_nodes} compute nodes",
                      row, pod, zone, f"{rack.max_kw:.3f}", pid))
        for side, kind in (("A", "primary"), ("B", "redundant")):
            feeds.append((
                site, f"{row}-panel-{side}", pod, rack.rack, f"{rack.rack}-feed-{side}", "planned", kind, "ac",
                "three-phase" if lay.feed.phases == 3 else "single-phase", f"{lay.feed.voltage:g}",
                f"{lay.feed.amperage:g}", f"{lay.feed.derate * 100:g}",
                "either feed alone carries the rack's maximum (computed by lpuplan)", side,
                f"{rack.max_kw:.3f}", pid,
            ))
    files["racks.csv"] = to_csv(NETBOX_COLUMNS["racks.csv"], racks)
    index = {lay.rack_name(g): g for g in range(lay.racks)}
    devices = []
    for n in result.nodes:
        if n.role == "empty":
            continue
        g = index[n.rack]
        devices.append((
            f"{n.rack}-node{n.position + 1:02d}", DEVICE_ROLE, MANUFACTURER, result.platform.node, "planned", site,
            lay.pod_name(lay.pod_of(g)), n.rack, n.u_position, "front",
            "spare node" if n.role == "spare" else f"replica {n.replica}",
            lay.row_name(lay.row_of(g)), lay.pod_name(lay.pod_of(g)), lay.zone_name(lay.zone_of(g)),
            n.replica, n.pool, "A+B", f"{n.max_kw:.3f}", pid,
        ))
    files["devices.csv"] = to_csv(NETBOX_COLUMNS["devices.csv"], devices)
    panels = []
    for row in range(lay.rows):
        for side in ("A", "B"):
            panels.append((site, lay.row_name(row), f"{lay.row_name(row)}-panel-{side}", f"{desc}; side {side}"))
    files["power_panels.csv"] = to_csv(NETBOX_COLUMNS["power_panels.csv"], panels)
    files["power_feeds.csv"] = to_csv(NETBOX_COLUMNS["power_feeds.csv"], feeds)
    files["device_type.yaml"] = _device_type_yaml(result)
    return files
