"""``lpuplan import-worksheet``: the Inputs sheet back into a project file, from a trusted or a hostile workbook."""

from __future__ import annotations

import io
import time
import tomllib
import zipfile
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

from lpuplan.cli import app
from lpuplan.plan import build_plan
from lpuplan.project import example_project_text, load_project, parse_project
from lpuplan.workbook import sizing_workbook
from lpuplan.worksheet_import import MAX_ROWS, WorksheetError, project_toml, read_worksheet

EVIL = '=HYPERLINK("http://example.invalid","click")'
runner = CliRunner()


def _workbook(tmp_path: Path, text: str | None = None, name: str = "sizing.xlsx") -> Path:
    project = parse_project(tomllib.loads(text or example_project_text()), Path.cwd())
    path = tmp_path / name
    path.write_bytes(sizing_workbook(build_plan(project, place=False), "test"))
    return path


def _edit(path: Path, changes: dict[str, object], column: str = "B") -> Path:
    wb = openpyxl.load_workbook(path)
    ws = wb["Inputs"]
    for row in ws.iter_rows(min_row=3):
        if row[0].value in changes:
            ws[f"{column}{row[0].row}"].value = changes[row[0].value]
    out = path.with_name("edited.xlsx")
    wb.save(out)
    return out


def _row_of(path: Path, field: str) -> int:
    ws = openpyxl.load_workbook(path)["Inputs"]
    return next(r[0].row for r in ws.iter_rows(min_row=3) if r[0].value == field)


def _occupancy_text() -> str:
    """The example with rates by occupancy: a table for p512, a step model for p2048, a histogram of prompts."""
    text = example_project_text()
    head, rest = text.split("[[bucket]]", 1)
    buckets = ("[[bucket]]" + rest).split("\n[[bucket]]")
    buckets[0] = buckets[0].replace("r_prefill = 40000.0\nr_decode = 280.0\n",
                                    "rates_at_concurrency = [[1, 40000.0, 280.0], [16, 30000.0, 210.0]]\n")
    buckets[1] = buckets[1].replace("r_prefill = 35000.0\nr_decode = 280.0\n",
                                    "step_model = { beta0_us = 3000.0, beta1_us = 20.0, beta2_us = 40.0 }\n")
    buckets[0] = buckets[0].replace('"r_prefill", ', "")
    buckets[1] = buckets[1].replace('"r_prefill", ', "").replace(
        'sources = { r_decode = "console.groq.com/docs/models: Llama 3.3 70B ~280 tok/s per user" }\n', "")
    head = head.replace('prompt_tokens = { distribution = "lognormal", mean = 1400.0, std = 900.0 }',
                        "prompt_tokens = { histogram = [[512, 0.3], [2048, 0.5], [4096, 0.15], [8192, 0.05]] }")
    out = head + "\n[[bucket]]".join(buckets)
    assert "rates_at_concurrency" in out and "step_model" in out and "histogram" in out
    return out


@pytest.mark.parametrize("example", ["default", "showcase", "occupancy"])
def test_round_trip_gives_the_same_project_and_the_same_answer(tmp_path, example):
    text = _occupancy_text() if example == "occupancy" else example_project_text(example)
    original = parse_project(tomllib.loads(text), Path.cwd())
    book = tmp_path / "sizing.xlsx"
    book.write_bytes(sizing_workbook(build_plan(original, place=False), "test"))
    result = runner.invoke(app, ["import-worksheet", str(book), "-o", str(tmp_path / "project.toml")])
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["validate", str(tmp_path / "project.toml")]).exit_code == 0
    back = load_project(tmp_path / "project.toml")
    # the same project semantics: every field, every assumption and source
    assert back.model_dump() == original.model_dump()
    assert [b.assumed for b in back.buckets] == [b.assumed for b in original.buckets]
    assert [b.sources for b in back.buckets] == [b.sources for b in original.buckets]
    # and the same answer
    a, b = build_plan(original, place=False), build_plan(back, place=False)
    assert [x.replicas for x in a.dedicated] == [x.replicas for x in b.dedicated]
    assert a.shared.replicas == b.shared.replicas


def test_a_hand_filled_value_is_read_and_sized(tmp_path):
    book = _edit(_workbook(tmp_path), {"workload.lambda_peak": 80, "bucket[1].r_decode": "250"})
    text, project = project_toml(book)
    assert project.workload.lambda_peak == 80 and project.buckets[1].r_decode == 250.0
    assert tomllib.loads(text)["workload"]["lambda_peak"] == 80


@pytest.mark.parametrize(("field", "value", "column", "words"), [
    ("bucket[1].r_decode", -5, "B", ["r_decode", "greater than 0"]),
    ("bucket[1].r_decode", "fast", "B", ["r_decode", "fast"]),
    ("headroom.rho_target_normal", 1.5, "B", ["rho_target_normal", "1.5"]),
    ("bucket[0].r_prefill", "guessed", "D", ["source", "guessed", "given"]),
    ("slo.p99_ms", None, "A", ["field"]),
])
def test_a_bad_cell_is_named_by_sheet_and_cell(tmp_path, field, value, column, words):
    book = _workbook(tmp_path)
    row = _row_of(book, field)
    edited = _edit(book, {field: value}, column)
    result = runner.invoke(app, ["import-worksheet", str(edited), "-o", str(tmp_path / "p.toml")])
    assert result.exit_code == 2, result.output
    assert f"Inputs!{'B' if column == 'A' and value is None else column}{row}" in result.output or f"Inputs!A{row}" in result.output
    for word in words:
        assert word in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "p.toml").exists()


def test_an_unknown_field_and_a_formula_are_refused_naming_the_cell(tmp_path):
    book = _workbook(tmp_path)
    row = _row_of(book, "slo.p99_ms")
    edited = _edit(book, {"slo.p99_ms": "slo.p99_seconds"}, "A")
    with pytest.raises(Exception) as info:
        project_toml(edited)
    assert f"Inputs!B{row}" in str(info.value) and "p99_seconds" in str(info.value) and "unknown key" in str(info.value)
    edited = _edit(book, {"slo.p99_ms": "=2*3000"})
    with pytest.raises(WorksheetError) as info:
        read_worksheet(edited)
    assert info.value.field == f"Inputs!B{row} (slo.p99_ms)" and "formula" in info.value.fix


def test_a_formula_injection_string_stays_text_both_ways(tmp_path):
    text = example_project_text().replace('name = "example: 70B-class chat service"', f"name = '{EVIL}'")
    book = _workbook(tmp_path, text)
    wb = openpyxl.load_workbook(book)
    name_cell = next(r[1] for r in wb["Inputs"].iter_rows(min_row=3) if r[0].value == "name")
    assert name_cell.data_type == "s" and name_cell.value == EVIL  # text, not a formula
    toml_text, project = project_toml(book)
    assert project.name == EVIL and tomllib.loads(toml_text)["name"] == EVIL


def _with_member(src: Path, dst: Path, member: str, payload: bytes) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, payload if item.filename == member else zin.read(item.filename))
    return dst


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>"""


@pytest.mark.parametrize("member", ["xl/sharedStrings.xml", "xl/workbook.xml"])
def test_a_billion_laughs_workbook_is_refused_without_expanding(tmp_path, member):
    book = _workbook(tmp_path)
    payload = LAUGHS if member.endswith("sharedStrings.xml") else LAUGHS.replace(b"<sst", b"<workbook").replace(b"</sst>", b"</workbook>")
    hostile = _with_member(book, tmp_path / "laughs.xlsx", member, payload)
    started = time.process_time()
    result = runner.invoke(app, ["import-worksheet", str(hostile), "-o", str(tmp_path / "p.toml")])
    assert result.exit_code == 2, result.output
    assert "entities" in result.output and "refused" in result.output
    assert time.process_time() - started < 5  # 10^9 "lol"s were never built
    assert not (tmp_path / "p.toml").exists()


def test_a_zip_bomb_and_an_oversized_file_are_refused_unread(tmp_path, monkeypatch):
    book = _workbook(tmp_path)
    bomb = _with_member(book, tmp_path / "bomb.xlsx", "xl/sharedStrings.xml", b" " * (64 * 2**20))
    with pytest.raises(WorksheetError) as info:
        read_worksheet(bomb)
    assert "zip bomb" in info.value.fix and "sharedStrings" in info.value.fix
    import lpuplan.worksheet_import as wi

    monkeypatch.setattr(wi, "MAX_FILE_BYTES", 1000)
    with pytest.raises(WorksheetError) as info:
        read_worksheet(book)
    assert "bytes" in info.value.fix


def test_too_many_rows_are_refused_naming_the_limit(tmp_path):
    book = _workbook(tmp_path)
    wb = openpyxl.load_workbook(book)
    ws = wb["Inputs"]
    for r in range(ws.max_row + 1, MAX_ROWS + 10):
        ws.cell(r, 1, "workload.note").value = "x"
    wb.save(tmp_path / "long.xlsx")
    with pytest.raises(WorksheetError) as info:
        read_worksheet(tmp_path / "long.xlsx")
    assert f"{MAX_ROWS:,}" in str(info.value.value)


def test_without_defusedxml_nothing_is_read(tmp_path, monkeypatch):
    import openpyxl.xml

    book = _workbook(tmp_path)
    monkeypatch.setattr(openpyxl.xml, "DEFUSEDXML", False)
    with pytest.raises(WorksheetError) as info:
        read_worksheet(book)
    assert "defusedxml" in info.value.fix


def test_openpyxl_parses_with_defusedxml():
    # openpyxl picks defusedxml up when installed (openpyxl/xml/__init__.py: DEFUSEDXML); lpuplan depends on it
    import openpyxl.xml
    import openpyxl.xml.functions as functions

    assert openpyxl.xml.DEFUSEDXML is True
    assert functions.iterparse.__module__.startswith("defusedxml")


def test_not_a_workbook_and_an_existing_output(tmp_path):
    junk = tmp_path / "junk.xlsx"
    junk.write_text("not a zip")
    result = runner.invoke(app, ["import-worksheet", str(junk), "-o", str(tmp_path / "p.toml")])
    assert result.exit_code == 2 and "not an .xlsx" in result.output
    (tmp_path / "p.toml").write_text("x")
    result = runner.invoke(app, ["import-worksheet", str(_workbook(tmp_path)), "-o", str(tmp_path / "p.toml")])
    assert result.exit_code == 2 and "--force" in result.output
    buffer = io.BytesIO()
    openpyxl.Workbook().save(buffer)
    (tmp_path / "other.xlsx").write_bytes(buffer.getvalue())
    result = runner.invoke(app, ["import-worksheet", str(tmp_path / "other.xlsx"), "-o", str(tmp_path / "q.toml")])
    assert result.exit_code == 2 and "Inputs" in result.output


def test_measured_figures_stay_with_their_profile(tmp_path):
    import json

    (tmp_path / "profile.json").write_text(json.dumps({
        "schema": "lpuplan.profile/1", "artifact": {"id": "a"},
        "fit": {"r_prefill": [{"bucket": 512, "value": 41000.0, "ci95": [40000.0, 42000.0]}],
                "r_decode": {"value": 300.0, "ci95": [299.0, 301.0]},
                "l_fixed_s": {"value": 0.025, "ci95": [0.024, 0.026]}}}))
    text = example_project_text().replace(
        "r_prefill = 40000.0\nr_decode = 280.0\nl_fixed_ms = 30.0\n", 'profile = "profile.json"\n', 1)
    text = text.replace('assumed = ["r_prefill", "l_fixed_ms", "slots", "chips_per_replica"]\n'
                        'sources = { r_decode = "console.groq.com/docs/models: Llama 3.3 70B ~280 tok/s per user" }',
                        'assumed = ["slots", "chips_per_replica"]', 1)
    (tmp_path / "lpuplan.toml").write_text(text)
    original = load_project(tmp_path / "lpuplan.toml")
    assert original.buckets[0].measured  # the profile gave the figures
    book = tmp_path / "sizing.xlsx"
    book.write_bytes(sizing_workbook(build_plan(original, place=False), "test"))
    rows = {r.field: r for _cell, r in read_worksheet(book)}
    assert rows["bucket[0].r_prefill"].source == "measured" and "95% interval" in rows["bucket[0].r_prefill"].note
    (tmp_path / "back").mkdir()
    result = runner.invoke(app, ["import-worksheet", str(book), "-o", str(tmp_path / "back" / "project.toml")])
    assert result.exit_code == 0, result.output
    back = load_project(tmp_path / "back" / "project.toml")
    assert "r_prefill =" not in (tmp_path / "back" / "project.toml").read_text().split("[[bucket]]")[1]
    assert back.buckets[0].measured == original.buckets[0].measured  # measured again, from the same profile
    assert back.model_dump() == original.model_dump()
