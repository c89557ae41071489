"""``lpuplan gameday``: predict a forced failure, write its runbook and alerts, verify the day.

Commands (``lpuplan gameday FILE ...`` is ``lpuplan gameday predict FILE ...``):

- ``predict FILE --domain rack:NAME | --level rack``: the prediction per
  failure domain (:func:`lpuplan.plan_gameday.predict_plan`), verdict first;
  ``--out DIR`` writes ``prediction.json`` and, per domain, ``runbook.md``,
  ``bands.png``, ``alerts.yml`` and ``experiment.json``;
- ``verify PREDICTION --observed FILE | --prometheus URL``: observations
  against the prediction, phase by phase (:mod:`facility.gameday.verify`).

Parse, call, render: every figure comes from the library's result objects.
Exit codes: 0 GO (every domain's SLO holds, no abort condition predicted to
fire) or verified; 3 NO-GO, or an abort condition crossed / a prediction
wrong; 2 bad input.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Sequence

import typer
from typer.core import TyperGroup

from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic, write_json

if TYPE_CHECKING:
    import click  # annotations only: typer's own click copy does the work
    from facility.gameday.metrics import MetricMap
    from facility.gameday.predict import DomainPrediction

__all__ = ["register", "write_artifacts", "ARTIFACT_LIMIT"]

ARTIFACT_LIMIT = 12
"""Most domains whose runbook, plot, rules and experiment ``--out`` writes (worst first)."""


class _DefaultPredict(TyperGroup):
    """``lpuplan gameday FILE ...`` means ``lpuplan gameday predict FILE ...``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["predict", *args]
        return super().parse_args(ctx, args)


def _n(x: float | None, digits: int = 3) -> str:
    if x is None or math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "unbounded" if x > 0 else "none (overloaded)"
    return f"{x:.{digits}g}"


def _safe_name(domain: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in domain)


def write_artifacts(predictions: Sequence["DomainPrediction"], document: dict[str, Any], out: Path,
                    metrics: "MetricMap", *, project: str, limit: int = ARTIFACT_LIMIT) -> list[Path]:
    """``prediction.json`` and, for up to ``limit`` domains (worst margin first), the per-domain artifacts."""
    from facility.gameday.chaos import chaos_json
    from facility.gameday.document import published
    from facility.gameday.plots import bands_png
    from facility.gameday.rules import rules_yaml
    from facility.gameday.runbook import runbook_markdown

    files = [write_json(out / "prediction.json", published(document))]
    chosen = sorted(predictions, key=lambda d: (d.go, d.margin_s))[:limit]
    for d in sorted(chosen, key=lambda d: predictions.index(d)):
        folder = out / _safe_name(d.domain) if len(predictions) > 1 else out
        files.append(write_atomic(folder / "runbook.md", runbook_markdown(d, metrics, project=project)))
        files.append(write_atomic(folder / "bands.png", bands_png(d)))
        files.append(write_atomic(folder / "alerts.yml", rules_yaml([d], metrics)))
        files.append(write_atomic(folder / "experiment.json", chaos_json(d, metrics)))
    return files


def _table(*columns: str) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def _render_one(d: "DomainPrediction") -> None:
    blast = d.blast
    stdout.print(f"{d.verdict()}: {d.domain} ({blast.level}); SLO {'holds' if d.slo_holds else 'does NOT hold'},"
                 f" margin {_n(d.margin_s)} s")
    for reason in d.reasons():
        stdout.print(f"  why: {reason}")
    stdout.print(f"blast radius: {blast.replicas_lost} replica(s), {blast.chips_lost} chips; worst interval p99"
                 f" {_n(d.worst_p99_s)} s")
    if blast.feed is not None:
        stdout.print(f"surviving feed: {blast.feed.element} {_n(blast.feed.load_kw)} of {_n(blast.feed.limit_kw)} kW",
                     soft_wrap=True)
    for p in d.pools:
        g = p.pool
        exp = p.expected_lost_failover
        stdout.print(f"\npool {g.name}: {g.replicas} -> {g.replicas - p.lost} replicas, utilisation"
                     f" {_n(p.normal.utilization)} -> {_n(p.degraded.utilization)}")
        stdout.print(f"  degraded steady p99 {_n(p.degraded.latency_p99_s)} s vs SLO {_n(g.degraded_slo_s)} s"
                     f" ({p.degraded.method})")
        stdout.print(f"  lost in failover: {_n(p.lost_failover.mean)} [{_n(p.lost_failover.lo)}, {_n(p.lost_failover.hi)}]"
                     + (f" (lambda x failover x k/N = {_n(exp)})" if exp is not None else ""))
        stdout.print(f"  lost in flight at t0: {_n(p.lost_in_flight.mean)}; p99 under the SLO"
                     f" {_n(p.recovered_after_s.hi)} s after t0")
        table = _table("phase", "p99 e2el s", "p99 TTFT s", "queue", "shed", "errors")
        for ph, figs in p.phases.items():
            table.add_row(ph, *(f"{_n(figs[k].mean, 2)}/{_n(figs[k].hi, 2)}"
                                for k in ("e2el_p99_s", "ttft_p99_s", "queue_depth_mean", "shed_rate", "error_rate")))
        stdout.print("  mean over seeds / upper end of the band:")
        stdout.print(table)
    stdout.print("\nabort conditions:")
    table = _table("condition", "pool", "threshold", "predicted", "margin", "")
    for a in d.aborts:
        table.add_row(a.name, a.pool or "site", f"{'>' if a.direction == 'above' else '<'} {_n(a.threshold)} {a.unit}",
                      _n(a.predicted), _n(a.margin), "FIRES" if a.predicted_to_fire else "")
    stdout.print(table)
    failed = [c for c in d.preconditions if not c.passed]
    stdout.print(f"preconditions: {len(d.preconditions) - len(failed)} of {len(d.preconditions)} hold"
                 + "".join(f"\n  FAILS: {c.name} ({c.pool or 'site'}): {_n(c.value)} vs {_n(c.limit)} {c.unit}"
                           for c in failed))


def _render_many(predictions: Sequence["DomainPrediction"]) -> None:
    go = sum(d.go for d in predictions)
    worst = min(predictions, key=lambda d: d.margin_s)
    verdict = "GO" if go == len(predictions) else "NO-GO"
    stdout.print(f"{verdict}: {go} of {len(predictions)} domains GO; smallest margin {_n(worst.margin_s)} s"
                 f" ({worst.domain})")
    table = _table("domain", "verdict", "lost", "margin s", "worst p99 s")
    for d in predictions:
        table.add_row(d.domain, d.verdict(), str(d.blast.replicas_lost), _n(d.margin_s), _n(d.worst_p99_s))
    stdout.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``gameday`` command group to ``app``."""
    group = typer.Typer(cls=_DefaultPredict, no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                        help="Forced-failure game days: predict (`lpuplan gameday FILE --domain D` means"
                             " `predict`), write the runbook and alerts, verify, rehearse.")

    @group.command("predict")
    @guarded
    def predict_command(
        file: Annotated[Path, typer.Argument(help="Project file (TOML) with a [facility] table.")],
        domain: Annotated[list[str] | None, typer.Option("--domain", help="Failure domain, e.g. rack:row01-pod02-rack05 (repeatable).")] = None,
        level: Annotated[str | None, typer.Option("--level", help="Every domain at this level: node, rack, pod, row, feed, cooling, fabric.")] = None,
        failover_time: Annotated[float | None, typer.Option("--failover-time", help="Seconds the router keeps routing to dead replicas (default 15, assumed).")] = None,
        in_service: Annotated[Literal["lost", "retry"] | None, typer.Option("--in-service", help="Requests on the dead replicas at t0: lost | retry (default lost, assumed).")] = None,
        unnoticed: Annotated[Literal["lost", "timeout", "retry"] | None, typer.Option("--unnoticed", help="Requests routed to them before failover: lost | timeout | retry (default lost, assumed).")] = None,
        timeout: Annotated[float, typer.Option("--timeout", help="Client timeout for unnoticed=timeout|retry, seconds.")] = 0.0,
        retries: Annotated[int, typer.Option("--retries", help="Retries per request before it counts as lost.")] = 1,
        routing: Annotated[Literal["round_robin", "random", "jsq", "power_of_two", "least_work_left", "central"] | None, typer.Option("--routing", help="Router: round_robin | random | jsq | power_of_two | least_work_left | central (default round_robin, assumed).")] = None,
        before: Annotated[float, typer.Option("--before", help="Seconds of normal running shown before t0.")] = 120.0,
        restore_after: Annotated[float, typer.Option("--restore-after", help="Seconds after t0 the domain is restored.")] = 600.0,
        recovery: Annotated[float, typer.Option("--recovery", help="Seconds watched after the restore.")] = 300.0,
        interval: Annotated[float, typer.Option("--interval", help="Time-series interval, seconds (a scrape/evaluation interval).")] = 10.0,
        seeds: Annotated[int, typer.Option("--seeds", help="Independent simulated runs behind each band.")] = 10,
        seed: Annotated[int, typer.Option("--seed", help="Root seed: same seed, same output.")] = 0,
        rate: Annotated[float | None, typer.Option("--rate", help="The day's load, req/s (default: the sized lambda_peak).")] = None,
        no_queue_cap: Annotated[bool, typer.Option("--no-queue-cap", help="Replicas queue without the SLO-safe cap (no 429s).")] = False,
        abort_p99_factor: Annotated[float, typer.Option("--abort-p99-factor", help="Abort when p99 exceeds this x the degraded SLO.")] = 1.5,
        abort_shed_rate: Annotated[float, typer.Option("--abort-shed-rate", help="Abort when this share of requests is shed.")] = 0.01,
        abort_for: Annotated[float, typer.Option("--abort-for", help="Seconds a condition must hold before it aborts.")] = 60.0,
        metrics: Annotated[Path | None, typer.Option("--metrics", help="TOML metric mapping ([signals] name = PromQL).")] = None,
        scheduler: Annotated[str | None, typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); default local processes.")] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Local worker processes (default: CPU count; 1 = in this process).")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Folder for prediction.json and each domain's runbook, plot, alerts, experiment.")] = None,
        artifacts: Annotated[int, typer.Option("--artifacts", help="Most domains (smallest margin first) given a runbook, plot, alerts and experiment.")] = ARTIFACT_LIMIT,
    ) -> None:
        """Predict a forced failure per domain: blast radius, transient, bands, abort conditions.

        Exit 0 when every domain is GO (the SLO holds through it and no abort
        condition is predicted to fire), 3 when one is NO-GO, 2 on bad input.

        Example: lpuplan gameday predict lpuplan.toml --domain rack:row01-pod02-rack05 --out gameday
        """
        from facility.gameday.document import prediction_document, published
        from facility.gameday.metrics import load_metric_map
        from facility.gameday.model import GameDaySettings
        from lpuplan.plan import build_plan
        from lpuplan.plan_gameday import predict_plan
        from lpuplan.project import load_project

        from dimensioning.errors import InvalidInput

        if out is not None:
            check_output_set("--out", out)  # before any work
        given = {"failover_time_s": failover_time, "in_service": in_service, "unnoticed": unnoticed, "routing": routing}
        settings = GameDaySettings(
            failover_time_s=15.0 if failover_time is None else failover_time,
            in_service=in_service or "lost", unnoticed=unnoticed or "lost",  # type: ignore[arg-type]
            timeout_s=timeout, max_retries=retries, routing=routing or "round_robin", before_s=before, restore_after_s=restore_after,
            recovery_s=recovery, interval_s=interval, seeds=seeds, seed=seed, abort_p99_factor=abort_p99_factor,
            abort_shed_rate=abort_shed_rate, abort_for_s=abort_for,
            assumed=tuple(name for name, value in given.items() if value is None),
        )
        metric_map = load_metric_map(metrics)
        if artifacts < 0:
            raise InvalidInput("--artifacts", artifacts, "give a number of domains >= 0")
        project = load_project(file)
        if project.facility is None:
            raise InvalidInput("FILE", str(file), "a game day needs the facility model: add a [facility] table (see docs/facility.md)")
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise InvalidInput("--rate", rate, "give the day's load in requests/s > 0")
        plan = build_plan(project)
        if plan.facility is None:
            raise InvalidInput("FILE", str(file), "the plan could not place the pools: run `lpuplan plan` to see why")
        scale = 1.0 if rate is None else rate / project.workload.lambda_peak
        show = not json_out and sys.stderr.isatty()
        progress = None
        if show:
            progress = lambda done, total: stderr.print(f"[dim]simulated {done}/{total} runs[/]", markup=True, end="\r")  # noqa: E731
        predictions = predict_plan(plan, domains=domain or (), level=level, settings=settings, rate_scale=scale,
                                   queue_cap=not no_queue_cap, scheduler=scheduler, workers=workers, progress=progress)
        document = prediction_document(predictions, settings, metric_map, project=project.name)
        files: list[Path] = []
        if out is not None:
            with output_set(out, option="--out") as staging:  # the artifacts arrive as one set
                staged = write_artifacts(predictions, document, staging, metric_map, project=project.name,
                                         limit=artifacts)
            files = [out / path.relative_to(staging) for path in staged]
        if json_out:
            payload = published(document)
            payload["files"] = [str(f) for f in files]
            sys.stdout.write(dumps_json(payload))
            sys.stdout.flush()
        else:
            if len(predictions) == 1:
                _render_one(predictions[0])
            else:
                _render_many(predictions)
            for f in files:
                stdout.print(f"wrote {f}")
        if not document["go"]:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @group.command("verify")
    @guarded
    def verify_command(
        prediction: Annotated[Path, typer.Argument(help="prediction.json written by `lpuplan gameday --out DIR`.")],
        observed: Annotated[Path | None, typer.Option("--observed", help="CSV (per request or per interval) or `lpuplan load` JSONL.")] = None,
        prometheus: Annotated[str | None, typer.Option("--prometheus", help="Prometheus base URL (query_range over the game-day window).")] = None,
        t0: Annotated[float | None, typer.Option("--t0", help="The failure's time: Unix seconds (--prometheus) or on the observations' clock.")] = None,
        domain: Annotated[str | None, typer.Option("--domain", help="The domain to verify when the prediction holds several.")] = None,
        time_scale: Annotated[float | None, typer.Option("--time-scale", help="Emulated seconds per wall second of a time-scaled rehearsal.")] = None,
        metrics: Annotated[Path | None, typer.Option("--metrics", help="TOML metric mapping (default: the prediction's).")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Folder for verify.json and comparison.png.")] = None,
    ) -> None:
        """Hold what was observed against the prediction, per signal and phase.

        Exit 0 when every observed figure stayed in its band and no abort
        condition was crossed, 3 otherwise, 2 on bad input.

        Example: lpuplan gameday verify gameday/prediction.json --observed requests.csv --t0 1764633600
        """
        from dimensioning.errors import InvalidInput
        from facility.gameday.document import read_published
        from facility.gameday.units import to_output
        from facility.gameday.metrics import MetricMap, load_metric_map
        from facility.gameday.observe import load_observations, observed_from_prometheus
        from facility.gameday.plots import comparison_png
        from facility.gameday.verify import pick_domain, verify_domain

        import json

        try:
            document = json.loads(prediction.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput("PREDICTION", str(prediction), "no such file: write one with `lpuplan gameday FILE --out DIR`") from None
        except (OSError, ValueError) as exc:
            raise InvalidInput("PREDICTION", str(prediction), f"not a readable JSON prediction ({exc})") from None
        document = read_published(document, source=f"PREDICTION ({prediction})")
        if out is not None:
            check_output_set("--out", out)
        if (observed is None) == (prometheus is None):
            raise InvalidInput("--observed/--prometheus", None, "give exactly one source of observations")
        entry = pick_domain(document, domain)
        pools = [document["pool_predictions"][k]["pool"]["name"] for k in entry["pools"]]
        if prometheus is not None:
            if t0 is None:
                raise InvalidInput("--t0", None, "give the failure's Unix time (seconds) for --prometheus")
            mapping = load_metric_map(metrics) if metrics is not None else MetricMap(
                document["metrics"]["signals"], document["metrics"]["source"],
                document["metrics"].get("histograms", {}), document["metrics"].get("pool_label", "pool"))
            obs = observed_from_prometheus(prometheus, document, mapping, t0=t0, pools=pools, time_scale=time_scale or 1.0)
        else:
            assert observed is not None
            obs = load_observations(observed, document, t0=t0, time_scale=time_scale)
        result = verify_domain(document, obs, domain=entry["domain"])
        verdict = "VERIFIED" if result.passed else "FAILED"
        files: list[Path] = []
        payload = to_output(result.to_dict())
        if out is not None:
            with output_set(out, option="--out") as staging:
                write_json(staging / "verify.json", payload)
                write_atomic(staging / "comparison.png", comparison_png(document, entry, obs, verdict))
            files = [out / "verify.json", out / "comparison.png"]
        if json_out:
            payload["files"] = [str(f) for f in files]
            sys.stdout.write(dumps_json(payload))
            sys.stdout.flush()
        else:
            checked = sum(f.in_band is not None for f in result.figures)
            stdout.print(f"{verdict}: {result.domain}: {checked - len(result.out_of_band)} of {checked} figures in band,"
                         f" {len(result.crossings)} abort condition(s) crossed")
            for c in result.crossings:
                stdout.print(f"  ABORT crossed: {c.name} ({c.pool}) past {_n(c.threshold)} from {_n(c.from_s)} s"
                             f" to {_n(c.to_s)} s (worst {_n(c.worst)})")
            table = _table("pool", "phase", "figure", "observed", "band", "")
            for f in result.figures:
                if f.in_band is None:
                    continue
                table.add_row(f.pool, f.phase, f.figure, _n(f.observed), f"{_n(f.band.lo)}..{_n(f.band.hi)}",
                              "PASS" if f.in_band else "FAIL")
            stdout.print(table)
            for note in result.unchecked:
                stdout.print(f"not checked: {note}")
            for f in files:
                stdout.print(f"wrote {f}")
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @group.command("rehearse")
    @guarded
    def rehearse_command(
        file: Annotated[Path, typer.Argument(help="Project file (TOML) with a [facility] table.")],
        domain: Annotated[str, typer.Option("--domain", help="The failure domain to rehearse, e.g. rack:row01-pod02-rack05.")],
        time_scale: Annotated[float, typer.Option("--time-scale", help="Emulated seconds per wall second.")] = 10.0,
        failover_time: Annotated[float, typer.Option("--failover-time", help="Seconds the router keeps routing to dead replicas.")] = 15.0,
        warmup: Annotated[float, typer.Option("--warmup", help="Seconds of traffic before the before phase (discarded).")] = 30.0,
        before: Annotated[float, typer.Option("--before", help="Seconds of normal running before t0.")] = 60.0,
        restore_after: Annotated[float, typer.Option("--restore-after", help="Seconds after t0 the domain is restored.")] = 240.0,
        recovery: Annotated[float, typer.Option("--recovery", help="Seconds watched after the restore.")] = 120.0,
        interval: Annotated[float, typer.Option("--interval", help="Time-series interval, seconds.")] = 20.0,
        seeds: Annotated[int, typer.Option("--seeds", help="Simulated runs behind each band.")] = 8,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the prediction and of the load's arrivals.")] = 1,
        prometheus_bin: Annotated[str | None, typer.Option("--prometheus-bin", help="Prometheus binary (default: `prometheus` on PATH; none: skip).")] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Folder for prediction.json, rehearsal.json and comparison.png.")] = None,
    ) -> None:
        """Rehearse a game day on loopback: emulator, open-loop load, the failure at t0, verify.

        Exit 0 when the rehearsal verifies the prediction (client records and,
        with Prometheus, the server's metrics), 3 when it does not, 2 on bad input.

        Example: lpuplan gameday rehearse lpuplan.toml --domain rack:row01-pod02-rack05 --time-scale 10
        """
        from facility.gameday.document import published
        from facility.gameday.model import GameDaySettings
        from facility.gameday.plots import comparison_png
        from facility.gameday.units import to_output
        from lpuplan.gameday_rehearse import find_prometheus, rehearse
        from lpuplan.plan import build_plan
        from lpuplan.project import load_project

        if out is not None:
            check_output_set("--out", out)
        settings = GameDaySettings(failover_time_s=failover_time, warmup_s=warmup, before_s=before,
                                   restore_after_s=restore_after, recovery_s=recovery, interval_s=interval,
                                   seeds=seeds, seed=seed)
        project = load_project(file)
        plan = build_plan(project)
        binary = None if prometheus_bin == "none" else (prometheus_bin or find_prometheus())
        show = not json_out and sys.stderr.isatty()
        result = rehearse(plan, file, domain, settings, time_scale=time_scale, prometheus_binary=binary, seed=seed,
                          progress=(lambda m: stderr.print(f"[dim]{m}...[/]", markup=True)) if show else None)
        payload = to_output(result.to_dict())
        files: list[Path] = []
        if out is not None:
            entry = result.document["domains"][0]
            with output_set(out, option="--out") as staging:
                write_json(staging / "prediction.json", published(result.document))
                write_json(staging / "rehearsal.json", payload)
                write_atomic(staging / "comparison.png", comparison_png(result.document, entry,
                             result.prometheus or result.client, "VERIFIED" if result.passed else "FAILED"))
            files = [out / n for n in ("prediction.json", "rehearsal.json", "comparison.png")]
        if json_out:
            payload["files"] = [str(f) for f in files]
            sys.stdout.write(dumps_json(payload))
            sys.stdout.flush()
        else:
            stdout.print(f"{'VERIFIED' if result.passed else 'FAILED'}: rehearsal of {result.document['domains'][0]['domain']}"
                         f" at {time_scale:g}x: {result.requests} requests, send lag p99 {result.send_lag_p99_s * 1e3:.1f} ms")
            for name, v in (("client", result.client_verdict), ("prometheus", result.prometheus_verdict)):
                if v is None:
                    stdout.print(f"  {name}: not run (no Prometheus binary)")
                    continue
                checked = sum(f.in_band is not None for f in v.figures)
                stdout.print(f"  {name}: {checked - len(v.out_of_band)} of {checked} figures in band,"
                             f" {len(v.crossings)} abort condition(s) crossed")
                for f in v.out_of_band:
                    stdout.print(f"    OUT {f.pool} {f.phase} {f.figure}: {_n(f.observed)} not in {_n(f.band.lo)}..{_n(f.band.hi)}")
            for f in files:
                stdout.print(f"wrote {f}")
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    app.add_typer(group, name="gameday")
