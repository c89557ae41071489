"""CLI commands of the dimensioning area: size, queue, plan."""

from __future__ import annotations

import math
from enum import Enum
import tomllib
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Callable, Optional

import typer
from rich.table import Table

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.output import check_output_set, dumps_json, output_set, write_atomic, write_json

# The pipeline (scipy, numba, pydantic models) loads inside the commands that
# use it, so `lpuplan --help` and `validate` stay fast (docs/performance.md).
if TYPE_CHECKING:
    from lpuplan.plan import Plan
    from lpuplan.project import Project

__all__ = ["register", "queue_figures", "run_plan"]

_QUEUE_PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)  # in percent; keys and labels from dimensioning.keys


def queue_figures(rate: float, service_s: float, servers: int, capacity: int | None) -> dict[str, Any]:
    """The M/D/c (or M/D/c/K) calculator's figures, JSON-ready: waits in ms (``wait_p99_ms``...)."""
    from dimensioning.keys import WAIT, latency_key, to_ms
    from dimensioning.queueing import MDc, MDcK

    if capacity is None:
        model: Any = MDc(arrival_rate=rate, service_time=service_s, servers=servers)
    else:
        model = MDcK(arrival_rate=rate, service_time=service_s, servers=servers, capacity=capacity)
    out: dict[str, Any] = {
        "utilization": float(model.utilization),
        "prob_wait": float(model.prob_wait),
        "stable": bool(model.stable),
        latency_key(WAIT, "mean"): to_ms(float(model.wait.mean())),
    }
    for q in _QUEUE_PERCENTILES:
        out[latency_key(WAIT, q)] = to_ms(float(model.wait.ppf(q / 100)))
    if capacity is not None:
        out["blocking_probability"] = float(model.blocking_probability)
        out["queue_capacity"] = int(model.queue_capacity)
        # what the servers actually carry once blocked requests are gone: comparable with a simulation
        out["carried_utilization"] = float(model.carried_utilization)
    out["method"] = model.method
    out["method_note"] = model.method_note
    return out


def _load(file: Optional[Path]) -> tuple[Project, str]:
    from lpuplan.project import example_project_text, load_project, parse_project

    if file is None:
        data = tomllib.loads(example_project_text())
        return parse_project(data, Path.cwd()), "embedded example"
    return load_project(file), str(file)


_FACILITY_DIR = "facility"  # the plan's folder for the facility outputs
_PNG_LABEL, _PNG_NAME = "rack plan PNG", "rack_plan.png"
_PNG_CODE = ("dimensioning", "facility", "lpuplan")


def _png_arguments(project: Project, seed: int | None) -> tuple[Any, ...]:
    from importlib import metadata

    # the plan (its facility included) is a function of the project and the seed (and the code, in the key);
    # the drawing also of matplotlib's version
    return (project, seed, metadata.version("matplotlib"))


def _cached_png(project: Project, seed: int | None) -> bytes | None:
    """The rack-plan PNG of a plan of this project and seed drawn before (dimensioning.result_cache), or None.

    Drawing it costs 0.3 to 0.5 s of importing matplotlib and 0.4 s of drawing; a rerun of the same
    project with the same code reads the bytes instead. Any change to the project is a new key, even one
    that leaves the picture as it was.
    """
    from dimensioning.result_cache import lookup

    hit, value = lookup("plan.rack_plan_png", _png_arguments(project, seed), packages=_PNG_CODE)
    return value if hit and isinstance(value, bytes) else None


def _store_png(project: Project, seed: int | None, data: bytes) -> None:
    from dimensioning.result_cache import store

    store("plan.rack_plan_png", _png_arguments(project, seed), data, packages=_PNG_CODE)


def run_plan(project: Project, source: str, out_dir: Path | None, *, simulate: bool = True, seed: int | None = None,
             progress: Callable[[str], None] | None = None) -> tuple[Plan, list[Path]]:
    """Build the plan and write its outputs (plan.json and the worksheets)."""
    if out_dir is not None:
        check_output_set("--out", out_dir)  # before any work: a bad --out costs nothing
    worker = None
    draws = out_dir is not None and project.facility is not None  # a rack-plan PNG will be written
    png = _cached_png(project, seed) if draws else None
    if draws and png is None:
        # a second process loads matplotlib (0.3 to 0.5 s) while this one loads the queue models and plans;
        # it then draws the PNG beside the simulations (dimensioning.forked.ForkedWorker)
        from dimensioning.forked import ForkedWorker
        from facility.export_parallel import RENDER_MODULES

        worker = ForkedWorker(RENDER_MODULES)
    from facility.exports import FACILITY_JSON
    from lpuplan.cli_export import export_files
    from lpuplan.cli_facility import write_facility_outputs
    from lpuplan.plan import build_plan
    from lpuplan.render_markdown import render_capacity_worksheet, render_inputs_worksheet

    drawing = []

    def draw_early(facility: Any) -> None:
        # the PNG (matplotlib) draws on the second core while this process simulates (facility.export_parallel)
        from facility.export_parallel import ForkedRender, Rendered

        drawing.append(ForkedRender(facility, [_PNG_LABEL], worker) if png is None
                       else Rendered({_PNG_LABEL: {_PNG_NAME: png}}))

    try:
        plan = build_plan(project, simulate=simulate, seed=seed, progress=progress,
                          on_facility=draw_early if out_dir is not None else None)
        written: list[Path] = []
        if out_dir is not None:
            # one set: every file lands in a fresh folder swapped in at the end (lpuplan.output)
            with output_set(out_dir, option="--out") as staging:
                # plan.json keeps the facility's summary and points at the file that holds its detail; these
                # are written while the PNG is still drawing in the other process, the facility's files last
                detail = f"{_FACILITY_DIR}/{FACILITY_JSON}" if plan.facility is not None else None
                written.append(write_json(staging / "plan.json", plan.to_dict(facility_detail=detail), option="--out"))
                written.append(write_atomic(staging / "dimensioning_inputs.md", render_inputs_worksheet(plan, source), option="--out"))
                written.append(write_atomic(staging / "capacity_model.md", render_capacity_worksheet(plan), option="--out"))
                written.append(write_atomic(staging / "sizing.xlsx", export_files(plan, source, ("xlsx",))["sizing.xlsx"], option="--out"))
                if plan.facility is not None:
                    facility = write_facility_outputs(plan.facility, staging / _FACILITY_DIR, option="--out",
                                                      started=drawing[0] if drawing else None)
                    written += facility
                    if png is None:
                        _store_png(project, seed, (staging / _FACILITY_DIR / _PNG_NAME).read_bytes())
            written = [out_dir / path.relative_to(staging) for path in written]
    finally:
        for job in drawing:
            job.close()
        if worker is not None:
            worker.close()  # unused (no facility placed, or an error first): dismissed
    return plan, written


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""

    @app.command()
    @guarded
    def size(
        file: Annotated[Path, typer.Argument(help="Project file (TOML).")],
        json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else (= --format json).")] = False,
        output_format: Annotated[OutputFormat, typer.Option("--format", help="text (people), json, csv (one row per bucket) or md (the capacity worksheet).")] = OutputFormat.text,
    ) -> None:
        """Size every bucket: service time, replicas, latency percentiles, admission caps.

        Example: lpuplan size lpuplan.toml --format csv > sizing.csv
        """
        from lpuplan.plan import build_plan
        from lpuplan.render_terminal import print_sizing

        project, source = _load(file)
        plan = build_plan(project, place=False)
        _emit(plan, OutputFormat.json if json_output else output_format, print_sizing)
        if not plan.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @app.command()
    @guarded
    def queue(
        rate: Annotated[float, typer.Option("--rate", help="Arrival rate, requests/s.")],
        service_ms: Annotated[float, typer.Option("--service-ms", help="Deterministic service time, ms.")],
        servers: Annotated[int, typer.Option("--servers", help="Servers c (replicas x slots).")],
        capacity: Annotated[Optional[int], typer.Option("--capacity", help="K: most requests in system (servers + queue).")] = None,
        simulate: Annotated[Optional[int], typer.Option("--simulate", help="Also simulate N requests of the same queue.")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the simulation.")] = 1,
        json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else.")] = False,
    ) -> None:
        """M/D/c calculator: utilisation, P(wait), mean and percentile waits, blocking.

        Example: lpuplan queue --rate 900 --service-ms 3700 --servers 4000 --capacity 4400
        """
        if not (rate > 0 and math.isfinite(rate)):
            raise InvalidInput("--rate", rate, "give a positive arrival rate in requests/s")
        if not (service_ms > 0 and math.isfinite(service_ms)):
            raise InvalidInput("--service-ms", service_ms, "give a positive service time in ms")
        if servers < 1:
            raise InvalidInput("--servers", servers, "give at least 1 server")
        if capacity is not None and capacity < servers:
            raise InvalidInput("--capacity", capacity, f"K counts requests in system and must be >= --servers ({servers})")
        if simulate is not None:
            from dimensioning.simulate.check import QUEUE_MAX_REQUESTS, simulate_queue
            from dimensioning.simulate.fcfs import MAX_STATE

            if not 1000 <= simulate <= QUEUE_MAX_REQUESTS:
                raise InvalidInput("--simulate", simulate, f"simulate between 1000 and {QUEUE_MAX_REQUESTS:,} requests "
                                   "(confidence intervals need at least 1000)")
            if max(servers, capacity or 0) > MAX_STATE:
                name = "--servers" if capacity is None else "--capacity"
                raise InvalidInput(name, max(servers, capacity or 0),
                                   f"the simulator holds at most {MAX_STATE:,} servers or places: drop --simulate")
        out = queue_figures(rate, service_ms / 1e3, servers, capacity)
        if simulate is not None:

            from dimensioning.keys import to_output

            out["simulated"] = to_output(simulate_queue(rate, service_ms / 1e3, servers, capacity, simulate, seed))
        if json_output:
            stdout.file.write(dumps_json(out))
            return
        _print_queue(out, rate, service_ms, servers, capacity)

    @app.command()
    @guarded
    def plan(
        file: Annotated[Optional[Path], typer.Argument(help="Project file (TOML); the embedded example when omitted.")] = None,
        out: Annotated[Path, typer.Option("--out", help="Folder for plan.json and the worksheets.")] = Path("lpuplan-out"),
        simulate: Annotated[bool, typer.Option("--simulate/--no-simulate", help="Add simulated figures where no exact formula exists.")] = True,
        seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the plan's simulations (default: a fixed seed).")] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print plan.json to stdout and nothing else (= --format json).")] = False,
        output_format: Annotated[OutputFormat, typer.Option("--format", help="What to print: text (people), json (plan.json), csv (one row per bucket) or md (the capacity worksheet); the files are written either way.")] = OutputFormat.text,
    ) -> None:
        """The main job: size, admit, check, and write plan.json plus the worksheets.

        Example: lpuplan plan lpuplan.toml --out review-2026-12
        """
        if json_output:
            output_format = OutputFormat.json
        json_output = output_format is not OutputFormat.text
        check_output_set("--out", out)
        project, source = _load(file)  # the queue models load inside run_plan, after its render worker forks
        with stderr.status("planning", spinner="dots") if not json_output and stderr.is_terminal else nullcontext() as status:
            def progress(message: str) -> None:
                if status is not None:
                    status.update(message)

            result, written = run_plan(project, source, out, simulate=simulate, seed=seed, progress=progress)
        note = (f"wrote {len(written)} files into {out}: " + ", ".join(str(p.relative_to(out)) for p in written[:3])
                + (", facility/ (rack plan, budgets, NetBox CSVs, xlsx, PNG)" if result.facility is not None else ""))
        detail = next((p.relative_to(out).as_posix() for p in written if p.name == "facility.json"), None)
        from lpuplan.render_terminal import print_plan

        _emit(result, output_format, lambda plan, console: print_plan(plan, console, files_note=note),
              facility_detail=detail)
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)


class OutputFormat(str, Enum):
    """What a table-printing command writes to stdout."""

    text = "text"
    json = "json"
    csv = "csv"
    md = "md"


def _emit(plan: Any, output_format: OutputFormat, printer: Callable[[Any, Any], None], *,
          facility_detail: str | None = None) -> None:
    """Print ``plan`` in ``output_format`` (the renderers format; nothing is recomputed)."""
    if output_format is OutputFormat.json:
        stdout.file.write(dumps_json(plan.to_dict(facility_detail=facility_detail)))
    elif output_format is OutputFormat.csv:
        import csv
        import io

        from lpuplan.render_terminal import sizing_csv_rows

        header, rows = sizing_csv_rows(plan)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        stdout.file.write(buffer.getvalue())
    elif output_format is OutputFormat.md:
        from lpuplan.render_markdown import render_capacity_worksheet

        stdout.file.write(render_capacity_worksheet(plan))
    else:
        printer(plan, stdout)


def _print_queue(out: dict[str, Any], rate: float, service_ms: float, servers: int, capacity: int | None) -> None:
    from dimensioning.keys import WAIT, header, latency_key, percentile_label

    kind = f"M/D/{servers}" + (f"/{capacity}" if capacity is not None else "")
    table = Table(title=f"{kind}: lambda = {rate:g}/s, D = {service_ms:g} ms ({out['method']})", title_justify="left")
    table.add_column("figure")
    # the model's kind heads its column: exact, bound (never optimistic), simulated (upper 95% end), approximation
    table.add_column({"simulated": "model (upper 95%)"}.get(out["method"], out["method"]), justify="right")
    sim = out.get("simulated")
    if sim:
        table.add_column("simulated (95% CI)", justify="right")
    rows = [("utilisation (offered)", "utilization", False)] if capacity is None else [
        ("utilisation (offered)", "utilization", False), ("utilisation (carried)", "carried_utilization", False)]
    rows += [("P(wait)", "prob_wait", False), (header("wait mean"), latency_key(WAIT, "mean"), True)]
    rows += [(header(f"wait {percentile_label(q)}"), latency_key(WAIT, q), True) for q in _QUEUE_PERCENTILES]
    if capacity is not None:
        rows.append(("blocking", "blocking_probability", False))
    for label, key, _is_time in rows:
        scale = 1.0  # waits are already in ms (the output vocabulary)
        cells = [label, _fmt(out[key], scale)]
        if sim:
            # the simulator measures the carried load; with a capacity that is not the offered one
            sim_key = "utilization" if key == "carried_utilization" else key
            if key == "utilization" and capacity is not None:
                sim_key = ""
            lo, hi = sim.get(f"{sim_key}_ci95", (None, None))
            if sim_key in sim:
                cells.append(_fmt(sim[sim_key], scale) + (f" [{_fmt(lo, scale)}, {_fmt(hi, scale)}]" if lo is not None else ""))
            else:
                cells.append("-")
        table.add_row(*cells)
    stdout.print(table)
    if not out["stable"]:
        stdout.print("[bold red]unstable[/]: utilisation >= 1, the queue grows without bound")
    if out["method"] != "exact":
        stdout.print(f"note: {out['method_note']}")
    if sim:
        stdout.print(f"simulated {sim['requests']:,} requests in {sim['wall_s']:.2f} s")


def _fmt(value: float | None, scale: float) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value * scale:.6g}"
