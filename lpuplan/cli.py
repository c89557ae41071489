"""The ``lpuplan`` command line: parse, call a library function, render.

Each area registers its commands from its own module (``cli_*.py``) so the
shell stays thin; see ``_AREAS`` below.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Literal

import typer

from lpuplan import __version__
from lpuplan.cli_support import EXIT_INVALID, guarded, stderr, stdout
from lpuplan.output import OutputPathError, check_output_file, write_atomic

__all__ = ["app", "main"]

app = typer.Typer(
    name="lpuplan",
    help="Dimensioning and facility planning for Groq LPU inference.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        stdout.print(f"lpuplan {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Dimensioning and facility planning for Groq LPU inference."""


@app.command()
@guarded
def init(
    directory: Annotated[Path, typer.Argument(help="Folder to write the example project into.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing project file.")] = False,
    example: Annotated[Literal["default", "showcase"], typer.Option("--example", help="Which example: default (what `lpuplan plan` runs) or showcase (one sequence per replica, short and long buckets, a TTFT SLO, bursty arrivals, queues that fill).")] = "default",
) -> None:
    """Write an example project file (lpuplan.toml) into DIRECTORY.

    Example: lpuplan init review --example showcase && lpuplan plan review/lpuplan.toml
    """
    from lpuplan.project import example_project_text  # imports load per command (docs/performance.md)

    target = directory / "lpuplan.toml"
    if directory.exists() and not directory.is_dir():
        raise OutputPathError("DIRECTORY", str(directory), "is a file: give a folder (it is created if missing)")
    check_output_file("DIRECTORY", target)
    if target.exists() and not force:
        stderr.print(f"error: FILE = {str(target)!r}: exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_INVALID)
    write_atomic(target, example_project_text(example), option="DIRECTORY")
    stdout.print(f"wrote {target}")


@app.command()
@guarded
def validate(
    file: Annotated[Path, typer.Argument(help="Project file (TOML).")],
) -> None:
    """Check a project file; print every problem with its field and fix (exit 2).

    Example: lpuplan validate lpuplan.toml
    """
    from lpuplan.project import load_project

    project = load_project(file)
    if project.workload.trace is not None:  # the trace is an input too: its encoding and rows are checked here
        from dimensioning.traffic import read_trace

        read_trace(project.workload.trace)
    stdout.print(f"{file}: valid ({len(project.buckets)} buckets)")


# Areas that add commands: each module exposes ``register(app)``.
_AREAS: tuple[str, ...] = (
    "lpuplan.cli_dimensioning",
    "lpuplan.cli_facility",
    "lpuplan.cli_bench",
    "lpuplan.cli_simulate",
    "lpuplan.cli_emulate",
    "lpuplan.cli_gameday",
    "lpuplan.cli_load",
    "lpuplan.cli_fidelity",
    "lpuplan.cli_whatif",
    "lpuplan.cli_report",
    "lpuplan.cli_export",
)

for _module in _AREAS:
    importlib.import_module(_module).register(app)


def main() -> None:
    """Console-script entry point."""
    app()



if __name__ == "__main__":
    main()
