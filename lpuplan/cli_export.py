"""CLI commands of the worksheet area: export (xlsx, md, csv, json) and import-worksheet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from dimensioning.errors import InvalidInput
from lpuplan.cli_support import EXIT_CHECK_FAILED, EXIT_INVALID, guarded, stderr, stdout
from lpuplan.output import check_output_file, check_output_set, output_set, write_atomic

if TYPE_CHECKING:
    from lpuplan.plan import Plan

__all__ = ["register", "FORMATS", "export_files"]

FORMATS = ("xlsx", "md", "csv", "json")
_FILES = {"xlsx": ("sizing.xlsx",), "md": ("dimensioning_inputs.md", "capacity_model.md"), "csv": ("sizing.csv",),
          "json": ("plan.json",)}


def _formats(text: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise InvalidInput("--format", text, f"give a comma-separated list of {', '.join(FORMATS)} (e.g. xlsx,md)")
    return chosen


def export_files(plan: "Plan", source: str, formats: tuple[str, ...]) -> dict[str, bytes | str]:
    """File name -> content for each format (renderers only: nothing is recomputed)."""
    out: dict[str, bytes | str] = {}
    if "xlsx" in formats:
        from lpuplan.workbook import sizing_workbook

        out["sizing.xlsx"] = sizing_workbook(plan, source)
    if "md" in formats:
        from lpuplan.render_markdown import render_capacity_worksheet, render_inputs_worksheet

        out["dimensioning_inputs.md"] = render_inputs_worksheet(plan, source)
        out["capacity_model.md"] = render_capacity_worksheet(plan)
    if "csv" in formats:
        import csv
        import io

        from lpuplan.render_terminal import sizing_csv_rows

        header, rows = sizing_csv_rows(plan)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        out["sizing.csv"] = buffer.getvalue()
    if "json" in formats:
        from lpuplan.output import dumps_json

        out["plan.json"] = dumps_json(plan.to_dict())
    return out


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""

    @app.command()
    @guarded
    def export(
        file: Annotated[Path, typer.Argument(help="Project file (TOML).")],
        output_format: Annotated[str, typer.Option("--format", help="Comma-separated: xlsx (live sizing workbook), md (worksheets), csv (one row per bucket), json (plan.json).")] = "xlsx,md,csv,json",
        out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the files (written as one set).")] = Path("lpuplan-export"),
        simulate: Annotated[bool, typer.Option("--simulate/--no-simulate", help="Add simulated figures and the game-day summary (as `plan` does).")] = True,
        seed: Annotated[Optional[int], typer.Option("--seed", help="Seed of the plan's simulations (default: a fixed seed).")] = None,
    ) -> None:
        """Plan a project and write its worksheets: sizing.xlsx (live formulas over an Inputs sheet), Markdown, CSV, JSON.

        Example: lpuplan export lpuplan.toml --format xlsx,md -o review
        """
        formats = _formats(output_format)
        check_output_set("--out", out)
        from lpuplan.plan import build_plan
        from lpuplan.project import load_project
        from lpuplan.verdict import plan_verdict

        project = load_project(file)
        plan = build_plan(project, simulate=simulate, seed=seed)
        files = export_files(plan, str(file), formats)
        with output_set(out, option="--out") as staging:
            for name, content in files.items():
                write_atomic(staging / name, content, option="--out")
        stdout.print(plan_verdict(plan).headline(), soft_wrap=True)
        stdout.print(f"wrote {', '.join(str(out / name) for name in files)}", soft_wrap=True)
        if not plan.passed:
            raise typer.Exit(EXIT_CHECK_FAILED)

    @app.command("import-worksheet")
    @guarded
    def import_worksheet(
        file: Annotated[Path, typer.Argument(help="Workbook (.xlsx) whose Inputs sheet holds the project's figures.")],
        out: Annotated[Path, typer.Option("--out", "-o", help="Project file to write (TOML).")] = Path("project.toml"),
        force: Annotated[bool, typer.Option("--force", help="Overwrite an existing project file.")] = False,
    ) -> None:
        """Read a workbook's Inputs sheet (hand-filled or exported) into a project file, validated.

        Errors name the sheet and cell. Example: lpuplan import-worksheet sizing.xlsx -o project.toml
        """
        check_output_file("--out", out)
        if out.exists() and not force:
            stderr.print(f"error: --out = {str(out)!r}: exists; pass --force to overwrite it")
            raise typer.Exit(EXIT_INVALID)
        from lpuplan.worksheet_import import project_toml

        text, project = project_toml(file, base_dir=out.absolute().parent)
        write_atomic(out, text, option="--out")
        stdout.print(f"wrote {out} ({len(project.buckets)} buckets) from {file}'s Inputs sheet; valid", soft_wrap=True)
