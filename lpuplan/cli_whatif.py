"""CLI commands for what-if questions: sweep (knee), forecast, cost, search, campaign.

Each command parses, calls a library function (``lpuplan.sweep``,
``lpuplan.forecast``, ``lpuplan.cost``, ``lpuplan.search``,
``dimensioning.campaign``) and renders its result: the verdict first, then
lines that fit 80 columns; ``--json`` prints one JSON object.
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.formatting import say
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic

__all__ = ["register"]

FileArg = Annotated[Optional[Path], typer.Argument(help="Project file (TOML); the embedded example when omitted.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")]


def _load(file: Optional[Path]) -> Any:
    from lpuplan.cli_dimensioning import _load as load

    return load(file)[0]


def _say(line: str) -> None:
    """One line of a verdict or table, wrapped to the terminal (80 columns when piped)."""
    indent = line[: len(line) - len(line.lstrip(" "))]
    say(stdout, line.strip(), indent)


def _num(value: float | None, fmt: str = ".3g", unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:{fmt}}{unit}"


def _status(message: str, json_output: bool) -> Any:
    return stderr.status(message, spinner="dots") if not json_output and stderr.is_terminal else nullcontext()


def register(app: typer.Typer) -> None:
    """Add the what-if commands to ``app``."""

    @app.command()
    @guarded
    def sweep(
        file: FileArg = None,
        out: Annotated[Optional[Path], typer.Option("--out", help="Folder for sweep.json, sweep.csv and knee.png.")] = None,
        points: Annotated[int, typer.Option("--points", help="Offered rates per pool (5% to 120% of saturation).")] = 41,
        json_output: JsonOpt = False,
    ) -> None:
        """Latency and shed against offered load per pool; the knee and the max sustainable peak.

        Example: lpuplan sweep lpuplan.toml --out sweep-out
        """
        from lpuplan.plan import build_plan
        from lpuplan.sweep import sweep_plan

        if not 3 <= points <= 2001:
            raise InvalidInput("--points", points, "give between 3 and 2001 rates per pool")
        if out is not None:
            check_output_set("--out", out)  # before any work
        project = _load(file)
        with _status("sweeping", json_output):
            plan = build_plan(project, place=project.facility is not None)
            result = sweep_plan(plan, points=points)
        if out is not None:
            _write_sweep(result, plan, out)
        if json_output:
            stdout.file.write(dumps_json(result.to_dict()))
        else:
            verdict = "PASS" if result.passed else "FAIL"
            _say(f"{verdict}: the fleet carries up to {result.max_sustainable_lambda_peak:.4g} req/s at peak"
                 f" (planned {result.lambda_peak:.4g}, headroom {result.max_scale - 1:+.1%}); limited by {result.limiting}")
            for pool in result.normal:
                _say(f"  {pool.pool}: {pool.replicas} replicas, operating {pool.operating_rps:.4g} req/s,"
                     f" knee {pool.knee_rps:.4g}, max {pool.max_sustainable_rps:.4g} ({pool.headroom:+.1%},"
                     f" {pool.max_rate_certified}); past it: {pool.binding}")
            for pool in result.degraded:
                _say(f"  {pool.pool} with {pool.replicas} up (degraded): max {pool.max_sustainable_rps:.4g} req/s"
                     f" ({pool.headroom:+.1%}, {pool.max_rate_certified})")
            for note in result.notes:
                _say(f"  note: {note}")
            if out is not None:
                _say(f"wrote sweep.json, sweep.csv and knee.png into {out}")
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @app.command()
    @guarded
    def forecast(
        file: FileArg = None,
        json_output: JsonOpt = False,
        place: Annotated[bool, typer.Option("--place/--no-place", help="Place each scenario on the facility.")] = True,
    ) -> None:
        """Re-plan each [[forecast.scenario]]: token shape, fleet, and the resource that runs out first.

        Example: lpuplan forecast lpuplan.toml
        """
        from lpuplan.forecast import forecast as run_forecast

        project = _load(file)
        if project.forecast is None or not project.forecast.scenario:
            raise InvalidInput("forecast.scenario", None, "add [[forecast.scenario]] tables (see docs/whatif.md)")
        with _status("forecasting", json_output):
            result = run_forecast(project, place=place)
        if json_output:
            stdout.file.write(dumps_json(result.to_dict()))
        else:
            short = [s for s in result.scenarios if s.failures or (s.first_exhausted and s.first_exhausted.headroom < 0)]
            head = "PASS" if not short and result.baseline.passed else "FAIL"
            _say(f"{head}: {len(result.scenarios) - len(short)} of {len(result.scenarios)} scenarios fit"
                 + (f"; short: {', '.join(s.name for s in short)}" if short else ""))
            for s in (result.baseline, *result.scenarios):
                first = s.first_exhausted
                _say(f"{s.name}: {s.lambda_peak:.4g} req/s, {s.shape.prompt_tokens_per_s:,.0f} prompt tok/s,"
                     f" {s.shape.output_tokens_per_s:,.0f} output tok/s")
                _say(f"  {s.shape.active_sequences:,.1f} active sequences, {s.shape.kv_tokens:,.0f} KV tokens;"
                     f" {s.replicas} replicas" + (f", {s.chips:,} chips" if s.chips is not None else "")
                     + (f", {s.racks} racks" if s.racks is not None else "")
                     + (f", {s.it_power_max_kw:,.0f} kW max" if s.it_power_max_kw is not None else ""))
                for failure in s.failures[:3]:
                    _say(f"  FAILS: {failure}")
                if len(s.failures) > 3:
                    _say(f"  ... and {len(s.failures) - 3} more failed checks (--json lists them)")
                if first is not None:
                    _say(f"  runs out first: {first.name} ({first.demand:,.4g} of {first.capacity:,.4g} {first.unit},"
                         f" headroom {first.headroom:+.1%})")
                for note in s.notes:
                    _say(f"  note: {note}")
        if not result.passed or any(s.first_exhausted and s.first_exhausted.headroom < 0 for s in result.scenarios):
            raise typer.Exit(EXIT_CHECK_FAILED)

    @app.command()
    @guarded
    def cost(file: FileArg = None, json_output: JsonOpt = False) -> None:
        """Cost of the planned fleet: per hour, per 1M input/output tokens, per 1k requests, QPS per dollar.

        Example: lpuplan cost lpuplan.toml --json
        """
        from lpuplan.cost import plan_cost
        from lpuplan.plan import build_plan
        from lpuplan.sweep import sweep_plan

        project = _load(file)
        if project.cost is None:
            raise InvalidInput("cost", None, "add a [cost] table (capex_usd_per_chip, power_usd_per_kwh, ...): see docs/whatif.md")
        with _status("pricing", json_output):
            plan = build_plan(project, place=project.facility is not None)
            fleet = sweep_plan(plan, points=3)
            result = plan_cost(plan, project.cost, fleet.max_sustainable_lambda_peak)
        if json_output:
            stdout.file.write(dumps_json(result.to_dict()))
            return
        _say(f"${result.total_h:,.2f}/h for the planned fleet (${result.total_h * 8766 / 12:,.0f}/month):"
             f" ${result.per_1m_input_tokens:.4g} per 1M input, ${result.per_1m_output_tokens:.4g} per 1M output tokens")
        _say(f"  capex ${result.capex_h:,.2f}/h, energy ${result.energy_h:,.2f}/h, space ${result.space_h:,.2f}/h")
        _say(f"  at {result.average_rps:.4g} req/s average: ${result.per_1k_requests:.4g} per 1k requests;"
             f" {_num(result.qps_per_dollar)} sustainable req/s per $/h")
        if result.cloud_h is not None:
            _say(f"  the same tokens at the cloud prices: ${result.cloud_h:,.2f}/h (ratio {result.cloud_ratio:.3g})")
        assumed = [k for k, v in result.provenance.items() if v == "assumed"]
        if assumed:
            _say(f"  assumed (nobody confirmed): {', '.join(assumed)}")
        for note in result.notes:
            _say(f"  note: {note}")

    @app.command()
    @guarded
    def search(
        file: FileArg = None,
        json_output: JsonOpt = False,
        scheduler: Annotated[Optional[str], typer.Option("--scheduler", help="Dask scheduler address (tcp://host:8786); local processes when omitted.")] = None,
        workers: Annotated[Optional[int], typer.Option("--workers", help="Local worker processes (default: one per core).")] = None,
        out: Annotated[Optional[Path], typer.Option("--out", help="Write search.json and search.csv into this folder.")] = None,
        import_simfaasinfer: Annotated[Optional[Path], typer.Option(
            "--import-simfaasinfer",
            help="SimFaaSInfer's capacity_planning_request.yaml: its workload, SLOs and batch sizes replace the"
                 " project's; every field it has that does not map is listed (docs/whatif.md).")] = None,
    ) -> None:
        """Size every configuration of [search]; recommend one; show the Pareto frontier.

        Example: lpuplan search lpuplan.toml --scheduler tcp://127.0.0.1:8786
        """
        from lpuplan.search import search as run_search

        if workers is not None and not 1 <= workers <= 512:
            raise InvalidInput("--workers", workers, "give between 1 and 512 worker processes")
        if out is not None:
            check_output_set("--out", out)  # before any work
        project = _load(file)
        imported = None
        if import_simfaasinfer is not None:
            from lpuplan.import_simfaasinfer import import_request, read_request

            project, imported = import_request(project, read_request(import_simfaasinfer), str(import_simfaasinfer))
        result = run_search(project, scheduler=scheduler, workers=workers, progress=_progress_bar(json_output))
        if out is not None:
            _write_search(result, out)
        if json_output:
            payload = result.to_dict()
            if imported is not None:
                payload["import"] = imported.to_dict()
            stdout.file.write(dumps_json(payload))
        else:
            _print_search(result)
            if imported is not None:
                _print_import(imported)
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @app.command()
    @guarded
    def campaign(file: FileArg = None, json_output: JsonOpt = False) -> None:
        """Wall time of an offline [campaign] on the planned fleet, and the fleet its deadline needs.

        Example: lpuplan campaign lpuplan.toml
        """
        from dimensioning.campaign import campaign_bucket, plan_campaign
        from lpuplan.plan import build_plan

        project = _load(file)
        if project.campaign is None:
            raise InvalidInput("campaign", None, "add a [campaign] table (steps, batch_size, prompt_tokens, max_tokens, ...)")
        spec = project.campaign
        fleet = spec.replicas
        if fleet is None:  # the planned replicas of the artifact that serves the campaign
            bucket = campaign_bucket(spec, project.buckets)
            plan = build_plan(project, place=False)
            fleet = plan.final_replicas.get(bucket.label, 0)
        result = plan_campaign(spec, project.buckets, fleet)
        if json_output:
            stdout.file.write(dumps_json(result.to_dict()))
        else:
            verdict = {None: "ESTIMATE", True: "PASS", False: "FAIL"}[result.meets_deadline]
            _say(f"{verdict}: {result.runs} runs x {result.steps} steps take {result.wall_estimate_h:,.2f} h"
                 f" (bound {result.wall_bound_h:,.2f} h) on {result.replicas} replicas, {result.parallel_runs} runs at a time"
                 + (f"; deadline {result.deadline_hours:g} h" if result.deadline_hours is not None else ""))
            st = result.step
            _say(f"  a step: {st.sequences:,} sequences on {st.servers:,} slots: {st.estimate_s:,.1f} s"
                 f" (bound {st.bound_s:,.1f} s; S_max {st.s_max:.3g} s, S_mean {st.s_mean:.3g} s; bucket {result.bucket})")
            _say(f"  {result.calibration_note}")
            if result.replicas_for_deadline is not None:
                _say(f"  the deadline needs {result.replicas_for_deadline} replica(s)"
                     f" ({result.parallel_runs_for_deadline} runs at a time)")
        if result.meets_deadline is False:
            raise typer.Exit(EXIT_CHECK_FAILED)


def _progress_bar(json_output: bool) -> Any:
    if json_output or not stderr.is_terminal:
        return None
    from rich.progress import Progress

    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            bar = Progress(console=stderr, transient=True)
            bar.start()
            state["bar"], state["task"] = bar, bar.add_task("candidates", total=total)
        state["bar"].update(state["task"], completed=done)
        if done >= total:
            state["bar"].stop()

    return update


def _print_import(imported: Any) -> None:
    _say(f"imported from {imported.source}: {len(imported.mapped)} field(s) mapped,"
         f" {len(imported.not_mapped)} not")
    for m in imported.mapped:
        _say(f"  {m.field} -> {m.target}: {m.note}")
    for m in imported.not_mapped:
        _say(f"  {m.field}: not mapped ({m.note})")


def _print_search(result: Any) -> None:
    by_index = {c.index: c for c in result.candidates}
    compliant = sum(c.compliant for c in result.candidates)
    metric = "$/h" if result.cost_metric == "cost_per_hour" else "chips"

    def cost_text(c: Any) -> str:
        return f"${c.cost_per_hour:,.2f}/h" if result.cost_metric == "cost_per_hour" else f"{c.chips:,} chips"

    if result.recommended is None:
        _say(f"FAIL: none of {len(result.candidates)} configurations meets every SLO")
    else:
        rec = by_index[result.recommended]
        _say(f"PASS: recommended #{rec.index}: {rec.label}")
        _say(f"  {rec.replicas} replicas, {cost_text(rec)}, e2el p99 {rec.e2el_p99_ms:,.0f} ms"
             f" (SLO {rec.e2el_slo_ms:,.0f}), max {rec.max_sustainable_rps:.4g} req/s ({rec.headroom:+.1%},"
             f" {rec.max_rate_certified})")
        for name, index, why in (("budget", result.budget, "the cheapest that meets every SLO"),
                                 ("premium", result.premium, "the most headroom")):
            if index is not None and index != result.recommended:
                c = by_index[index]
                _say(f"  {name} #{c.index} ({why}): {c.label}; {cost_text(c)}, {c.headroom:+.1%} headroom")
    _say(f"{compliant} of {len(result.candidates)} meet every SLO; Pareto frontier ({metric} vs p99):")
    for index in result.frontier_cost_p99[:10]:
        c = by_index[index]
        _say(f"  #{c.index}: {cost_text(c)}, p99 {c.e2el_p99_ms:,.0f} ms, {c.label}")
    for note in result.notes:
        _say(f"note: {note}")


def _write_sweep(result: Any, plan: Any, out: Path) -> None:
    from lpuplan.render_knee import knee_png

    slo = {b.name: b.slo_s for b in plan.dedicated}
    rows = ["pool,state,offered_rps,utilisation,e2el_p50_ms,e2el_p99_ms,ttft_p50_ms,ttft_p99_ms,shed_probability,passes,method"]
    for state, pools in (("normal", result.normal), ("degraded", result.degraded)):
        for pool in pools:
            for p in pool.points:
                rows.append(",".join([pool.pool, state, f"{p.offered_rps:.9g}", f"{p.utilisation:.9g}",
                                      f"{p.e2el_p50_s * 1e3:.9g}", f"{p.e2el_p99_s * 1e3:.9g}", f"{p.ttft_p50_s * 1e3:.9g}",
                                      f"{p.ttft_p99_s * 1e3:.9g}", f"{p.shed_probability:.9g}", str(p.passes).lower(),
                                      p.method]))
    png = knee_png(result, slo)
    with output_set(out, option="--out") as staging:  # the three files appear together or not at all
        write_atomic(staging / "sweep.json", dumps_json(result.to_dict()), option="--out")
        write_atomic(staging / "sweep.csv", "\n".join(rows) + "\n", option="--out")
        write_atomic(staging / "knee.png", png, option="--out")


def _write_search(result: Any, out: Path) -> None:
    header = ["index", "label", "pool", "compliant", "replicas", "chips", "racks_estimate", "it_power_kw_estimate",
              "e2el_p99_ms", "e2el_slo_ms", "ttft_p99_ms", "max_sustainable_rps", "max_rate_certified", "headroom", "cost_per_hour",
              "qps_per_dollar", "fitness"]
    lines = [",".join(header)]
    for c in result.candidates:
        d = c.to_dict()
        cells = []
        for key in header:
            value = d[key]
            text = "" if value is None else (f"{value:.9g}" if isinstance(value, float) else str(value))
            cells.append('"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text)
        lines.append(",".join(cells))
    with output_set(out, option="--out") as staging:
        write_atomic(staging / "search.json", dumps_json(result.to_dict()), option="--out")
        write_atomic(staging / "search.csv", "\n".join(lines) + "\n", option="--out")
