"""Prometheus alerting rules for a domain's abort conditions.

One rule group per domain; one alert per abort condition that has a query in
the metric mapping (:mod:`facility.gameday.metrics`). Each alert's
annotations carry the threshold, the predicted value and the margin, so the
person on call sees how far from the prediction the fleet is. The file is
the Prometheus rule-file format (``promtool check rules FILE`` validates it;
https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/).

Times: the game day's times are the fleet's own. For a rehearsal on a
time-scaled emulator (``time_scale`` emulated seconds per wall second),
``for`` durations and rate windows are divided by it and rates (per wall
second) are divided by it to read per emulated second.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import yaml

from facility.gameday.metrics import MetricMap, duration_text

if TYPE_CHECKING:
    from facility.gameday.abort import AbortCondition
    from facility.gameday.predict import DomainPrediction

__all__ = ["alert_rules", "rules_yaml", "alert_name"]

_RATE_SIGNALS = {"arrival_rps", "goodput_rps"}


def alert_name(condition: "AbortCondition") -> str:
    """``GameDayAbort_<condition>_<pool>`` with characters Prometheus accepts."""
    parts = ["GameDayAbort", condition.name] + ([condition.pool] if condition.pool else [])
    return re.sub(r"[^A-Za-z0-9_:]", "_", "_".join(parts))


def _slo_for(prediction: "DomainPrediction", pool: str | None) -> float | None:
    for p in prediction.pools:
        if p.pool.name == pool:
            return p.pool.degraded_slo_s
    return None


def alert_rules(prediction: "DomainPrediction", metrics: MetricMap, *, window_s: float = 60.0,
                time_scale: float = 1.0) -> tuple[dict[str, Any], list[str]]:
    """The rule group for one domain, and the conditions left without a rule (no query in the mapping)."""
    rules = []
    skipped = []
    wall_window = window_s / time_scale
    for c in prediction.aborts:
        if not metrics.has(c.signal):
            skipped.append(c.name)
            continue
        query = metrics.query(c.signal, pool=c.pool or "", window_s=wall_window, slo_s=_slo_for(prediction, c.pool))
        if c.signal in _RATE_SIGNALS and time_scale != 1.0:
            query = f"({query}) / {time_scale!r}"
        op = ">" if c.direction == "above" else "<"
        rules.append({
            "alert": alert_name(c),
            "expr": f"({query}) {op} {c.threshold!r}",
            "for": duration_text(c.for_s / time_scale),
            "labels": {"severity": "critical", "gameday_domain": prediction.domain, "condition": c.name,
                       **({"pool": c.pool} if c.pool else {})},
            "annotations": {
                "summary": f"ABORT the game day on {prediction.domain}: {c.description}",
                "threshold": f"{c.threshold:.6g} {c.unit}",
                "predicted": f"{c.predicted:.6g} {c.unit}",
                "margin": f"{c.margin:.6g} {c.unit}",
            },
        })
    group = {"name": f"lpuplan-gameday-{prediction.domain}",
             "interval": duration_text(max(wall_window / 4, 1.0)),
             "rules": rules}
    return group, skipped


def rules_yaml(predictions: list["DomainPrediction"], metrics: MetricMap, *, window_s: float = 60.0,
               time_scale: float = 1.0) -> str:
    """A Prometheus rule file with one group per domain."""
    groups = [alert_rules(p, metrics, window_s=window_s, time_scale=time_scale)[0] for p in predictions]
    header = ("# lpuplan game-day abort conditions: load into Prometheus for the day (rule_files),\n"
              "# check with `promtool check rules`. Metric names: see the mapping in the runbook.\n")
    return header + yaml.safe_dump({"groups": groups}, sort_keys=False, width=1000)
