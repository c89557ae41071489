"""Run a simulation: draw arrivals and service times, pick an engine, summarise.

Engines (the result says which ran):

- ``lindley``: the vectorised fast path (:mod:`.lindley`), exact for a
  central FCFS queue with one deterministic service time, no caps, no
  failures; tens of millions of requests per second.
- ``event``: the compiled event loop (:mod:`.event_loop`) for everything
  else (mixtures, jitter, per-replica routing, Queue_cap, work-based
  admission, failures, retries).

Independent random streams (``numpy.random.SeedSequence(seed).spawn``) feed
the arrivals, the service times and the router, so the same seed gives the
same bytes out, and changing the routing does not change the traffic.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dimensioning.errors import InvalidInput
from dimensioning.simulate.arrivals import ArrivalProcess, TraceArrivals
from dimensioning.simulate.event_loop import ROUTING_CODES, run_event_loop
from dimensioning.simulate.lindley import lindley_start_times
from dimensioning.simulate.records import Records
from dimensioning.simulate.scenario import LOST, REJECTED, UNNOTICED_CODES, Failure, Pool
from dimensioning.simulate.service import ServiceModel
from dimensioning.simulate.statistics import DEFAULT_BATCHES, Estimate
from dimensioning.simulate.summary import Summary, latency_distribution, summarize
from dimensioning.simulate.timeseries import TimeSeries, time_series

__all__ = ["SimulationResult", "simulate", "MAX_REQUESTS"]

MAX_REQUESTS = 50_000_000  # ~70 bytes of records per request: ~3.5 GB at the cap
_UNIFORMS_MAX = 1 << 22  # router's random numbers, reused cyclically beyond this (32 MiB)


@dataclass(frozen=True)
class SimulationResult:
    """Records, summary and context of one run."""

    records: Records
    summary: Summary
    pools: tuple[Pool, ...]
    labels: tuple[str, ...]
    engines: tuple[str, ...]
    failure: Failure | None
    seed: int
    wall_s: float
    warmup_fraction: float
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def servers(self) -> int:
        return sum(p.servers for p in self.pools)

    def time_series(self, interval_s: float | None = None, points: int = 200) -> TimeSeries:
        """Per-interval series; default interval: the run's span over ``points``, to 3 significant digits."""
        if interval_s is None:
            finite_end = self.records.end[np.isfinite(self.records.end)]
            span = float(finite_end.max()) if finite_end.size else float(self.records.arrival[-1])
            raw = max(span / points, 1e-6)
            interval_s = float(f"{raw:.3g}")
        return time_series(self.records, interval_s)

    def bucket_latency(self, bucket: int, confidence: float = 0.95) -> dict[str, Estimate]:
        """``bucket_summary(bucket).latency`` alone: one bucket's latency mean and percentiles (s)."""
        return latency_distribution(self.records, warmup_fraction=self.warmup_fraction, confidence=confidence,
                                    mask=self.records.bucket == bucket)

    def bucket_summary(self, bucket: int, slo_s: float | None = None, confidence: float = 0.95) -> Summary:
        """Summary of one bucket's requests (the pool-wide utilisation)."""
        return summarize(
            self.records,
            self.servers,
            slo_s=slo_s,
            warmup_fraction=self.warmup_fraction,
            confidence=confidence,
            mask=self.records.bucket == bucket,
        )


def _fast_path_applies(pool: Pool, service: np.ndarray, rejected: np.ndarray, failed_here: bool) -> bool:
    return (
        pool.routing == "central"
        and pool.queue_cap is None
        and pool.work_cap_s is None
        and not failed_here
        and not rejected.any()
        and service.size > 0
        and bool(np.all(service == service[0]))
    )


def _run_pool(
    pool: Pool,
    arrival: np.ndarray,
    service: np.ndarray,
    rejected: np.ndarray,
    failed: np.ndarray,
    failure: Failure | None,
    rng: np.random.Generator,
) -> tuple[str, tuple[np.ndarray, ...]]:
    n = arrival.size
    if _fast_path_applies(pool, service, rejected, bool(failed.any())):
        start = lindley_start_times(arrival, float(service[0]), pool.servers)
        end = start + service
        slot = np.arange(n) % pool.servers
        return "lindley", (
            start,
            end,
            start.copy(),
            arrival.copy(),
            (slot // pool.slots).astype(np.int32),
            np.zeros(n, np.int8),
            np.ones(n, np.int8),
        )
    # Only randomised routers draw (central and round-robin need no random numbers).
    randomised = pool.routing in ("random", "jsq", "power_of_two", "least_work_left")
    uniforms = rng.random(min(2 * n + 16, _UNIFORMS_MAX) if randomised else 1)
    active = failure is not None and bool(failed.any())
    out = run_event_loop(
        arrival,
        service,
        rejected,
        pool.replicas,
        pool.slots,
        ROUTING_CODES[pool.routing],
        -1 if pool.queue_cap is None else pool.queue_cap,
        math.inf if pool.work_cap_s is None else pool.work_cap_s,
        failed,
        failure.at_s if active else math.inf,
        failure.at_s + failure.failover_time_s if active else math.inf,
        failure.recover_at_s if active and failure.recover_at_s is not None else math.inf,
        active and failure.in_service == "retry",
        UNNOTICED_CODES[failure.unnoticed] if active else UNNOTICED_CODES["lost"],
        failure.timeout_s if active else 0.0,
        failure.max_retries if active else 0,
        uniforms,
    )
    start, end, left_queue, entered, replica, outcome, attempts = out
    stranded = outcome < 0
    if stranded.any():
        # Waiting in a central queue whose every replica is down, with no recovery.
        last = float(np.nanmax(np.concatenate((end, arrival))))
        outcome[stranded] = LOST
        end[stranded] = last
        left_queue[stranded] = last
    return "event", (start, end, left_queue, entered, replica, outcome, attempts)


def simulate(
    pool: Pool | Sequence[Pool],
    arrivals: ArrivalProcess,
    service: ServiceModel,
    *,
    seed: int,
    requests: int | None = None,
    duration_s: float | None = None,
    failure: Failure | None = None,
    slo_s: float | None = None,
    warmup_fraction: float = 0.02,
    batches: int = DEFAULT_BATCHES,
    confidence: float = 0.95,
    on_phase: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Simulate ``requests`` arrivals (or every arrival in ``duration_s`` seconds).

    ``pool`` is one pool that serves every bucket (a shared pool), or one
    pool per bucket of ``service`` (pool b serves bucket b; replicas are
    numbered pool by pool for ``failure``). ``slo_s`` sets the goodput
    threshold. ``on_phase`` is told each phase's name (for a progress display).
    """
    started = time.perf_counter()
    pools = (pool,) if isinstance(pool, Pool) else tuple(pool)
    labels = tuple(service.labels)
    if not pools:
        raise InvalidInput("pool", pools, "give at least one pool")
    if len(pools) > 1 and len(pools) != len(labels):
        raise InvalidInput("pool", len(pools), f"give one pool per bucket ({len(labels)}), or one shared pool")
    if requests is not None and requests > MAX_REQUESTS:
        raise InvalidInput("requests", requests, f"simulate at most {MAX_REQUESTS:,} requests per run")
    if requests is None and duration_s is not None and arrivals.mean_rate * duration_s > MAX_REQUESTS:
        # checked before drawing: at 1e6 requests/s an 8-minute game day is 480 million arrivals (36 GB)
        raise InvalidInput("duration", duration_s, f"{arrivals.mean_rate:,.6g} requests/s for {duration_s:,.6g} s is about "
                           f"{arrivals.mean_rate * duration_s:,.0f} requests; simulate at most {MAX_REQUESTS:,} per"
                           " run: shorten the run, or simulate a smaller share of the traffic")
    if not (0 <= warmup_fraction < 1):
        raise InvalidInput("warmup_fraction", warmup_fraction, "give a fraction in [0, 1)")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InvalidInput("seed", seed, "give a whole number >= 0")
    total_replicas = sum(p.replicas for p in pools)
    if failure is not None:
        failure.check_against(Pool(replicas=total_replicas))
    stream_arrivals, stream_service, stream_router = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3)
    )

    def phase(name: str) -> None:
        if on_phase is not None:
            on_phase(name)

    phase("arrivals")
    arrival = np.ascontiguousarray(arrivals.times(stream_arrivals, count=requests, duration=duration_s), dtype=float)
    n = arrival.size
    if n == 0:
        raise InvalidInput("duration", duration_s, "no request arrives in that time: simulate longer")
    prompt = output = None
    if isinstance(arrivals, TraceArrivals):
        prompt, output = arrivals.tokens(count=requests, duration=duration_s)
    phase("service")
    bucket, service_s = service.draw(stream_service, n, prompt, output)
    bucket = np.asarray(bucket, dtype=np.int32)
    service_s = np.ascontiguousarray(service_s, dtype=float)
    rejected = bucket < 0

    phase("queue")
    failed_global = np.zeros(total_replicas, dtype=np.bool_)
    if failure is not None:
        failed_global[list(failure.replicas)] = True
    start = np.full(n, np.nan)
    end = np.full(n, np.nan)
    left_queue = np.full(n, np.nan)
    entered = arrival.copy()
    replica = np.full(n, -1, np.int32)
    outcome = np.full(n, REJECTED, np.int8)
    attempts = np.ones(n, np.int8)
    end[rejected] = arrival[rejected]
    left_queue[rejected] = arrival[rejected]
    engines = []
    offset = 0
    for index, this in enumerate(pools):
        chosen = np.ones(n, dtype=bool) if len(pools) == 1 else (bucket == index)
        failed = failed_global[offset : offset + this.replicas]
        if len(pools) > 1:
            chosen &= ~rejected
        if chosen.any():
            engine, columns = _run_pool(
                this,
                arrival[chosen],
                service_s[chosen],
                rejected[chosen],
                np.ascontiguousarray(failed),
                failure,
                stream_router,
            )
            engines.append(engine)
            (
                start[chosen],
                end[chosen],
                left_queue[chosen],
                entered[chosen],
                local_replica,
                outcome[chosen],
                attempts[chosen],
            ) = columns
            replica[chosen] = np.where(local_replica >= 0, local_replica + offset, -1)
        else:
            engines.append("idle")
        offset += this.replicas
    records = Records(
        arrival=arrival,
        start=start,
        end=end,
        left_queue=left_queue,
        entered=entered,
        bucket=bucket,
        replica=replica,
        outcome=outcome,
        attempts=attempts,
        service=service_s,
    )
    phase("summary")
    summary = summarize(
        records,
        sum(p.servers for p in pools),
        slo_s=slo_s,
        warmup_fraction=warmup_fraction,
        batches=batches,
        confidence=confidence,
    )
    return SimulationResult(
        records=records,
        summary=summary,
        pools=pools,
        labels=labels,
        engines=tuple(engines),
        failure=failure,
        seed=int(seed),
        wall_s=time.perf_counter() - started,
        warmup_fraction=warmup_fraction,
    )

