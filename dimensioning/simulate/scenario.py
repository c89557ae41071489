"""What is simulated besides traffic: the pool, its routing and admission, and failures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from dimensioning.errors import InvalidInput

__all__ = ["Pool", "Failure", "parse_failure", "ROUTINGS", "Routing", "OUTCOMES", "COMPLETED", "SHED", "LOST", "REJECTED",
           "PENDING", "ROUTING_CODES", "UNNOTICED_CODES", "ROUTE_CENTRAL", "ROUTE_RANDOM", "ROUTE_ROUND_ROBIN", "ROUTE_JSQ",
           "ROUTE_POWER_OF_TWO", "ROUTE_LEAST_WORK_LEFT", "UNNOTICED_LOST", "UNNOTICED_TIMEOUT", "UNNOTICED_RETRY"]

Routing = Literal["central", "random", "round_robin", "jsq", "power_of_two", "least_work_left"]
ROUTINGS: tuple[str, ...] = ("central", "random", "round_robin", "jsq", "power_of_two", "least_work_left")
"""``central``: one FCFS queue over every slot of the pool. The others give each
replica its own FCFS queue and route on arrival: uniformly at random,
round-robin, join-shortest-queue (fewest requests in the replica), the better of
two random replicas, least-work-left (smallest unfinished work per slot)."""

# The codes the compiled event loop works with, named once here for both sides:
# the scenario builder (dimensioning.simulate.run) maps names to codes with the
# tables below, the loop compares against these names (numba folds module-level
# ints into constants, so naming them costs nothing).
ROUTE_CENTRAL, ROUTE_RANDOM, ROUTE_ROUND_ROBIN, ROUTE_JSQ, ROUTE_POWER_OF_TWO, ROUTE_LEAST_WORK_LEFT = range(6)
ROUTING_CODES: dict[str, int] = dict(
    zip(ROUTINGS, (ROUTE_CENTRAL, ROUTE_RANDOM, ROUTE_ROUND_ROBIN, ROUTE_JSQ, ROUTE_POWER_OF_TWO, ROUTE_LEAST_WORK_LEFT))
)
"""The integer each routing has inside the compiled event loop."""

UNNOTICED_LOST, UNNOTICED_TIMEOUT, UNNOTICED_RETRY = 0, 1, 2
UNNOTICED_CODES: dict[str, int] = {"lost": UNNOTICED_LOST, "timeout": UNNOTICED_TIMEOUT, "retry": UNNOTICED_RETRY}
"""The integer each ``Failure.unnoticed`` mode has inside the compiled event loop."""

COMPLETED, SHED, LOST, REJECTED = 0, 1, 2, 3
PENDING = -1
"""Outcome of a request the event loop has not resolved when it stops: one
waiting in a central queue whose every replica is down for good (the caller
counts it lost at the end of the run)."""
OUTCOMES: tuple[str, ...] = ("completed", "shed", "lost", "rejected")
"""Per-request outcome codes: completed; shed by admission (queue or work cap);
lost to a failure (or a timeout at a failed replica); rejected (prompt longer
than the largest bucket)."""


@dataclass(frozen=True)
class Pool:
    """A pool of ``replicas`` replicas with ``slots`` concurrent sequences each.

    ``queue_cap`` (Queue_cap) bounds the waiting requests of each queue (the
    central one, or each replica's); an arrival that finds it full is shed.
    ``work_cap_s`` is work-based admission: an arrival is shed when the work
    already waiting in its queue divided by the queue's slots (the queueing
    delay it would see, for deterministic service) exceeds it.
    """

    replicas: int
    slots: int = 1
    routing: Routing = "central"
    queue_cap: int | None = None
    work_cap_s: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.replicas, int) and self.replicas >= 1):
            raise InvalidInput("replicas", self.replicas, "give a whole number of replicas >= 1")
        if not (isinstance(self.slots, int) and self.slots >= 1):
            raise InvalidInput("slots", self.slots, "give a whole number of slots per replica >= 1")
        if self.routing not in ROUTINGS:
            raise InvalidInput("routing", self.routing, f"use one of {', '.join(ROUTINGS)}")
        if self.queue_cap is not None and not (isinstance(self.queue_cap, int) and self.queue_cap >= 0):
            raise InvalidInput("queue_cap", self.queue_cap, "give a whole number of waiting requests >= 0, or none")
        if self.work_cap_s is not None and not (self.work_cap_s >= 0 and math.isfinite(self.work_cap_s)):
            raise InvalidInput("work_cap_s", self.work_cap_s, "give a finite queueing-delay cap >= 0 in seconds, or none")

    @property
    def servers(self) -> int:
        """Total slots c = replicas x slots."""
        return self.replicas * self.slots


@dataclass(frozen=True)
class Failure:
    """``replicas`` (indices) fail at ``at_s``; the router notices ``failover_time_s`` later.

    - ``in_service``: what happens to the requests on the failed replicas at
      ``at_s`` (in service, and waiting in their own queues): ``lost`` or
      ``retry`` (sent again to the router at once).
    - ``unnoticed``: what happens to requests the router still sends there
      before it notices: ``lost`` at once (connection refused), ``timeout``
      (lost after ``timeout_s``), ``retry`` (sent again after ``timeout_s``).
      A failed replica holds those requests until they fail, so
      join-shortest-queue and least-work-left see them (with ``lost`` it
      looks empty and draws traffic: the black-hole effect).
    - ``recover_at_s``: the replicas are back (and routed to) from then on.
    - ``max_retries``: retries per request before it counts as lost.
    """

    replicas: tuple[int, ...]
    at_s: float
    failover_time_s: float = 0.0
    in_service: Literal["lost", "retry"] = "lost"
    unnoticed: Literal["lost", "timeout", "retry"] = "lost"
    timeout_s: float = 0.0
    recover_at_s: float | None = None
    max_retries: int = 1

    def __post_init__(self) -> None:
        if not self.replicas or any(not isinstance(r, int) or r < 0 for r in self.replicas):
            raise InvalidInput("fail.replicas", self.replicas, "give replica indices >= 0 (0 is the first replica)")
        for name in ("at_s", "failover_time_s", "timeout_s"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise InvalidInput(f"fail.{name}", value, "give a finite time >= 0 in seconds")
        if self.in_service not in ("lost", "retry"):
            raise InvalidInput("fail.in_service", self.in_service, "use lost or retry")
        if self.unnoticed not in ("lost", "timeout", "retry"):
            raise InvalidInput("fail.unnoticed", self.unnoticed, "use lost, timeout or retry")
        if self.recover_at_s is not None and not (self.recover_at_s > self.at_s and math.isfinite(self.recover_at_s)):
            raise InvalidInput("fail.recover_at_s", self.recover_at_s, "give a finite recovery time after the failure")
        if self.max_retries < 0:
            raise InvalidInput("fail.max_retries", self.max_retries, "give a number of retries >= 0")

    def check_against(self, pool: Pool) -> None:
        """Raise when a failed replica index is not in the pool."""
        bad = [r for r in self.replicas if r >= pool.replicas]
        if bad:
            raise InvalidInput("fail.replicas", self.replicas, f"the pool has replicas 0..{pool.replicas - 1}")
        if len(set(self.replicas)) != len(self.replicas):
            raise InvalidInput("fail.replicas", self.replicas, "list each failed replica once")


_FAILURE_KEYS = {
    "failover": "failover_time_s",
    "recover": "recover_at_s",
    "in_service": "in_service",
    "unnoticed": "unnoticed",
    "timeout": "timeout_s",
    "retries": "max_retries",
}


def parse_failure(spec: str) -> Failure:
    """Parse the CLI's ``--fail`` text: ``R[,R...]@T[:key=value...]``.

    Keys: ``failover`` (s), ``recover`` (s, absolute time), ``in_service``
    (lost|retry), ``unnoticed`` (lost|timeout|retry), ``timeout`` (s),
    ``retries`` (count). Example: ``0,1@120:failover=20:unnoticed=timeout:timeout=30:recover=900``.
    """
    field = "--fail"
    fix = "write R[,R...]@SECONDS[:failover=S][:recover=S][:in_service=lost|retry][:unnoticed=lost|timeout|retry][:timeout=S][:retries=N]"
    head, *options = spec.split(":")
    replicas_text, at, time_text = head.partition("@")
    if not at:
        raise InvalidInput(field, spec, fix)
    try:
        replicas = tuple(int(r) for r in replicas_text.split(","))
        kwargs: dict[str, object] = {"replicas": replicas, "at_s": float(time_text)}
        for option in options:
            key, eq, value = option.partition("=")
            if not eq or key not in _FAILURE_KEYS:
                raise InvalidInput(field, spec, f"unknown option {option!r}; {fix}")
            name = _FAILURE_KEYS[key]
            if name in ("in_service", "unnoticed"):
                kwargs[name] = value
            elif name == "max_retries":
                kwargs[name] = int(value)
            else:
                kwargs[name] = float(value)
    except ValueError:
        raise InvalidInput(field, spec, fix) from None
    return Failure(**kwargs)  # type: ignore[arg-type]
