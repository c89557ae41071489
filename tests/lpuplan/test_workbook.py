"""The sizing workbook as a person opens it: sheets, live vs computed cells, formats, print setup, text stays text."""

from __future__ import annotations

import io
import math
import re
import tomllib
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from lpuplan.cli import app
from lpuplan.plan import build_plan
from lpuplan.project import example_project_text, parse_project
from lpuplan.workbook import SHEETS, sizing_workbook
from lpuplan.workbook_inputs import input_rows

EVIL = '=HYPERLINK("http://example.invalid","click")'


def _plan(text: str | None = None, **kwargs):
    return build_plan(parse_project(tomllib.loads(text or example_project_text()), Path.cwd()), **kwargs)


@pytest.fixture(scope="module")
def example():
    plan = _plan()
    data = sizing_workbook(plan, "example.toml")
    return plan, data, openpyxl.load_workbook(io.BytesIO(data)), openpyxl.load_workbook(io.BytesIO(data), data_only=True)


def test_sheets_in_order_with_frozen_headers_and_print_setup(example):
    _plan_, _data, wb, _values = example
    assert wb.sheetnames == list(SHEETS)
    for ws in wb.worksheets:
        assert ws.freeze_panes is not None and ws.freeze_panes != "A1", ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (None, 1), ws.title  # 1 is the default
        assert ws.page_setup.fitToHeight == 0, ws.title  # as many pages tall as needed, one wide


def test_every_number_has_a_number_format_and_columns_have_widths(example):
    _plan_, _data, wb, _values = example
    for ws in wb.worksheets:
        if ws.title == "Inputs":
            continue  # figures as typed in the project file
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "n" and isinstance(cell.value, float) and cell.value != int(cell.value):
                    assert cell.number_format != "General", f"{ws.title}!{cell.coordinate} = {cell.value}"
        assert ws.column_dimensions["A"].width and ws.column_dimensions["A"].width >= 8, ws.title


def test_closed_form_cells_are_formulas_over_the_inputs_sheet_and_computed_ones_are_marked(example):
    plan, _data, wb, values = example
    buckets = wb["Buckets"]
    header = {c.value: c.column for c in buckets[2]}
    s_cell = buckets.cell(3, header["S_bucket ms"])
    assert s_cell.data_type == "f" and re.search(r"r_prefill_1|\$?[A-Z]+\$?\d+", s_cell.value)
    assert "lambda_peak" in buckets.cell(3, header["lambda req/s"]).value
    assert values["Buckets"].cell(3, header["S_bucket ms"]).value == pytest.approx(plan.dedicated[0].service.total_s * 1e3, rel=1e-12)
    # figures that need the tool: values, headed "(computed)", grey italic, with a method column beside them
    share = header["share of requests (computed)"]
    assert buckets.cell(3, share).data_type == "n" and buckets.cell(3, share).font.i
    assert buckets.cell(2, share + 1).value == "method"
    capacity = wb["Capacity"]
    cap_header = {c.value: c.column for c in capacity[2]}
    assert "e2el p99_9 ms (computed)" in cap_header and "method" in cap_header
    assert capacity.cell(3, cap_header["method"]).value == plan.dedicated[0].normal.method
    # the names formulas use point at the Inputs sheet's value cells
    names = {n: d.attr_text for n, d in wb.defined_names.items()}
    assert names["lambda_peak"].startswith("Inputs!$B$")
    row = int(names["lambda_peak"].rsplit("$", 1)[1])
    assert wb["Inputs"][f"A{row}"].value == "workload.lambda_peak"


def test_verdicts_are_coloured_and_every_check_is_listed(example):
    plan, _data, wb, _values = example
    rules = [r for ws in wb.worksheets for cf in ws.conditional_formatting for r in cf.rules]
    assert any('"FAIL"' in (r.formula or [""])[0] for r in rules) and any('"PASS"' in (r.formula or [""])[0] for r in rules)
    provenance = wb["Provenance"]
    assert provenance["B2"].value.startswith(("PASS", "FAIL"))
    checks = [r for r in provenance.iter_rows(values_only=True) if r[2] in ("PASS", "FAIL")]
    assert len(checks) == len(plan.checks)


def test_same_plan_same_bytes():
    plan = _plan()
    assert sizing_workbook(plan, "x") == sizing_workbook(plan, "x")


def test_user_strings_stay_text(tmp_path):
    text = example_project_text().replace('name = "example: 70B-class chat service"', f"name = '{EVIL}'")
    text = text.replace('name = "p512"', 'name = "=1+1"')
    plan = _plan(text, place=False)
    data = sizing_workbook(plan, "@SUM(1)")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb["Inputs"]["B3"].value == EVIL and wb["Inputs"]["B3"].data_type == "s"
    assert wb["Buckets"]["A3"].value == "=1+1" and wb["Buckets"]["A3"].data_type == "s"
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = "".join(archive.read(n).decode() for n in archive.namelist() if n.startswith("xl/worksheets/"))
    assert "HYPERLINK" not in sheets  # only in the shared strings table, as text
    assert "<f>1+1</f>" not in sheets


def test_an_unstable_figure_reads_infinite():
    import dataclasses

    plan = _plan(place=False)
    b = plan.dedicated[0]
    inf = math.inf
    # the pool with every replica lost (what an unstable or unserved state reports: infinite waits)
    unserved = dataclasses.replace(b.degraded, wait_mean_s=inf, latency_p50_s=inf, latency_p95_s=inf,
                                   latency_p99_s=inf, latency_p999_s=inf)
    plan = dataclasses.replace(plan, dedicated=(dataclasses.replace(b, degraded=unserved),) + plan.dedicated[1:])
    wb = openpyxl.load_workbook(io.BytesIO(sizing_workbook(plan, "x")))
    capacity = wb["Capacity"]
    header = {c.value: c.column for c in capacity[2]}
    row = 4  # the first bucket's degraded row
    assert capacity.cell(row, header["e2el p99 ms (computed)"]).value == "infinite"
    assert capacity.cell(row, header["e2el p99_9 ms (computed)"]).value == "infinite"


def test_inputs_sheet_lists_every_figure_with_its_source(example):
    plan, _data, wb, _values = example
    rows = list(wb["Inputs"].iter_rows(min_row=3, values_only=True))
    assert [r[0] for r in rows] == [r.field for r in input_rows(plan.project)]
    by_field = {r[0]: r for r in rows}
    assert by_field["workload.lambda_peak"][3] == "assumed"
    assert by_field["bucket[0].r_decode"][3] == "sourced" and "groq.com" in by_field["bucket[0].r_decode"][4]
    assert by_field["slo.p99_ms"][2] == "ms"


def test_plan_writes_the_workbook_and_export_writes_the_chosen_formats(tmp_path):
    project = tmp_path / "lpuplan.toml"
    project.write_text(example_project_text(), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["plan", str(project), "--out", str(tmp_path / "out"), "--no-simulate"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "sizing.xlsx").stat().st_size > 10_000
    result = runner.invoke(app, ["export", str(project), "--format", "xlsx,csv", "-o", str(tmp_path / "ex"), "--no-simulate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PASS")
    assert sorted(p.name for p in (tmp_path / "ex").iterdir() if not p.name.startswith(".")) == ["sizing.csv", "sizing.xlsx"]
    result = runner.invoke(app, ["export", str(project), "--format", "xlsx,pdf", "-o", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "--format" in result.output and "pdf" in result.output
    assert not (tmp_path / "bad").exists()
