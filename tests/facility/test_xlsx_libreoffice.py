"""The rack-plan workbook in a real spreadsheet engine (LibreOffice headless), forced to recalculate.

Skipped, loudly, when ``soffice`` is not installed (CI: ``bash .ci/libreoffice.sh`` installs
Debian's ``libreoffice-calc-nogui``). With recalculation forced on load (OOXMLRecalcMode = 0,
in an isolated profile), a user string that starts with ``=`` must still read back as that
string (it was written as text, not as a formula), and the totals rows, the workbook's only
formulas, must recalculate to the tool's sums.
"""

from __future__ import annotations

import csv
import math
import shutil
import subprocess

import pytest

from dimensioning.inputs import Redundancy
from facility.demand import PoolDemand
from facility.export_xlsx import rack_plan_xlsx
from facility.plan import plan_facility

from .conftest import make_facility

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) not installed: run `bash .ci/libreoffice.sh`")

EVIL = '=HYPERLINK("http://example.invalid","click")'

RECALC_ALWAYS = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _to_csv(book, tmp_path):
    profile = tmp_path / "profile"
    (profile / "user").mkdir(parents=True, exist_ok=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_ALWAYS)
    out = tmp_path / "csv"
    # one CSV per sheet (token 12 = -1, LibreOffice >= 7.2), named <book>-<sheet>.csv
    subprocess.run(
        [SOFFICE, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1",
         "--outdir", str(out), str(book)],
        check=True, capture_output=True, timeout=180,
    )
    return {p.stem[len(book.stem) + 1:]: list(csv.reader(p.open(encoding="utf-8"))) for p in out.glob("*.csv")}


def test_control_a_real_formula_is_evaluated(tmp_path):
    # the engine does evaluate formulas, so the text check below has teeth
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "S"
    wb.active["A1"] = "=1+1"
    book = tmp_path / "control.xlsx"
    wb.save(book)
    assert _to_csv(book, tmp_path)["S"][0][0] == "2"


def test_libreoffice_reads_the_workbook_and_keeps_user_strings_as_text(tmp_path):
    fac = make_facility(rows=1, pods_per_row=1, racks_per_pod=4, site=EVIL,
                        cooling={"unit_kw": 150.0, "racks_per_zone": 4, "redundancy": 1})
    result = plan_facility(None, fac, Redundancy(level="rack"), [PoolDemand("=1+1", 3, 64, 10, 1.0, 9.0, 2.0, 0.5)])
    book = tmp_path / "plan.xlsx"
    book.write_bytes(rack_plan_xlsx(result))
    sheets = _to_csv(book, tmp_path)
    rows = sheets["Summary"]
    pools = [i for i, r in enumerate(rows) if r and r[0] == "pool"][0]
    assert rows[pools + 1][0] == "=1+1"  # the pool name, not 2
    assert [r for r in rows if r and r[0] == "site"][0][1] == EVIL  # not "click"
    values = sheets["Budgets"]
    assert "row01-pod01" in sheets
    assert values[0][:3] == ["element", "check", "value"]
    assert float(values[1][2]) == pytest.approx(result.budget_checks[0].value)
    assert len([r for r in values if any(r)]) - 1 == len(result.budget_checks)
    # the totals are live formulas: recalculated by the engine, they equal the tool's sums
    racks = sheets["Racks"]
    header = racks[0]
    total = next(r for r in racks if r and r[0] == "total")
    for column, figure in (("max kW", "max_kw"), ("typical kW", "typical_kw"), ("heat BTU/h", "heat_btu_per_h"),
                           ("airflow CFM", "airflow_cfm")):
        expected = math.fsum(getattr(r, figure) for r in result.racks)
        assert float(total[header.index(column)]) == pytest.approx(expected, rel=1e-9), column
