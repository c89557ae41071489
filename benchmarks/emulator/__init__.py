"""An LPU emulator on real sockets: a project's pools served over HTTP (docs/validate.md).

:class:`EmulatorConfig` (pools of replicas x slots with the LPU service law,
routing, failover, faults, time scale), :class:`Emulator` (the
OpenAI-compatible server, in-process start/stop, control API) and the
Prometheus metric names :data:`METRIC_NAMES`.
"""

from benchmarks.emulator.config import FAULT_ACTIONS, ROUTINGS, EmulatorConfig, Fault, PoolSpec, parse_fault
from benchmarks.emulator.metrics import METRIC_NAMES
from benchmarks.emulator.server import CONTROL_ACTIONS, Emulator, count_tokens

__all__ = [
    "CONTROL_ACTIONS",
    "FAULT_ACTIONS",
    "METRIC_NAMES",
    "ROUTINGS",
    "Emulator",
    "EmulatorConfig",
    "Fault",
    "PoolSpec",
    "count_tokens",
    "parse_fault",
]
