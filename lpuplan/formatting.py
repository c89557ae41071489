"""Number formatting shared by the renderers (no computation beyond unit scaling)."""

from __future__ import annotations

import math

__all__ = ["ms", "num", "pct", "prob", "opt"]


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
