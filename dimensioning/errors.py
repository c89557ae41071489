"""Exceptions shared by every lpuplan package.

The CLI maps them to exit codes (DESIGN.md): ``InvalidInput`` -> 2.
Library callers catch them like any ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InvalidInput", "LpuplanError"]


class LpuplanError(Exception):
    """Base of every error lpuplan raises on purpose."""


class InvalidInput(LpuplanError, ValueError):
    """Bad input: names the field, the offending value and how to fix it.

    Parameters
    ----------
    field : str
        Dotted path of the field, as the user wrote it (``bucket[2].r_decode``).
    value : Any
        The value that was rejected.
    fix : str
        One sentence telling the user what to write instead.
    """

    def __init__(self, field: str, value: Any, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        super().__init__(f"{field} = {value!r}: {fix}")
