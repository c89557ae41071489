"""Atomic output: a failed run never leaves a half-written file behind.

Every file lpuplan writes goes through :func:`write_atomic` (temporary file in
the same directory, fsync, then ``os.replace``), so an earlier output stays
intact until its replacement is complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_atomic", "write_json", "dumps_json"]


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create parent folders. Returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def dumps_json(obj: Any) -> str:
    """Stable, sorted, indented JSON (same input, same bytes).

    An unstable queue has infinite waits; they are written as ``Infinity``
    (what Python's ``json`` reads back as ``float("inf")``). NaN is never
    written: it would mean a bug, so it raises.
    """
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


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` atomically as :func:`dumps_json` formats it."""
    return write_atomic(path, dumps_json(obj))
