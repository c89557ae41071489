"""The raw-samples file: one JSON object per line (JSONL), appended as a sweep runs.

The first line binds the file to what it measured::

    {"schema": "lpuplan.samples/1", "binding": {"endpoint": ..., "model": ...,
     "hardware": ..., "artifact": ..., "backend": ..., "modes": [...], "plan": {...}}}

A resume whose binding differs in any field is refused (:class:`BindingMismatch`,
naming the field), so an old fit can never be relabelled with another model,
hardware, artifact, endpoint, mode or plan; ``fresh=True`` starts a new file
instead. A file without that line (written before it existed) is refused too.

Every further line is one attempt::

    {"id": "1024x64#3", "bucket": 1024, "prompt_tokens": 1024, "output_tokens": 64,
     "repeat": 3, "attempt": 1, "status": "ok", "error": null,
     "measurement": {"first_byte_ns": ..., "token_ns": [...], "server": {...}, ...}}

``status`` is ``ok`` (a measurement), ``failed`` (a timeout, refusal, broken
or malformed stream: ``measurement`` is null and ``error`` says why (``type``,
``message``, ``retryable``); never used by a fit), ``warmup`` (a measurement
discarded by design) or ``filler`` (a fixed-concurrency sweep's request that
only keeps N in flight while the last samples finish; never fitted).
``mode`` is ``streamed`` or ``non-streamed``; ``in_flight`` is the fewest of
the sweep's requests in flight at any moment of this one's life, itself
included (1 in a one-at-a-time sweep; a fit at occupancy N uses only samples
with ``in_flight == N``). Timestamps are ns after the
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

__all__ = ["SAMPLES_SCHEMA", "BindingMismatch", "SampleRecord", "SampleStore", "MemoryStore", "read_samples", "read_binding"]

SAMPLES_SCHEMA = "lpuplan.samples/1"
Status = Literal["ok", "failed", "warmup", "filler"]


class BindingMismatch(InvalidInput):
    """A samples file measured something else than this run asks for (exit 2)."""


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
    error: dict[str, Any] | None = None
    mode: str = "streamed"
    in_flight: int = 1

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "in_flight": self.in_flight,
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
            mode=str(data.get("mode", "streamed")),
            in_flight=int(data.get("in_flight", 1)),
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
        if isinstance(data, dict) and data.get("schema") == SAMPLES_SCHEMA:
            continue  # the binding line (read_binding)
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


def read_binding(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The binding of a samples file (its first line), or None when it has none."""
    with open(path, encoding="utf-8") as handle:
        first = handle.readline()
    try:
        data = json.loads(first)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict) and data.get("schema") == SAMPLES_SCHEMA and isinstance(data.get("binding"), dict):
        return data["binding"]
    return None


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[tuple[str, Any, Any]]:
    found: list[tuple[str, Any, Any]] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append((f"{prefix}{key}", a, b))
    return found


class SampleStore:
    """Append-only JSONL store of sample records, bound to what it measures."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def records(self) -> list[SampleRecord]:
        return read_samples(self.path) if self.path.exists() else []

    def bind(self, binding: dict[str, Any], fresh: bool = False) -> None:
        """Make sure the file measures ``binding``: start it, check it, or (``fresh``) replace it.

        Raises :class:`BindingMismatch` naming every field that differs (or
        that the file has no binding) unless ``fresh``.
        """
        binding = json.loads(json.dumps(binding))  # the JSON form, as it will be read back
        if self.path.exists() and self.path.stat().st_size > 0 and not fresh:
            old = read_binding(self.path)
            if old is None:
                raise BindingMismatch(
                    "--samples", str(self.path),
                    "this samples file records no binding (what it measured), so it cannot be resumed safely;"
                    " pass --fresh to start it over or give another --samples file",
                )
            differences = _differences(old, binding)
            if differences:
                said = "; ".join(f"{name}: file has {a!r}, this run {b!r}" for name, a, b in differences)
                raise BindingMismatch(
                    "--samples", str(self.path),
                    f"it measured something else ({said}); resuming would relabel its samples."
                    " Pass --fresh to start it over, or give another --samples file",
                )
            return
        line = json.dumps({"schema": SAMPLES_SCHEMA, "binding": binding}, sort_keys=True, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

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
        self.binding: dict[str, Any] | None = None

    def records(self) -> list[SampleRecord]:
        return list(self._records)

    def bind(self, binding: dict[str, Any], fresh: bool = False) -> None:
        if fresh or self.binding is None or not self._records:
            self.binding, self._records = binding, ([] if fresh else self._records)
            return
        differences = _differences(self.binding, binding)
        if differences:
            name, a, b = differences[0]
            raise BindingMismatch(name, b, f"the samples in memory measured {a!r}; start a fresh store")

    def append(self, record: SampleRecord) -> None:
        self._records.append(record)
