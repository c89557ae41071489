"""``lpuplan simulate``: simulate a project's planned pool(s) with the discrete-event simulator.

Thin over :func:`dimensioning.simulate.simulate`: parse, build the scenario
from the project file, call, render (rich tables, JSON, a CSV time series
and a PNG plot).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable

import typer

from dimensioning.errors import InvalidInput
from dimensioning.simulate.scenario import ROUTINGS, Failure, Pool, parse_failure
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic, write_json

if TYPE_CHECKING:
    from lpuplan.project import Project
    from dimensioning.simulate.run import SimulationResult
    from dimensioning.simulate.timeseries import TimeSeries

__all__ = ["register", "build_scenario", "result_dict", "plot_png"]

DEFAULT_REQUESTS = 1_000_000


def _planned_replicas(project: Project, shared: bool) -> list[int]:
    """Replica counts from the sizing (per bucket, or the one shared pool)."""
    from lpuplan.plan import size_project  # the plan pipeline; imported late (it is heavier)

    try:
        _, split, dedicated, shared_sizing = size_project(project)
    except InvalidInput:
        raise
    except Exception as exc:  # noqa: BLE001 - sizing failure becomes an input problem here
        raise InvalidInput("--replicas", None, f"the sizing could not give replica counts ({exc}); pass --replicas") from None
    if shared:
        if shared_sizing.replicas < 1:
            raise InvalidInput("--replicas", None, "the shared-pool sizing is infeasible; pass --replicas N")
        return [shared_sizing.replicas]
    counts = []
    for sizing, traffic in zip(dedicated, split.buckets):
        if sizing.replicas < 1 and traffic.arrival_rate > 0:
            raise InvalidInput("--replicas", None, f"bucket {sizing.name} has no feasible size; pass --replicas N1,N2,...")
        counts.append(max(sizing.replicas, 1))  # a bucket without traffic gets an idle replica
    return counts


def _served_shares(project: Project) -> tuple[list[float], float]:
    """Bucket shares among served requests, and the unserved share (prompts above the largest bucket)."""
    from dimensioning.traffic import split_traffic

    split = split_traffic(project.workload, project.buckets)
    shares = [b.share for b in split.buckets]
    total = math.fsum(shares)
    if total <= 0:
        raise InvalidInput("workload", None, "no request falls in any bucket: check the prompt distribution")
    return [s / total for s in shares], split.share_unserved


def build_scenario(
    project: Project,
    *,
    pool: str = "per-bucket",
    replicas: str | None = None,
    routing: str = "central",
    arrivals: str | None = None,
    service: str = "auto",
    jitter: float = 0.0,
    queue_cap: int | None = None,
    work_cap_ms: float | None = None,
    rate: float | None = None,
) -> tuple[list[Pool], Any, Any, dict[str, Any]]:
    """Pools, arrival process, service model and a description, from a project and the CLI's choices."""
    from dimensioning.simulate.arrivals import TraceArrivals, parse_arrivals
    from dimensioning.simulate.service import BucketMixService, JitteredService, TokenService, bucket_service_time

    if pool not in ("per-bucket", "shared"):
        raise InvalidInput("--pool", pool, "use per-bucket or shared")
    if routing not in ROUTINGS:
        raise InvalidInput("--routing", routing, f"use one of {', '.join(ROUTINGS)}")
    if service not in ("auto", "bucket", "tokens"):
        raise InvalidInput("--service", service, "use auto, bucket or tokens")
    shared = pool == "shared"
    buckets = project.buckets
    lambda_peak = rate if rate is not None else project.workload.lambda_peak
    if arrivals is None:
        scv = project.workload.arrival_scv
        arrivals = "poisson" if scv == 1.0 else f"gamma:{scv}"
    if arrivals.strip().lower() == "trace":
        if project.workload.trace is None:
            raise InvalidInput("--arrivals", arrivals, "the project has no workload.trace: write trace:PATH")
        arrivals = f"trace:{project.workload.trace}"  # the project's own trace (needs a timestamp column)
    is_trace = arrivals.strip().lower().startswith("trace:")
    mode = service if service != "auto" else ("tokens" if is_trace else "bucket")
    if mode == "bucket":
        shares, unserved = _served_shares(project)
        # Requests above the largest bucket are rejected by the API; the pool never sees them.
        process = parse_arrivals(arrivals, lambda_peak * (1 - unserved))
        times = tuple(bucket_service_time(b) for b in buckets)
        model: Any = BucketMixService(times, tuple(shares), tuple(b.label for b in buckets))
    else:
        process = parse_arrivals(arrivals, lambda_peak)
        if isinstance(process, TraceArrivals) or (
            project.workload.prompt_tokens is not None and project.workload.output_tokens is not None
        ):
            model = TokenService.from_buckets(buckets, project.workload.prompt_tokens, project.workload.output_tokens)
        else:
            raise InvalidInput(
                "--service", "tokens", "the workload is a trace without timestamps here: use --arrivals trace:PATH"
            )
        unserved = None
    if jitter:
        model = JitteredService(model, jitter)
    if replicas is None:
        counts = _planned_replicas(project, shared)
    else:
        try:
            counts = [int(v) for v in replicas.split(",")]
        except ValueError:
            raise InvalidInput("--replicas", replicas, "give a whole number, or one per bucket: N1,N2,...") from None
    expected = 1 if shared else len(buckets)
    if len(counts) == 1 and expected > 1:
        counts = counts * expected
    if len(counts) != expected:
        raise InvalidInput("--replicas", replicas, f"give one count (or {expected}, one per bucket)")
    slots = [b.slots for b in buckets]
    if shared and len(set(slots)) > 1:
        raise InvalidInput("--pool", pool, f"buckets have different slots {slots}: a shared pool needs one value")
    work_cap_s = None if work_cap_ms is None else work_cap_ms / 1e3
    pools = [
        Pool(replicas=n, slots=s, routing=routing, queue_cap=queue_cap, work_cap_s=work_cap_s)  # type: ignore[arg-type]
        for n, s in zip(counts, slots[:1] if shared else slots)
    ]
    description = {
        "pool": pool,
        "replicas": counts,
        "slots": [p.slots for p in pools],
        "routing": routing,
        "arrivals": arrivals,
        "arrival_rate_rps": getattr(process, "mean_rate", None),
        "service": mode,
        "jitter_cv": jitter,
        "queue_cap": queue_cap,
        "work_cap_ms": work_cap_ms,
        "unserved_share": unserved,
    }
    return pools, process, model, description


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


def _bucket_rows(project: Project, result: SimulationResult, degraded: bool) -> list[dict[str, Any]]:
    rows = []
    for index, bucket in enumerate(project.buckets):
        slo_ms = project.bucket_slo_ms(bucket)
        if degraded:
            slo_ms = max(slo_ms, project.slo.degraded_ms)
        summary = result.bucket_summary(index, slo_s=slo_ms / 1e3)
        p99 = summary.latency.get("p99")
        rows.append(
            {
                "bucket": bucket.label,
                "requests": summary.requests,
                "completed": summary.completed,
                "latency_p99_s": None if p99 is None else p99.value,
                "latency_p99_s_ci95": None if p99 is None else p99.interval,
                "wait_p99_s": None if p99 is None else summary.wait["p99"].value,
                "slo_p99_s": slo_ms / 1e3,
                # the plan's rule: a p99 whose 95% interval reaches past the SLO is not a pass
                "slo_ok": None if p99 is None else bool(p99.high <= slo_ms / 1e3),
            }
        )
    return rows


def result_dict(project: Project, result: SimulationResult, description: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of ``lpuplan simulate --json`` (method: simulated, with 95% intervals)."""
    degraded = result.failure is not None
    buckets = _bucket_rows(project, result, degraded)
    return {
        "project": project.name,
        "method": "simulated",
        "seed": result.seed,
        "engines": list(result.engines),
        "wall_s": result.wall_s,
        "scenario": description,
        "failure": _failure_dict(result.failure),
        "summary": result.summary.to_dict(),
        "buckets": buckets,
        "slo_ok": all(row["slo_ok"] is not False for row in buckets),
    }


def plot_png(series: TimeSeries, failure: Failure | None, title: str) -> bytes:
    """PNG: latency p50/p99 per interval (top) and queue depth and busy slots (bottom), failure window shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    mid = series.t_start_s + series.interval_s / 2
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    top.plot(mid, series.latency_p99_s, label="p99 latency", color="tab:red")
    top.plot(mid, series.latency_p50_s, label="p50 latency", color="tab:blue")
    top.set_ylabel("latency (s)")
    top.legend(loc="upper right")
    top.set_title(title)
    bottom.plot(mid, series.queue_depth, label="queue depth", color="tab:purple")
    bottom.plot(mid, series.busy_slots, label="busy slots", color="tab:green")
    bottom.plot(mid, series.sheds + series.losses, label="shed + lost (per interval)", color="tab:orange")
    bottom.set_ylabel("requests (interval mean)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right")
    if failure is not None:
        end = failure.recover_at_s if failure.recover_at_s is not None else mid[-1] + series.interval_s
        for axis in (top, bottom):
            axis.axvspan(failure.at_s, end, color="grey", alpha=0.15, label="replicas down")
            axis.axvspan(failure.at_s, failure.at_s + failure.failover_time_s, color="red", alpha=0.12)
    figure.tight_layout()
    buffer = io.BytesIO()
    # No software/version metadata, so the same inputs give the same bytes.
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def _seconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value * 1e3:,.1f} ms" if value < 10 else f"{value:,.2f} s"


def _render(payload: dict[str, Any], result: SimulationResult) -> None:
    from rich.table import Table

    summary = result.summary
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


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to ``app``."""

    @app.command("simulate")
    @guarded
    def simulate_command(
        file: Annotated[Path, typer.Argument(help="Project file (TOML).")],
        requests: Annotated[int | None, typer.Option("--requests", help="Requests to simulate (default 1,000,000).")] = None,
        duration: Annotated[float | None, typer.Option("--duration", help="Simulate every arrival in this many seconds instead.")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same output.")] = 0,
        arrivals: Annotated[
            str | None,
            typer.Option(
                "--arrivals",
                help="poisson | gamma:SCV | mmpp:RATE1,RATE2,SWITCH12,SWITCH21 | piecewise:0=R0,T1=R1,... | trace:PATH | trace (the project's)"
                " (default: the project's arrival_scv).",
            ),
        ] = None,
        routing: Annotated[str, typer.Option("--routing", help=f"{' | '.join(ROUTINGS)}.")] = "central",
        pool: Annotated[str, typer.Option("--pool", help="per-bucket (one pool per bucket) | shared (one pool for all).")] = "per-bucket",
        replicas: Annotated[
            str | None, typer.Option("--replicas", help="Replicas: N, or N1,N2,... per bucket (default: the sizing's).")
        ] = None,
        service: Annotated[
            str,
            typer.Option(
                "--service",
                help="bucket (S at the output cap) | tokens (per request from its prompt and output tokens) | auto (tokens for a trace).",
            ),
        ] = "auto",
        jitter: Annotated[float, typer.Option("--jitter", help="Lognormal service jitter, coefficient of variation (0.05 = 5%).")] = 0.0,
        queue_cap: Annotated[int | None, typer.Option("--queue-cap", help="Queue_cap: most waiting requests per queue; more are shed.")] = None,
        work_cap_ms: Annotated[
            float | None, typer.Option("--work-cap-ms", help="Work-based admission: shed when queued work per slot exceeds this (ms).")
        ] = None,
        fail: Annotated[
            str | None,
            typer.Option(
                "--fail",
                help="R[,R...]@SECONDS[:failover=S][:recover=S][:in_service=lost|retry][:unnoticed=lost|timeout|retry][:timeout=S][:retries=N]",
            ),
        ] = None,
        rate: Annotated[float | None, typer.Option("--rate", help="Arrival rate, requests/s (default: the project's lambda_peak).")] = None,
        interval: Annotated[float | None, typer.Option("--interval", help="Time-series interval, seconds (default: span/200).")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Folder for summary.json, timeseries.csv and simulate.png.")] = None,
    ) -> None:
        """Simulate the project's planned pool(s): percentiles with 95% intervals, time series, plot.

        Exit 0 when every bucket's simulated p99 latency meets its SLO (the
        degraded SLO when --fail is given), 3 when one does not, 2 on bad input.
        """
        if requests is not None and duration is not None:
            raise InvalidInput("--requests/--duration", (requests, duration), "give one of them, not both")
        if requests is None and duration is None:
            requests = DEFAULT_REQUESTS
        if requests is not None and requests < 1:
            raise InvalidInput("--requests", requests, "give a positive number of requests")
        if jitter < 0:
            raise InvalidInput("--jitter", jitter, "give a coefficient of variation >= 0")
        if out is not None:
            check_output_set("--out", out)
        from dimensioning.simulate.run import simulate

        from lpuplan.project import load_project  # pydantic models: loaded by the command

        project = load_project(file)
        failure = parse_failure(fail) if fail else None
        pools, process, model, description = build_scenario(
            project,
            pool=pool,
            replicas=replicas,
            routing=routing,
            arrivals=arrivals,
            service=service,
            jitter=jitter,
            queue_cap=queue_cap,
            work_cap_ms=work_cap_ms,
            rate=rate,
        )
        slo_s = project.slo.degraded_ms / 1e3 if failure is not None else project.slo.p99_ms / 1e3
        result, series = _run_with_progress(
            lambda on_phase: simulate(
                pools if len(pools) > 1 else pools[0],
                process,
                model,
                seed=seed,
                requests=requests,
                duration_s=duration,
                failure=failure,
                slo_s=slo_s,
                on_phase=on_phase,
            ),
            interval,
            show=not json_out and stderr.is_terminal,
        )
        payload = result_dict(project, result, description)
        if out is not None:
            with output_set(out, option="--out") as staging:  # the three files arrive as one set
                write_json(staging / "summary.json", payload, option="--out")
                write_atomic(staging / "timeseries.csv", series.to_csv(), option="--out")
                write_atomic(staging / "simulate.png", plot_png(series, failure, f"{project.name}: simulated (seed {seed})"), option="--out")
            payload["files"] = [str(out / name) for name in ("summary.json", "timeseries.csv", "simulate.png")]
        if json_out:
            stdout.print(dumps_json(payload), end="", markup=False, highlight=False, soft_wrap=True)
        else:
            _render(payload, result)
            if out is not None:
                stdout.print(f"wrote {', '.join(payload['files'])}")
        if not payload["slo_ok"]:
            if not json_out:
                stderr.print("check failed: a bucket's simulated p99 latency exceeds its SLO")
            raise typer.Exit(EXIT_CHECK_FAILED)


def _run_with_progress(
    run: Callable[[Callable[[str], None]], SimulationResult], interval: float | None, show: bool
) -> tuple[SimulationResult, TimeSeries]:
    """Run the simulation and the time series, with a phase progress bar on stderr when ``show``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    phases = ["arrivals", "service", "queue", "summary", "time series"]
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=stderr, disable=not show, transient=True
    ) as progress:
        task = progress.add_task("simulating", total=len(phases))

        def on_phase(name: str) -> None:
            progress.update(task, completed=phases.index(name), description=f"simulating: {name}")

        result = run(on_phase)
        on_phase("time series")
        series = result.time_series(interval)
        progress.update(task, completed=len(phases))
    return result, series
