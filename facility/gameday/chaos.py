"""A Chaos Toolkit experiment for one domain (https://chaostoolkit.org/reference/api/experiment/).

- steady-state hypothesis: one probe per hit pool and signal, an HTTP GET of
  Prometheus's instant-query API (``/api/v1/query``) whose PromQL answers 1
  when the signal is inside its predicted band (``<= bool`` / ``>= bool``),
  with a JSON-path tolerance on the response body expecting ``"1"`` (the
  toolkit's own ``http`` provider: no extension package needed; JSON-path
  tolerances need ``jsonpath2``, ``chaostoolkit-lib[jsonpath]``);
- method: the failure (one action per lost replica, an HTTP POST to the
  control API of ``lpuplan emulate``: on a real fleet, replace these actions
  with your power-off or cordon step), a pause through the degraded phase,
  probes of the degraded bands, then the restore and a pause through the
  recovery phase;
- rollbacks: the restore actions (idempotent), which the toolkit runs when
  the experiment deviates or is interrupted.

``chaos validate experiment.json`` checks the file (the tests do).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from facility.gameday.metrics import MetricMap

if TYPE_CHECKING:
    from facility.gameday.predict import DomainPrediction

__all__ = ["chaos_experiment", "chaos_json"]

def _probe(name: str, query: str, op: str, bound: float, timeout_s: float = 10.0) -> dict[str, Any]:
    return {
        "type": "probe",
        "name": name,
        "tolerance": {"type": "jsonpath", "path": "$.data.result[0].value[1]", "expect": "1", "target": "body"},
        "provider": {"type": "http", "url": "${prometheus_base_url}/api/v1/query", "method": "GET",
                     "timeout": timeout_s, "arguments": {"query": f"({query}) {op} bool {bound!r}"}},
    }


def _band_probes(prediction: "DomainPrediction", metrics: MetricMap, phase: str, window_s: float) -> list[dict[str, Any]]:
    probes = []
    for p in prediction.pools:
        pool = p.pool
        slo = pool.degraded_slo_s if phase in ("failover", "degraded") else pool.slo_s
        upper = {"e2el_p99_s": p.phases[phase]["e2el_p99_s"].hi, "shed_rate": p.phases[phase]["shed_rate"].hi}
        for signal, hi in upper.items():
            if not metrics.has(signal) or not math.isfinite(hi):
                continue
            bound = hi if signal != "e2el_p99_s" else max(hi, 0.0)
            query = metrics.query(signal, pool=pool.name, window_s=window_s, slo_s=slo)
            probes.append(_probe(f"{pool.name}-{signal}-{phase}-within-prediction", query, "<=", bound))
        if metrics.has("replicas_up"):
            up = pool.replicas - (p.lost if phase in ("failover", "degraded") else 0)
            probes.append(_probe(f"{pool.name}-replicas-up-{phase}", metrics.query("replicas_up", pool=pool.name),
                                 ">=", float(up)))
    return probes


def _replica_actions(prediction: "DomainPrediction", action: str) -> list[dict[str, Any]]:
    out = []
    for hit in prediction.blast.pools:
        for name in hit.lost_replicas:
            index = int(name.rsplit("/", 1)[1]) - 1  # facility names replicas from 1; the control API from 0
            out.append({
                "type": "action",
                "name": f"{action}-{name.replace('/', '-')}",
                "provider": {"type": "http", "url": f"${{control_url}}/control/pools/{hit.pool}/replicas/{index}/{action}",
                             "method": "POST", "timeout": 10},
            })
    return out


def chaos_experiment(prediction: "DomainPrediction", metrics: MetricMap, *, window_s: float = 60.0,
                     time_scale: float = 1.0) -> dict[str, Any]:
    """The experiment document for one domain (module notes)."""
    bounds = prediction.settings.phase_bounds()
    degraded_s = bounds["recovery"][0]  # the failure lasts from t0 to the restore
    recovery_s = bounds["recovery"][1] - bounds["recovery"][0]
    wall_window = window_s / time_scale
    kill = _replica_actions(prediction, "kill")
    restore = _replica_actions(prediction, "recover")
    if kill:
        kill[-1]["pauses"] = {"after": round(degraded_s / time_scale, 3)}
    degraded_probes = _band_probes(prediction, metrics, "degraded", wall_window)
    if restore:
        restore[-1] = {**restore[-1], "pauses": {"after": round(recovery_s / time_scale, 3)}}
    pools = ", ".join(f"{p.pool.name} {p.pool.replicas} -> {p.pool.replicas - p.lost}" for p in prediction.pools) or "none"
    return {
        "version": "1.0.0",
        "title": f"Game day: lose {prediction.blast.level} {prediction.domain}",
        "description": (f"lpuplan prediction: the SLO {'holds' if prediction.slo_holds else 'does NOT hold'} through the loss"
                        f" of {prediction.domain} (replicas: {pools}); margin {prediction.margin_s:.3g} s."),
        "tags": ["lpuplan", "gameday", prediction.blast.level],
        "configuration": {
            "prometheus_base_url": {"type": "env", "key": "PROMETHEUS_URL", "default": "http://127.0.0.1:9090"},
            "control_url": {"type": "env", "key": "LPUPLAN_CONTROL_URL", "default": "http://127.0.0.1:8000"},
        },
        "steady-state-hypothesis": {
            "title": "every hit pool is inside its predicted normal band",
            "probes": _band_probes(prediction, metrics, "before", wall_window) or [
                _probe("prometheus-answers", "vector(1)", ">=", 1.0)],
        },
        "method": kill + degraded_probes + restore,
        "rollbacks": _replica_actions(prediction, "recover"),
    }


def chaos_json(prediction: "DomainPrediction", metrics: MetricMap, *, window_s: float = 60.0, time_scale: float = 1.0) -> str:
    """The experiment as indented JSON text (stable key order)."""
    return json.dumps(chaos_experiment(prediction, metrics, window_s=window_s, time_scale=time_scale), indent=2) + "\n"
