"""The Markdown runbook of one domain, filled from ``templates/gameday_runbook.md``.

Every number in it comes from the :class:`~facility.gameday.predict.DomainPrediction`;
nothing is recomputed here.
"""

from __future__ import annotations

import math
from importlib import resources
from string import Template
from typing import TYPE_CHECKING

from dimensioning.keys import MS_PER_S
from facility.gameday.metrics import MetricMap
from facility.gameday.model import PHASES
from facility.gameday.units import latency_name

if TYPE_CHECKING:
    from facility.gameday.bands import Band
    from facility.gameday.predict import DomainPrediction

__all__ = ["runbook_markdown", "TEMPLATE"]

TEMPLATE = "gameday_runbook.md"

_ROWS = (("e2el_p99_s", "p99 e2el (ms)"), ("ttft_p99_s", "p99 TTFT (ms)"), ("queue_depth_mean", "queue depth (mean)"),
         ("shed_rate", "shed share"), ("error_rate", "error share"), ("goodput_rps", "goodput (req/s)"))


def _n(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if math.isinf(x):
        return "unbounded" if x > 0 else "none (overloaded)"
    return f"{x:.{digits}g}"


def _ms(x: float) -> float:
    return x * MS_PER_S


def _band(b: "Band", k: float = 1.0) -> str:
    """``mean [lo, hi]``, times ``k`` (1e3: a latency in ms)."""
    if math.isnan(b.mean):
        return "no observation"
    return f"{_n(k * b.mean)} [{_n(k * b.lo)}, {_n(k * b.hi)}]"


def _k(key: str) -> float:
    return MS_PER_S if latency_name(key) else 1.0


def runbook_markdown(prediction: "DomainPrediction", metrics: MetricMap, *, project: str = "the project") -> str:
    """The runbook text (module notes)."""
    s = prediction.settings
    bounds = s.phase_bounds()
    blast = prediction.blast
    lines = [f"- level {blast.level} ({blast.kind}); replicas lost: {blast.replicas_lost}; chips down: {blast.chips_lost}"]
    if blast.racks:
        shown = ", ".join(blast.racks[:12]) + (f" and {len(blast.racks) - 12} more" if len(blast.racks) > 12 else "")
        lines.append(f"- racks: {shown}")
    for hit in blast.pools:
        lines.append(f"- pool {hit.pool}: {hit.replicas} -> {hit.left} replicas (lost {', '.join(hit.lost_replicas)})")
    if blast.feed is not None:
        f = blast.feed
        lines.append(f"- most loaded surviving feed: {f.element}, {_n(f.load_kw)} kW of {_n(f.limit_kw)} kW usable"
                     f" ({f.fraction:.0%})")
    hyp = []
    for p in prediction.pools:
        g = p.pool
        hyp.append(f"- {g.name}: with {g.replicas - p.lost} of {g.replicas} replicas the p99 end-to-end latency stays"
                   f" at or below {_n(_ms(p.worst_p99_s if math.isfinite(p.worst_p99_s) else p.degraded.latency_p99_s))} ms"
                   f" (degraded SLO {_n(_ms(g.degraded_slo_s))} ms; exact steady state {_n(_ms(p.degraded.latency_p99_s))} ms,"
                   f" {p.degraded.method}); utilisation {_n(p.normal.utilization)} -> {_n(p.degraded.utilization)}.")
    if not hyp:
        hyp.append("- no replica is lost: every signal stays in its normal band.")
    pre = ["| precondition | pool | predicted | limit | margin | holds |", "| --- | --- | --- | --- | --- | --- |"]
    for c in prediction.preconditions:
        pre.append(f"| {c.name} | {c.pool or 'site'} | {_n(c.value)} {c.unit} | {_n(c.limit)} {c.unit} | {_n(c.margin)} |"
                   f" {'PASS' if c.passed else '**FAIL**'} |")
    sig = []
    for p in prediction.pools:
        sig.append(f"### {p.pool.name}\n")
        sig.append("| signal | " + " | ".join(PHASES) + " |")
        sig.append("| --- |" + " --- |" * len(PHASES))
        for key, label in _ROWS:
            sig.append(f"| {label} | " + " | ".join(_band(p.phases[ph][key], _k(key)) for ph in PHASES) + " |")
        rec = p.recovered_after_s
        sig.append(f"\nTime from t0 until the interval p99 is back under the degraded SLO for good: {_band(rec)} s.\n")
    lost = []
    for p in prediction.pools:
        exp = p.expected_lost_failover
        interval = p.expected_lost_failover_interval
        closed = (f"expected {_n(exp)} (lambda x failover x k/N; Poisson 99%: {interval[0]}-{interval[1]})"
                  if exp is not None and interval is not None else "no closed form")
        lost.append(f"{p.pool.name}: during failover {closed}, simulated {_band(p.lost_failover)}; in flight at t0"
                    f" {_band(p.lost_in_flight)}" + (f" (expected {_n(p.expected_lost_in_flight)})" if p.expected_lost_in_flight is not None else ""))
    aborts = ["| condition | pool | threshold | for | predicted | margin | fires as predicted? |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for a in prediction.aborts:
        k, unit = (MS_PER_S, "ms") if a.unit == "s" else (1.0, a.unit)  # latencies in ms, like the JSON
        aborts.append(f"| {a.name} | {a.pool or 'site'} | {a.direction} {_n(k * a.threshold)} {unit} | {_n(a.for_s)} s |"
                      f" {_n(k * a.predicted)} {unit} | {_n(k * a.margin)} | {'**YES: do not start**' if a.predicted_to_fire else 'no'} |")
    rollback = (f"Restore {prediction.domain} (power, cordon or link back up). Confirm every pool's replicas_up is back"
                f" to its full count and the before-phase bands hold again within {_n(s.recovery_s)} s;"
                " if a replica does not come back, treat it as a new failure and re-plan.")
    metric_rows = ["| signal | PromQL |", "| --- | --- |"] + [
        f"| {k} | `{v}` |" for k, v in sorted(metrics.signals.items())]
    metric_rows.append(f"\nSource: {metrics.source}.")
    if not metrics.has("feed_load_kw"):
        metric_rows.append("No `feed_load_kw` query: the feed abort condition has no alert rule; watch the PDU by hand.")
    results = []
    for ph in PHASES:
        for p in prediction.pools:
            for key, label in _ROWS[:4]:
                results.append(f"| {ph} | {p.pool.name} {label} | {_band(p.phases[ph][key], _k(key))} |  |  |")
    verdict_detail = (f"SLO {'holds' if prediction.slo_holds else 'does NOT hold'} through the failure; margin"
                      f" {_n(_ms(prediction.margin_s))} ms; worst interval p99 {_n(_ms(prediction.worst_p99_s))} ms.")
    phases = "; ".join(f"{ph} [{_n(a)}, {_n(b)}) s" for ph, (a, b) in bounds.items())
    text = resources.files("templates").joinpath(TEMPLATE).read_text(encoding="utf-8")
    return Template(text).substitute(
        level=blast.level,
        domain=prediction.domain,
        project=project,
        verdict=prediction.verdict(),
        verdict_detail=verdict_detail,
        hypothesis="\n".join(hyp),
        blast="\n".join(lines),
        preconditions="\n".join(pre),
        before_s=_n(s.before_s),
        failover_time_s=_n(s.failover_time_s),
        failover_source="assumed: confirm it from the router's health-check settings"
        if "failover_time_s" in s.assumed else "given",
        restore_after_s=_n(s.restore_after_s),
        recovery_s=_n(s.recovery_s),
        seeds=s.seeds,
        phases=phases,
        signals="\n".join(sig) if sig else "No pool is hit: every signal should stay as before.",
        lost="; ".join(lost) if lost else "none",
        aborts="\n".join(aborts),
        rollback=rollback,
        metrics="\n".join(metric_rows),
        results_rows="\n".join(results) if results else "| | | | | |",
        assumed=", ".join(s.assumed) or "none",
    )
