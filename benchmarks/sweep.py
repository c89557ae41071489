"""Sweeps: buckets x output lengths x repeats x serving modes, at a fixed concurrency.

- Floor samples (``floor``, on by default): ``repeats`` requests of the
  smallest prompt (1 token asked) and 1 output token, recorded with bucket 0,
  per mode. They measure the fixed overhead directly where the server reports
  no prompt timings (see :mod:`benchmarks.fit`).
- Modes (``modes``): ``streamed`` (SSE; token events timed) and/or
  ``non-streamed`` (the whole answer timed). A sample id carries its mode
  (``ns:`` before non-streamed ids), and both modes' samples are interleaved.
- Concurrency (``concurrency``): 1 sends one request at a time, so queueing
  never enters a service-time sample; N > 1 is a closed loop with exactly N
  requests in flight (N workers, each sending its next request as soon as its
  previous one ends) to measure per-sequence rates at occupancy N. While the
  last samples finish, idle workers send ``filler`` requests (recorded, never
  fitted) so those samples are still measured at occupancy N; every sample
  records ``in_flight``, the fewest requests in flight during its life, and a
  fit at occupancy N uses only samples at N. The server's own queue time,
  where reported, is recorded and subtracted by the fits.
- ``warmup`` requests first (first connection, lazy loading), one at a time,
  recorded with status ``warmup`` and never fitted.
- The samples are sent in an order shuffled by ``numpy.random.default_rng(seed)``,
  so slow drift (thermal, other tenants) spreads over every shape instead of
  biasing one.
- Resumable: every attempt is appended to the samples file; a rerun sends only
  samples without an ``ok`` record (see :mod:`benchmarks.samples`).
- One failed sample never stops the sweep: every failed attempt is recorded as
  ``failed`` with its reason. A retryable :class:`~benchmarks.errors.BackendError`
  (timeout, broken or malformed stream, refused or reset connection,
  429/503/498, other 5xx) is sent again with a fresh prompt after a wait: the
  server's ``retry-after`` when it gives one (up to ``max_retry_after_s``),
  else exponential backoff ``min(backoff_cap_s, backoff_base_s * 2**k)``; at
  most ``max_attempts`` per sample per run. A non-retryable one (a 4xx) gives
  the sample up at once. Only ``max_consecutive_give_ups`` samples given up in
  a row stop the sweep (the server is gone: ``SweepSummary.aborted``), rather
  than grinding on.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from benchmarks.clock import Clock, RealClock
from benchmarks.errors import BackendError, BackendRateLimited
from benchmarks.protocol import MODES, Backend, RequestSpec
from benchmarks.samples import MemoryStore, SampleRecord, SampleStore
from dimensioning.errors import InvalidInput

__all__ = ["FLOOR_BUCKET", "MAX_CONCURRENCY", "SweepPlan", "PlannedSample", "SweepSummary", "plan_samples", "run_sweep", "sample_id"]

_WARMUP_NONCE_BASE = 1 << 40  # warm-up nonces never meet sample nonces
_FILLER_NONCE_BASE = 1 << 42  # nor do fillers'
MAX_CONCURRENCY = 256
FLOOR_BUCKET = 0


@dataclass(frozen=True)
class SweepPlan:
    """What to measure and how patiently.

    ``buckets``: prompt lengths (tokens) to send, one per compiled bucket;
    ``outputs``: output lengths (tokens); ``repeats``: samples per shape and
    mode; ``modes``: ``streamed`` and/or ``non-streamed``; ``concurrency``:
    requests in flight (1 = one at a time).
    """

    buckets: tuple[int, ...]
    outputs: tuple[int, ...]
    repeats: int = 10
    warmup: int = 2
    seed: int = 0
    max_attempts: int = 4
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    max_retry_after_s: float = 120.0
    floor: bool = True
    max_consecutive_give_ups: int = 3
    modes: tuple[str, ...] = ("streamed",)
    concurrency: int = 1

    def __post_init__(self) -> None:
        if not self.buckets or any(b < 1 for b in self.buckets):
            raise InvalidInput("buckets", list(self.buckets), "give one or more prompt lengths >= 1, e.g. 512,1024,2048")
        if len(set(self.buckets)) != len(self.buckets):
            raise InvalidInput("buckets", list(self.buckets), "list each bucket once")
        if not self.outputs or any(o < 1 for o in self.outputs):
            raise InvalidInput("outputs", list(self.outputs), "give one or more output lengths >= 1, e.g. 1,64,256")
        if len(set(self.outputs)) != len(self.outputs):
            raise InvalidInput("outputs", list(self.outputs), "list each output length once")
        if self.repeats < 2:
            raise InvalidInput("repeats", self.repeats, "give at least 2 repeats per shape (an interval needs 2 samples)")
        if self.warmup < 0:
            raise InvalidInput("warmup", self.warmup, "give 0 or more warm-up requests")
        if self.max_attempts < 1:
            raise InvalidInput("max_attempts", self.max_attempts, "give at least 1 attempt per sample")
        if not self.modes or any(m not in MODES for m in self.modes) or len(set(self.modes)) != len(self.modes):
            raise InvalidInput("mode", list(self.modes), "use streamed, non-streamed or both")
        if not 1 <= self.concurrency <= MAX_CONCURRENCY:
            raise InvalidInput("concurrency", self.concurrency, f"give a whole number of requests in flight from 1 to {MAX_CONCURRENCY}")
        if self.max_consecutive_give_ups < 1:
            raise InvalidInput("max_consecutive_give_ups", self.max_consecutive_give_ups, "give 1 or more")

    def binding(self) -> dict[str, Any]:
        """What the samples measure (bound into the samples file); patience settings excluded."""
        return {
            "buckets": list(self.buckets),
            "outputs": list(self.outputs),
            "repeats": self.repeats,
            "seed": self.seed,
            "floor": self.floor,
            "modes": list(self.modes),
            "concurrency": self.concurrency,
        }


@dataclass(frozen=True)
class PlannedSample:
    sample_id: str
    bucket: int  # 0 for a floor sample
    prompt_tokens: int
    output_tokens: int
    repeat: int
    index: int
    mode: str = "streamed"


@dataclass
class SweepSummary:
    """What a run did: counts of this run's records and of the whole file."""

    measured: int = 0
    failed_attempts: int = 0
    gave_up: list[str] = field(default_factory=list)
    skipped_done: int = 0
    warmup: int = 0
    fillers: int = 0
    aborted: bool = False
    last_error: str | None = None


def sample_id(bucket: int, output_tokens: int, repeat: int, mode: str = "streamed") -> str:
    base = f"floor#{repeat}" if bucket == FLOOR_BUCKET else f"{bucket}x{output_tokens}#{repeat}"
    return base if mode == "streamed" else f"ns:{base}"


def plan_samples(plan: SweepPlan) -> list[PlannedSample]:
    """Every sample of the plan, in the shuffled order they are sent."""
    shapes = [(b, o, r) for b in plan.buckets for o in plan.outputs for r in range(plan.repeats)]
    if plan.floor:
        shapes += [(FLOOR_BUCKET, 1, r) for r in range(plan.repeats)]
    full = [(b, o, r, m) for m in plan.modes for (b, o, r) in shapes]
    order = np.random.default_rng(plan.seed).permutation(len(full))
    return [
        PlannedSample(sample_id(b, o, r, m), b, b if b != FLOOR_BUCKET else 1, o, r, index, m)
        for index, (b, o, r, m) in ((int(i), full[int(i)]) for i in order)
    ]


def _nonce(index: int, attempt: int) -> int:
    # Unique per sample and attempt, so a retried sample gets a fresh prompt.
    return index * 1024 + attempt


def _backoff_s(plan: SweepPlan, error: BackendError, failures: int) -> float | None:
    """Seconds to wait before the next attempt, or None to give up this sample."""
    if not error.retryable:
        return None
    if isinstance(error, BackendRateLimited) and error.retry_after_s is not None:
        if error.retry_after_s > plan.max_retry_after_s:
            return None
        return max(0.0, error.retry_after_s)
    return min(plan.backoff_cap_s, plan.backoff_base_s * 2 ** (failures - 1))


class _Occupancy:
    """Requests in flight, and the fewest each open request has seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.active = 0
        self._open: dict[int, int] = {}
        self._next = 0

    def _set(self, active: int) -> None:
        self.active = active
        for key, seen in self._open.items():
            if active < seen:
                self._open[key] = active

    def join(self) -> None:
        with self._lock:
            self._set(self.active + 1)

    def leave(self) -> None:
        with self._lock:
            self._set(self.active - 1)

    def open(self) -> int:
        with self._lock:
            self._next += 1
            self._open[self._next] = self.active
            return self._next

    def close(self, key: int) -> int:
        with self._lock:
            return self._open.pop(key)


class _Run:
    """One run of a sweep: a queue of samples served by ``concurrency`` workers."""

    def __init__(self, backend: Backend, plan: SweepPlan, clock: Clock, attempts: dict[str, int],
                 todo: list[PlannedSample], emit: Callable[[SampleRecord], None], summary: SweepSummary,
                 on_finished: Callable[[], None]) -> None:
        self.backend, self.plan, self.clock, self.attempts = backend, plan, clock, attempts
        self.on_finished = on_finished
        self.queue: deque[PlannedSample] = deque(todo)
        self.emit, self.summary = emit, summary
        self.lock = threading.Lock()
        self.occupancy = _Occupancy()
        self.real_in_flight = 0
        self.consecutive_give_ups = 0
        self.stop = False
        self.fillers = 0
        self.shapes = todo[:]  # fillers cycle through the plan's shapes
        self.start: threading.Barrier | None = threading.Barrier(plan.concurrency) if plan.concurrency > 1 else None

    def _take(self) -> PlannedSample | None:
        with self.lock:
            if self.stop or not self.queue:
                return None
            self.real_in_flight += 1
            return self.queue.popleft()

    def _finished(self, gave_up: bool, sample: PlannedSample) -> None:
        with self.lock:
            self.real_in_flight -= 1
            if gave_up:
                self.summary.gave_up.append(sample.sample_id)
                self.consecutive_give_ups += 1
                if self.consecutive_give_ups >= self.plan.max_consecutive_give_ups:
                    self.stop = True
                    self.summary.aborted = True
            else:
                self.consecutive_give_ups = 0
            self.on_finished()

    def work(self) -> None:
        self.occupancy.join()
        if self.start is not None:
            self.start.wait()  # every worker counted in flight before the first request: N from the start
        try:
            while True:
                sample = self._take()
                if sample is not None:
                    self._finished(not self._serve(sample), sample)
                    continue
                with self.lock:
                    keep_full = self.plan.concurrency > 1 and self.real_in_flight > 0 and not self.stop
                    number = self.fillers
                    self.fillers += 1 if keep_full else 0
                if not keep_full:
                    return
                self._filler(number)
        finally:
            self.occupancy.leave()

    def _filler(self, number: int) -> None:
        shape = self.shapes[number % len(self.shapes)]
        spec = RequestSpec(f"filler#{number}", shape.prompt_tokens, shape.output_tokens, _FILLER_NONCE_BASE + number, shape.mode)  # type: ignore[arg-type]
        try:
            measurement = self.backend.measure(spec)
        except BackendError:
            return  # a filler only keeps the others company
        self.emit(SampleRecord(spec.sample_id, shape.bucket, shape.prompt_tokens, shape.output_tokens, -1, 1, "filler",
                               measurement, mode=shape.mode))

    def _serve(self, sample: PlannedSample) -> bool:
        """Send ``sample`` until it is measured (True) or given up (False)."""
        failures = 0
        attempt = self.attempts.get(sample.sample_id, 0)
        while True:
            attempt += 1
            spec = RequestSpec(sample.sample_id, sample.prompt_tokens, sample.output_tokens, _nonce(sample.index, attempt), sample.mode)  # type: ignore[arg-type]
            key = self.occupancy.open()
            try:
                measurement = self.backend.measure(spec)
            except BackendError as exc:
                self.occupancy.close(key)
                failures += 1
                error = {"type": type(exc).__name__, "message": str(exc)[:300], "retryable": exc.retryable}
                self.emit(SampleRecord(sample.sample_id, sample.bucket, sample.prompt_tokens, sample.output_tokens,
                                       sample.repeat, attempt, "failed", None, error, mode=sample.mode))
                wait = _backoff_s(self.plan, exc, failures)
                with self.lock:
                    self.summary.failed_attempts += 1
                    self.summary.last_error = f"{type(exc).__name__}: {exc}"
                if failures >= self.plan.max_attempts or wait is None:
                    return False
                self.occupancy.leave()  # a worker waiting out a backoff has nothing in flight
                try:
                    self.clock.sleep(wait)
                finally:
                    self.occupancy.join()
                continue
            in_flight = self.occupancy.close(key)
            self.emit(SampleRecord(sample.sample_id, sample.bucket, sample.prompt_tokens, sample.output_tokens,
                                   sample.repeat, attempt, "ok", measurement, mode=sample.mode, in_flight=in_flight))
            with self.lock:
                self.summary.measured += 1
            return True


def _warm_up(backend: Backend, plan: SweepPlan, todo: list[PlannedSample], store: SampleStore | MemoryStore,
             warmups_before: int, summary: SweepSummary) -> None:
    for w in range(plan.warmup):
        first = todo[w % len(todo)]
        number = warmups_before + w
        spec = RequestSpec(f"warmup#{number}", first.prompt_tokens, first.output_tokens, _WARMUP_NONCE_BASE + number, first.mode)  # type: ignore[arg-type]
        try:
            measurement = backend.measure(spec)
        except BackendError:
            continue  # a failed warm-up still warmed the path; the samples' own failures are recorded
        store.append(SampleRecord(spec.sample_id, first.bucket, first.prompt_tokens, first.output_tokens, -1, 1, "warmup",
                                  measurement, mode=first.mode))
        summary.warmup += 1


def run_sweep(
    backend: Backend,
    plan: SweepPlan,
    store: SampleStore | MemoryStore,
    clock: Clock | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepSummary:
    """Send every sample of ``plan`` that ``store`` lacks; append each attempt to it.

    ``on_progress(done, total)`` is called after each finished sample. Backend
    errors never escape: they are recorded (see the module docstring).
    """
    clock = clock if clock is not None else RealClock()
    if plan.concurrency > 1 and not getattr(backend, "concurrent", False):
        raise InvalidInput(
            "concurrency", plan.concurrency,
            f"the {getattr(backend, 'name', 'given')} backend measures one request at a time (it has no model of"
            " occupancy); measure occupancy against a real server (--backend openai) or use --concurrency 1",
        )
    summary = SweepSummary()
    previous = store.records()
    done = {r.sample_id for r in previous if r.status == "ok"}
    attempts: dict[str, int] = {}
    for record in previous:
        attempts[record.sample_id] = max(attempts.get(record.sample_id, 0), record.attempt)
    warmups_before = sum(1 for r in previous if r.status == "warmup")

    planned = plan_samples(plan)
    todo = [s for s in planned if s.sample_id not in done]
    summary.skipped_done = len(planned) - len(todo)
    total = len(planned)
    progress = {"finished": summary.skipped_done}
    if on_progress is not None:
        on_progress(progress["finished"], total)
    if not todo:
        return summary
    _warm_up(backend, plan, todo, store, warmups_before, summary)

    def record(item: SampleRecord) -> None:
        store.append(item)
        if item.status == "filler":
            summary.fillers += 1

    def finished() -> None:  # called under the run's lock
        progress["finished"] += 1
        if on_progress is not None:
            on_progress(progress["finished"], total)

    if plan.concurrency == 1:
        run = _Run(backend, plan, clock, attempts, todo, record, summary, finished)
        run.work()
        return summary

    records: queue.Queue[SampleRecord] = queue.Queue()
    run = _Run(backend, plan, clock, attempts, todo, records.put, summary, finished)
    crashed: list[BaseException] = []

    def worker() -> None:
        try:
            run.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
            crashed.append(exc)
            with run.lock:
                run.stop = True

    threads = [threading.Thread(target=worker, name=f"sweep-worker-{i}", daemon=True) for i in range(plan.concurrency)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads) or not records.empty():
        try:
            record(records.get(timeout=0.05))
        except queue.Empty:
            continue
    for thread in threads:
        thread.join()
    if crashed:
        raise crashed[0]
    return summary
