"""Rack plan workbook for people: tables with units, totals and a print setup, and rack elevations.

Sheets, in order:

- ``Summary``: the verdict, the room's totals (power, heat, airflow) and one
  row per pool (replicas before and after N+k).
- ``Racks``: one row per rack with its nodes, typical and maximum draw (kW),
  budget and margin (kW), heat (BTU/h and kW) and airflow (CFM and m³/h); a
  totals row of live ``SUM`` formulas (their value is written too, so a reader
  without a spreadsheet engine sees the same figure).
- ``Cooling``: one row per cooling zone, with totals.
- ``Budgets``: every check with value, limit, margin and verdict.
- ``N+1``: per level and pool; ``Domains``: every failure domain above node level.
- One sheet per populated pod: a column per rack, a row per node height of
  U from the top down (``37-40``; a row per U, with merged cells, where
  nodes do not share one height), each node one cell labelled with node,
  role, replica, bucket and maximum kW; under the racks their kW, heat and
  airflow.

Formatted for a person and a printer: units in the headers, number formats,
frozen header rows, column widths from the content, verdicts coloured, and
every sheet printed landscape one page wide (A4, or A3 where A4 would shrink
the 10 pt text below 8 pt). A figure that is infinite (an unstable queue's
p99) is written as the word ``infinite``; a missing one stays blank.

Written with XlsxWriter (docs/performance.md: ten times faster than openpyxl
here). Every user string goes through ``write_string`` with the workbook's
string-to-formula conversion off, so a name that starts with ``=`` stays a
name; the only formulas are the totals, built here from cell ranges. The
document's timestamps are fixed, so the same plan gives the same bytes.
"""

from __future__ import annotations

import functools
import io
import math
import numbers
import textwrap
from datetime import datetime
from typing import Any, Callable, Sequence

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from facility.plan import FacilityResult

__all__ = ["rack_plan_xlsx", "INFINITE", "FONT_PT", "MIN_PRINTED_PT", "PAPERS", "ROW_POINTS", "printed_font_pt"]

INFINITE = "infinite"  # what an infinite figure reads as in a cell
FONT_PT = 10  # every cell's font size
MIN_PRINTED_PT = 8.0  # smallest font size allowed on paper after fit-to-width scaling
_PALETTE = ("#DCE6F1", "#E2EFDA", "#FFF2CC", "#FCE4D6", "#EDE7F6", "#D9F2F2", "#F2DCDB", "#E7E6E6")
_CREATED = datetime(2000, 1, 1)  # fixed document timestamp: same inputs, same bytes
# printable (width, height) in points, landscape, inside XlsxWriter's default margins
# (0.7 in left and right, 0.75 in top and bottom); Excel's paper codes 9 = A4, 8 = A3
PAPERS = {9: ((297 / 25.4 - 1.4) * 72, (210 / 25.4 - 1.5) * 72), 8: ((420 / 25.4 - 1.4) * 72, (297 / 25.4 - 1.5) * 72)}
ROW_POINTS = 13.5  # row height of every sheet: a 10 pt line
# number formats by kind of figure
_NUMBER_FORMATS = {
    "int": "#,##0",
    "kw": "#,##0.00",
    "btu": "#,##0",
    "flow": "#,##0",
    "rps": "#,##0.00",
    "s": "0.000",
    "ratio": "0.000",
    "value": "#,##0.00",
}


_DECIMALS = {"kw": 2, "rps": 2, "s": 3, "ratio": 3, "value": 2}


def column_points(width_chars: float) -> float:
    """Printed width of a column, points: Excel's ``width * 7 + 5`` pixels (Calibri 11) at 0.75 pt per pixel."""
    return (width_chars * 7 + 5) * 0.75


def printed_font_pt(widths: Sequence[float], paper: tuple[float, float], height_points: float | None = None) -> float:
    """Font size on paper when columns of ``widths`` (characters) are fit to one page width of
    ``paper`` (printable width, height in points), and to one page tall when ``height_points`` is given."""
    scale = min(1.0, paper[0] / sum(column_points(w) for w in widths))
    if height_points is not None:
        scale = min(scale, paper[1] / height_points)
    return FONT_PT * scale


class _Book:
    """The workbook and its formats; cell writers that keep strings as text and infinities as a word."""

    def __init__(self, buffer: io.BytesIO) -> None:
        self.wb = xlsxwriter.Workbook(buffer, {
            "in_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        })
        self.wb.set_properties({"created": _CREATED, "title": "lpuplan rack plan"})
        self.wb.formats[0].set_font_size(FONT_PT)
        self._formats: dict[tuple, Any] = {}
        self.used_titles: set[str] = set()

    def fmt(self, **props: Any) -> Any:
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format({"font_size": FONT_PT, **props})
        return self._formats[key]

    def sheet(self, name: str) -> Any:
        title = "".join(ch for ch in name if ch not in "[]:*?/\\")[:31] or "sheet"
        base, i = title, 2
        while title in self.used_titles:
            title = f"{base[:28]}~{i}"
            i += 1
        self.used_titles.add(title)
        return self.wb.add_worksheet(title)


def _number_writer(book: _Book, ws: Any) -> Callable[[int, int, Any, str], None]:
    def write(row: int, col: int, value: Any, kind: str = "value", **props: Any) -> None:
        if value is None:
            return
        if isinstance(value, bool):
            ws.write_string(row, col, "yes" if value else "no", book.fmt(**props))
        elif isinstance(value, numbers.Real):  # numpy scalars too
            value = value if isinstance(value, int) else float(value)
            if isinstance(value, float) and math.isnan(value):
                raise ValueError(f"NaN in the rack plan workbook at {ws.name}!{xl_rowcol_to_cell(row, col)}")
            if isinstance(value, float) and math.isinf(value):
                word = INFINITE if value > 0 else f"-{INFINITE}"
                ws.write_string(row, col, word, book.fmt(align="right", **props))
            else:
                ws.write_number(row, col, value, book.fmt(num_format=_NUMBER_FORMATS[kind], **props))
        else:
            ws.write_string(row, col, str(value), book.fmt(**props))
    return write


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def _colour_verdicts(book: _Book, ws: Any, first_row: int, last_row: int, col: int) -> None:
    if last_row < first_row:
        return
    for word, colours in (("FAIL", {"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
                          ("pass", {"bg_color": "#C6EFCE", "font_color": "#006100"})):
        ws.conditional_format(first_row, col, last_row, col, {
            "type": "cell", "criteria": "==", "value": f'"{word}"', "format": book.wb.add_format(colours)})


def _text_width(value: Any, kind: str) -> int:
    """Characters a figure shows with its number format."""
    if isinstance(value, float) and math.isinf(value):
        return len(INFINITE) + 1
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        digits = len(str(int(abs(value)))) if abs(value) < 1e15 else 16
        decimals = _DECIMALS.get(kind, 0)
        return digits + (digits - 1) // 3 + (decimals + 1 if decimals else 0) + (value < 0)
    return max((len(line) for line in str(value).split("\n")), default=0)


@functools.lru_cache(maxsize=4096)
def _wrapped_lines(text: str, width: int) -> int:
    """Lines ``text`` wraps to in ``width`` characters (a character spare); cached: a site repeats its formulas."""
    return sum(len(textwrap.wrap(part, max(width - 2, 1))) or 1 for part in text.split("\n"))


def _lines(texts: Sequence[Any], widths: Sequence[float]) -> int:
    """Lines the tallest of ``texts`` wraps to in columns of ``widths`` characters."""
    return max([1] + [_wrapped_lines(text, int(widths[c])) for c, text in enumerate(texts) if isinstance(text, str)])


def _print_setup(ws: Any, widths: Sequence[float], header_rows: int, page_points: float | None = None) -> None:
    """Landscape, one page wide (and one page tall when the sheet's height ``page_points`` is given),
    header rows repeated; A3 only where A4 would print below MIN_PRINTED_PT."""
    paper = next((code for code, size in PAPERS.items() if printed_font_pt(widths, size, page_points) >= MIN_PRINTED_PT),
                 8)
    if page_points is not None:
        ws.set_default_row(ROW_POINTS)  # fixed rows: the page height above assumes them
    ws.set_paper(paper)
    ws.set_landscape()
    ws.fit_to_pages(1, 0 if page_points is None else 1)
    if header_rows and page_points is None:
        ws.repeat_rows(0, header_rows - 1)


def _table(book: _Book, name: str, header: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]], *,
           totals: Sequence[int] = (), verdict_col: int | None = None, wrap: Sequence[int] = (),
           max_width: int = 40, first_row: int = 0, ws: Any = None, freeze: bool = True) -> list[float]:
    """A sheet (or the rest of ``ws`` from ``first_row``) holding one table: bold header, typed cells,
    widths from the content, a totals row of SUM formulas over the ``totals`` columns, print setup."""
    ws = ws or book.sheet(name)
    head = book.fmt(bold=True, text_wrap=True, valign="top", bottom=1)
    for c, (title, _kind) in enumerate(header):
        ws.write_string(first_row, c, title, head)
    widths = [min(max(len(w) for w in title.split()) + 1, max_width) for title, _kind in header]
    # one format per column, looked up once: this loop writes every cell of the workbook's tables
    number_formats = [book.fmt(num_format=_NUMBER_FORMATS[kind]) for _title, kind in header]
    text_formats = [book.fmt(text_wrap=True, valign="top") if c in wrap else None for c in range(len(header))]
    write_string, write_number = ws.write_string, ws.write_number
    largest = [-1.0] * len(header)
    for r, values in enumerate(rows, start=first_row + 1):
        for c, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                write_string(r, c, value, text_formats[c])
                width = max(map(len, value.split("\n"))) if text_formats[c] else len(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
                write_number(r, c, value, number_formats[c])
                if abs(value) > largest[c]:  # the widest figure of a column is its largest (or a negative one)
                    largest[c] = abs(value)
                    widths[c] = max(widths[c], min(_text_width(-abs(value), header[c][1]) + 1, max_width))
                continue
            else:
                _number_writer(book, ws)(r, c, value, header[c][1])  # infinities, NaN (raises), booleans
                width = len(INFINITE) + 1
            if width >= widths[c]:
                widths[c] = min(width + 1, max_width)
    last = first_row + len(rows)
    if totals and rows:
        bold = {"bold": True, "top": 1}
        ws.write_string(last + 1, 0, "total", book.fmt(**bold))
        for c in totals:
            kind = header[c][1]
            values = [row[c] for row in rows if isinstance(row[c], (int, float)) and not isinstance(row[c], bool)]
            cached = math.fsum(values)
            cells = f"{xl_rowcol_to_cell(first_row + 1, c)}:{xl_rowcol_to_cell(last, c)}"
            ws.write_formula(last + 1, c, f"=SUM({cells})", book.fmt(num_format=_NUMBER_FORMATS[kind], **bold),
                             int(cached) if kind == "int" else cached)
            widths[c] = min(max(widths[c], _text_width(cached, kind) + 1), max_width)
    if verdict_col is not None:
        _colour_verdicts(book, ws, first_row + 1, last, verdict_col)
    for c, width in enumerate(widths):
        ws.set_column(c, c, width)
    # wrapped cells get the row height their lines need: neither Excel nor LibreOffice autofits rows on load
    ws.set_row(first_row, _lines([title for title, _kind in header], widths) * ROW_POINTS)
    if wrap:
        for r, values in enumerate(rows, start=first_row + 1):
            lines = _lines([values[c] if c in wrap else None for c in range(len(values))], widths)
            if lines > 1:
                ws.set_row(r, lines * ROW_POINTS)
    if freeze:
        ws.freeze_panes(first_row + 1, 1 if len(header) > 6 else 0)
    _print_setup(ws, widths, first_row + 1 if freeze else 0)
    return widths


def _summary(book: _Book, result: FacilityResult) -> None:
    lay = result.layout
    ws = book.sheet("Summary")
    write = _number_writer(book, ws)
    bold = book.fmt(bold=True)
    room = next((t for t in result.power_totals if t.kind == "room"), None)
    facts: list[tuple[str, Any, str]] = [
        ("verdict", _verdict(result.passed), "value"),
        ("site", lay.site, "value"),
        ("required level", f"N+{result.n_plus} at {result.required_level} ({result.required_level_source})", "value"),
        ("racks populated", sum(1 for r in result.racks if r.used_nodes), "int"),
        ("racks in the room", lay.racks, "int"),
        ("nodes powered", sum(r.powered_nodes for r in result.racks), "int"),
        ("power typical kW", room.typical_kw if room else math.fsum(r.typical_kw for r in result.racks), "kw"),
        ("power max kW", room.max_kw if room else math.fsum(r.max_kw for r in result.racks), "kw"),
        ("heat BTU/h", math.fsum(r.heat_btu_per_h for r in result.racks), "btu"),
        ("airflow CFM", math.fsum(r.airflow_cfm for r in result.racks), "flow"),
        ("airflow m³/h", math.fsum(r.airflow_m3_per_h for r in result.racks), "flow"),
        ("N+1 feedback rounds", result.feedback_rounds, "int"),
    ]
    for r, (label, value, kind) in enumerate(facts):
        ws.write_string(r, 0, label, bold)
        write(r, 1, value, kind)
    _colour_verdicts(book, ws, 0, 0, 1)
    row = len(facts)
    for failure in result.failures:
        ws.write_string(row, 0, "failure", bold)
        ws.write_string(row, 1, failure)
        row += 1
    for note in result.notes:
        ws.write_string(row, 0, "note", bold)
        ws.write_string(row, 1, note)
        row += 1
    header = (("pool", "value"), ("chips per replica", "int"), ("nodes per replica", "int"),
              ("arrival rate req/s", "rps"), ("service time s", "s"), ("replicas initial", "int"),
              ("replicas final", "int"), ("added for N+k", "int"), ("unplaced", "int"), ("normal check", "value"))
    rows = [(p.name, p.demand.chips_per_replica, p.nodes_per_replica, p.demand.arrival_rate, p.demand.service_time_s,
             p.replicas_initial, p.replicas_final, p.added, p.unplaced, _verdict(p.normal.passed)) for p in result.pools]
    widths = _table(book, "", header, rows, totals=(5, 6, 7, 8), verdict_col=9, first_row=row + 1, ws=ws,
                    max_width=30, freeze=False)
    # the facts above the pool table share its first two columns
    widths[0] = max(widths[0], max(len(label) for label, _v, _k in facts) + 1)
    widths[1] = max(widths[1], max(_text_width(v, k) for _l, v, k in facts[3:]) + 1, len("pass") + 1)
    for c in (0, 1):
        ws.set_column(c, c, widths[c])
    _print_setup(ws, widths, 0)


def _racks(book: _Book, result: FacilityResult) -> None:
    lay = result.layout
    budget_kw = lay.rack_power_budget_w / 1e3
    phases = lay.feed.phases
    header = [("rack", "value"), ("pod", "value"), ("nodes used", "int"), ("nodes powered", "int"),
              ("nodes installed", "int"), ("typical kW", "kw"), ("max kW", "kw"), ("budget kW", "kw"),
              ("margin kW", "kw")]
    header += [(f"phase L{i + 1} max kW", "kw") for i in range(phases)]
    header += [("per feed normal kW", "kw"), ("heat BTU/h", "btu"), ("airflow CFM", "flow"),
               ("airflow m³/h", "flow")]
    rows = []
    for r in result.racks:
        legs = list(r.phase_max_kw) + [None] * (phases - len(r.phase_max_kw))
        rows.append([r.rack, lay.pod_name(lay.pod_of(r.index)), r.used_nodes,
                     r.powered_nodes, r.installed_nodes, r.typical_kw, r.max_kw, budget_kw, budget_kw - r.max_kw,
                     *legs[:phases], r.per_feed_normal_kw, r.heat_btu_per_h, r.airflow_cfm,
                     r.airflow_m3_per_h])
    numeric = [c for c, (_t, kind) in enumerate(header) if kind != "value" and header[c][0] not in ("budget kW", "margin kW")]
    _table(book, "Racks", header, rows, totals=numeric)


def _cooling(book: _Book, result: FacilityResult) -> None:
    header = (("zone", "value"), ("racks", "int"), ("heat typical kW", "kw"), ("heat max kW", "kw"),
              ("heat BTU/h", "btu"), ("cooling tons", "kw"), ("airflow CFM", "flow"), ("airflow m³/h", "flow"),
              ("unit kW", "kw"), ("units needed", "int"), ("units installed", "int"), ("redundancy", "int"),
              ("survives one unit loss", "value"))
    rows = [(z.zone, len(z.racks), z.heat_typical_kw, z.heat_max_kw, z.heat_btu_per_h, z.tons, z.airflow_cfm,
             z.airflow_m3_per_h, z.unit_kw, z.units_needed, z.units_installed, z.redundancy,
             _verdict(z.survives_one_unit_loss)) for z in result.zones]
    _table(book, "Cooling", header, rows, totals=(1, 2, 3, 4, 5, 6, 7, 9, 10), verdict_col=12)


def _checks(book: _Book, result: FacilityResult) -> None:
    _table(book, "Budgets",
           (("element", "value"), ("check", "value"), ("value", "value"), ("limit", "value"), ("unit", "value"),
            ("margin", "value"), ("verdict", "value"), ("formula", "value"), ("basis", "value")),
           [(c.element, c.kind, c.value, c.limit, c.unit, c.margin, _verdict(c.passed), c.formula, c.basis)
            for c in result.budget_checks], verdict_col=6, wrap=(7, 8), max_width=36)
    rows = []
    for v in result.levels:
        for p in v.pools:
            rows.append((v.level, "yes" if v.required else "no", p.pool, p.replicas, p.lost, p.worst_domain or "",
                         p.check.n_operational, p.check.capacity_margin_rps, p.check.p99_s, p.check.slo_s,
                         _verdict(p.check.passed)))
    _table(book, "N+1", (("level", "value"), ("required", "value"), ("pool", "value"), ("replicas", "int"),
                         ("lost (worst)", "int"), ("worst domain", "value"), ("operational", "int"),
                         ("capacity margin req/s", "rps"), ("p99 s", "s"), ("SLO s", "s"), ("verdict", "value")),
           rows, verdict_col=10)
    _table(book, "Domains", (("domain", "value"), ("level", "value"), ("kind", "value"), ("replicas lost", "value"),
                             ("pools lost/left", "value"), ("verdict", "value")),
           [(d.domain, d.level, d.kind, " ".join(d.replicas_lost),
             " ".join(f"{p.pool}:{p.lost}/{p.left}" for p in d.pools), _verdict(d.passed))
            for d in result.domains if d.level != "node"], verdict_col=5, wrap=(3, 4), max_width=48)


def _node_label(n: Any) -> str:
    lines = [f"node{n.position + 1:02d} {n.role}"]
    if n.replica:
        lines += [n.replica, n.pool]
    lines.append(f"{n.max_kw:g} kW max")
    return "\n".join(lines)


def _slots(top: int, nodes: Sequence[Any], unit: int) -> list[tuple[int, int]]:
    """Row ranges of U (lowest, highest), top row first: one row per ``unit`` U where every node
    starts and ends on such a boundary (no merged cells needed), else one row per U."""
    if unit < 1 or any((n.u_position - 1) % unit or n.u_height % unit for n in nodes):
        unit = 1
    out, low = [], 1
    while low <= top:
        out.append((low, min(low + unit - 1, top)))
        low += unit
    return out[::-1]


def _elevations(book: _Book, result: FacilityResult) -> None:
    lay = result.layout
    colours = {p.name: _PALETTE[i % len(_PALETTE)] for i, p in enumerate(result.pools)}
    by_rack: dict[str, list] = {}
    for n in result.nodes:
        by_rack.setdefault(n.rack, []).append(n)
    power = {r.rack: r for r in result.racks}
    top = lay.rack_u_height
    head = book.fmt(bold=True, align="center", text_wrap=True, bottom=1)
    ucol = book.fmt(align="center", valign="vcenter", font_color="#595959")
    first = 2  # row of the top slot
    # a row per node height (4 U on a GroqRack), so a node is one cell, not a merge of four
    slots = _slots(top, [n for n in result.nodes if n.role != "empty"], lay.node_u_height)
    row_of_u = {u: first + i for i, (low, high) in enumerate(slots) for u in range(low, high + 1)}
    feet = [("max kW", "kw", lambda r: r.max_kw), ("typical kW", "kw", lambda r: r.typical_kw),
            ("heat BTU/h", "btu", lambda r: r.heat_btu_per_h), ("airflow CFM", "flow", lambda r: r.airflow_cfm)]
    foot = first + len(slots) + 1
    page_points = (first + 1 + len(feet)) * ROW_POINTS + top * ROW_POINTS
    for pod in range(lay.pods):
        racks = [lay.rack_name(pod * lay.racks_per_pod + i) for i in range(lay.racks_per_pod)]
        if not any(name in by_rack for name in racks):
            continue
        ws = book.sheet(lay.pod_name(pod))
        write = _number_writer(book, ws)
        ws.write_string(0, 0, f"{lay.pod_name(pod)}: rack elevations, front view, U {top} at the top; "
                              f"each node: position, role, replica, bucket, maximum draw",
                        book.fmt(bold=True))
        ws.write_string(1, 0, "U", head)
        for i, (low, high) in enumerate(slots):
            ws.set_row(first + i, (high - low + 1) * ROW_POINTS)
            ws.write_string(first + i, 0, f"{low}-{high}" if high > low else str(low), ucol)
        for i, (label, _kind, _get) in enumerate(feet):
            ws.write_string(foot + i, 0, label, book.fmt(bold=True))
        for c, name in enumerate(racks, start=1):
            ws.write_string(1, c, name.rsplit("-", 1)[-1], head)  # the pod is in the sheet's name
            for n in by_rack.get(name, []):
                if n.role == "empty":
                    continue
                first_row, last_row = row_of_u[n.u_position + n.u_height - 1], row_of_u[n.u_position]
                fill = colours.get(n.pool, "#FFFFFF" if n.role != "spare" else "#BFBFBF")
                cell = book.fmt(text_wrap=True, valign="vcenter", align="center", bg_color=fill, border=1)
                label = _node_label(n)
                if n.u_height <= label.count("\n"):  # too low for a line each: one line
                    label = label.replace("\n", " ")
                if last_row > first_row:
                    ws.merge_range(first_row, c, last_row, c, label, cell)
                else:
                    ws.write_string(first_row, c, label, cell)
            rack = power.get(name)
            if rack is not None:
                for i, (_label, kind, get) in enumerate(feet):
                    write(foot + i, c, get(rack), kind, bold=(i == 0))
        label_width = max([14] + [len(line) for name in racks for n in by_rack.get(name, [])
                                  for line in _node_label(n).split("\n")])
        widths = [11.0] + [float(min(label_width + 1, 24))] * len(racks)
        ws.set_column(0, 0, widths[0])
        ws.set_column(1, len(racks), widths[1])
        ws.freeze_panes(first, 1)
        _print_setup(ws, widths, 0, page_points=page_points)  # a pod is one page


def rack_plan_xlsx(result: FacilityResult) -> bytes:
    """The workbook as bytes (module docstring)."""
    buffer = io.BytesIO()
    book = _Book(buffer)
    _summary(book, result)
    _racks(book, result)
    _cooling(book, result)
    _checks(book, result)
    _elevations(book, result)
    book.wb.close()
    return buffer.getvalue()
