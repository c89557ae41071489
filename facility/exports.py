"""Every facility output as bytes, by file name; the CLI writes them atomically.

Files: ``facility.json`` (the whole result), ``rack_plan.csv``,
``budgets.csv``, ``failure_domains.csv``, ``netbox/*.csv`` (bulk import),
``rack_plan.xlsx`` and ``rack_plan.png``. Renderers only read the result.
"""

from __future__ import annotations

import json

from facility.export_csv import budgets_csv, domains_csv, rack_plan_csv
from facility.plan import FacilityResult

__all__ = ["render_facility_outputs"]


def _json(result: FacilityResult) -> bytes:
    # same rules as lpuplan.output.dumps_json (sorted, indented; inf allowed, NaN never)
    return (json.dumps(result.to_dict(), indent=2, sort_keys=True, allow_nan=True) + "\n").encode("utf-8")


def render_facility_outputs(result: FacilityResult) -> dict[str, bytes]:
    """File name (relative, may hold one folder) -> content."""
    files: dict[str, bytes] = {
        "facility.json": _json(result),
        "rack_plan.csv": rack_plan_csv(result),
        "budgets.csv": budgets_csv(result),
        "failure_domains.csv": domains_csv(result),
    }
    try:
        from facility.export_netbox import netbox_csvs
    except ImportError:  # pragma: no cover - module lands later
        pass
    else:
        files.update({f"netbox/{name}": data for name, data in netbox_csvs(result).items()})
    try:
        from facility.export_xlsx import rack_plan_xlsx
    except ImportError:  # pragma: no cover
        pass
    else:
        files["rack_plan.xlsx"] = rack_plan_xlsx(result)
    try:
        from facility.export_png import rack_plan_png
    except ImportError:  # pragma: no cover
        pass
    else:
        files["rack_plan.png"] = rack_plan_png(result)
    return files
