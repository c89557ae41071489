"""The prediction document (``prediction.json``): what ``lpuplan gameday`` writes and ``verify`` reads.

Schema ``lpuplan.gameday/2``: ``settings``, ``metrics`` (the PromQL mapping),
``phases`` (each phase's [start, end) from t0, s), ``signals`` (names and
meanings), ``pool_predictions`` keyed ``"<pool>:<replicas lost>"`` (shared by
every domain with that loss), ``domains`` (blast radius, verdict, abort
conditions and preconditions, and the keys of their pool predictions).
A figure with no observation (an empty phase) is ``null``.

:func:`prediction_document` is the internal form (seconds, names like
``e2el_p99_s``) that :mod:`.verify` and :mod:`.plots` read; what is written
and printed is :func:`published` (latencies in ms, :mod:`.units`), and
:func:`read_published` takes a written one back. Version 2 moved every
latency to ms; a version-1 file (seconds) is refused with the fix.
"""

from __future__ import annotations

from typing import Any, Sequence

from facility.gameday.metrics import MetricMap
from facility.gameday.model import SIGNALS, GameDaySettings
from facility.gameday.predict import DomainPrediction
from facility.gameday.signals import PHASE_FIGURES
from facility.gameday.units import from_output, to_output

__all__ = ["SCHEMA", "prediction_document", "published", "read_published"]

SCHEMA = "lpuplan.gameday/2"
_SCHEMA_FAMILY = "lpuplan.gameday/"


def _no_nan(obj: Any) -> Any:
    """NaN (no observation: an empty phase, never recovered) as JSON null."""
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_no_nan(v) for v in obj]
    return obj


def prediction_document(predictions: Sequence[DomainPrediction], settings: GameDaySettings, metrics: MetricMap,
                        *, project: str = "") -> dict[str, Any]:
    """The plain, JSON-ready document of a sweep (module notes)."""
    pools: dict[str, Any] = {}
    for d in predictions:
        for p in d.pools:
            pools.setdefault(p.key, p.to_dict())
    return _no_nan({
        "schema": SCHEMA,
        "project": project,
        "go": all(d.go for d in predictions),
        "slo_holds": all(d.slo_holds for d in predictions),
        "domains_predicted": len(predictions),
        "settings": settings.to_dict(),
        "metrics": metrics.to_dict(),
        "phases": {k: list(v) for k, v in settings.phase_bounds().items()},
        "signals": dict(SIGNALS),
        "phase_figures": dict(PHASE_FIGURES),
        "pool_predictions": pools,
        "domains": [d.to_dict() for d in predictions],
    })


def published(document: dict[str, Any]) -> dict[str, Any]:
    """The document as written to ``prediction.json`` and printed by ``--json``: latencies in ms."""
    return to_output(document)


def read_published(document: Any, *, source: str = "PREDICTION") -> dict[str, Any]:
    """A written ``prediction.json`` back in the internal form; InvalidInput (exit 2) naming the fix otherwise."""
    from dimensioning.errors import InvalidInput

    schema = document.get("schema") if isinstance(document, dict) else None
    if isinstance(schema, str) and schema.startswith(_SCHEMA_FAMILY) and schema != SCHEMA:
        raise InvalidInput(source, schema, f"a prediction of schema {schema} (latencies in seconds) is not read by"
                           f" this version ({SCHEMA}, latencies in ms): re-run `lpuplan gameday predict ... --out DIR`")
    if schema != SCHEMA:
        raise InvalidInput(source, schema, f"not a game-day prediction (schema {SCHEMA}):"
                           " write one with `lpuplan gameday predict FILE --out DIR`")
    try:
        return from_output(document)
    except ValueError as exc:
        raise InvalidInput(source, schema, f"{exc}: re-run `lpuplan gameday predict ... --out DIR`") from None
