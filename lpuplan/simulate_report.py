"""What ``lpuplan simulate`` reports: the JSON object and the terminal tables.

Renderers only: the verdict (pass/fail, exit code) is decided by
:func:`dimensioning.simulate.verdict.judge`; nothing here recomputes it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

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
    """The JSON object of ``lpuplan simulate --json`` (method: simulated, with 95% intervals)."""
    return {
        "project": project.name,
        "method": "simulated",
        "seed": result.seed,
        "engines": list(result.engines),
        "wall_s": result.wall_s,
        "scenario": description,
        "failure": _failure_dict(result.failure),
        "summary": result.summary.to_dict(),
        "buckets": [b.to_dict() for b in verdict.buckets],
        "slo_ok": all(b.slo_ok is not False for b in verdict.buckets),
        "unserved": verdict.unserved.to_dict(),
        "passed": verdict.passed,
        "failures": list(verdict.failures),
    }


def _seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value * 1e3:,.1f} ms" if value < 10 else f"{value:,.2f} s"


def render(payload: dict[str, Any], result: SimulationResult, verdict: SimulationVerdict) -> None:
    """Verdict first, then the wait/latency table, traffic figures and the per-bucket SLO table."""
    from rich.table import Table

    summary = result.summary
    if verdict.passed:
        stdout.print("[bold green]PASS[/]: every bucket's simulated p99 (upper 95% end) meets its SLO"
                     + ("" if verdict.unserved.ok is None else ", and shed + lost is within target"), markup=True)
    else:
        stdout.print("[bold red]FAIL[/]: " + "; ".join(verdict.failures), markup=True)
    stdout.print(
        f"[bold]{payload['project']}[/]: simulated {summary.requests:,} requests "
        f"(seed {result.seed}, engine {', '.join(result.engines)}, {result.wall_s:.2f} s)",
        markup=True,
    )
    table = Table(title="wait and latency (simulated, 95% interval)")
    for column in ("figure", "wait", "wait 95% CI", "latency", "latency 95% CI"):
        table.add_column(column, justify="right" if column != "figure" else "left")
    for key in ("mean", "p50", "p95", "p99", "p999"):
        wait = summary.wait.get(key)
        latency = summary.latency.get(key)
        if wait is None or latency is None:
            continue
        table.add_row(
            key,
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
                      + ("" if unserved.ok else "  NO"))
    stdout.print(rates)
    buckets = Table(title="per bucket: p99 latency against the SLO")
    for column in ("bucket", "requests", "p99 latency", "95% CI", "SLO", "ok"):
        buckets.add_column(column, justify="left" if column == "bucket" else "right")
    for row in payload["buckets"]:
        interval = row["latency_p99_s_ci95"]
        buckets.add_row(
            row["bucket"],
            f"{row['requests']:,}",
            _seconds(row["latency_p99_s"]),
            "-" if interval is None else f"{_seconds(interval[0])} - {_seconds(interval[1])}",
            _seconds(row["slo_p99_s"]),
            {True: "yes", False: "NO", None: "-"}[row["slo_ok"]],
        )
    stdout.print(buckets)
