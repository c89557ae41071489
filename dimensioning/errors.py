"""Exceptions shared by every lpuplan package.

The CLI maps them to exit codes (DESIGN.md): ``InvalidInput`` -> 2.
Library callers catch them like any ``ValueError``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InvalidInput", "LpuplanError", "first_validation_problem"]


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


def first_validation_problem(error: Any, where: str, messages: dict[str, str] | None = None) -> InvalidInput:
    """A pydantic ``ValidationError``'s first problem as an :class:`InvalidInput` at ``where: <field path>``.

    ``messages`` replaces pydantic's message for the error types it names (e.g. ``finite_number``).
    """
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    message = (messages or {}).get(first["type"], first["msg"])
    return InvalidInput(f"{where}: {loc}", first.get("input"), message)

