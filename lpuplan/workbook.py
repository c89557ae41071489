"""The sizing workbook (``sizing.xlsx``): the plan as live spreadsheet sheets people pass around.

Sheets, in order: ``Inputs`` (the project file, one figure a row:
:mod:`lpuplan.workbook_inputs`), ``Buckets`` (traffic and service time per
bucket), ``Capacity`` (replicas, utilisation, latency percentiles per state),
``Admission`` (C_max, Queue_cap, shed), ``Facility`` (per-rack power, heat,
airflow; cooling zones), ``Failure domains`` (N+k per level), ``Game day``
(the plan's simulated game-day summary) and ``Provenance`` (where every
figure comes from, every check, live vs computed).

Two kinds of figure, told apart on every sheet:

- **live**: a closed-form figure (tokens/s, ``S_bucket``, ``mu``, ``rho``,
  N by utilisation and its degraded counterpart, chips, rack power, heat,
  airflow, cooling units) is a formula over the Inputs sheet's cells (by
  defined name, e.g. ``lambda_peak``, ``r_decode_2``), with the tool's value
  cached in the cell. Change an input and a spreadsheet recalculates them.
  The formulas' one home is Python; :mod:`lpuplan.workbook_formulas` is the
  only place that turns them into Excel text.
- **computed**: a figure that needs the tool (the least-N search, exact
  M/D/c percentiles, shed probabilities, simulated game days, the traffic
  split from a distribution, placement) is a value, in grey italics, headed
  "(computed)", with its method (exact, bound, approximation+margin,
  simulated) in the column beside it. It does NOT follow an edited input:
  run ``lpuplan import-worksheet`` and ``lpuplan plan`` for new ones.

Formatted for people: units in headers, frozen header rows, number formats,
column widths, PASS/FAIL coloured, every sheet landscape one page wide, an
infinite figure as the word ``infinite``. User strings are written as text
(``strings_to_formulas`` off), so a name such as ``=HYPERLINK(...)`` stays a
name. Deterministic: fixed document timestamps, so the same plan gives the
same bytes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Sequence

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from lpuplan import __version__
from lpuplan.workbook_formulas import FAIL, FORMULAS, PASS, live
from lpuplan.workbook_inputs import FIRST_ROW, HEADER, SHEET, defined_name, input_rows

if TYPE_CHECKING:
    from lpuplan.plan import Plan

__all__ = ["sizing_workbook", "SHEETS", "INFINITE", "WORKBOOK_NAME"]

WORKBOOK_NAME = "sizing.xlsx"
SHEETS = ("Inputs", "Buckets", "Capacity", "Admission", "Facility", "Failure domains", "Game day", "Provenance")
INFINITE = "infinite"
NOT_EVALUATED = "not evaluated"
_CREATED = datetime(2000, 1, 1)  # fixed document timestamp: same plan, same bytes
_FONT_PT = 10
_NUMBER_FORMATS = {
    "int": "#,##0", "ms": "#,##0.0", "rate": "#,##0.000", "tok": "#,##0", "share": "0.00%", "prob": "0.00E+00",
    "kw": "#,##0.00", "btu": "#,##0", "flow": "#,##0", "ratio": "0.000", "mu": "0.0000", "value": "General",
}
_WIDTH = {"text": 14, "int": 9, "ms": 10, "rate": 10, "tok": 10, "share": 9, "prob": 10, "kw": 9, "btu": 11,
          "flow": 10, "ratio": 8, "mu": 10, "value": 12, "verdict": 8, "method": 20}


@dataclass(frozen=True)
class Live:
    """A formula cell: Excel text and the tool's value cached in it."""

    text: str
    cached: float | str


@dataclass(frozen=True)
class Col:
    key: str
    header: str
    kind: str = "text"  # a _NUMBER_FORMATS key, "text", "verdict" or "method"
    computed: bool = False
    width: float | None = None


@dataclass
class _Book:
    wb: Any
    formats: dict[tuple, Any] = field(default_factory=dict)

    def fmt(self, **props: Any) -> Any:
        props.setdefault("valign", "top")  # text that wraps and the numbers beside it share a top line
        key = tuple(sorted(props.items()))
        if key not in self.formats:
            self.formats[key] = self.wb.add_format({"font_size": _FONT_PT, **props})
        return self.formats[key]

    def cell_format(self, kind: str, computed: bool = False, **extra: Any) -> Any:
        props: dict[str, Any] = dict(extra)
        if kind in _NUMBER_FORMATS:
            props["num_format"] = _NUMBER_FORMATS[kind]
        if computed:
            props.update(italic=True, bg_color="#EDEDED")
        if kind in ("text", "method"):
            props.update(valign="top")
        return self.fmt(**props)


def _write(book: _Book, ws: Any, row: int, col: int, value: Any, kind: str, computed: bool = False, **extra: Any) -> None:
    """One cell: a formula with its cached value, a number, a word for infinite / missing, or text."""
    if isinstance(value, Live):
        cached = value.cached
        if isinstance(cached, float) and not math.isfinite(cached):
            ws.write_string(row, col, INFINITE, book.cell_format("text", computed, align="right", **extra))
            return
        ws.write_formula(row, col, value.text, book.cell_format(kind, False, **extra), cached)
        return
    if value is None:
        ws.write_string(row, col, "-", book.cell_format("text", computed, align="right", **extra))
    elif isinstance(value, bool):
        ws.write_string(row, col, "yes" if value else "no", book.cell_format("text", computed, **extra))
    elif isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            ws.write_string(row, col, NOT_EVALUATED, book.cell_format("text", computed, align="right", **extra))
        elif isinstance(value, float) and math.isinf(value):
            word = INFINITE if value > 0 else f"-{INFINITE}"
            ws.write_string(row, col, word, book.cell_format("text", computed, align="right", **extra))
        else:
            ws.write_number(row, col, value, book.cell_format(kind, computed, **extra))
    else:
        ws.write_string(row, col, str(value), book.cell_format("text" if kind not in ("verdict", "method") else kind,
                                                                computed, **extra))


class _Table:
    """A table on a sheet: a bold header row with units, typed columns, row-relative references."""

    def __init__(self, book: _Book, ws: Any, first_row: int, columns: Sequence[Col]) -> None:
        self.book, self.ws, self.columns = book, ws, list(columns)
        self.index = {c.key: i for i, c in enumerate(self.columns)}
        self.header_row = first_row
        self.row = first_row + 1
        head = book.fmt(bold=True, text_wrap=True, valign="top", bottom=1, bg_color="#DDEBF7")
        for i, c in enumerate(self.columns):
            ws.write_string(first_row, i, c.header + (" (computed)" if c.computed else ""), head)
        ws.set_row(first_row, 42)

    def ref(self, key: str, row: int | None = None) -> str:
        """The cell of column ``key`` in ``row`` (default: the row being written)."""
        return xl_rowcol_to_cell(self.row if row is None else row, self.index[key])

    def add(self, values: dict[str, Any], kinds: dict[str, str] | None = None, computed: tuple[str, ...] = (),
            **extra: Any) -> int:
        """Write one row; ``kinds`` overrides a column's number format, ``computed`` marks cells of a
        column that is not computed as a whole (a tool's value among live cells)."""
        for key, value in values.items():
            c = self.columns[self.index[key]]
            kind = kinds.get(key, c.kind) if kinds else c.kind
            _write(self.book, self.ws, self.row, self.index[key], value, kind, c.computed or key in computed, **extra)
        self.row += 1
        return self.row - 1

    def finish(self, *, verdicts: bool = True) -> None:
        last = self.row - 1
        for i, c in enumerate(self.columns):
            width = c.width or max(_WIDTH.get(c.kind, 12), min(len(max(c.header.split(), key=len)) + 2, 16))
            self.ws.set_column(i, i, width)
            if c.kind == "verdict" and verdicts and last > self.header_row:
                _colour_verdicts(self.book, self.ws, self.header_row + 1, last, i)


def _colour_verdicts(book: _Book, ws: Any, first: int, last: int, col: int) -> None:
    for word, colours in ((FAIL, {"bg_color": "#FFC7CE", "font_color": "#9C0006"}),
                          (PASS, {"bg_color": "#C6EFCE", "font_color": "#006100"})):
        ws.conditional_format(first, col, last, col, {"type": "cell", "criteria": "==", "value": f'"{word}"',
                                                      "format": book.wb.add_format(colours)})


def _sheet(book: _Book, name: str, title: str, freeze_rows: int = 2, freeze_cols: int = 1) -> Any:
    ws = book.wb.add_worksheet(name)
    ws.write_string(0, 0, title, book.fmt(bold=True, font_size=12))
    ws.freeze_panes(freeze_rows, freeze_cols)
    ws.set_landscape()
    ws.set_paper(9)  # A4
    ws.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    ws.repeat_rows(freeze_rows - 1)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    ws.set_footer("&L&8lpuplan " + __version__.replace("&", "&&") + "&R&8&A, page &P of &N")
    return ws


def _verdict(passed: bool | None) -> str | None:
    return None if passed is None else (PASS if passed else FAIL)


# ---------------------------------------------------------------------------
# sheets


def _inputs(book: _Book, plan: "Plan") -> dict[str, str]:
    """The Inputs sheet; returns field -> defined name of every numeric row (formulas use the names)."""
    ws = _sheet(book, SHEET, "Inputs: the project file, one figure a row. Edit column B: live cells on the other sheets"
                " follow; `lpuplan import-worksheet` reads this sheet back into a project file.", freeze_cols=0)
    head = book.fmt(bold=True, bottom=1, bg_color="#DDEBF7")
    for c, title in enumerate(HEADER):
        ws.write_string(1, c, title, head)
    names: dict[str, str] = {}
    edit = {"bg_color": "#FFF2CC"}  # the cells a person edits
    for r, row in enumerate(input_rows(plan.project), start=FIRST_ROW):
        ws.write_string(r, 0, row.field, book.fmt(valign="top"))
        if row.is_number:
            kind = "int" if isinstance(row.value, int) else "value"
            ws.write_number(r, 1, row.value, book.cell_format(kind, **edit))
            name = defined_name(row.field)
            book.wb.define_name(name, f"={SHEET}!{xl_rowcol_to_cell(r, 1, True, True)}")
            names[row.field] = name
        elif isinstance(row.value, bool):
            ws.write_boolean(r, 1, row.value, book.fmt(**edit))
        else:
            ws.write_string(r, 1, str(row.value), book.fmt(valign="top", **edit))
        ws.write_string(r, 2, row.unit, book.fmt(valign="top"))
        ws.write_string(r, 3, row.source, book.fmt(valign="top", bold=row.source == "assumed"))
        if row.note:
            ws.write_string(r, 4, row.note, book.fmt(valign="top", text_wrap=True))
    last = FIRST_ROW + len(input_rows(plan.project)) - 1
    ws.conditional_format(FIRST_ROW, 3, last, 3, {"type": "cell", "criteria": "==", "value": '"assumed"',
                                                  "format": book.wb.add_format({"font_color": "#9C5700",
                                                                                "bg_color": "#FFEB9C"})})
    for c, width in enumerate((38, 16, 11, 10, 70)):
        ws.set_column(c, c, width)
    ws.data_validation(FIRST_ROW, 3, max(last, FIRST_ROW), 3, {"validate": "list", "source": ["given", "assumed", "sourced", "measured", "default"]})
    return names


def _bucket_names(names: dict[str, str], i: int, key: str) -> str | None:
    return names.get(f"bucket[{i}].{key}")


def _buckets(book: _Book, plan: "Plan", names: dict[str, str]) -> dict[str, dict[str, str]]:
    """The Buckets sheet; returns bucket -> column -> absolute cell (other sheets refer to them)."""
    from dimensioning.service_time import rates_at_slots

    ws = _sheet(book, "Buckets", "Buckets: traffic and service time per bucket. S_bucket = P/R_prefill + O/R_decode"
                " + L_fixed (prompt at the bucket edge, output at its cap), times the service inflation f under load;"
                " mu = slots / S_bucket per replica.")
    cols = [
        Col("bucket", "bucket", "text"), Col("P", "P max prompt tokens", "tok"), Col("O", "O output cap tokens", "tok"),
        Col("share", "share of requests", "share", True), Col("share_method", "method", "method"),
        Col("lambda", "lambda req/s", "rate"), Col("prompt_mean", "prompt mean tokens", "tok", True),
        Col("output_mean", "output mean E[min(O,cap)] tokens", "tok", True),
        Col("r_prefill", "R_prefill at slots tok/s", "tok"), Col("r_decode", "R_decode at slots tok/s", "ratio"),
        Col("rates_basis", "rates basis", "method"),
        Col("l_fixed", "L_fixed ms", "ms"), Col("f", "service_inflation f", "ratio"), Col("slots", "slots", "int"), Col("S", "S_bucket ms", "ms"),
        Col("S_mean", "S mean ms", "ms"), Col("first", "TTFT service part ms", "ms"),
        Col("mu", "mu req/s per replica", "mu"), Col("decode_tps", "decode tok/s per replica", "tok"),
        Col("output_tps", "output tok/s at peak", "tok"),
    ]
    t = _Table(book, ws, 1, cols)
    cells: dict[str, dict[str, str]] = {}
    trace = plan.project.workload.trace is not None
    lam = names["workload.lambda_peak"]
    for i, (bucket, b) in enumerate(zip(plan.project.buckets, plan.dedicated)):
        tr = b.traffic
        derived = bucket.step_model is not None or bucket.rates_at_concurrency is not None
        r_prefill, r_decode = rates_at_slots(bucket)
        assert r_prefill is not None and r_decode is not None
        ref = {k: _bucket_names(names, i, k) for k in ("max_prompt_tokens", "max_output_tokens", "l_fixed_ms", "slots")}
        row: dict[str, Any] = {
            "bucket": b.name,
            "P": Live(f"={ref['max_prompt_tokens']}", bucket.max_prompt_tokens),
            "O": Live(f"={ref['max_output_tokens']}", bucket.max_output_tokens),
            "share": tr.share,
            "share_method": "trace: count / total" if trace else "exact: the prompt distribution's cdf",
            "lambda": Live(*live("arrival_rate", {"lambda_peak": lam, "share": t.ref("share")},
                                 {"lambda_peak": plan.project.workload.lambda_peak, "share": tr.share})),
            "prompt_mean": tr.prompt_mean, "output_mean": tr.output_mean,
            "r_prefill": r_prefill if derived else Live(f"={_bucket_names(names, i, 'r_prefill')}", r_prefill),
            "r_decode": r_decode if derived else Live(f"={_bucket_names(names, i, 'r_decode')}", r_decode),
            "rates_basis": ("computed: " if derived else "") + bucket.rates_basis,
            "l_fixed": Live(f"={ref['l_fixed_ms']}", bucket.l_fixed_ms),
            # service time under load over the isolated one (1 when the bucket gives none)
            "f": (Live(f"={_bucket_names(names, i, 'service_inflation')}", bucket.service_inflation)
                  if _bucket_names(names, i, "service_inflation") else 1.0),
            "slots": Live(f"={ref['slots']}", bucket.slots),
        }
        if derived:  # computed cells, styled as such
            row["rates_basis"] = f"computed ({bucket.rates_basis})"
        f = bucket.service_inflation or 1.0
        service_refs = {"P": t.ref("P"), "O": t.ref("O"), "r_prefill": t.ref("r_prefill"),
                        "r_decode": t.ref("r_decode"), "l_fixed_ms": t.ref("l_fixed"), "f": t.ref("f")}
        service_vals = {"P": bucket.max_prompt_tokens, "O": bucket.max_output_tokens, "r_prefill": r_prefill,
                        "r_decode": r_decode, "l_fixed_ms": bucket.l_fixed_ms, "f": f}
        row["S"] = Live(*live("service_ms", service_refs, service_vals))
        row["S_mean"] = Live(*live("service_ms", {**service_refs, "O": t.ref("output_mean")},
                                   {**service_vals, "O": tr.output_mean}))
        row["first"] = Live(*live("first_token_ms", {k: v for k, v in service_refs.items() if k != "O"},
                                  {k: v for k, v in service_vals.items() if k != "O"}))
        row["mu"] = Live(*live("mu", {"slots": t.ref("slots"), "service_ms": t.ref("S")},
                               {"slots": bucket.slots, "service_ms": row["S"].cached}))
        row["decode_tps"] = Live(*live("decode_tokens_per_s", {"slots": t.ref("slots"), "r_decode": t.ref("r_decode"),
                                                               "f": t.ref("f")},
                                       {"slots": bucket.slots, "r_decode": r_decode, "f": f}))
        row["output_tps"] = Live(*live("output_tokens_per_s", {"arrival_rate": t.ref("lambda"),
                                                               "output_mean": t.ref("output_mean")},
                                       {"arrival_rate": row["lambda"].cached, "output_mean": tr.output_mean}))
        cells[b.name] = {k: f"Buckets!{xl_rowcol_to_cell(t.row, t.index[k], True, True)}" for k in t.index}
        t.add(row, computed=("r_prefill", "r_decode") if derived else ())
    t.finish()
    ws.write_string(t.row + 1, 0, "Grey italic cells are computed by lpuplan (method beside them); the others are"
                    " live formulas over the Inputs sheet.", book.fmt(italic=True))
    return cells


def _capacity(book: _Book, plan: "Plan", names: dict[str, str], bcells: dict[str, dict[str, str]]) -> None:
    ws = _sheet(book, "Capacity", "Capacity: replicas per bucket, normal and with the worst loss. N (computed) is the"
                " least N meeting every target; N by utilisation = ceil(lambda / (mu x rho_target)) (+ replicas lost"
                " when degraded).")
    cols = [
        Col("bucket", "bucket"), Col("state", "state"), Col("N", "N replicas up (grey: computed)", "int"),
        Col("binding", "binding constraint", "method"), Col("N_util", "N by utilisation", "int"),
        Col("rho", "rho at N", "ratio"), Col("rho_target", "rho_target", "ratio"),
        Col("p_wait", "P(wait)", "prob", True), Col("wait_mean", "wait mean ms", "ms", True),
        Col("p50", "e2el p50 ms", "ms", True), Col("p95", "e2el p95 ms", "ms", True),
        Col("p99", "e2el p99 ms", "ms", True), Col("p99_9", "e2el p99_9 ms", "ms", True),
        Col("slo", "SLO e2el p99 ms", "ms", True), Col("ttft", "ttft p99 ms", "ms", True),
        Col("ttft_slo", "SLO ttft p99 ms", "ms", True), Col("method", "method", "method"),
        Col("chips", "chips", "int"), Col("verdict", "verdict", "verdict"),
    ]
    t = _Table(book, ws, 1, cols)
    failed = {(c.subject, c.name) for c in plan.checks if not c.passed}
    lost_name = names["redundancy.replicas_lost_worst"]
    first = t.row
    for i, (bucket, b) in enumerate(zip(plan.project.buckets, plan.dedicated)):
        cells = bcells[b.name]
        normal_row = t.row
        for state, pool, slo, rho_name in (("normal", b.normal, b.slo_s, "headroom.rho_target_normal"),
                                           ("degraded", b.degraded, b.degraded_slo_s, "headroom.rho_target_degraded")):
            degraded = state == "degraded"
            lost = b.replicas_lost if degraded else 0
            rho_target = plan.targets.rho_target_degraded if degraded else plan.targets.rho_target_normal
            if degraded:
                n_cell: Any = Live(*live("replicas_up", {"replicas": t.ref("N", normal_row), "lost": lost_name},
                                         {"replicas": b.replicas, "lost": b.replicas_lost}))
            else:
                n_cell = b.replicas
            row: dict[str, Any] = {
                "bucket": b.name, "state": state if not degraded else f"degraded (-{b.replicas_lost})", "N": n_cell,
                "binding": (", ".join(b.binding) or "-") if not degraded else "N - replicas lost",
                "rho_target": Live(f"={names[rho_name]}", rho_target),
            }
            if b.traffic.arrival_rate > 0:
                row["N_util"] = Live(*live(
                    "replicas_for_utilisation",
                    {"arrival_rate": cells["lambda"], "service_ms": cells["S"], "slots": cells["slots"],
                     "rho_target": t.ref("rho_target"), "lost": lost_name if degraded else "0"},
                    {"arrival_rate": b.traffic.arrival_rate, "service_ms": 1e3 * b.service.total_s, "slots": b.slots,
                     "rho_target": rho_target, "lost": lost}))
            else:
                row["N_util"] = None
            n_up = b.replicas - lost if degraded else b.replicas
            if n_up > 0:
                row["rho"] = Live(*live("utilisation", {"arrival_rate": cells["lambda"], "service_ms": cells["S"],
                                                        "replicas": t.ref("N"), "slots": cells["slots"]},
                                        {"arrival_rate": b.traffic.arrival_rate, "service_ms": 1e3 * b.service.total_s,
                                         "replicas": n_up, "slots": b.slots}))
            else:
                row["rho"] = math.inf if b.traffic.arrival_rate > 0 else 0.0
            for key, figure in (("p_wait", pool.prob_wait), ("wait_mean", pool.wait_mean_s), ("p50", pool.latency_p50_s),
                                ("p95", pool.latency_p95_s), ("p99", pool.latency_p99_s), ("p99_9", pool.latency_p999_s)):
                scale = 1.0 if key == "p_wait" else 1e3
                row[key] = math.nan if figure is None else figure * scale
            row["slo"] = slo * 1e3
            verdict = b.verdict_degraded if degraded else b.verdict_normal
            ttft = verdict.check("ttft_p99") if verdict is not None else None
            if ttft is not None:  # only where a TTFT objective is given
                row["ttft"], row["ttft_slo"] = ttft.value * 1e3, ttft.limit * 1e3
            row["method"] = pool.method if ttft is None or ttft.kind == pool.method else f"{pool.method}; ttft {ttft.kind}"
            if not degraded and b.chips_per_replica is not None:
                chips = _bucket_names(names, i, "chips_per_replica")
                row["chips"] = Live(*live("product", {"a": t.ref("N"), "b": chips or str(b.chips_per_replica)},
                                          {"a": b.replicas, "b": b.chips_per_replica}))
            if not b.feasible:
                row["verdict"] = FAIL
            elif b.traffic.arrival_rate > 0:
                row["verdict"] = FAIL if any(s == b.name and n.endswith(f"({state})") for s, n in failed) else PASS
            t.add(row, computed=() if degraded else ("N",))  # N: the least-N search (computed)
    last = t.row - 1
    if last >= first:
        bold = book.fmt(bold=True, top=1, num_format=_NUMBER_FORMATS["int"])
        ws.write_string(t.row, 0, "total (normal)", book.fmt(bold=True, top=1))
        for key, total in (("N", plan.dedicated_replicas), ("chips", plan.dedicated_chips)):
            if total is None:
                continue
            col = t.index[key]
            cells_range = f"{xl_rowcol_to_cell(first, col)}:{xl_rowcol_to_cell(last, col)}"
            # SUMIF over the normal rows only (the degraded rows count the same replicas again)
            state_range = f"{xl_rowcol_to_cell(first, 1)}:{xl_rowcol_to_cell(last, 1)}"
            ws.write_formula(t.row, col, f'=SUMIF({state_range},"normal",{cells_range})', bold, total)
        t.row += 1
    t.finish()
    sh = plan.shared
    notes = [
        f"Shared pool alternative (computed, {sh.method}): {sh.replicas} replicas x {sh.slots} slots"
        + (f", {plan.shared_chips:,} chips" if plan.shared_chips is not None else "")
        + f"; binding {', '.join(sh.binding) or '-'}; {sh.method_note}",
        "Percentiles: exact M/D/c (Crommelin; Franx 2001) at S_bucket, an upper bound on latency with real output"
        " lengths; the method column names the kind of every figure.",
    ]
    for k, note in enumerate(notes):
        ws.write_string(t.row + 1 + k, 0, note, book.fmt(italic=True))


def _admission(book: _Book, plan: "Plan", names: dict[str, str]) -> None:
    ws = _sheet(book, "Admission", "Admission: per-replica concurrency cap C_max and queue cap Queue_cap (SLO-safe with"
                " deterministic service), and the shed probability they give at lambda_peak.")
    cols = [Col("bucket", "bucket"), Col("state", "state"), Col("c_max", "C_max per replica", "int", True),
            Col("q_rep", "Queue_cap per replica", "int", True), Col("q_pool", "Queue_cap pool", "int", True),
            Col("max_lat", "max latency admitted ms", "ms", True), Col("shed", "shed probability", "prob", True),
            Col("target", "shed_target", "prob"), Col("method", "method", "method"), Col("verdict", "verdict", "verdict")]
    t = _Table(book, ws, 1, cols)
    for b in plan.dedicated:
        for state, adm in (("normal", b.admission_normal), ("degraded", b.admission_degraded)):
            row: dict[str, Any] = {"bucket": b.name, "state": state,
                                   "target": Live(f"={names['admission.shed_target']}", plan.targets.shed_target)}
            if adm is None:
                row.update(c_max=b.slots, method="S_bucket exceeds the SLO: no queue cap keeps it")
                if b.traffic.arrival_rate > 0:
                    row["verdict"] = FAIL
            else:
                row.update(c_max=adm.c_max_per_replica, q_rep=adm.queue_cap_per_replica, q_pool=adm.queue_cap,
                           max_lat=adm.max_latency_admitted_s * 1e3, shed=adm.shed_probability,
                           method=adm.method_note if adm.method_note.startswith(adm.method) else
                           f"{adm.method}: {adm.method_note}" if adm.method_note else adm.method)
                row["verdict"] = Live(*live("within", {"value": t.ref("shed"), "limit": t.ref("target")},
                                            {"value": adm.shed_probability, "limit": plan.targets.shed_target}))
            t.add(row)
    t.columns[t.index["method"]] = Col("method", "method", "method", width=44)
    t.finish()


def _facility(book: _Book, plan: "Plan", names: dict[str, str]) -> None:
    ws = _sheet(book, "Facility", "Facility: per-rack power, heat and airflow (live over the node power and cooling"
                " figures), cooling zones and pools. Nodes per rack come from the placement (computed).")
    result = plan.facility
    if result is None:
        ws.write_string(2, 0, "No [facility] table in the project: replicas are not placed; replicas_lost_worst stands"
                        " in for the failure-domain model.")
        return
    lay = result.layout
    # the figures the rack arithmetic uses: a name on the Inputs sheet when the project gives it, else the catalogue's
    figures = [
        ("node typical kW", "facility.node_power_kw.typical", lay.node_power_typical_w / 1e3),
        ("node max kW", "facility.node_power_kw.max", lay.node_power_max_w / 1e3),
        ("rack budget kW", "facility.rack_power_budget_kw", lay.rack_power_budget_w / 1e3),
        ("cooling delta T °F", "facility.cooling.delta_t_f", lay.cooling.delta_t_f),
        ("cooling unit kW", "facility.cooling.unit_kw", lay.cooling.unit_kw),
        ("cooling redundancy units", "facility.cooling.redundancy", lay.cooling.redundancy),
    ]
    fig_cell: dict[str, str] = {}
    head = book.fmt(bold=True, bottom=1, bg_color="#DDEBF7")
    for c, title in enumerate(("figure", "value", "from")):
        ws.write_string(1, c, title, head)
    for r, (label, path, value) in enumerate(figures, start=2):
        ws.write_string(r, 0, label)
        if path in names:
            _write(book, ws, r, 1, Live(f"={names[path]}", value), "kw")
            ws.write_string(r, 2, f"Inputs: {path}")
        else:
            _write(book, ws, r, 1, value, "kw", True)
            ws.write_string(r, 2, f"computed: platform catalogue ({lay.sources.get(path.split('.')[1], 'catalogue')})")
        fig_cell[path] = xl_rowcol_to_cell(r, 1, True, True)
    top = 2 + len(figures) + 1
    # pools
    pcols = [Col("pool", "pool"), Col("initial", "replicas from sizing", "int", True),
             Col("final", "replicas after N+k", "int", True), Col("nodes", "nodes per replica", "int", True),
             Col("chips_rep", "chips per replica", "int"), Col("chips", "chips", "int"),
             Col("unplaced", "unplaced", "int", True), Col("verdict", "normal check", "verdict")]
    t = _Table(book, ws, top, pcols)
    for i, p in enumerate(result.pools):
        index = next((k for k, b in enumerate(plan.project.buckets) if b.label == p.name), None)
        chips_name = None if index is None else _bucket_names(names, index, "chips_per_replica")
        chips_rep = p.demand.chips_per_replica
        t.add({"pool": p.name, "initial": p.replicas_initial, "final": p.replicas_final, "nodes": p.nodes_per_replica,
               "chips_rep": Live(f"={chips_name}", chips_rep) if chips_name else chips_rep,
               "chips": Live(*live("product", {"a": t.ref("final"), "b": t.ref("chips_rep")},
                                   {"a": p.replicas_final, "b": chips_rep})),
               "unplaced": p.unplaced, "verdict": _verdict(p.normal.passed)})
    t.finish()
    # racks, grouped by the nodes they power (every rack of a group draws the same; the per-rack list with
    # elevations is facility/rack_plan.xlsx)
    racks = [r for r in result.racks if r.powered_nodes]
    groups: dict[int, list[Any]] = {}
    for r in racks:
        groups.setdefault(r.powered_nodes, []).append(r)
    rcols = [Col("nodes", "nodes powered per rack", "int", True), Col("count", "racks", "int", True),
             Col("typical", "typical kW per rack", "kw"), Col("max", "max kW per rack", "kw"),
             Col("budget", "budget kW", "kw"), Col("margin", "margin kW", "kw"), Col("verdict", "max <= budget", "verdict"),
             Col("heat", "heat BTU/h per rack", "btu"), Col("cfm", "airflow CFM per rack", "flow"),
             Col("m3h", "airflow m³/h per rack", "flow"), Col("total_typical", "typical kW all", "kw"),
             Col("total_max", "max kW all", "kw"), Col("first", "first rack", "text", width=22),
             Col("last", "last rack", "text", width=22)]
    rt = _Table(book, ws, t.row + 2, rcols)
    typ_kw, max_kw, budget_kw = (lay.node_power_typical_w / 1e3, lay.node_power_max_w / 1e3,
                                 lay.rack_power_budget_w / 1e3)
    dt = lay.cooling.delta_t_f
    first_group = rt.row
    totals = {"count": 0.0, "total_typical": [], "total_max": []}
    for nodes in sorted(groups, reverse=True):
        members = groups[nodes]
        row: dict[str, Any] = {"nodes": nodes, "count": len(members), "first": members[0].rack, "last": members[-1].rack}
        row["typical"] = Live(*live("rack_kw", {"nodes": rt.ref("nodes"), "node_kw": fig_cell["facility.node_power_kw.typical"]},
                                    {"nodes": nodes, "node_kw": typ_kw}))
        row["max"] = Live(*live("rack_kw", {"nodes": rt.ref("nodes"), "node_kw": fig_cell["facility.node_power_kw.max"]},
                                {"nodes": nodes, "node_kw": max_kw}))
        row["budget"] = Live(f"={fig_cell['facility.rack_power_budget_kw']}", budget_kw)
        row["margin"] = Live(*live("margin_kw", {"budget_kw": rt.ref("budget"), "max_kw": rt.ref("max")},
                                   {"budget_kw": budget_kw, "max_kw": row["max"].cached}))
        row["verdict"] = Live(*live("within", {"value": rt.ref("max"), "limit": rt.ref("budget")},
                                    {"value": row["max"].cached, "limit": budget_kw}))
        row["heat"] = Live(*live("heat_btu_per_h", {"kw": rt.ref("max")}, {"kw": row["max"].cached}))
        delta = fig_cell["facility.cooling.delta_t_f"]
        row["cfm"] = Live(*live("airflow_cfm", {"kw": rt.ref("max"), "delta_t_f": delta}, {"kw": row["max"].cached, "delta_t_f": dt}))
        row["m3h"] = Live(*live("airflow_m3_per_h", {"kw": rt.ref("max"), "delta_t_f": delta},
                                {"kw": row["max"].cached, "delta_t_f": dt}))
        row["total_typical"] = Live(*live("product", {"a": rt.ref("count"), "b": rt.ref("typical")},
                                          {"a": len(members), "b": row["typical"].cached}))
        row["total_max"] = Live(*live("product", {"a": rt.ref("count"), "b": rt.ref("max")},
                                      {"a": len(members), "b": row["max"].cached}))
        totals["count"] += len(members)
        totals["total_typical"].append(row["total_typical"].cached)
        totals["total_max"].append(row["total_max"].cached)
        rt.add(row)
    last_group = rt.row - 1
    if racks:
        bold = {"bold": True, "top": 1}
        ws.write_string(rt.row, 0, "total", book.fmt(**bold))
        for key, cached in (("count", totals["count"]), ("total_typical", math.fsum(totals["total_typical"])),
                            ("total_max", math.fsum(totals["total_max"]))):
            col = rt.index[key]
            span = f"{xl_rowcol_to_cell(first_group, col)}:{xl_rowcol_to_cell(last_group, col)}"
            ws.write_formula(rt.row, col, f"=SUM({span})", book.cell_format(rt.columns[col].kind, **bold), cached)
        rt.row += 1
    rt.finish()
    # cooling zones: heat at maximum draw = nodes powered in the zone x node max kW
    zcols = [Col("zone", "cooling zone"), Col("racks", "racks", "int", True), Col("nodes", "nodes powered", "int", True),
             Col("heat", "heat max kW", "kw"), Col("tons", "cooling tons", "kw"), Col("unit", "unit kW", "kw"),
             Col("needed", "units needed", "int"), Col("redundancy", "redundancy units", "int"),
             Col("installed", "units installed", "int", True), Col("verdict", "survives one unit loss", "verdict", True)]
    zt = _Table(book, ws, rt.row + 2, zcols)
    powered = {r.rack: r.powered_nodes for r in racks}
    for z in result.zones:
        nodes = sum(powered.get(name, 0) for name in z.racks)
        if nodes == 0:
            continue
        row = {"zone": z.zone, "racks": sum(1 for name in z.racks if name in powered), "nodes": nodes}
        row["heat"] = Live(*live("rack_kw", {"nodes": zt.ref("nodes"), "node_kw": fig_cell["facility.node_power_kw.max"]},
                                 {"nodes": nodes, "node_kw": max_kw}))
        row["tons"] = Live(*live("tons", {"kw": zt.ref("heat")}, {"kw": row["heat"].cached}))
        row["unit"] = Live(f"={fig_cell['facility.cooling.unit_kw']}", z.unit_kw)
        row["needed"] = Live(*live("cooling_units_needed", {"heat_max_kw": zt.ref("heat"), "unit_kw": zt.ref("unit")},
                                   {"heat_max_kw": row["heat"].cached, "unit_kw": z.unit_kw}))
        row["redundancy"] = Live(f"={fig_cell['facility.cooling.redundancy']}", z.redundancy)
        row["installed"] = z.units_installed
        row["verdict"] = _verdict(z.survives_one_unit_loss)
        zt.add(row)
    zt.finish()
    ws.write_string(zt.row + 1, 0, "Every rack with its nodes, power, heat and airflow, and the rack elevations:"
                    " facility/rack_plan.xlsx (lpuplan plan, lpuplan facility).", book.fmt(italic=True))


def _failure_domains(book: _Book, plan: "Plan") -> None:
    ws = _sheet(book, "Failure domains", "Failure domains: N+k per level (the worst domain's loss, found over the"
                " facility graph) and every domain above node level.")
    result = plan.facility
    if result is None:
        ws.write_string(2, 0, "No [facility] table: no failure-domain model.")
        return
    cols = [Col("level", "level"), Col("required", "required"), Col("pool", "pool"), Col("replicas", "replicas", "int", True),
            Col("lost", "lost (worst)", "int", True), Col("worst", "worst domain", "text", width=30),
            Col("up", "replicas up", "int", True), Col("margin", "capacity margin req/s", "rate", True),
            Col("p99", "e2el p99 ms", "ms", True), Col("slo", "SLO ms", "ms", True), Col("method", "method", "method"),
            Col("verdict", "verdict", "verdict")]
    t = _Table(book, ws, 1, cols)
    for lv in result.levels:
        for p in lv.pools:
            t.add({"level": lv.level, "required": f"N+{lv.n_plus}" if lv.required else "reported", "pool": p.pool,
                   "replicas": p.replicas, "lost": p.lost, "worst": " + ".join(p.worst_domains) or "-",
                   "up": p.check.n_operational, "margin": p.check.capacity_margin_rps, "p99": p.check.p99_s * 1e3,
                   "slo": p.check.slo_s * 1e3, "method": getattr(p, "method", "exact"),
                   "verdict": _verdict(p.check.passed)})
    t.finish()
    dt = _Table(book, ws, t.row + 2, [Col("domain", "domain", width=30), Col("level", "level"), Col("kind", "kind"),
                                      Col("lost", "replicas lost", "text", width=40),
                                      Col("pools", "pools lost/left", "text", width=30),
                                      Col("verdict", "verdict", "verdict")])
    for d in result.domains:
        if d.level == "node":
            continue
        dt.add({"domain": d.domain, "level": d.level, "kind": d.kind, "lost": " ".join(d.replicas_lost) or "-",
                "pools": " ".join(f"{p.pool}:{p.lost}/{p.left}" for p in d.pools) or "-", "verdict": _verdict(d.passed)})
    dt.finish()


def _game_day(book: _Book, plan: "Plan") -> None:
    ws = _sheet(book, "Game day", "Game day: every domain of the N+k level and the one above, failed one at a time in"
                " the simulator (seeded); the verdict holds at the conservative end of each interval.")
    summary = plan.gameday
    if summary is None:
        why = "no [facility] table" if plan.facility is None else "the plan ran without --simulate"
        ws.write_string(2, 0, f"Not run: {why}. `lpuplan gameday` predicts one domain in full.")
        return
    if summary.not_simulated is not None:
        ws.write_string(2, 0, f"Not simulated: {summary.not_simulated}.")
        return
    s = summary.settings
    cols = [Col("level", "level"), Col("domains", "domains", "int", True), Col("with_loss", "domains with a loss", "int", True),
            Col("worst", "worst domain", "text", width=30), Col("p99", "worst e2el p99 ms", "ms", True),
            Col("margin", "least margin to SLO ms", "ms", True), Col("recovery", "worst recovery s", "ratio", True),
            Col("failing", "failing domains", "text", width=40), Col("method", "method", "method", width=30),
            Col("verdict", "SLO holds", "verdict")]
    t = _Table(book, ws, 1, cols)
    for lv in summary.levels:
        t.add({"level": lv.level, "domains": lv.domains, "with_loss": lv.domains_with_loss,
               "worst": lv.worst_domain or "-", "p99": lv.worst_p99_s * 1e3, "margin": lv.min_margin_s * 1e3,
               "recovery": lv.worst_recovery_s, "failing": ", ".join(lv.failing) or "-",
               "method": f"simulated, {s.seeds} seeds, conservative end", "verdict": _verdict(lv.slo_holds)})
    t.finish()
    ws.write_string(t.row + 1, 0, f"Settings: failover {s.failover_time_s:g} s; seeds {s.seeds}. Computed by the"
                    " simulator: these cells do not follow edited inputs.", book.fmt(italic=True))


def _provenance(book: _Book, plan: "Plan", source: str) -> None:
    from lpuplan.plan import PLAN_SCHEMA
    from lpuplan.verdict import plan_verdict

    ws = _sheet(book, "Provenance", "Provenance: the verdict, where every input comes from, every check, and which"
                " cells are live.", freeze_cols=0)
    facts = [("verdict", plan_verdict(plan).headline()), ("project", plan.project.name), ("project file", source),
             ("lpuplan", __version__), ("plan schema", PLAN_SCHEMA)]
    bold = book.fmt(bold=True)
    for r, (label, value) in enumerate(facts, start=1):
        ws.write_string(r, 0, label, bold)
        ws.write_string(r, 1, value, book.fmt(text_wrap=False))
    _colour_verdicts(book, ws, 1, 1, 1)
    ws.conditional_format(1, 1, 1, 1, {"type": "text", "criteria": "begins with", "value": FAIL,
                                       "format": book.wb.add_format({"bg_color": "#FFC7CE", "font_color": "#9C0006"})})
    ws.conditional_format(1, 1, 1, 1, {"type": "text", "criteria": "begins with", "value": PASS,
                                       "format": book.wb.add_format({"bg_color": "#C6EFCE", "font_color": "#006100"})})
    row = len(facts) + 2
    legend = [
        "live: a formula over the Inputs sheet (value cached); it follows an edited input after recalculation.",
        "computed (grey italic): lpuplan's figure (least-N search, exact M/D/c percentiles, shed, simulation, traffic"
        " split, placement) with its method beside it; run lpuplan again for new ones.",
        "source: given (project file), assumed (to validate), sourced (public reference), measured (a profile),"
        " default (lpuplan's default).",
    ]
    for line in legend:
        ws.write_string(row, 0, line, book.fmt(italic=True))
        row += 1
    row += 1
    ct = _Table(book, ws, row, [Col("check", "check", width=28), Col("subject", "subject", width=18),
                                Col("verdict", "verdict", "verdict"), Col("value", "value", "value", True),
                                Col("limit", "limit", "value", True), Col("unit", "unit", width=10),
                                Col("kind", "kind", "method"), Col("detail", "detail", width=80)])
    for c in plan.checks:
        value, limit, unit, kind = c.value, c.limit, c.unit, "ratio"
        if unit == "s":  # times in ms at the edge, as everywhere in the workbook
            value, limit, unit, kind = (None if value is None else value * 1e3), (None if limit is None else limit * 1e3), "ms", "ms"
        elif unit in ("probability", "share"):
            kind = "prob"
        ct.add({"check": c.name, "subject": c.subject, "verdict": _verdict(c.passed), "value": value,
                "limit": limit, "unit": unit, "kind": c.kind or "-", "detail": c.detail},
               kinds={"value": kind, "limit": kind})
    ct.finish()
    row = ct.row + 1
    ws.write_string(row, 0, "Assumptions to validate", bold)
    for k, text in enumerate(plan.assumptions or ["none: every figure is given, measured or sourced"], start=1):
        ws.write_string(row + k, 0, text)
    row += len(plan.assumptions or [None]) + 2
    ft = _Table(book, ws, row, [Col("formula", "live formula", width=28), Col("home", "its home in lpuplan", width=60),
                                Col("excel", "Excel text", width=80)])
    for name, f in FORMULAS.items():
        ft.add({"formula": name, "home": f.home, "excel": "=" + f.excel})
    ft.finish()


def sizing_workbook(plan: "Plan", source: str = "") -> bytes:
    """The workbook as bytes (module docstring); ``source`` names the project file for the Provenance sheet."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                                      "strings_to_numbers": False})
    wb.set_properties({"created": _CREATED, "title": "lpuplan sizing workbook"})
    wb.formats[0].set_font_size(_FONT_PT)
    wb.set_calc_mode("auto")
    book = _Book(wb)
    names = _inputs(book, plan)
    bcells = _buckets(book, plan, names)
    _capacity(book, plan, names, bcells)
    _admission(book, plan, names)
    _facility(book, plan, names)
    _failure_domains(book, plan)
    _game_day(book, plan)
    _provenance(book, plan, source)
    wb.close()
    return buffer.getvalue()

