"""CLI of the facility area: ``lpuplan facility FILE [--out DIR] [--graph FILE] [--json]``.

Also :func:`write_facility_outputs`, which ``lpuplan plan`` calls to write the
facility files next to its own outputs.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Callable

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

if TYPE_CHECKING:
    from facility.export_parallel import ForkedRender
    from facility.plan import FacilityResult
from lpuplan.cli_support import EXIT_CHECK_FAILED, guarded, stderr, stdout
from lpuplan.output import check_output_file, check_output_set, dumps_json, output_set, write_atomic

__all__ = ["register", "write_facility_outputs", "render_facility_tables"]


def write_facility_outputs(result: FacilityResult, out_dir: str | Path, *, show_progress: bool = False,
                           option: str = "output", started: ForkedRender | None = None) -> list[Path]:
    """Write every facility output (JSON, CSV, NetBox CSVs, xlsx, PNG) into ``out_dir``, atomically.

    Returns the paths written, in a stable order. ``show_progress`` draws a
    progress bar on stderr (large sites take several seconds). ``option``: the flag an error names.
    The workbook renders in a second process meanwhile (:mod:`facility.export_parallel`);
    ``started``: outputs of the same result already rendering there (``lpuplan
    plan`` starts the PNG while it simulates).
    """
    out = Path(out_dir)
    written: list[Path] = []
    from facility.export_parallel import ForkedRender
    from facility.exports import BACKGROUND, output_renderers  # matplotlib and XlsxWriter: loaded only to write

    renderers = output_renderers()
    aside = [started] if started is not None else []
    try:
        taken = {label for job in aside for label in job.labels}
        for label in BACKGROUND:  # a child each: on a campus the workbook alone is 2.6 s, the PNG 0.9 s
            if label not in taken:
                aside.append(ForkedRender(result, [label]))
                taken.add(label)
        rendered: dict[str, dict[str, bytes]] = {}
        with Progress(console=stderr, disable=not show_progress, transient=True) as progress:
            task = progress.add_task("writing facility outputs", total=len(renderers))
            for label, render in renderers:
                if label not in taken:
                    progress.update(task, description=f"writing {label}")
                    rendered[label] = render(result)
                    progress.advance(task)
            progress.update(task, description="writing " + ", ".join(sorted(taken)))
            for job in aside:
                rendered.update(job.collect())
            progress.advance(task, len(taken))
    finally:
        for job in aside:
            job.close()
    for label, _ in renderers:  # the renderers' order, wherever each file was rendered
        for name, data in rendered[label].items():
            written.append(write_atomic(out / name, data, option=option))
    return written


def _fmt(value: float, digits: int = 3) -> str:
    """A figure for a table cell; an infinite one (an unstable queue: no replica left) as the word "unstable"."""
    if math.isinf(value):
        return "unstable"
    if math.isnan(value):
        return "n/a"
    return f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.4e}"


def render_facility_tables(result: FacilityResult) -> None:
    """Print the facility result as rich tables on stdout."""
    lay = result.layout
    stdout.print(
        f"[bold]{lay.site}[/]: {lay.rows} rows x {lay.pods_per_row} pods x {lay.racks_per_pod} racks"
        f" = {lay.racks} racks; platform {result.platform.name} ({lay.chips_per_node} chips per node,"
        f" {lay.usable_nodes_per_rack}+{lay.spare_nodes_per_rack} nodes per rack)",
        markup=True,
    )
    pools = Table(title="Pools (one per bucket)")
    for col in ("pool", "chips/replica", "nodes/replica", "lambda req/s", "S s", "replicas", "added for N+k", "normal"):
        pools.add_column(col, justify="right" if col != "pool" else "left")
    for p in result.pools:
        d = p.demand
        pools.add_row(
            p.name,
            str(d.chips_per_replica),
            str(p.nodes_per_replica),
            _fmt(d.arrival_rate),
            _fmt(d.service_time_s),
            f"{p.replicas_initial} -> {p.replicas_final}" + (f" ({p.unplaced} unplaced)" if p.unplaced else ""),
            str(p.added),
            "PASS" if p.normal.passed else "FAIL",
        )
    stdout.print(pools)
    for p in result.pools:
        if p.size is not None:
            stdout.print(f"chips per replica, {p.name} ({p.size.source}):", soft_wrap=True)
            for line in p.size.arithmetic:
                stdout.print(f"  {line}", soft_wrap=True)
    levels = Table(title=f"N+{result.n_plus} by failure-domain level (required: {result.required_level})")
    for col in ("level", "domains", "worst domain", "replicas lost", "tightest pool", "capacity margin req/s", "p99 s", "verdict"):
        levels.add_column(col)
    for v in result.levels:
        tight = min(v.pools, key=lambda p: p.check.capacity_margin_rps)
        levels.add_row(
            v.level + (" *" if v.required else ""),
            str(v.domains),
            v.worst_domain or "-",
            str(v.worst_replicas_lost),
            tight.pool,
            _fmt(tight.check.capacity_margin_rps),
            _fmt(max(p.check.p99_s for p in v.pools)),
            "PASS" if v.passed else ("FAIL" if v.required else "FAIL (not required)"),
        )
    stdout.print(levels)
    budgets = Table(title="Budgets (every element; margin = limit - value)")
    for col in ("check", "elements", "failing", "tightest element", "value", "limit", "margin"):
        budgets.add_column(col)
    kinds: dict[str, list] = {}
    for c in result.budget_checks:
        kinds.setdefault(c.kind, []).append(c)
    for kind, checks in kinds.items():
        tight = min(checks, key=lambda c: c.margin)
        budgets.add_row(
            kind,
            str(len(checks)),
            str(sum(not c.passed for c in checks)),
            tight.element,
            f"{tight.value:.2f} {tight.unit}",
            f"{tight.limit:.2f} {tight.unit}",
            f"{tight.margin:.2f}",
        )
    stdout.print(budgets)
    for note in result.notes:
        stdout.print(f"note: {note}", soft_wrap=True)
    for failure in result.failures:
        stdout.print(f"[bold red]FAIL[/] {escape(failure)}", markup=True, soft_wrap=True)
    stdout.print("[bold green]all facility checks pass[/]" if result.passed else "[bold red]facility checks fail[/]", markup=True)


def _progress(enabled: bool) -> Callable[[str], None] | None:
    if not enabled:
        return None
    return lambda message: stderr.print(f"[dim]{message}...[/]", markup=True)


def register(app: typer.Typer) -> None:
    """Add the ``facility`` command to ``app``."""

    @app.command()
    @guarded
    def facility(
        file: Annotated[Path, typer.Argument(help="Project file (TOML) with [hardware], [facility] and [redundancy].")],
        out: Annotated[
            Path | None, typer.Option("--out", help="Folder for facility.json, rack plan CSV/xlsx, NetBox CSVs, PNG.")
        ] = None,
        graph: Annotated[Path | None, typer.Option("--graph", help="Write the topology graph as GraphML here.")] = None,
        json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object (the result) and nothing else.")] = False,
    ) -> None:
        """Place every replica on racks, check power, cooling and N+1 per failure domain; exit 3 if a check fails.

        Replicas are added where N+1 fails at [redundancy] level. The outputs are
        written even when a check fails: they show what fails and by how much.

        Example: lpuplan facility lpuplan.toml --out site-plan
        """
        if out is not None:
            check_output_set("--out", out)
        if graph is not None:
            check_output_file("--graph", graph)
        from lpuplan.project import load_project  # pydantic models: loaded by the command

        project = load_project(file)
        interactive = not json_output and sys.stderr.isatty()
        from lpuplan.facility_glue import plan_project_facility

        result = plan_project_facility(project, progress=_progress(interactive))
        files: list[Path] = []
        if out is not None:
            with output_set(out, option="--out") as staging:  # the files arrive as one set
                staged = write_facility_outputs(result, staging, show_progress=interactive, option="--out")
            files = [out / path.relative_to(staging) for path in staged]
        if graph is not None:
            from facility.topology import graphml_text

            files.append(write_atomic(graph, graphml_text(result), option="--graph"))
        if json_output:
            payload = result.to_dict()
            payload["files"] = [str(f) for f in files]
            sys.stdout.write(dumps_json(payload))
            sys.stdout.flush()
        else:
            render_facility_tables(result)
            for f in files:
                stdout.print(f"wrote {f}")
        if not result.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)
