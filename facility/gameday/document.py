"""The prediction document (``prediction.json``): what ``lpuplan gameday`` writes and ``verify`` reads.

Schema ``lpuplan.gameday/1``: ``settings``, ``metrics`` (the PromQL mapping),
``phases`` (each phase's [start, end) from t0, s), ``signals`` (names and
meanings), ``pool_predictions`` keyed ``"<pool>:<replicas lost>"`` (shared by
every domain with that loss), ``domains`` (blast radius, verdict, abort
conditions and preconditions, and the keys of their pool predictions).
A figure with no observation (an empty phase) is ``null``.
"""

from __future__ import annotations

from typing import Any, Sequence

from facility.gameday.metrics import MetricMap
from facility.gameday.model import SIGNALS, GameDaySettings
from facility.gameday.predict import DomainPrediction
from facility.gameday.signals import PHASE_FIGURES

__all__ = ["SCHEMA", "prediction_document"]

SCHEMA = "lpuplan.gameday/1"


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
