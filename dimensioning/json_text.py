"""Stable JSON text for every lpuplan output (plan.json, facility.json, --json).

Sorted keys, two-space indent, a final newline: the same object gives the
same bytes. An unstable queue has infinite waits; they are written as
``Infinity`` (what Python's ``json`` reads back as ``float("inf")``). NaN is
never written: it would mean a bug, so it raises, naming where it sits.
Lives in ``dimensioning`` because every package may import it.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps_json"]


def dumps_json(obj: Any) -> str:
    """``obj`` as stable JSON text; raises ValueError on a NaN anywhere in it."""
    _reject_nan(obj)
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def _reject_nan(obj: Any, where: str = "$") -> None:
    if isinstance(obj, float) and obj != obj:
        raise ValueError(f"NaN in output at {where}")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _reject_nan(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _reject_nan(value, f"{where}[{i}]")
