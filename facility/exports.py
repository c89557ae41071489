"""Every facility output as bytes, by file name; the CLI writes them atomically.

Files: ``facility.json`` (the whole result, compact JSON: a megabyte of
per-node and per-domain detail that programs read; people read the CSVs and
the workbook), ``rack_plan.csv``,
``budgets.csv``, ``failure_domains.csv``, ``netbox/*.csv`` and
``netbox/device_type.yaml`` (bulk import), ``rack_plan.xlsx`` and
``rack_plan.png``. Renderers only read the result.
"""

from __future__ import annotations

from typing import Callable

from typing import TYPE_CHECKING

from dimensioning.json_text import dumps_json
from facility.export_csv import budgets_csv, domains_csv, rack_plan_csv
from facility.export_netbox import netbox_csvs

# matplotlib (0.55 s to import) and XlsxWriter load in whichever process draws them
if TYPE_CHECKING:
    from facility.plan import FacilityResult

__all__ = ["BACKGROUND", "FACILITY_JSON", "output_renderers", "render_facility_outputs"]

FACILITY_JSON = "facility.json"
"""The file holding the whole result (plan.json points at it)."""

BACKGROUND = ("rack plan xlsx", "rack plan PNG")
"""Outputs a writer renders in other processes, one each (:mod:`facility.export_parallel`), while it
does the rest: on a 200,000-chip campus the workbook takes 2.6 s and the PNG 0.9 s (matplotlib's
import included) of about 5.5 s CPU of writing."""


def _json(result: FacilityResult) -> dict[str, bytes]:
    return {FACILITY_JSON: dumps_json(result.to_dict(), compact=True).encode("utf-8")}


def output_renderers() -> list[tuple[str, Callable[[FacilityResult], dict[str, bytes]]]]:
    """(label, renderer) pairs; each renderer returns ``{file name: bytes}`` (for progress bars)."""
    return [
        ("facility.json", _json),
        ("rack plan CSV", lambda r: {"rack_plan.csv": rack_plan_csv(r)}),
        ("budgets CSV", lambda r: {"budgets.csv": budgets_csv(r)}),
        ("failure domains CSV", lambda r: {"failure_domains.csv": domains_csv(r)}),
        ("NetBox import", lambda r: {f"netbox/{k}": v for k, v in netbox_csvs(r).items()}),
        ("rack plan xlsx", _xlsx),
        ("rack plan PNG", _png),
    ]


def _xlsx(result: FacilityResult) -> dict[str, bytes]:
    from facility.export_xlsx import rack_plan_xlsx

    return {"rack_plan.xlsx": rack_plan_xlsx(result)}


def _png(result: FacilityResult) -> dict[str, bytes]:
    from facility.export_png import rack_plan_png

    return {"rack_plan.png": rack_plan_png(result)}


def render_facility_outputs(result: FacilityResult) -> dict[str, bytes]:
    """File name (relative, may hold one folder) -> content."""
    files: dict[str, bytes] = {}
    for _label, render in output_renderers():
        files.update(render(result))
    return files
