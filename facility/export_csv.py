"""CSV exports: the rack plan (one row per node position), budgets, failure domains.

These files are meant for spreadsheets, so a string that comes from the user
and starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
prefixed with a single quote (OWASP, "CSV Injection": owasp.org/www-community/attacks/CSV_Injection).
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

from facility.plan import FacilityResult

__all__ = ["spreadsheet_text", "rack_plan_csv", "budgets_csv", "domains_csv", "to_csv"]

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` made inert for a spreadsheet: a leading quote when it would start a formula."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """RFC 4180 CSV (``\\r\\n`` line ends), UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue().encode("utf-8")


RACK_PLAN_COLUMNS = (
    "site", "row", "pod", "rack", "cooling_zone", "position", "u_position", "u_height",
    "role", "replica", "bucket", "phase", "typical_kw", "max_kw",
)


def rack_plan_csv(result: FacilityResult) -> bytes:
    """One row per node position of every populated rack."""
    lay = result.layout
    rows = result.nodes
    index = {lay.rack_name(g): g for g in range(lay.racks)}
    out = []
    for n in rows:
        g = index[n.rack]
        out.append((
            spreadsheet_text(lay.site), lay.row_name(lay.row_of(g)), lay.pod_name(lay.pod_of(g)), n.rack,
            lay.zone_name(lay.zone_of(g)), n.position + 1, n.u_position, n.u_height, n.role,
            spreadsheet_text(n.replica), spreadsheet_text(n.pool), n.phase + 1, f"{n.typical_kw:.3f}", f"{n.max_kw:.3f}",
        ))
    return to_csv(RACK_PLAN_COLUMNS, out)


def budgets_csv(result: FacilityResult) -> bytes:
    """Every budget check with its value, limit, margin and verdict."""
    return to_csv(
        ("element", "check", "value", "limit", "unit", "margin", "passed", "formula", "basis"),
        (
            (spreadsheet_text(c.element), c.kind, f"{c.value:.4f}", f"{c.limit:.4f}", c.unit, f"{c.margin:.4f}",
             "yes" if c.passed else "NO", c.formula, c.basis)
            for c in result.budget_checks
        ),
    )


def domains_csv(result: FacilityResult) -> bytes:
    """Every failure domain: replicas lost, pools hit (lost/left) and the verdict."""
    return to_csv(
        ("domain", "level", "kind", "replicas_lost", "pools_lost_left", "passed"),
        (
            (
                spreadsheet_text(d.domain), d.level, d.kind,
                spreadsheet_text(" ".join(d.replicas_lost)),
                spreadsheet_text(" ".join(f"{p.pool}:{p.lost}/{p.left}" for p in d.pools)),
                "yes" if d.passed else "NO",
            )
            for d in result.domains
        ),
    )
