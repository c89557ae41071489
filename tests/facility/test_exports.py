"""Exports: xlsx read back (tables, totals, print setup), PNG legibility, user strings stay text,
NetBox headers, CSV escaping, byte-identical outputs."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import openpyxl
import pytest
from matplotlib.text import Text
from openpyxl.utils import get_column_letter

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.export_csv import rack_plan_csv, spreadsheet_text
from facility.export_netbox import NETBOX_COLUMNS, netbox_csvs
from facility.export_png import MIN_FONT_PT, PRINT_WIDTH_IN, rack_plan_figure, rack_plan_png
from facility.export_xlsx import INFINITE, PAPERS, ROW_POINTS, printed_font_pt, rack_plan_xlsx
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


def _book(result):
    return openpyxl.load_workbook(io.BytesIO(rack_plan_xlsx(result)))


def _table(ws, header_row=1):
    """Header -> column values of a sheet's table (rows up to the first blank first cell), and the totals row."""
    header = [c.value for c in ws[header_row]]
    rows, totals = [], None
    for row in ws.iter_rows(min_row=header_row + 1, values_only=True):
        if row[0] is None:
            break
        if row[0] == "total":
            totals = dict(zip(header, row))
            break
        rows.append(dict(zip(header, row)))
    return rows, totals


def test_xlsx_reads_back(result):
    wb = _book(result)
    assert wb.sheetnames[:6] == ["Summary", "Racks", "Cooling", "Budgets", "N+1", "Domains"]
    assert {"row01-pod01", "row01-pod02"} <= set(wb.sheetnames)
    budgets = wb["Budgets"]
    header = [c.value for c in budgets[1]]
    assert header[:7] == ["element", "check", "value", "limit", "unit", "margin", "verdict"]
    rows = list(budgets.iter_rows(min_row=2, values_only=True))
    assert len(rows) == len(result.budget_checks)
    first = result.budget_checks[0]
    assert rows[0][2] == pytest.approx(first.value) and rows[0][5] == pytest.approx(first.margin)
    # elevations: row 2 holds the rack names, then a row per 4 U node height from the top (42 U: 41-42, 37-40,
    # ..., 1-4); the node at U1..U4 of rack 1 holds the first replica, in one cell of a 4-line row
    pod = wb["row01-pod01"]
    top = result.layout.rack_u_height
    assert pod.cell(row=2, column=2).value == "rack01" and pod.cell(row=3, column=1).value == "41-42"
    slots = [pod.cell(row=r, column=1).value for r in range(3, 3 + 11)]
    assert slots[-1] == "1-4" and slots[-2] == "5-8" and len(set(slots)) == 11
    bottom_node = pod.cell(row=13, column=2).value
    lines = bottom_node.split("\n")
    assert lines[0] == "node01 compute" and lines[1] == result.placements[0].replica and lines[-1] == "3.3 kW max"
    assert pod.row_dimensions[13].height == 4 * ROW_POINTS and not pod.merged_cells.ranges
    # under the racks: their max kW, from the result
    below = {pod.cell(row=r, column=1).value: pod.cell(row=r, column=2).value for r in range(15, 19)}
    rack = next(r for r in result.racks if r.rack == "row01-pod01-rack01")
    assert below["max kW"] == pytest.approx(rack.max_kw) and below["airflow CFM"] == pytest.approx(rack.airflow_cfm)


def test_racks_sheet_has_power_heat_airflow_per_rack_and_totals(result):
    ws = _book(result)["Racks"]
    rows, totals = _table(ws)
    assert [r["rack"] for r in rows] == [r.rack for r in result.racks]
    for row, rack in zip(rows, result.racks):
        assert row["max kW"] == pytest.approx(rack.max_kw, rel=1e-12)
        assert row["typical kW"] == pytest.approx(rack.typical_kw, rel=1e-12)
        assert row["heat BTU/h"] == pytest.approx(rack.heat_btu_per_h, rel=1e-12)
        assert row["airflow CFM"] == pytest.approx(rack.airflow_cfm, rel=1e-12)
        assert row["airflow m³/h"] == pytest.approx(rack.airflow_m3_per_h, rel=1e-12)
        assert row["margin kW"] == pytest.approx(result.layout.rack_power_budget_w / 1e3 - rack.max_kw, rel=1e-12)
    # totals are live SUM formulas over the column (openpyxl reads the formula, not the cached value)
    assert totals["max kW"].startswith("=SUM(") and totals["heat BTU/h"].startswith("=SUM(")
    cached = openpyxl.load_workbook(io.BytesIO(rack_plan_xlsx(result)), data_only=True)["Racks"]
    _rows, cached_totals = _table(cached)
    assert cached_totals["max kW"] == pytest.approx(sum(r.max_kw for r in result.racks), rel=1e-12)
    assert cached_totals["airflow CFM"] == pytest.approx(sum(r.airflow_cfm for r in result.racks), rel=1e-12)
    # units in every numeric header, number formats on the figures
    assert all(any(u in h for u in ("kW", "BTU/h", "CFM", "m³/h")) for h in rows[0] if h not in
               ("rack", "pod", "nodes used", "nodes powered", "nodes installed"))
    assert ws.cell(row=2, column=[c.value for c in ws[1]].index("max kW") + 1).number_format == "#,##0.00"


def test_every_sheet_prints_one_page_wide_at_8_pt_or_more(result):
    wb = _book(result)
    for ws in wb.worksheets:
        setup = ws.page_setup
        assert setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and setup.fitToWidth in (1, "1", None), ws.title
        assert str(setup.paperSize) in ("8", "9"), ws.title  # A3 or A4
        paper = PAPERS[int(setup.paperSize)]
        widths = []
        for col in range(1, ws.max_column + 1):
            dim = ws.column_dimensions[get_column_letter(col)]
            # stored widths include Excel's 5-pixel padding (pixels = 7 x stored); back to characters
            widths.append((dim.width * 7 - 5) / 7 if dim.width else 8.43)
        tall = None
        if str(setup.fitToHeight) == "1":  # a pod's elevations: one page
            tall = sum(ws.row_dimensions[r].height or ROW_POINTS for r in range(1, ws.max_row + 1))
        assert printed_font_pt(widths, paper, tall) >= 8.0, (ws.title, widths)
        if ws.title not in ("Summary",):
            assert ws.freeze_panes is not None, ws.title
    assert wb["Racks"].freeze_panes == "B2" and wb["row01-pod01"].freeze_panes == "B3"


def test_infinite_figures_read_as_a_word():
    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=2)
    r = plan_facility(None, fac, Redundancy(level="pod"), [PoolDemand("a", 1, 64, 10, 1.0, 1.0, 2.0, 0.5)])
    ws = _book(r)["N+1"]
    rows, _ = _table(ws)
    pod = next(row for row in rows if row["level"] == "pod")
    assert pod["p99 s"] == INFINITE and pod["verdict"] == "FAIL"


def test_user_strings_are_text_never_formulas(result):
    data = rack_plan_xlsx(result)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    summary = wb["Summary"]
    cells = [c for row in summary.iter_rows() for c in row if isinstance(c.value, str) and c.value.startswith("=")
             and not c.value.startswith("=SUM(")]
    assert {c.value for c in cells} >= {EVIL, "=cmd|' /C calc'!A0"}
    assert all(c.data_type == "s" for c in cells)
    # and in the file itself: the only formulas are the totals' SUMs over a column range
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                formulas = re.findall(rb"<f>([^<]*)</f>", z.read(name))
                assert all(re.fullmatch(rb"SUM\([A-Z]+[0-9]+:[A-Z]+[0-9]+\)", f) for f in formulas), formulas
                assert b"<f " not in z.read(name)


def test_png_draws_every_rack_kw_with_legible_fonts_and_the_legend_outside(result):
    fig = rack_plan_figure(result)
    fig.canvas.draw()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text()]
    assert min(t.get_fontsize() for t in texts) >= MIN_FONT_PT
    floor, elev = fig.axes
    numbers = [t.get_text() for t in floor.texts]
    powered = [r for r in result.racks if r.max_kw > 0]
    assert sorted(numbers) == sorted(f"{r.max_kw:.1f}" for r in powered)  # the kW the title promises
    assert "number = rack max kW" in floor.get_title(loc="left")
    legend = fig.legends[0].get_window_extent()
    for ax in (floor, elev):
        assert not legend.overlaps(ax.get_window_extent()), "the legend covers the racks"
    assert fig.get_figwidth() <= PRINT_WIDTH_IN


def test_csv_escapes_formula_starts(result):
    assert spreadsheet_text("=1+1") == "'=1+1" and spreadsheet_text("-x") == "'-x" and spreadsheet_text("ok") == "ok"
    rows = list(csv.DictReader(io.StringIO(rack_plan_csv(result).decode())))
    assert rows[0]["site"] == "'" + EVIL
    assert all(not r["bucket"].startswith("=") for r in rows)


def test_netbox_headers_match_the_import_forms(result):
    # Field names of netbox/dcim/forms/bulk_import.py (SiteImportForm ... PowerFeedImportForm);
    # the ones each form requires must be present.
    required = {
        "sites.csv": {"name", "slug", "status"},
        "locations.csv": {"site", "name", "slug", "status", "parent"},
        "racks.csv": {"site", "name", "status", "location", "width", "u_height"},
        "devices.csv": {"name", "role", "manufacturer", "device_type", "site", "status", "location", "rack", "position", "face"},
        "power_panels.csv": {"site", "name", "location"},
        "power_feeds.csv": {"site", "power_panel", "name", "status", "type", "supply", "phase", "voltage",
                            "amperage", "max_utilization", "rack"},
        "power_connections.csv": {"side_a_type", "side_a_name", "side_b_type", "side_b_name"},
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
        # CableImportForm (NetBox 4.x)
        "power_connections.csv": {"side_a_site", "side_a_device", "side_a_power_panel", "side_a_type", "side_a_name",
                                  "side_b_site", "side_b_device", "side_b_power_panel", "side_b_type", "side_b_name",
                                  "type", "status", "tenant", "label", "color", "length", "length_unit",
                                  "description"},
    }
    files = netbox_csvs(result)
    for name, columns in NETBOX_COLUMNS.items():
        header = next(csv.reader(io.StringIO(files[name].decode())))
        assert tuple(header) == columns
        assert required[name] <= set(header), name
        assert {h for h in header if not h.startswith("cf_")} <= form_fields[name], name
    devices = list(csv.DictReader(io.StringIO(files["devices.csv"].decode())))
    nodes = [d for d in devices if d["role"] == "lpu-node"]
    pdus = [d for d in devices if d["role"] == "rack-pdu"]
    assert {d["face"] for d in nodes} == {"front"}
    assert all(int(d["position"]) >= 1 for d in nodes)
    # zero-U PDUs: in the rack, without a position or face
    assert pdus and {(d["position"], d["face"]) for d in pdus} == {("", "")}
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


_RENDER_IN_A_FRESH_PROCESS = """
import hashlib, json, sys
sys.path.insert(0, {root!r})
from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.exports import render_facility_outputs
from facility.plan import plan_facility
from tests.facility.conftest import make_facility
fac = make_facility(rows=1, pods_per_row=2, racks_per_pod=4, site={site!r},
                    cooling={{"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1}})
pools = [PoolDemand("=cmd|' /C calc'!A0", 3, 96, 10, 1.0, 9.0, 2.0, 0.5), PoolDemand("short", 2, 32, 10, 1.0, 1.0, 2.0, 0.5)]
files = render_facility_outputs(plan_facility(None, fac, Redundancy(level="rack"), pools))
print(json.dumps({{name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}))
"""


def test_outputs_are_byte_identical_in_another_process(result):
    # same inputs, same bytes, also across interpreters (xlsx timestamps fixed, PNG without date metadata)
    import hashlib
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    code = _RENDER_IN_A_FRESH_PROCESS.format(root=root, site=EVIL)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    ours = {name: hashlib.sha256(data).hexdigest() for name, data in render_facility_outputs(result).items()}
    assert theirs == ours


def test_nodes_have_two_power_ports_each_on_its_own_feed(result):
    import yaml

    files = netbox_csvs(result)
    node_type = yaml.safe_load(files["device_type.yaml"])
    assert [p["name"] for p in node_type["power-ports"]] == ["PSU1", "PSU2"]
    assert all(isinstance(p["maximum_draw"], int) for p in node_type["power-ports"])
    pdu_type = yaml.safe_load(files["pdu_type.yaml"])
    assert pdu_type["u_height"] == 0 and len(pdu_type["power-outlets"]) == result.layout.nodes_per_rack
    # outlets alternate the phase legs bottom up, as the plan assigns them
    assert [o["feed_leg"] for o in pdu_type["power-outlets"][:4]] == ["A", "B", "C", "A"]
    cables = list(csv.DictReader(io.StringIO(files["power_connections.csv"].decode())))
    nodes = [n for n in result.nodes if n.role != "empty"]
    node_cables = [c for c in cables if c["side_a_type"] == "dcim.powerport" and c["side_a_name"] in ("PSU1", "PSU2")]
    assert len(node_cables) == 2 * len(nodes)
    n = nodes[0]
    name = f"{n.rack}-node{n.position + 1:02d}"
    mine = {c["side_a_name"]: c for c in node_cables if c["side_a_device"] == name}
    assert mine["PSU1"]["side_b_device"] == f"{n.rack}-pdu-A" and mine["PSU2"]["side_b_device"] == f"{n.rack}-pdu-B"
    assert f"{n.rack}-feed-A" in mine["PSU1"]["description"] and f"{n.rack}-feed-B" in mine["PSU2"]["description"]
    feeds = [c for c in cables if c["side_b_type"] == "dcim.powerfeed"]
    assert len(feeds) == 2 * sum(1 for r in result.racks if r.powered_nodes)
    assert all(c["side_b_power_panel"].endswith(("-panel-A", "-panel-B")) for c in feeds)


def test_yaml_strings_stay_strings_and_integer_fields_are_integers(result):
    import dataclasses

    import yaml

    odd = dataclasses.replace(result, platform=dataclasses.replace(result.platform, node="1.10"))
    assert yaml.safe_load(netbox_csvs(odd)["device_type.yaml"])["model"] == "1.10"
    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=2,
                        feed={"voltage": 415.5, "amperage": 32.0, "phases": 3, "power_factor": 0.95, "derate": 0.8},
                        cooling={"unit_kw": 150.0, "racks_per_zone": 2, "redundancy": 1})
    r = plan_facility(None, fac, Redundancy(level="rack"), [PoolDemand("a", 1, 32, 10, 1.0, 1.0, 2.0, 0.5)])
    feeds = list(csv.DictReader(io.StringIO(netbox_csvs(r)["power_feeds.csv"].decode())))
    assert {(f["voltage"], f["amperage"], f["max_utilization"]) for f in feeds} == {("415", "32", "80")}
    assert all("voltage is 415.5 V" in f["description"] for f in feeds)
