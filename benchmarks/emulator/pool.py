"""The emulator's queueing core: replicas x slots, FCFS queues, failures.

Runs inside one asyncio event loop; every time here is WALL seconds of
``loop.time()`` (the config's emulated seconds divided by ``time_scale``).

Exact schedule, late delivery: a slot is released at ``start + S`` computed
from the schedule, and the next queued request starts at that computed
instant, not at the (possibly late) moment the event loop runs the callback.
So the emulator's queue is exactly the Lindley recursion of an M/D/c queue
(DESIGN.md, "Queueing core") whatever the loop's jitter; only the bytes can
leave late, and that delivery lag is measured and exported, never hidden.

Failures (per replica): ``kill`` fails every request on it (in service or in
its own queue) and removes its slots; for ``failover_time`` the router still
sends it requests, which fail at once (503). ``hang`` freezes it: requests on
it stop emitting tokens and its slots stay taken; the router keeps feeding
its free slots. ``recover`` brings a killed replica back empty, or resumes a
hung one (its requests' remaining schedule shifted by the hang).

Routing (``round_robin`` and ``least_loaded`` give each replica its own FCFS
queue and route at arrival). ``round_robin`` is the simulator's definition
(:mod:`dimensioning.simulate.event_loop`), so a game day rehearsed here
follows the prediction request by request: the routable replicas in index
order, and the k-th routed arrival of the pool (k counted from 0 over the
whole run, never reset) goes to ``routable[k mod len(routable)]``. A replica
stays routable through its failover window (requests sent there fail at
once), leaves the list when the router notices, and rejoins on recovery;
the counter runs on, so the rotation's phase after a kill or a recovery is
the simulator's. An arrival that finds no routable replica (503) or a prompt
too long for every pool (400) does not count: neither is routed there.
``Replica.assigned`` counts the requests routed to each replica (shed and
failed ones included; with ``central`` routing, those dispatched to it).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from dataclasses import dataclass
from typing import Callable

from benchmarks.emulator.config import PoolSpec

__all__ = ["Shed", "NoReplica", "RequestFailed", "Job", "Replica", "PoolRuntime"]


class Shed(Exception):
    """The queue is full: answer 429. ``retry_after_s`` in emulated seconds."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"queue full; retry after {retry_after_s:.3f} s")
        self.retry_after_s = retry_after_s


class NoReplica(Exception):
    """No replica is routable (every one killed and failed over): answer 503."""


class RequestFailed(Exception):
    """The request's replica died under it (``reason``: replica_killed, replica_down)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(eq=False)
class Replica:
    index: int
    state: str = "up"  # up | hung | down
    routed: bool = True  # does the router still send it requests
    hung_since: float = 0.0
    assigned: int = 0  # requests the router sent it (see the module docstring)
    failover_handle: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self.busy: set[Job] = set()
        self.queue: deque[Job] = deque()


class Job:
    """One admitted request: its schedule (wall s) and the waits of its handler."""

    __slots__ = ("pool", "prompt_tokens", "output_tokens", "arrival", "start", "shift", "replica",
                 "service", "started", "failed", "release_handle", "_waiter", "_waiter_offset", "_waiter_handle", "end")

    def __init__(self, pool: "PoolRuntime", prompt_tokens: int, output_tokens: int, arrival: float, service: float) -> None:
        self.pool = pool
        self.prompt_tokens = prompt_tokens
        self.output_tokens = output_tokens
        self.arrival = arrival
        self.service = service  # wall seconds in a slot
        self.start: float | None = None
        self.shift = 0.0  # wall seconds added by hangs
        self.replica: Replica | None = None
        self.started: asyncio.Future[None] = pool.loop.create_future()
        self.failed: str | None = None
        self.release_handle: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._waiter_offset = 0.0
        self._waiter_handle: asyncio.TimerHandle | None = None
        self.end: float | None = None

    @property
    def at(self) -> float:
        """Wall time of the schedule's origin (start plus any hang)."""
        assert self.start is not None
        return self.start + self.shift

    async def wait_offset(self, offset: float) -> None:
        """Wait until ``start + shift + offset`` (wall s); raise RequestFailed if the replica dies."""
        if self.failed is not None:
            raise RequestFailed(self.failed)
        loop = self.pool.loop
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter, self._waiter_offset = fut, offset
        self._schedule_waiter()
        try:
            await fut
        finally:
            self._waiter = None
            self._waiter_handle = None

    def _schedule_waiter(self) -> None:
        fut = self._waiter
        if fut is None or fut.done() or self.replica is None or self.replica.state == "hung":
            return
        self._waiter_handle = self.pool.loop.call_at(self.at + self._waiter_offset, _resolve, fut)

    def _freeze(self) -> None:
        if self.release_handle is not None:
            self.release_handle.cancel()
            self.release_handle = None
        if self._waiter_handle is not None:
            self._waiter_handle.cancel()
            self._waiter_handle = None

    def _fail(self, reason: str) -> None:
        self.failed = reason
        self._freeze()
        if not self.started.done():
            self.started.set_exception(RequestFailed(reason))
            self.started.exception()  # mark retrieved: the handler may already be gone
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(RequestFailed(reason))


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class PoolRuntime:
    """One pool's replicas and queues (see the module docstring).

    ``on_event(kind, job)`` is called on ``release`` (a request finished its
    service) so the metrics can count; it must not raise.
    """

    def __init__(self, spec: PoolSpec, loop: asyncio.AbstractEventLoop, time_scale: float, routing: str,
                 failover_time_s: float, on_event: Callable[[str, Job], None] | None = None) -> None:
        self.spec = spec
        self.loop = loop
        self.scale = time_scale
        self.routing = routing
        self.failover_wall = failover_time_s / time_scale
        self.replicas = [Replica(i) for i in range(spec.replicas)]
        self.queue: deque[Job] = deque()  # central routing
        self._rotation = itertools.cycle(range(spec.replicas))  # central: which free replica is tried first
        self._routed_arrivals = 0  # round_robin: the simulator's counter k
        self.on_event = on_event

    # --- state for metrics and the control API ---------------------------------
    @property
    def queue_depth(self) -> int:
        return len(self.queue) + sum(len(r.queue) for r in self.replicas)

    @property
    def in_flight(self) -> int:
        return sum(len(r.busy) for r in self.replicas)

    @property
    def replicas_up(self) -> int:
        return sum(1 for r in self.replicas if r.state == "up")

    def service_wall(self, prompt_tokens: int, output_tokens: int) -> float:
        return self.spec.service_s(prompt_tokens, output_tokens) / self.scale

    # --- admission and routing ------------------------------------------------------
    def _free(self, replica: Replica) -> bool:
        return replica.routed and (replica.state == "down" or len(replica.busy) < self.spec.slots)

    def _pick(self, candidates: Callable[[Replica], bool]) -> Replica | None:
        for _ in range(len(self.replicas)):
            replica = self.replicas[next(self._rotation)]
            if candidates(replica):
                return replica
        return None

    def submit(self, prompt_tokens: int, output_tokens: int) -> Job:
        """Admit a request now: start it, queue it, or raise Shed / NoReplica."""
        now = self.loop.time()
        job = Job(self, prompt_tokens, output_tokens, now, self.service_wall(prompt_tokens, output_tokens))
        cap = self.spec.queue_cap
        if self.routing == "central":
            replica = self._pick(self._free) if not self.queue else None
            if replica is not None:
                self._dispatch(job, replica, now)
                return job
            if cap is not None and len(self.queue) >= cap:
                raise Shed(self._retry_after(now))
            self.queue.append(job)
            return job
        routed = [r for r in self.replicas if r.routed]
        if not routed:
            raise NoReplica()
        if self.routing == "round_robin":
            replica = routed[self._routed_arrivals % len(routed)]
            self._routed_arrivals += 1
        else:  # least_loaded: fewest requests in service plus waiting, lowest index on ties
            replica = min(routed, key=lambda r: (len(r.busy) + len(r.queue), r.index))
        replica.assigned += 1
        if not replica.queue and self._free(replica):
            self._dispatch(job, replica, now)
            return job
        if cap is not None and len(replica.queue) >= cap:
            raise Shed(self._retry_after(now, replica))
        replica.queue.append(job)
        return job

    def _retry_after(self, now: float, replica: Replica | None = None) -> float:
        """Emulated seconds until the next scheduled slot release (the head of the queue moves)."""
        pool = [replica] if replica is not None else self.replicas
        releases = [j.at + j.service for r in pool if r.state == "up" for j in r.busy if j.start is not None]
        wait = (min(releases) - now) if releases else self.spec.service_bucket_s / self.scale
        return max(wait, 0.0) * self.scale

    def _dispatch(self, job: Job, replica: Replica, start: float) -> None:
        job.replica = replica
        if self.routing == "central":
            replica.assigned += 1
        if replica.state == "down":  # still routed during failover: the request fails at once
            job.start = start
            job._fail("replica_down")
            return
        job.start = start
        replica.busy.add(job)
        if replica.state == "up":
            job.release_handle = self.loop.call_at(job.at + job.service, self._release, job)
        if not job.started.done():
            job.started.set_result(None)

    def _release(self, job: Job) -> None:
        replica = job.replica
        assert replica is not None
        replica.busy.discard(job)
        job.release_handle = None
        job.end = job.at + job.service
        if self.on_event is not None:
            self.on_event("release", job)
        self._fill(replica, job.end)

    def _fill(self, replica: Replica, when: float) -> None:
        """Give the replica's free slots to waiting requests, starting them at ``when``."""
        if replica.state != "up" or not replica.routed:
            return
        source = self.queue if self.routing == "central" else replica.queue
        while source and len(replica.busy) < self.spec.slots:
            job = source.popleft()
            self._dispatch(job, replica, max(when, job.arrival))

    # --- failures ------------------------------------------------------------------
    def kill(self, index: int) -> None:
        replica = self.replicas[index]
        if replica.state == "down":
            return
        replica.state = "down"
        for job in list(replica.busy):
            job._fail("replica_killed")
        replica.busy.clear()
        while replica.queue:
            replica.queue.popleft()._fail("replica_killed")
        if self.failover_wall > 0:
            replica.failover_handle = self.loop.call_later(self.failover_wall, self._fail_over, replica)
        else:
            replica.routed = False

    def _fail_over(self, replica: Replica) -> None:
        replica.failover_handle = None
        if replica.state == "down":
            replica.routed = False

    def hang(self, index: int) -> None:
        replica = self.replicas[index]
        if replica.state != "up":
            return
        replica.state = "hung"
        replica.hung_since = self.loop.time()
        for job in replica.busy:
            job._freeze()

    def recover(self, index: int) -> None:
        replica = self.replicas[index]
        now = self.loop.time()
        if replica.state == "hung":
            replica.state = "up"
            for job in replica.busy:
                assert job.start is not None
                job.shift += max(now - max(replica.hung_since, job.start), 0.0)
                job.release_handle = self.loop.call_at(job.at + job.service, self._release, job)
                job._schedule_waiter()
        elif replica.state == "down":
            replica.state = "up"
            replica.routed = True
            if replica.failover_handle is not None:
                replica.failover_handle.cancel()
                replica.failover_handle = None
        self._fill(replica, now)
        if self.routing == "central":  # a recovered replica may also drain the central queue
            for other in self.replicas:
                self._fill(other, now)

    def state(self) -> dict[str, object]:
        return {
            "name": self.spec.name,
            "queue_depth": self.queue_depth,
            "in_flight": self.in_flight,
            "slots_per_replica": self.spec.slots,
            "queue_cap": self.spec.queue_cap,
            "replicas": [
                {"index": r.index, "state": r.state, "routed": r.routed, "in_flight": len(r.busy), "queue_depth": len(r.queue),
                 "assigned": r.assigned}
                for r in self.replicas
            ],
        }
