"""Atomic output: a failed run never leaves a half-written file behind.

Every file lpuplan writes goes through :func:`write_atomic` (temporary file in
the same directory, fsync, then ``os.replace``), so an earlier output stays
intact until its replacement is complete.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from dimensioning.json_text import dumps_json

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


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write ``obj`` atomically as :func:`dumps_json` formats it."""
    return write_atomic(path, dumps_json(obj))
