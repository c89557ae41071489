"""Exports: xlsx read back, user strings stay text, NetBox headers, CSV escaping."""

from __future__ import annotations

import csv
import io
import zipfile

import openpyxl
import pytest

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.export_csv import rack_plan_csv, spreadsheet_text
from facility.export_netbox import NETBOX_COLUMNS, netbox_csvs
from facility.export_png import rack_plan_png
from facility.export_xlsx import rack_plan_xlsx
from facility.exports import render_facility_outputs
from facility.plan import plan_facility

from .conftest import make_facility

EVIL = '=HYPERLINK("http://x","y")'


@pytest.fixture(scope="module")
def result():
    fac = make_facility(rows=1, pods_per_row=2, racks_per_pod=4, site=EVIL,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})
    pools = [PoolDemand("=cmd|' /C calc'!A0", 3, 96, 10, 1.0, 9.0, 2.0, 0.5),
             PoolDemand("short", 2, 32, 10, 1.0, 1.0, 2.0, 0.5)]
    return plan_facility(None, fac, Redundancy(level="rack"), pools)


def test_xlsx_reads_back(result):
    wb = openpyxl.load_workbook(io.BytesIO(rack_plan_xlsx(result)))
    assert wb.sheetnames[:4] == ["Summary", "Budgets", "N+1", "Domains"]
    assert {"row01-pod01", "row01-pod02"} <= set(wb.sheetnames)
    budgets = wb["Budgets"]
    header = [c.value for c in budgets[1]]
    assert header[:6] == ["element", "check", "value", "limit", "unit", "margin"]
    rows = list(budgets.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(result.budget_checks)
    first = result.budget_checks[0]
    assert rows[0][2] == pytest.approx(first.value) and rows[0][5] == pytest.approx(first.margin)
    # elevations: the node at U1..U4 of rack 1 holds the first replica
    pod = wb["row01-pod01"]
    top = result.layout.rack_u_height
    bottom_node = pod.cell(row=2 + top - 4, column=2).value
    assert bottom_node.startswith("node01 compute") and result.placements[0].replica in bottom_node
    assert any(str(r.coord).startswith("B") for r in pod.merged_cells.ranges)


def test_user_strings_are_text_never_formulas(result):
    data = rack_plan_xlsx(result)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    summary = wb["Summary"]
    cells = [c for row in summary.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")]
    assert {c.value for c in cells} >= {EVIL, "=cmd|' /C calc'!A0"}
    assert all(c.data_type == "s" for c in cells)
    # and in the file itself: no formula element anywhere
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert b"<f>" not in z.read(name) and b"<f " not in z.read(name)


def test_csv_escapes_formula_starts(result):
    assert spreadsheet_text("=1+1") == "'=1+1" and spreadsheet_text("-x") == "'-x" and spreadsheet_text("ok") == "ok"
    rows = list(csv.DictReader(io.StringIO(rack_plan_csv(result).decode())))
    assert rows[0]["site"] == "'" + EVIL
    assert all(not r["bucket"].startswith("=") for r in rows)


def test_netbox_headers_match_the_import_forms(result):
    # Field names of netbox/dcim/forms/bulk_import.py (SiteImportForm ... PowerFeedImportForm);
    # required ones per shared/reference/facility.md must be present.
    required = {
        "sites.csv": {"name", "slug", "status"},
        "locations.csv": {"site", "name", "slug", "status", "parent"},
        "racks.csv": {"site", "name", "status", "location", "width", "u_height"},
        "devices.csv": {"name", "role", "manufacturer", "device_type", "site", "status", "location", "rack", "position", "face"},
        "power_panels.csv": {"site", "name", "location"},
        "power_feeds.csv": {"site", "power_panel", "name", "status", "type", "supply", "phase", "voltage",
                            "amperage", "max_utilization", "rack"},
    }
    form_fields = {
        "sites.csv": {"name", "slug", "status", "region", "group", "tenant", "facility", "time_zone", "description"},
        "locations.csv": {"site", "parent", "name", "slug", "status", "tenant", "facility", "description"},
        "racks.csv": {"site", "location", "name", "facility_id", "tenant", "status", "role", "form_factor", "serial",
                      "asset_tag", "width", "u_height", "description"},
        "devices.csv": {"name", "role", "tenant", "manufacturer", "device_type", "platform", "serial", "asset_tag",
                        "status", "site", "location", "rack", "position", "face", "description"},
        "power_panels.csv": {"site", "location", "name", "description"},
        "power_feeds.csv": {"site", "power_panel", "location", "rack", "name", "status", "type", "mark_connected",
                            "supply", "phase", "voltage", "amperage", "max_utilization", "tenant", "description"},
    }
    files = netbox_csvs(result)
    for name, columns in NETBOX_COLUMNS.items():
        header = next(csv.reader(io.StringIO(files[name].decode())))
        assert tuple(header) == columns
        assert required[name] <= set(header), name
        assert {h for h in header if not h.startswith("cf_")} <= form_fields[name], name
    devices = list(csv.DictReader(io.StringIO(files["devices.csv"].decode())))
    assert {d["face"] for d in devices} == {"front"}
    assert all(int(d["position"]) >= 1 for d in devices)
    feeds = list(csv.DictReader(io.StringIO(files["power_feeds.csv"].decode())))
    assert {f["type"] for f in feeds} == {"primary", "redundant"} and {f["phase"] for f in feeds} == {"three-phase"}
    assert {f["max_utilization"] for f in feeds} == {"80"}


def test_outputs_are_deterministic(result):
    a = render_facility_outputs(result)
    b = render_facility_outputs(result)
    assert a.keys() == b.keys()
    assert all(a[k] == b[k] for k in a)
    assert rack_plan_png(result).startswith(b"\x89PNG")


def test_json_carries_infinite_waits_of_a_failing_plan():
    import json

    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=2)
    # one pod, pod-level N+1: the pod's loss leaves no replica (p99 infinite)
    r = plan_facility(None, fac, Redundancy(level="pod"), [PoolDemand("a", 1, 64, 10, 1.0, 1.0, 2.0, 0.5)])
    assert not r.passed
    data = json.loads(render_facility_outputs(r)["facility.json"])
    pod = next(v for v in data["levels"] if v["level"] == "pod")
    assert pod["pools"][0]["check"]["p99_s"] == float("inf")
