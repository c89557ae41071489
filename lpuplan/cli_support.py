"""What every lpuplan command shares: consoles, exit codes, error handling.

Exit codes (DESIGN.md): 0 computed and every check passes; 2 invalid input or
usage; 3 computed but a check fails (SLO, N+1, a budget, a game-day abort
condition); 1 anything unexpected. Errors go to stderr, results to stdout.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import traceback
import typing
from typing import Any, Callable, TypeVar

import typer
import typer.models
from rich.console import Console
from rich.markup import escape

from dimensioning.errors import InvalidInput, LpuplanError

__all__ = [
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "EXIT_INVALID",
    "EXIT_CHECK_FAILED",
    "stdout",
    "stderr",
    "guarded",
    "fail_invalid",
    "check_finite_options",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_INVALID = 2
EXIT_CHECK_FAILED = 3

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def fail_invalid(error: InvalidInput) -> typer.Exit:
    """Print an input error (every problem it holds) and return the exit to raise."""
    problems = getattr(error, "problems", [error])
    for problem in problems:
        # the message is text, never markup: "[[forecast.scenario]]" must print as typed
        stderr.print(f"[bold red]error:[/] {escape(str(problem))}", markup=True, soft_wrap=True)
    return typer.Exit(EXIT_INVALID)


def _option_name(command: Callable[..., Any], param: str) -> str:
    """The option as the user types it (``--service-ms``) for a command parameter (``service_ms``)."""
    try:
        hint = typing.get_type_hints(command, include_extras=True).get(param)
    except Exception:  # noqa: BLE001 - a name is only cosmetic; fall back to the spelling typer derives
        hint = None
    for meta in getattr(hint, "__metadata__", ()):
        if isinstance(meta, typer.models.ArgumentInfo):
            return param.upper()
        decls = [d for d in getattr(meta, "param_decls", None) or () if d.startswith("-")]
        if decls:
            return max(decls, key=len)
    return "--" + param.replace("_", "-")


def check_finite_options(command: Callable[..., Any], values: dict[str, Any]) -> None:
    """Refuse ``inf``/``nan`` in any float option of any command (one check for every flag).

    click parses ``--rate inf`` and ``--rate nan`` as floats; no lpuplan figure
    is meaningful there, so every command wrapped by :func:`guarded` refuses
    them before doing any work, naming the option.
    """
    for name, value in values.items():
        for item in value if isinstance(value, (list, tuple)) else (value,):  # repeatable options too
            if isinstance(item, float) and not math.isfinite(item):
                raise InvalidInput(_option_name(command, name), item, "give a finite number (inf and nan are not figures)")


def guarded(command: F) -> F:
    """Map lpuplan's exceptions to exit codes; no traceback unless LPUPLAN_DEBUG=1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            check_finite_options(command, kwargs)
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except InvalidInput as exc:
            raise fail_invalid(exc) from None
        except KeyboardInterrupt:
            stderr.print("interrupted")
            raise typer.Exit(130) from None
        except (LpuplanError, Exception) as exc:  # noqa: BLE001 - the last line of defence
            if os.environ.get("LPUPLAN_DEBUG") == "1":
                traceback.print_exc(file=sys.stderr)
            stderr.print(
                f"[bold red]unexpected error:[/] {type(exc).__name__}: {escape(str(exc))}\n"
                "rerun with LPUPLAN_DEBUG=1 for a traceback, and report it",
                markup=True,
                soft_wrap=True,
            )
            raise typer.Exit(EXIT_UNEXPECTED) from None

    return wrapper  # type: ignore[return-value]
