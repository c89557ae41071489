"""A fidelity report's service-time inflation as an ``lpuplan.under_load/1`` document (dimensioning/under_load.py).

For each pool whose inflation was estimated (server timings, or departure
spacing with one server), the document keeps every utilisation's ratio and
interval (``by_rho``) and names as the pool's ``service_inflation`` the one
whose interval reaches highest: the conservative one of those measured (the
slowdown grows with load, and the sizing runs its pools up to
``rho_target_degraded``), preferring loads whose generator kept to its
schedule (``generator_on_schedule``: a load that fell behind was not the
one asked for, though departure spacing and server timings still measure
the service under the load it was). It records where it came from (command, URL,
mode, runs, requests per run, when), so a project that reads it shows the
figure as ``measured`` with its run. The document is validated by
:class:`dimensioning.under_load.UnderLoad` before it is returned.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ValidationError

from dimensioning.errors import InvalidInput
from dimensioning.under_load import UNDER_LOAD_SCHEMA, UnderLoad

__all__ = ["under_load_document"]


def under_load_document(report: Any, created: str | None = None) -> dict[str, Any]:
    """The under-load document of a :class:`~benchmarks.validate.FidelityReport` (module docstring).

    Raises InvalidInput when no pool's inflation could be estimated (the
    server reports no timings and the design is not one server serving one
    pool: nothing to write).
    """
    if created is None:
        created = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    by_pool: dict[str, list[tuple[float, Any, bool]]] = {}
    for result in report.results:
        for inflation in result.inflation:
            by_pool.setdefault(inflation.pool, []).append((result.rho, inflation, not result.fell_behind))
    if not by_pool:
        raise InvalidInput(
            "--write-under-load", None,
            "no service time under load was estimated: it needs server timings (Groq, llama.cpp's C++ server),"
            " or one pool served by one server (departure spacing); nothing was written")
    pools: dict[str, Any] = {}
    for name, rows in by_pool.items():
        iso = report.isolated[name]
        # trusted loads first (the generator kept to its schedule); of those, the interval reaching highest
        rho, chosen, trusted = max(rows, key=lambda row: (row[2], row[1].ci95[1]))
        pools[name] = {
            "prompt_tokens": iso.prompt_tokens,
            "output_tokens": iso.output_tokens,
            "rho": rho,
            "estimator": chosen.source,
            "generator_on_schedule": trusted,
            "note": chosen.note,
            "service_inflation": {"value": chosen.ratio, "ci95": [chosen.ci95[0], chosen.ci95[1]],
                                  "samples": chosen.under_load.n},
            "under_load_ms": chosen.under_load.value * 1e3,
            "isolated_ms": chosen.isolated.value * 1e3,
            "by_rho": [{"rho": r, "value": i.ratio, "ci95": [i.ci95[0], i.ci95[1]], "samples": i.under_load.n,
                        "generator_on_schedule": t} for r, i, t in rows],
        }
    document = {
        "schema": UNDER_LOAD_SCHEMA,
        "created": created,
        "source": {"command": "lpuplan fidelity", "url": report.url, "mode": report.mode, "runs": report.runs,
                   "requests_per_run": report.requests_per_run},
        "pools": pools,
    }
    try:
        return UnderLoad.model_validate(document).to_json_dict()
    except ValidationError as exc:  # e.g. an interval reaching zero: too few samples under load
        first = exc.errors()[0]
        raise InvalidInput("--write-under-load", first.get("input"),
                           f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}; load longer (--requests)") from None
