"""What the emulator serves: pools of replicas x slots with an LPU's service law.

Units: every duration here is EMULATED seconds (the LPU's own time). The
emulator runs ``time_scale`` times faster than that on the wall clock (a
100 ms service takes 10 ms of wall time at ``time_scale = 10``); the times it
reports (``x_groq.usage``, ``/metrics``) are emulated seconds again, so a
10-minute scenario runs in a minute and reads as ten.

Service law of one request of ``P`` prompt and ``O`` output tokens in a pool
(DESIGN.md, "Why LPU sizing is different")::

    S = L_fixed + P_pad / R_prefill + O / R_decode       (seconds)

``P_pad`` is the pool's ``max_prompt_tokens`` (the compiled shape) when
``padded``, else ``P``. Token k (1-based) is emitted at
``start + L_fixed + P_pad/R_prefill + k/R_decode``; the slot is released at
``start + S``. With ``O = max_output_tokens`` this is the sizing's
``S_bucket`` (:func:`dimensioning.sizing.service_time`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

from dimensioning.errors import InvalidInput

__all__ = ["PoolSpec", "Fault", "EmulatorConfig", "ROUTINGS", "FAULT_ACTIONS", "parse_fault"]

ROUTINGS = ("central", "round_robin", "least_loaded")
FAULT_ACTIONS = ("kill", "hang")
Routing = Literal["central", "round_robin", "least_loaded"]


def _positive(field_name: str, value: float, unit: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InvalidInput(field_name, value, f"give a finite number > 0 ({unit})")


def _whole(field_name: str, value: int, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidInput(field_name, value, f"give a whole number >= {minimum}")


@dataclass(frozen=True)
class PoolSpec:
    """One pool: a bucket's replicas, each serving ``slots`` sequences at once.

    ``queue_cap`` is the number of requests allowed to WAIT (Kendall's K minus
    the servers): pool-wide with ``central`` routing, per replica otherwise;
    ``None`` means unbounded. ``slo_s`` (optional) only adds a histogram edge.
    """

    name: str
    max_prompt_tokens: int
    max_output_tokens: int
    r_prefill: float
    r_decode: float
    l_fixed_s: float
    slots: int
    replicas: int
    queue_cap: int | None = None
    padded: bool = True
    slo_s: float | None = None

    def __post_init__(self) -> None:
        where = f"pool[{self.name}]"
        if not self.name or not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise InvalidInput(f"{where}.name", self.name, "use letters, digits, '_', '.' or '-'")
        _whole(f"{where}.max_prompt_tokens", self.max_prompt_tokens, 1)
        _whole(f"{where}.max_output_tokens", self.max_output_tokens, 1)
        _positive(f"{where}.r_prefill", self.r_prefill, "prompt tokens/s")
        _positive(f"{where}.r_decode", self.r_decode, "output tokens/s per sequence")
        if isinstance(self.l_fixed_s, bool) or not math.isfinite(self.l_fixed_s) or self.l_fixed_s < 0:
            raise InvalidInput(f"{where}.l_fixed_s", self.l_fixed_s, "give a finite number >= 0 (seconds)")
        _whole(f"{where}.slots", self.slots, 1)
        _whole(f"{where}.replicas", self.replicas, 1)
        if self.queue_cap is not None:
            _whole(f"{where}.queue_cap", self.queue_cap, 0)

    def prefill_s(self, prompt_tokens: int) -> float:
        """Prefill time (emulated s) of a prompt: padded to the compiled shape when ``padded``."""
        return (self.max_prompt_tokens if self.padded else prompt_tokens) / self.r_prefill

    def service_s(self, prompt_tokens: int, output_tokens: int) -> float:
        """``S = L_fixed + P_pad/R_prefill + O/R_decode`` (emulated s)."""
        return self.l_fixed_s + self.prefill_s(prompt_tokens) + output_tokens / self.r_decode

    @property
    def service_bucket_s(self) -> float:
        """``S_bucket``: a prompt at the edge and the output at its cap."""
        return self.service_s(self.max_prompt_tokens, self.max_output_tokens)


@dataclass(frozen=True)
class Fault:
    """Kill or hang ``replica`` (0-based) of ``pool`` at ``at_s`` emulated seconds
    after the emulator starts; bring it back ``duration_s`` later (None: never).
    """

    action: Literal["kill", "hang"]
    pool: str
    replica: int
    at_s: float
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.action not in FAULT_ACTIONS:
            raise InvalidInput("fault.action", self.action, f"use one of {', '.join(FAULT_ACTIONS)}")
        _whole("fault.replica", self.replica, 0)
        if not math.isfinite(self.at_s) or self.at_s < 0:
            raise InvalidInput("fault.at_s", self.at_s, "give a time >= 0 s after start")
        if self.duration_s is not None:
            _positive("fault.duration_s", self.duration_s, "seconds")


_FAULT_RE = re.compile(r"^(kill|hang):([A-Za-z0-9_.-]+):(\d+)@([0-9.]+)(?:\+([0-9.]+))?$")


def parse_fault(text: str) -> Fault:
    """``ACTION:POOL:REPLICA@AT_S[+DURATION_S]``, e.g. ``kill:p512:0@60+30``."""
    match = _FAULT_RE.match(text.strip())
    if match is None:
        raise InvalidInput("--fault", text, "write ACTION:POOL:REPLICA@AT_S[+DURATION_S], e.g. kill:p512:0@60+30 (ACTION kill or hang)")
    action, pool, replica, at, duration = match.groups()
    try:
        return Fault(action, pool, int(replica), float(at), float(duration) if duration else None)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidInput("--fault", text, "AT_S and DURATION_S must be numbers of seconds") from None


@dataclass(frozen=True)
class EmulatorConfig:
    """Pools, routing, failover and time scale of one emulator.

    ``routing``: ``central`` (one FCFS queue per pool feeding every slot: the
    M/D/c queue the sizing models), ``round_robin`` or ``least_loaded`` (each
    replica has its own FCFS queue; the router picks the replica at arrival).
    ``failover_time_s``: after a kill, how long the router keeps sending
    requests to the dead replica (each fails at once with 503), as a health
    check that has not yet noticed. ``token_coalesce_s``: streamed tokens due
    within this many emulated seconds of each other go out in one chunk (real
    servers coalesce too; it bounds the emulator's own work at high rates).
    """

    pools: tuple[PoolSpec, ...]
    routing: Routing = "central"
    time_scale: float = 1.0
    failover_time_s: float = 0.0
    faults: tuple[Fault, ...] = ()
    model: str = "lpu-emulator"
    token_coalesce_s: float = 0.0
    pools_by_name: dict[str, PoolSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.pools:
            raise InvalidInput("pools", [], "give at least one pool")
        edges = [p.max_prompt_tokens for p in self.pools]
        if any(b <= a for a, b in zip(edges, edges[1:])):
            raise InvalidInput("pools", edges, "list pools by strictly increasing max_prompt_tokens")
        names = [p.name for p in self.pools]
        if len(set(names)) != len(names):
            raise InvalidInput("pools", names, "give each pool a unique name")
        if self.routing not in ROUTINGS:
            raise InvalidInput("routing", self.routing, f"use one of {', '.join(ROUTINGS)}")
        _positive("time_scale", self.time_scale, "emulated seconds per wall second")
        if not math.isfinite(self.failover_time_s) or self.failover_time_s < 0:
            raise InvalidInput("failover_time_s", self.failover_time_s, "give a time >= 0 s")
        if not math.isfinite(self.token_coalesce_s) or self.token_coalesce_s < 0:
            raise InvalidInput("token_coalesce_s", self.token_coalesce_s, "give a time >= 0 s")
        by_name = {p.name: p for p in self.pools}
        for i, fault in enumerate(self.faults):
            pool = by_name.get(fault.pool)
            if pool is None:
                raise InvalidInput(f"faults[{i}].pool", fault.pool, f"use one of {', '.join(names)}")
            if fault.replica >= pool.replicas:
                raise InvalidInput(f"faults[{i}].replica", fault.replica, f"pool {pool.name} has replicas 0..{pool.replicas - 1}")
        object.__setattr__(self, "pools_by_name", by_name)

    def pool_for_prompt(self, prompt_tokens: int) -> PoolSpec | None:
        """The smallest pool whose ``max_prompt_tokens`` holds the prompt (None: too long)."""
        for pool in self.pools:
            if prompt_tokens <= pool.max_prompt_tokens:
                return pool
        return None
