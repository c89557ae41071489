"""``lpuplan simulate``: parse, call, render. Thin by design (issue 9, item 5).

- the scenario from the project file: :mod:`lpuplan.simulate_scenario`;
- the run: :func:`dimensioning.simulate.simulate`;
- the verdict and exit code: :func:`dimensioning.simulate.verdict.judge`;
- the JSON object and tables: :mod:`lpuplan.simulate_report`; the PNG:
  :mod:`lpuplan.simulate_plot`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable, Literal

import typer

from dimensioning.errors import InvalidInput
from dimensioning.simulate.scenario import ROUTINGS, parse_failure
from lpuplan.cli_support import guarded, stderr, stdout
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic, write_json

if TYPE_CHECKING:
    from dimensioning.simulate.run import SimulationResult
    from dimensioning.simulate.timeseries import TimeSeries

__all__ = ["register"]

DEFAULT_REQUESTS = 1_000_000


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
        routing: Annotated[Literal[ROUTINGS], typer.Option("--routing", help="How requests reach replicas.")] = "central",
        pool: Annotated[Literal["per-bucket", "shared"], typer.Option("--pool", help="per-bucket (one pool per bucket) | shared (one pool for all).")] = "per-bucket",
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

        Exit 0 when every bucket's simulated p99 latency (upper 95% end) meets
        its SLO (the degraded SLO when --fail is given) and the shed + lost
        share is within the project's shed_target; 3 when a check fails; 2 on
        bad input.

        Example: lpuplan simulate lpuplan.toml --requests 200000 --out sim
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
        from dimensioning.simulate.verdict import judge
        from lpuplan.simulate_plot import plot_png
        from lpuplan.simulate_report import render, result_dict
        from lpuplan.simulate_scenario import bucket_slos_s, build_scenario, check_rate

        check_rate(rate)

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
        verdict = judge(result, bucket_slos_s(project, failure is not None), project.admission.shed_target)
        payload = result_dict(project, result, description, verdict)
        if out is not None:
            with output_set(out, option="--out") as staging:  # the three files arrive as one set
                write_json(staging / "summary.json", payload, option="--out")
                write_atomic(staging / "timeseries.csv", series.to_csv(), option="--out")
                write_atomic(staging / "simulate.png", plot_png(series, failure, f"{project.name}: simulated (seed {seed})"), option="--out")
            payload["files"] = [str(out / name) for name in ("summary.json", "timeseries.csv", "simulate.png")]
        if json_out:
            stdout.print(dumps_json(payload), end="", markup=False, highlight=False, soft_wrap=True)
        else:
            render(payload, result, verdict)
            if out is not None:
                stdout.print(f"wrote {', '.join(payload['files'])}")
        if not verdict.passed:
            if not json_out:
                stderr.print("check failed: " + "; ".join(verdict.failures))
            raise typer.Exit(verdict.exit_code)


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
