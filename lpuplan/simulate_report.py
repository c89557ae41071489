"""What ``lpuplan simulate`` reports: the JSON object and the terminal tables.

Renderers only: the verdict (pass/fail, exit code) is decided by
:func:`dimensioning.simulate.verdict.judge`; nothing here recomputes it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from dimensioning.keys import E2EL, PERCENTILES, latency_key, percentile_key, percentile_label, slo_key, to_output
from lpuplan.cli_support import stdout

if TYPE_CHECKING:
    from dimensioning.simulate.run import SimulationResult
    from dimensioning.simulate.scenario import Failure
    from dimensioning.simulate.verdict import SimulationVerdict
    from lpuplan.project import Project

__all__ = ["result_dict", "render"]


def _failure_dict(failure: Failure | None) -> dict[str, Any] | None:
    if failure is None:
        return None
    return {
        "replicas": list(failure.replicas),
        "at_s": failure.at_s,
        "failover_time_s": failure.failover_time_s,
        "in_service": failure.in_service,
        "unnoticed": failure.unnoticed,
        "timeout_s": failure.timeout_s,
        "recover_at_s": failure.recover_at_s,
        "max_retries": failure.max_retries,
    }


def result_dict(project: Project, result: SimulationResult, description: dict[str, Any],
                verdict: SimulationVerdict) -> dict[str, Any]:
    """The JSON object of ``lpuplan simulate --json`` (method: simulated, with 95% intervals).

    Latencies in ms under :mod:`dimensioning.keys` names (``e2el_p99_ms``, ``wait_p99_9_ms``,
    ``e2el_slo_ms``); the run's time line (``wall_s``, ``span_s``, the failure's times) in seconds.
    """
    return {
        "project": project.name,
        "method": "simulated",
        "seed": result.seed,
        "engines": list(result.engines),
        "wall_s": result.wall_s,
        "scenario": description,
        "failure": _failure_dict(result.failure),
        "summary": to_output(result.summary.to_dict()),
        "buckets": [to_output(b.to_dict()) for b in verdict.buckets],
        "slo_ok": all(b.slo_ok is not False for b in verdict.buckets),
        "unserved": verdict.unserved.to_dict(),
        "passed": verdict.passed,
        "failures": list(verdict.failures),
    }


def _seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value * 1e3:,.1f} ms" if value < 10 else f"{value:,.2f} s"


def _ms(value_ms: float | None) -> str:
    """A figure already in ms (the JSON's), shown as :func:`_seconds` shows one in seconds."""
    return _seconds(None if value_ms is None else value_ms / 1e3)


def render(payload: dict[str, Any], result: SimulationResult, verdict: SimulationVerdict) -> None:
    """Verdict first, then the wait/latency table, traffic figures and the per-bucket SLO table."""
    from rich.markup import escape
    from rich.table import Table

    summary = result.summary
    if verdict.passed:
        stdout.print("[bold green]PASS[/]: every bucket's simulated p99 (upper 95% end) meets its SLO"
                     + ("" if verdict.unserved.ok is None else ", and shed + lost is within target"), markup=True)
    else:
        stdout.print("[bold red]FAIL[/]: " + escape("; ".join(verdict.failures)), markup=True)
    stdout.print(
        f"[bold]{escape(payload['project'])}[/]: simulated {summary.requests:,} requests "
        f"(seed {result.seed}, engine {', '.join(result.engines)}, {result.wall_s:.2f} s)",
        markup=True,
    )
    table = Table(title="wait and e2el latency (simulated, 95% interval)")
    for column in ("figure", "wait", "wait 95% CI", "e2el", "e2el 95% CI"):
        table.add_column(column, justify="right" if column != "figure" else "left")
    shown = [("mean", "mean")] + [(percentile_key(q), percentile_label(q)) for q in PERCENTILES]
    for key, label in shown:
        wait = summary.wait.get(key)
        latency = summary.latency.get(key)
        if wait is None or latency is None:
            continue
        table.add_row(
            label,
            _seconds(wait.value),
            f"{_seconds(wait.low)} - {_seconds(wait.high)}",
            _seconds(latency.value),
            f"{_seconds(latency.low)} - {_seconds(latency.high)}",
        )
    stdout.print(table)
    rates = Table(title="traffic")
    rates.add_column("figure")
    rates.add_column("value", justify="right")
    rates.add_row("throughput", f"{summary.throughput_rps:,.2f} req/s")
    if summary.goodput_rps is not None:
        rates.add_row("goodput (within SLO)", f"{summary.goodput_rps:,.2f} req/s")
    rates.add_row("utilization", f"{summary.utilization:.3f}")
    rates.add_row("completed / shed / lost / rejected", f"{summary.completed:,} / {summary.shed:,} / {summary.lost:,} / {summary.rejected:,}")
    if summary.prob_wait is not None:
        rates.add_row("P(wait > 0)", f"{summary.prob_wait.value:.4f}")
    unserved = verdict.unserved
    if unserved.target is not None:
        rates.add_row("shed + lost share (upper 95%) / target",
                      f"{unserved.share:.3g} ({unserved.share_high:.3g}) / {unserved.target:.3g}"
                      + ("  PASS" if unserved.ok else "  FAIL"))
    stdout.print(rates)
    buckets = Table(title="per bucket: e2el p99 against the SLO")
    for column in ("bucket", "requests", "e2el p99", "95% CI", "SLO", "verdict"):
        buckets.add_column(column, justify="left" if column == "bucket" else "right")
    p99 = latency_key(E2EL, 99.0)
    for row in payload["buckets"]:
        interval = row[f"{p99}_ci95"]
        buckets.add_row(
            row["bucket"],
            f"{row['requests']:,}",
            _ms(row[p99]),
            "-" if interval is None else f"{_ms(interval[0])} - {_ms(interval[1])}",
            _ms(row[slo_key(E2EL)]),
            {True: "PASS", False: "FAIL", None: "-"}[row["slo_ok"]],
        )
    stdout.print(buckets)
