"""Rack plan workbook: a sheet per pod of rack elevations by U, and budget sheets.

Sheets: ``Summary`` (pools, replicas before and after N+1), ``Budgets``
(every check with value, limit, margin and verdict), ``N+1`` (per level and
pool), ``Domains`` (every failure domain), then one sheet per pod: a column per
rack, a row per U from the top (42) down, each node's cells merged over its
height and labelled ``node, replica, bucket, kW``.

Values only, no formulas (openpyxl writes formulas without evaluating them,
so a reader without a spreadsheet engine would see nothing). Every string is
written as text (``data_type = "s"``), so a user's name that starts with
``=`` stays a name and never becomes a formula.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any, Sequence

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from facility.plan import FacilityResult

__all__ = ["rack_plan_xlsx"]

_PALETTE = ("DCE6F1", "E2EFDA", "FFF2CC", "FCE4D6", "EDE7F6", "D9F2F2", "F2DCDB", "E7E6E6")
_BOLD = Font(bold=True)
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _set(ws: Any, row: int, col: int, value: Any) -> Any:
    cell = ws.cell(row=row, column=col)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # text, never a formula
    return cell


def _table(ws: Any, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    for c, name in enumerate(header, start=1):
        _set(ws, 1, c, name).font = _BOLD
    for r, values in enumerate(rows, start=2):
        for c, value in enumerate(values, start=1):
            _set(ws, r, c, value)
    ws.freeze_panes = "A2"


def _sheet_title(name: str, used: set[str]) -> str:
    title = "".join(ch for ch in name if ch not in '[]:*?/\\')[:31] or "sheet"
    base, i = title, 2
    while title in used:
        title = f"{base[:28]}~{i}"
        i += 1
    used.add(title)
    return title


def rack_plan_xlsx(result: FacilityResult) -> bytes:
    """The workbook as bytes (module docstring)."""
    lay = result.layout
    wb = Workbook()
    used: set[str] = set()
    ws = wb.active
    ws.title = _sheet_title("Summary", used)
    _table(ws, ("pool", "chips per replica", "nodes per replica", "arrival rate req/s", "service time s",
                "replicas initial", "replicas final", "added for N+k", "unplaced", "normal check"),
           [(p.name, p.demand.chips_per_replica, p.nodes_per_replica, p.demand.arrival_rate, p.demand.service_time_s,
             p.replicas_initial, p.replicas_final, p.added, p.unplaced, "pass" if p.normal.passed else "FAIL")
            for p in result.pools])
    r = len(result.pools) + 3
    _set(ws, r, 1, "site").font = _BOLD
    _set(ws, r, 2, lay.site)
    _set(ws, r + 1, 1, "verdict").font = _BOLD
    _set(ws, r + 1, 2, "pass" if result.passed else "FAIL")
    _set(ws, r + 2, 1, "required level").font = _BOLD
    _set(ws, r + 2, 2, f"N+{result.n_plus} at {result.required_level} ({result.required_level_source})")
    for i, failure in enumerate(result.failures):
        _set(ws, r + 3 + i, 1, "failure")
        _set(ws, r + 3 + i, 2, failure)

    ws = wb.create_sheet(_sheet_title("Budgets", used))
    _table(ws, ("element", "check", "value", "limit", "unit", "margin", "verdict", "formula", "basis"),
           [(c.element, c.kind, c.value, c.limit, c.unit, c.margin, "pass" if c.passed else "FAIL", c.formula, c.basis)
            for c in result.budget_checks])
    ws = wb.create_sheet(_sheet_title("N+1", used))
    rows = []
    for v in result.levels:
        for p in v.pools:
            rows.append((v.level, "yes" if v.required else "no", p.pool, p.replicas, p.lost, p.worst_domain or "",
                         p.check.n_operational, p.check.capacity_margin_rps, p.check.p99_s, p.check.slo_s,
                         "pass" if p.check.passed else "FAIL"))
    _table(ws, ("level", "required", "pool", "replicas", "lost (worst)", "worst domain", "operational",
                "capacity margin req/s", "p99 s", "SLO s", "verdict"), rows)
    ws = wb.create_sheet(_sheet_title("Domains", used))
    _table(ws, ("domain", "level", "kind", "replicas lost", "pools lost/left", "verdict"),
           [(d.domain, d.level, d.kind, " ".join(d.replicas_lost),
             " ".join(f"{p.pool}:{p.lost}/{p.left}" for p in d.pools), "pass" if d.passed else "FAIL")
            for d in result.domains if d.level != "node"])

    colours = {p.name: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(result.pools)}
    by_rack: dict[str, list] = {}
    for n in result.nodes:
        by_rack.setdefault(n.rack, []).append(n)
    top = lay.rack_u_height
    for pod in range(lay.pods):
        racks = [lay.rack_name(pod * lay.racks_per_pod + i) for i in range(lay.racks_per_pod)]
        if not any(name in by_rack for name in racks):
            continue
        ws = wb.create_sheet(_sheet_title(lay.pod_name(pod), used))
        _set(ws, 1, 1, "U").font = _BOLD
        for u in range(top, 0, -1):
            _set(ws, 2 + top - u, 1, u)
        for c, name in enumerate(racks, start=2):
            _set(ws, 1, c, name).font = _BOLD
            ws.column_dimensions[get_column_letter(c)].width = 30
            for n in by_rack.get(name, []):
                upper = n.u_position + n.u_height - 1
                first_row, last_row = 2 + top - upper, 2 + top - n.u_position
                label = f"node{n.position + 1:02d} {n.role}"
                if n.replica:
                    label += f" | {n.replica} | {n.pool}"
                label += f" | {n.max_kw:g} kW max"
                cell = _set(ws, first_row, c, label)
                cell.alignment = Alignment(vertical="center", wrap_text=True)
                fill = colours.get(n.pool, "FFFFFF" if n.role != "spare" else "BFBFBF")
                cell.fill = PatternFill("solid", fgColor=fill)
                if last_row > first_row:
                    ws.merge_cells(start_row=first_row, start_column=c, end_row=last_row, end_column=c)
        ws.freeze_panes = "B2"
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_stamps(buffer.getvalue())


def _fixed_stamps(data: bytes) -> bytes:
    """Same inputs, same bytes: pin the zip entries' times and the document's created/modified stamps."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            payload = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rb"\g<1>2000-01-01T00:00:00Z\g<3>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=_EPOCH)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            target.writestr(fixed, payload)
    return out.getvalue()
