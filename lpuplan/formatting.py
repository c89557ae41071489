"""Number formatting shared by the renderers (no computation beyond unit scaling)."""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["ms", "num", "pct", "prob", "opt", "console_width", "say"]


def console_width(console: "Console") -> int:
    """Columns to lay text out in: the terminal's (60 to 160), 80 when piped."""
    return max(60, min(console.width if console.is_terminal else 80, 160))


def say(console: "Console", text: str = "", indent: str = "") -> None:
    """Print ``text`` as plain lines wrapped to :func:`console_width` (continuations indented two more)."""
    lines = textwrap.wrap(text, width=console_width(console), initial_indent=indent,
                          subsequent_indent=indent + "  ") or [""]
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def ms(seconds: float | None, digits: int = 0) -> str:
    """Seconds shown in milliseconds; ``inf`` for an unstable queue."""
    if seconds is None:
        return "-"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds * 1e3:,.{digits}f}"


def num(value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    if isinstance(value, int):
        return f"{value:,d}"
    return f"{value:,.{digits}f}"


def pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value * 100:.{digits}f}%"


def prob(value: float | None) -> str:
    """A probability: scientific below 1e-3 so small tails stay readable."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if value < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4f}"


def opt(value: object) -> str:
    return "-" if value is None else str(value)
