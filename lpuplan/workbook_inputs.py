"""The Inputs sheet's schema: a project, one figure a row, and back.

One row per leaf of the project file (``field`` in the project file's
dotted form, ``bucket[0].r_prefill``), with its value, unit, provenance
(``source``) and note. The ``assumed`` lists and ``sources`` tables of the
project file are not rows of their own: they are the ``source`` column
(``assumed``; ``sourced`` with the reference in ``note``). Lists (a token
histogram, ``rates_at_concurrency``) are one row whose unit is ``JSON`` and
whose value is the list as JSON text.

Writer (:func:`input_rows`, used by :mod:`lpuplan.workbook`) and reader
(:func:`project_data`, used by :mod:`lpuplan.worksheet_import`) share this
module, so the sheet cannot drift from what the importer understands.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lpuplan.project import Project

__all__ = ["InputRow", "SOURCES", "input_rows", "project_data", "defined_name", "SHEET", "HEADER", "FIRST_ROW"]

SHEET = "Inputs"
HEADER = ("field", "value", "unit", "source", "note")
FIRST_ROW = 2  # 0-based: a title row, the header, then the figures
JSON_UNIT = "JSON"
SOURCES = ("given", "assumed", "sourced", "measured", "default")
"""given: written in the project file; assumed: listed as an assumption; sourced: from a public reference
(note); measured: from the bucket's profile (a row the importer leaves to the profile); default: lpuplan's
default, not written in the file."""

_TABLE_ORDER = ("workload", "slo", "headroom", "redundancy", "admission", "bucket", "hardware", "facility", "cost",
                "forecast", "campaign", "search")

_UNITS = {
    "lambda_peak": "req/s", "r_prefill": "tok/s", "r_decode": "tok/s", "slots": "sequences",
    "chips_per_replica": "chips", "replicas_lost_worst": "replicas", "max_prompt_tokens": "tokens",
    "max_output_tokens": "tokens", "voltage": "V", "amperage": "A", "delta_t_f": "°F", "typical": "kW", "max": "kW",
    "unit_kw": "kW", "racks_per_zone": "racks", "redundancy": "units", "nodes_per_rack": "nodes",
    "spare_nodes_per_rack": "nodes", "beta0_us": "µs", "beta1_us": "µs", "beta2_us": "µs",
    "shed_target": "probability", "service_inflation": "ratio", "rho_target_normal": "", "rho_target_degraded": "", "arrival_scv": "",
}


@dataclass(frozen=True)
class InputRow:
    """One row of the Inputs sheet."""

    field: str
    value: Any
    unit: str
    source: str
    note: str = ""

    @property
    def is_number(self) -> bool:
        return isinstance(self.value, (int, float)) and not isinstance(self.value, bool)


def _unit(path: str, value: Any) -> str:
    if isinstance(value, (list, dict)):
        return JSON_UNIT
    leaf = path.rsplit(".", 1)[-1]
    if path.split(".", 1)[0] in ("prompt_tokens", "output_tokens") and leaf in ("mean", "std", "value"):
        return "tokens"
    if leaf in _UNITS:
        return _UNITS[leaf]
    for suffix, unit in (("_ms", "ms"), ("_kw", "kW"), ("_s", "s"), ("_tokens", "tokens"), ("_usd", "USD")):
        if leaf.endswith(suffix):
            return unit
    return ""


def defined_name(field: str) -> str:
    """The workbook's defined name of an Inputs row: ``workload.lambda_peak`` -> ``lambda_peak``,
    ``bucket[0].r_prefill`` -> ``r_prefill_1``, ``facility.feed.voltage`` -> ``facility_feed_voltage``.

    Letters, digits and underscores only, never a cell reference (``A1``, ``R1C1``) in Excel or LibreOffice.
    """
    match = re.fullmatch(r"bucket\[(\d+)\]\.(.+)", field)
    if match:
        name = f"{match.group(2)}_{int(match.group(1)) + 1}"
    elif field.split(".", 1)[0] in ("workload", "slo", "headroom", "redundancy", "admission"):
        name = field.split(".", 1)[1]
    else:
        name = field
    name = re.sub(r"\W", "_", name.replace(".", "_"))
    if not re.match(r"[A-Za-z_]", name) or re.fullmatch(r"[A-Za-z]{1,3}\d+|[RrCc]\d*|[Rr]\d+[Cc]\d+", name):
        name = "in_" + name
    return name


def _flatten(prefix: str, value: Any, out: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict) and value and not prefix.endswith((".override", ".catalog")):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, (list, dict)):
        if value:
            out.append((prefix, value))
    elif value is not None:
        out.append((prefix, value))


def input_rows(project: "Project") -> list[InputRow]:
    """Every figure of ``project`` as Inputs rows, in project-file order (module docstring)."""
    data = project.model_dump(mode="json", by_alias=True, exclude_none=True)
    rows = [InputRow("name", project.name, "", "given" if "name" in project.model_fields_set else "default")]
    for table in _TABLE_ORDER:
        if table not in data:
            continue
        if table == "bucket":
            for i, (bucket, dumped) in enumerate(zip(project.buckets, data["bucket"])):
                rows += _table_rows(f"bucket[{i}]", bucket, dumped)
        else:
            model = getattr(project, table)
            rows += _table_rows(table, model, data[table])
    return rows


def _table_rows(prefix: str, model: Any, dumped: dict[str, Any]) -> list[InputRow]:
    assumed = set(dumped.pop("assumed", ()) or ())
    sources = dict(dumped.pop("sources", {}) or {})
    measured = getattr(model, "measured", {}) or {}
    set_fields = model.model_fields_set
    if getattr(model, "step_model", None) is not None or getattr(model, "rates_at_concurrency", None) is not None:
        # rates that follow from the step model or table at `slots` are not inputs (the Buckets sheet shows them)
        dumped.pop("r_prefill", None)
        dumped.pop("r_decode", None)
    leaves: list[tuple[str, Any]] = []
    _flatten("", dumped, leaves)
    rows = []
    for path, value in leaves:
        key = path.split(".", 1)[0]
        note = ""
        if key in measured:
            point, low, high = measured[key]
            source, note = "measured", f"fit {point:g}, 95% interval [{low:g}, {high:g}]"
        elif key in assumed:
            source = "assumed"
        elif key in sources:
            source, note = "sourced", sources[key]
        elif key in set_fields:
            source = "given"
        else:
            source = "default"
        shown = json.dumps(value) if isinstance(value, (list, dict)) else value
        rows.append(InputRow(f"{prefix}.{path}", shown, _unit(path, value), source, note))
    # an assumption about a figure the file does not hold (workload.trace's distributions) stays on record
    listed = {path.split(".", 1)[0] for path, _ in leaves}
    for key in sorted(assumed - listed):
        rows.append(InputRow(f"{prefix}.assumed", key, "", "given", "an assumption about a figure not in this table"))
    for key in sorted(set(sources) - listed):  # the reference of a figure derived here (rates from a table)
        rows.append(InputRow(f"{prefix}.sources.{key}", sources[key], "", "given", "the reference of a derived figure"))
    return rows


class WorksheetProblem(Exception):
    """A bad cell of a hand-filled Inputs sheet: ``cell`` (``Inputs!B7``), field, value and fix."""

    def __init__(self, cell: str, field: str, value: Any, fix: str) -> None:
        super().__init__(f"{cell} ({field}) = {value!r}: {fix}")
        self.cell, self.field, self.value, self.fix = cell, field, value, fix


_PATH = re.compile(r"^(name|[a-z_]+)((?:\[\d{1,4}\])?)((?:\.[A-Za-z0-9_]+)*)$")


def _split(path: str) -> list[str | int]:
    """``bucket[2].step_model.beta0_us`` -> ["bucket", 2, "step_model", "beta0_us"]."""
    match = _PATH.match(path)
    if match is None:
        raise ValueError(path)
    parts: list[str | int] = [match.group(1)]
    if match.group(2):
        parts.append(int(match.group(2)[1:-1]))
    parts += [p for p in match.group(3).split(".") if p]
    return parts


def project_data(rows: list[tuple[str, InputRow]]) -> tuple[dict[str, Any], dict[str, str]]:
    """The project file's data from Inputs rows (``(cell of the value, row)``); and field -> cell.

    Raises :class:`WorksheetProblem` naming the cell for a field that is not a
    project-file path, a repeated field, an unknown source word, bad JSON, or
    a ``sourced`` figure outside a bucket.
    """
    data: dict[str, Any] = {}
    cells: dict[str, str] = {}
    buckets: dict[int, dict[str, Any]] = {}
    for cell, row in rows:
        field_cell = cell.replace("!B", "!A")
        source_cell = cell.replace("!B", "!D")
        try:
            parts = _split(row.field)
        except ValueError:
            raise WorksheetProblem(field_cell, row.field, row.field,
                                   "not a project-file field: write it as the export does (workload.lambda_peak,"
                                   " bucket[0].r_prefill)") from None
        if row.field in cells:
            raise WorksheetProblem(field_cell, row.field, row.field, f"repeats the row at {cells[row.field]}: keep one")
        cells[row.field] = cell
        if row.source not in SOURCES:
            raise WorksheetProblem(source_cell, row.field, row.source, f"source must be one of {', '.join(SOURCES)}")
        value = row.value
        if row.unit == JSON_UNIT and isinstance(value, str):
            try:
                value = json.loads(value, parse_constant=_no_constant)
            except ValueError as exc:
                raise WorksheetProblem(cell, row.field, value, f"not valid JSON ({exc}): write the list as the export"
                                       " does, e.g. [[1, 40000, 280], [16, 30000, 200]]") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise WorksheetProblem(cell, row.field, value, "give a finite number")
        if value is None:
            continue  # an empty value: the field is left out (its default applies)
        if isinstance(parts[1] if len(parts) > 1 else None, int):
            index = int(parts[1])
            if parts[0] != "bucket":
                raise WorksheetProblem(field_cell, row.field, row.field, "only bucket[i] rows carry an index")
            target = buckets.setdefault(index, {})
            table, rest = target, [str(p) for p in parts[2:]]
        elif parts[0] == "name":
            data["name"] = value
            continue
        else:
            table, rest = data.setdefault(str(parts[0]), {}), [str(p) for p in parts[1:]]
            if not isinstance(table, dict):
                raise WorksheetProblem(field_cell, row.field, row.field, "not a project-file table")
        if not rest:
            raise WorksheetProblem(field_cell, row.field, row.field, "name a field of the table (table.field)")
        if rest == ["assumed"]:
            table.setdefault("assumed", []).append(value)
            continue
        node = table
        for part in rest[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise WorksheetProblem(field_cell, row.field, row.field, "clashes with another row's value")
        if row.source == "measured" and any(r.field in (f"{row.field.split('.')[0]}.profile",
                                                         f"{row.field.split('.')[0]}.under_load") for _c, r in rows):
            continue  # the measurement file gives it again (change source to given to override it)
        node[rest[-1]] = value
        if row.source == "assumed" and rest[0] not in table.get("assumed", []):
            table.setdefault("assumed", []).append(rest[0])
        elif row.source == "sourced":
            if parts[0] != "bucket":
                raise WorksheetProblem(source_cell, row.field, row.source,
                                       "sourced is for bucket figures (their sources table); use given or assumed")
            table.setdefault("sources", {})[rest[0]] = row.note or "source not named"
    for table in [data.get(k) for k in data] + list(buckets.values()):
        if isinstance(table, dict):  # the lists of assumptions and sources after the figures, as people write them
            for key in ("assumed", "sources"):
                if key in table:
                    table[key] = table.pop(key)
    if buckets:
        missing = sorted(set(range(max(buckets) + 1)) - set(buckets))
        if missing:
            raise WorksheetProblem(f"{SHEET}!A", f"bucket[{missing[0]}]", None,
                                   f"buckets are numbered from 0 without gaps; bucket[{missing[0]}] has no row")
        data["bucket"] = [buckets[i] for i in range(len(buckets))]
    return data, cells


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")
