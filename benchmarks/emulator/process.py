"""The emulator in its own process: no GIL shared with the client that loads it.

A load generator and an emulator in one Python process share one GIL, so a
busy client delays the server's timers (and the other way round) by up to
the interpreter's 5 ms switch interval: the measurement would be of the
pairing, not of either. Tests and benchmarks that load the emulator start it
with :class:`EmulatorProcess` (``python -m benchmarks.emulator``, the config
as JSON on stdin, the URL read back from its first stdout line).
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from typing import Any

import httpx

from benchmarks.emulator.config import EmulatorConfig, Fault, PoolSpec

__all__ = ["EmulatorProcess", "config_to_json", "config_from_json"]


def config_to_json(config: EmulatorConfig) -> dict[str, Any]:
    data = {f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.init}
    data["pools"] = [dataclasses.asdict(p) for p in config.pools]
    data["faults"] = [dataclasses.asdict(f) for f in config.faults]
    return data


def config_from_json(data: dict[str, Any]) -> EmulatorConfig:
    data = dict(data)
    data["pools"] = tuple(PoolSpec(**p) for p in data["pools"])
    data["faults"] = tuple(Fault(**f) for f in data.get("faults", ()))
    return EmulatorConfig(**data)


class EmulatorProcess:
    """Run an emulator in a child process on 127.0.0.1 (a free port); ``url`` ends in ``/v1``."""

    def __init__(self, config: EmulatorConfig, ready_timeout_s: float = 30.0) -> None:
        self.config = config
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.root_url = ""

    def start(self) -> "EmulatorProcess":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.emulator"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(config_to_json(self.config)))
        self.process.stdin.close()
        line = self.process.stdout.readline()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the emulator process did not start (said {line!r})")
        self.url = line.strip()
        self.root_url = self.url[: -len("/v1")]
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.root_url + "/health", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("the emulator process does not answer /health")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> "EmulatorProcess":
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
