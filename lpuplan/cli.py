"""The ``lpuplan`` command line: parse, call a library function, render.

Each area registers its commands from its own module (``cli_*.py``) so the
shell stays thin; see ``_AREAS`` below. A command line loads only the area of
the command it names (``areas_for``); ``app`` is the whole application.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Sequence

import typer

from lpuplan import __version__
from lpuplan.cli_support import EXIT_INVALID, guarded, stderr, stdout
from lpuplan.output import OutputPathError, check_output_file, write_atomic

__all__ = ["app", "areas_for", "build_app", "main"]


def _version(value: bool) -> None:
    if value:
        stdout.print(f"lpuplan {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Dimensioning and facility planning for Groq LPU inference."""


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

_COMMAND_AREAS: dict[str, str] = {
    "plan": "lpuplan.cli_dimensioning", "queue": "lpuplan.cli_dimensioning", "size": "lpuplan.cli_dimensioning",
    "facility": "lpuplan.cli_facility",
    "bench": "lpuplan.cli_bench", "profile": "lpuplan.cli_bench",
    "simulate": "lpuplan.cli_simulate",
    "emulate": "lpuplan.cli_emulate",
    "gameday": "lpuplan.cli_gameday",
    "load": "lpuplan.cli_load",
    "fidelity": "lpuplan.cli_fidelity",
    "campaign": "lpuplan.cli_whatif", "cost": "lpuplan.cli_whatif", "forecast": "lpuplan.cli_whatif",
    "search": "lpuplan.cli_whatif", "sweep": "lpuplan.cli_whatif",
    "report": "lpuplan.cli_report",
    "export": "lpuplan.cli_export", "import-worksheet": "lpuplan.cli_export",
}
"""The area that registers each command: ``lpuplan CMD`` loads that area only, so no command pays for the
others' imports (``init`` and ``validate`` live here). tests/lpuplan/test_cli_imports.py checks it against
what the areas register."""


def build_app(areas: Sequence[str] = _AREAS) -> typer.Typer:
    """The ``lpuplan`` application with the commands of ``areas`` (every area by default)."""
    application = typer.Typer(
        name="lpuplan",
        help="Dimensioning and facility planning for Groq LPU inference.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    application.callback()(_root)
    application.command()(init)
    application.command()(validate)
    for module in areas:
        importlib.import_module(module).register(application)
    return application


def areas_for(arguments: Sequence[str]) -> tuple[str, ...]:
    """The areas a command line needs: the named command's, or all of them (help, completion, a typo)."""
    command = next((a for a in arguments if not a.startswith("-")), None)
    if command in ("init", "validate"):
        return ()
    if command in _COMMAND_AREAS and not any(a in ("--install-completion", "--show-completion") for a in arguments):
        return (_COMMAND_AREAS[command],)
    return _AREAS


def __getattr__(name: str) -> Any:
    # ``from lpuplan.cli import app``: the whole application, built on first use (PEP 562)
    if name == "app":
        application = build_app()
        globals()["app"] = application
        return application
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    build_app(areas_for(sys.argv[1:]))()


if __name__ == "__main__":
    main()
