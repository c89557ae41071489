"""A budget verdict: one element, one quantity, its limit and the margin."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["BudgetCheck", "budget_check"]

_TOLERANCE = 1e-9  # relative: equal to the limit passes despite float rounding


@dataclass(frozen=True)
class BudgetCheck:
    """``value <= limit`` for one element; ``margin = limit - value`` (negative: short by that much)."""

    element: str
    kind: str
    value: float
    limit: float
    unit: str
    margin: float
    passed: bool
    formula: str
    basis: str = ""  # provenance of the figures behind value and limit: "node_power_kw: assumed; ..."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def budget_check(
    element: str, kind: str, value: float, limit: float, unit: str, formula: str, basis: str = ""
) -> BudgetCheck:
    """Build a :class:`BudgetCheck`; passes when ``value <= limit`` (to rounding)."""
    passed = value <= limit * (1 + _TOLERANCE) + _TOLERANCE
    return BudgetCheck(element, kind, value, limit, unit, limit - value, passed, formula, basis)
