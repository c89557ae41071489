"""Stable JSON text for every lpuplan output (plan.json, facility.json, --json).

Sorted keys, a final newline: the same object gives the same bytes. Two
layouts: indented by two spaces (the default, for files people read and
diff: plan.json, ``--json``) and ``compact`` (no whitespace, for large files
read by programs: facility.json; Python's C encoder writes it about five
times faster, docs/performance.md). An unstable queue has infinite waits;
they are written as ``Infinity`` (what Python's ``json`` reads back as
``float("inf")``). NaN is never written: it would mean a bug, so it raises,
naming where it sits. Lives in ``dimensioning`` because every package may
import it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dimensioning.errors import InvalidInput

__all__ = ["dumps_json", "read_json_document"]

_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
_INDENTED = json.JSONEncoder(sort_keys=True, indent=2)


def dumps_json(obj: Any, *, compact: bool = False) -> str:
    """``obj`` as stable JSON text; raises ValueError on a NaN anywhere in it."""
    text = (_COMPACT if compact else _INDENTED).encode(obj)
    # NaN can only be in the text where the token NaN is; walking the object (slow for
    # megabytes of facility detail) is needed only then, to tell a NaN from a string holding it
    if "NaN" in text:
        _reject_nan(obj)
    return text + "\n"


def _reject_nan(obj: Any, where: str = "$") -> None:
    if isinstance(obj, float) and obj != obj:
        raise ValueError(f"NaN in output at {where}")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _reject_nan(value, f"{where}.{key}")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _reject_nan(value, f"{where}[{i}]")


def read_json_document(path: Path, field: str, missing_fix: str, unreadable_fix: str) -> Any:
    """The parsed JSON of the file at ``path``; a missing or unreadable file is an InvalidInput naming ``field``.

    ``missing_fix`` and ``unreadable_fix`` say how to get a good file (``unreadable_fix`` follows the reason).
    """
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(field, str(path), f"no such file; {missing_fix}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(field, str(path), f"cannot read it as JSON ({exc}); {unreadable_fix}") from None


def check_schema(document: Any, field: str, expected: str, fix: str) -> None:
    """Refuse a JSON document whose ``schema`` is not ``expected`` (InvalidInput at ``field.schema``)."""
    if not isinstance(document, dict) or document.get("schema") != expected:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise InvalidInput(f"{field}.schema", found, f'expected "{expected}"; {fix}')

