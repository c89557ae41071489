"""The emulator's Prometheus metrics (prometheus-client, one registry per emulator).

Every duration is in EMULATED seconds (the LPU's time; see
:mod:`benchmarks.emulator.config`), except ``lpu_emulator_delivery_lag_seconds``,
which is the emulator's own wall-clock lateness. Labels: ``pool`` (the
bucket's name), ``replica`` (0-based index), ``code`` (HTTP status),
``reason`` (error kind), ``state`` (up, hung, down).

=========================================  =========  =================================================
name                                       type       meaning
=========================================  =========  =================================================
lpu_emulator_requests_total                counter    requests answered, by pool and HTTP code
lpu_emulator_shed_total                    counter    requests refused with 429 (queue full)
lpu_emulator_errors_total                  counter    failed requests by reason: replica_killed,
                                                      replica_down, no_replica, client_disconnected
lpu_emulator_output_tokens_total           counter    output tokens served
lpu_emulator_request_latency_seconds       histogram  arrival to last token (e2el), completed requests
lpu_emulator_ttft_seconds                  histogram  arrival to first token
lpu_emulator_queue_wait_seconds            histogram  arrival to start of service
lpu_emulator_delivery_lag_seconds          histogram  wall s the last byte left after its schedule
lpu_emulator_queue_depth                   gauge      requests waiting (all queues of the pool)
lpu_emulator_in_flight                     gauge      requests in service (slots taken)
lpu_emulator_slots                         gauge      slots of the replicas that are up
lpu_emulator_replicas_up                   gauge      replicas in state up
lpu_emulator_replica_up                    gauge      1 if that replica is up, else 0
lpu_emulator_replica_state                 gauge      1 for the replica's current state, else 0
lpu_emulator_replica_assigned_total        counter    requests the router sent to that replica (shed and
                                                      failed included; central: dispatched to it)
lpu_emulator_time_scale                    gauge      emulated seconds per wall second
lpu_emulator_emulated_seconds              gauge      emulated seconds since the emulator started
=========================================  =========  =================================================

Histogram edges: a fixed ladder from 1 ms to 120 s plus every pool's SLO (so
``rate(..._bucket{le="<SLO>"}[1m])`` counts requests within it exactly).
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["METRIC_NAMES", "EmulatorMetrics", "ServedSeries", "latency_edges"]

METRIC_NAMES: tuple[str, ...] = (
    "lpu_emulator_requests_total",
    "lpu_emulator_shed_total",
    "lpu_emulator_errors_total",
    "lpu_emulator_output_tokens_total",
    "lpu_emulator_request_latency_seconds",
    "lpu_emulator_ttft_seconds",
    "lpu_emulator_queue_wait_seconds",
    "lpu_emulator_delivery_lag_seconds",
    "lpu_emulator_queue_depth",
    "lpu_emulator_in_flight",
    "lpu_emulator_slots",
    "lpu_emulator_replicas_up",
    "lpu_emulator_replica_up",
    "lpu_emulator_replica_state",
    "lpu_emulator_replica_assigned_total",
    "lpu_emulator_time_scale",
    "lpu_emulator_emulated_seconds",
)

_LADDER = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0,
           4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 120.0)
_LAG_EDGES = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def latency_edges(extra: Iterable[float] = ()) -> tuple[float, ...]:
    """The ladder plus ``extra`` edges (SLOs, seconds), sorted and unique."""
    return tuple(sorted(set(_LADDER) | {round(float(e), 9) for e in extra if e > 0}))


class _StateCollector(Collector):
    """Gauges read from the pools at scrape time (no bookkeeping per request)."""

    def __init__(self, snapshot: Callable[[], dict]) -> None:
        self._snapshot = snapshot

    def collect(self):  # type: ignore[no-untyped-def]
        snap = self._snapshot()
        depth = GaugeMetricFamily("lpu_emulator_queue_depth", "Requests waiting, all queues of the pool", labels=["pool"])
        flight = GaugeMetricFamily("lpu_emulator_in_flight", "Requests in service (slots taken)", labels=["pool"])
        slots = GaugeMetricFamily("lpu_emulator_slots", "Slots of the replicas that are up", labels=["pool"])
        up = GaugeMetricFamily("lpu_emulator_replicas_up", "Replicas in state up", labels=["pool"])
        one = GaugeMetricFamily("lpu_emulator_replica_up", "1 if the replica is up", labels=["pool", "replica"])
        state = GaugeMetricFamily("lpu_emulator_replica_state", "1 for the replica's current state",
                                  labels=["pool", "replica", "state"])
        assigned = CounterMetricFamily("lpu_emulator_replica_assigned", "Requests the router sent to the replica",
                                       labels=["pool", "replica"])
        for pool in snap["pools"]:
            name = pool["name"]
            depth.add_metric([name], pool["queue_depth"])
            flight.add_metric([name], pool["in_flight"])
            n_up = sum(1 for r in pool["replicas"] if r["state"] == "up")
            slots.add_metric([name], n_up * pool["slots_per_replica"])
            up.add_metric([name], n_up)
            for r in pool["replicas"]:
                one.add_metric([name, str(r["index"])], 1.0 if r["state"] == "up" else 0.0)
                assigned.add_metric([name, str(r["index"])], r["assigned"])
                for s in ("up", "hung", "down"):
                    state.add_metric([name, str(r["index"]), s], 1.0 if r["state"] == s else 0.0)
        scale = GaugeMetricFamily("lpu_emulator_time_scale", "Emulated seconds per wall second")
        scale.add_metric([], snap["time_scale"])
        clock = GaugeMetricFamily("lpu_emulator_emulated_seconds", "Emulated seconds since the emulator started")
        clock.add_metric([], snap["emulated_s"])
        yield from (depth, flight, slots, up, one, state, assigned, scale, clock)


class ServedSeries:
    """One pool's series that every completed request updates, bound once (no label look-up per request)."""

    __slots__ = ("requests", "tokens", "latency", "ttft", "wait", "lag")

    def __init__(self, metrics: "EmulatorMetrics", pool: str) -> None:
        self.requests = metrics.requests.labels(pool, "200")
        self.tokens = metrics.tokens.labels(pool)
        self.latency = metrics.latency.labels(pool)
        self.ttft = metrics.ttft.labels(pool)
        self.wait = metrics.wait.labels(pool)
        self.lag = metrics.lag.labels(pool)


class EmulatorMetrics:
    """The counters and histograms one emulator updates, in its own registry.

    ``served[pool]`` holds the pool's success-path series already bound to
    their labels (:class:`ServedSeries`).
    """

    def __init__(self, pools: Sequence[str], slos_s: Iterable[float], snapshot: Callable[[], dict]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        edges = latency_edges(slos_s)
        r = self.registry
        self.requests = Counter("lpu_emulator_requests", "Requests answered, by HTTP code", ["pool", "code"], registry=r)
        self.shed = Counter("lpu_emulator_shed", "Requests refused with 429 (queue full)", ["pool"], registry=r)
        self.errors = Counter("lpu_emulator_errors", "Failed requests by reason", ["pool", "reason"], registry=r)
        self.tokens = Counter("lpu_emulator_output_tokens", "Output tokens served", ["pool"], registry=r)
        self.latency = Histogram("lpu_emulator_request_latency_seconds", "Arrival to last token, emulated s",
                                 ["pool"], buckets=edges, registry=r)
        self.ttft = Histogram("lpu_emulator_ttft_seconds", "Arrival to first token, emulated s", ["pool"],
                              buckets=edges, registry=r)
        self.wait = Histogram("lpu_emulator_queue_wait_seconds", "Arrival to start of service, emulated s", ["pool"],
                              buckets=edges, registry=r)
        self.lag = Histogram("lpu_emulator_delivery_lag_seconds", "Wall s the last byte left after its schedule",
                             ["pool"], buckets=_LAG_EDGES, registry=r)
        for name in pools:  # every series exists from the first scrape, at zero
            self.shed.labels(name)
            self.tokens.labels(name)
            self.latency.labels(name)
            self.ttft.labels(name)
            self.wait.labels(name)
            self.lag.labels(name)
            for reason in ("replica_killed", "replica_down", "no_replica", "client_disconnected"):
                self.errors.labels(name, reason)
        r.register(_StateCollector(snapshot))
        self.served = {name: ServedSeries(self, name) for name in pools}
