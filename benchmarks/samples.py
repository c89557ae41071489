"""The raw-samples file: one JSON object per line (JSONL), appended as a sweep runs.

Each line is one attempt::

    {"id": "1024x64#3", "bucket": 1024, "prompt_tokens": 1024, "output_tokens": 64,
     "repeat": 3, "attempt": 1, "status": "ok", "error": null,
     "measurement": {"first_byte_ns": ..., "token_ns": [...], "server": {...}, ...}}

``status`` is ``ok`` (a measurement), ``failed`` (a timeout, refusal or broken
stream: ``measurement`` is null and ``error`` says why; never used by a fit)
or ``warmup`` (a measurement discarded by design). Timestamps are ns after the
request was sent. Appending line by line (flushed and fsynced) is what makes a
sweep resumable: a rerun reads the file and sends only the samples that have
no ``ok`` line yet. A torn last line (the process was killed mid-write) is
ignored on reading.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal

from benchmarks.protocol import Measurement
from dimensioning.errors import InvalidInput

__all__ = ["SampleRecord", "SampleStore", "MemoryStore", "read_samples"]

Status = Literal["ok", "failed", "warmup"]


@dataclass(frozen=True)
class SampleRecord:
    """One attempt at one sample of a sweep."""

    sample_id: str
    bucket: int
    prompt_tokens: int
    output_tokens: int
    repeat: int
    attempt: int
    status: Status
    measurement: Measurement | None = None
    error: dict[str, str] | None = None

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "id": self.sample_id,
            "bucket": self.bucket,
            "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens,
            "repeat": self.repeat,
            "attempt": self.attempt,
            "status": self.status,
            "error": self.error,
            "measurement": self.measurement.to_json_dict() if self.measurement is not None else None,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "SampleRecord":
        raw = data.get("measurement")
        return cls(
            sample_id=str(data["id"]),
            bucket=int(data["bucket"]),
            prompt_tokens=int(data["prompt_tokens"]),
            output_tokens=int(data["output_tokens"]),
            repeat=int(data["repeat"]),
            attempt=int(data["attempt"]),
            status=data["status"],
            measurement=Measurement.from_json_dict(raw) if raw else None,
            error=data.get("error"),
        )


def _iter_lines(path: Path) -> Iterator[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            if not line.rstrip().endswith("}"):
                continue  # a line torn by an interrupted run (closed by the next append)
            raise InvalidInput(f"{path}:{number}", line[:60], "not a JSON line; give a samples file written by `lpuplan bench`") from None
        if not isinstance(data, dict) or "id" not in data or "status" not in data:
            raise InvalidInput(f"{path}:{number}", line[:60], "not a sample record; give a samples file written by `lpuplan bench`")
        yield data


def read_samples(path: str | os.PathLike[str]) -> list[SampleRecord]:
    """Every record of a samples file, in file order."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput("samples", str(path), "no such file; run `lpuplan bench --samples FILE` first")
    try:
        return [SampleRecord.from_json_dict(d) for d in _iter_lines(path)]
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput("samples", str(path), f"malformed record ({exc}); give a samples file written by `lpuplan bench`") from None


class SampleStore:
    """Append-only JSONL store of sample records (created on first append)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def records(self) -> list[SampleRecord]:
        return read_samples(self.path) if self.path.exists() else []

    def append(self, record: SampleRecord) -> None:
        """Write one line and fsync it, so an interrupted sweep loses at most that line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record.to_json_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        needs_newline = False
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as tail:
                tail.seek(-1, os.SEEK_END)
                needs_newline = tail.read(1) != b"\n"
        with open(self.path, "a", encoding="utf-8") as handle:
            if needs_newline:
                handle.write("\n")  # close a torn line left by an interrupted run
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


class MemoryStore:
    """A store that keeps records in memory (notebooks, coverage studies)."""

    def __init__(self) -> None:
        self.path = None
        self._records: list[SampleRecord] = []

    def records(self) -> list[SampleRecord]:
        return list(self._records)

    def append(self, record: SampleRecord) -> None:
        self._records.append(record)
