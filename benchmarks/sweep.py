"""Sweeps: buckets x output lengths x repeats, one request at a time.

- Floor samples (``floor``, on by default): ``repeats`` requests of the
  smallest prompt (1 token asked) and 1 output token, recorded with bucket 0.
  They measure the fixed overhead directly where the server reports no
  prompt timings (see :mod:`benchmarks.fit`).
- One request at a time, so queueing never enters a service-time sample; the
  server's own queue time, where reported, is recorded and subtracted by the fits.
- ``warmup`` requests first (first connection, lazy loading), recorded with
  status ``warmup`` and never fitted.
- The samples are sent in an order shuffled by ``numpy.random.default_rng(seed)``,
  so slow drift (thermal, other tenants) spreads over every shape instead of
  biasing one.
- Resumable: every attempt is appended to the samples file; a rerun sends only
  samples without an ``ok`` record (see :mod:`benchmarks.samples`).
- Retries: a retryable :class:`~benchmarks.errors.BackendError` (timeout,
  broken stream, refused connection, 429/503/498) records a ``failed`` line and
  the sample is sent again with a fresh prompt after a wait: the server's
  ``retry-after`` when it gives one (up to ``max_retry_after_s``), else
  exponential backoff ``min(backoff_cap_s, backoff_base_s * 2**k)``; at most
  ``max_attempts`` per sample per run. A non-retryable error stops the sweep
  (raised); so do ``max_consecutive_give_ups`` samples given up in a row (the
  server is gone: ``SweepSummary.aborted``), rather than grinding on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from benchmarks.clock import Clock, RealClock
from benchmarks.errors import BackendError, BackendRateLimited
from benchmarks.protocol import Backend, RequestSpec
from benchmarks.samples import MemoryStore, SampleRecord, SampleStore
from dimensioning.errors import InvalidInput

__all__ = ["FLOOR_BUCKET", "SweepPlan", "PlannedSample", "SweepSummary", "plan_samples", "run_sweep"]

_WARMUP_NONCE_BASE = 1 << 40  # warm-up nonces never meet sample nonces


@dataclass(frozen=True)
class SweepPlan:
    """What to measure and how patiently.

    ``buckets``: prompt lengths (tokens) to send, one per compiled bucket;
    ``outputs``: output lengths (tokens); ``repeats``: samples per shape.
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


@dataclass(frozen=True)
class PlannedSample:
    sample_id: str
    bucket: int  # 0 for a floor sample
    prompt_tokens: int
    output_tokens: int
    repeat: int
    index: int


@dataclass
class SweepSummary:
    """What a run did: counts of this run's records and of the whole file."""

    measured: int = 0
    failed_attempts: int = 0
    gave_up: list[str] = field(default_factory=list)
    skipped_done: int = 0
    warmup: int = 0
    aborted: bool = False
    last_error: str | None = None


FLOOR_BUCKET = 0


def sample_id(bucket: int, output_tokens: int, repeat: int) -> str:
    return f"floor#{repeat}" if bucket == FLOOR_BUCKET else f"{bucket}x{output_tokens}#{repeat}"


def plan_samples(plan: SweepPlan) -> list[PlannedSample]:
    """Every sample of the plan, in the shuffled order they are sent."""
    shapes = [(b, o, r) for b in plan.buckets for o in plan.outputs for r in range(plan.repeats)]
    if plan.floor:
        shapes += [(FLOOR_BUCKET, 1, r) for r in range(plan.repeats)]
    order = np.random.default_rng(plan.seed).permutation(len(shapes))
    return [
        PlannedSample(sample_id(b, o, r), b, b if b != FLOOR_BUCKET else 1, o, r, index)
        for index, (b, o, r) in ((int(i), shapes[int(i)]) for i in order)
    ]


def _nonce(index: int, attempt: int) -> int:
    # Unique per sample and attempt, so a retried sample gets a fresh prompt.
    return index * 1024 + attempt


def _backoff_s(plan: SweepPlan, error: BackendError, failures: int) -> float | None:
    """Seconds to wait before the next attempt, or None to give up this sample."""
    if isinstance(error, BackendRateLimited) and error.retry_after_s is not None:
        if error.retry_after_s > plan.max_retry_after_s:
            return None
        return max(0.0, error.retry_after_s)
    return min(plan.backoff_cap_s, plan.backoff_base_s * 2 ** (failures - 1))


def run_sweep(
    backend: Backend,
    plan: SweepPlan,
    store: SampleStore | MemoryStore,
    clock: Clock | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> SweepSummary:
    """Send every sample of ``plan`` that ``store`` lacks; append each attempt to it.

    ``on_progress(done, total)`` is called after each finished sample.
    Raises the backend's error when it is not retryable (bad model, bad key).
    """
    clock = clock if clock is not None else RealClock()
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
    finished = summary.skipped_done
    if on_progress is not None:
        on_progress(finished, total)
    if not todo:
        return summary

    for w in range(plan.warmup):
        first = todo[w % len(todo)]
        number = warmups_before + w
        spec = RequestSpec(f"warmup#{number}", first.prompt_tokens, first.output_tokens, _WARMUP_NONCE_BASE + number)
        try:
            measurement = backend.measure(spec)
        except BackendError as exc:
            if not exc.retryable:
                raise
            continue  # a failed warm-up still warmed the path
        store.append(SampleRecord(spec.sample_id, first.bucket, first.prompt_tokens, first.output_tokens, -1, 1, "warmup", measurement))
        summary.warmup += 1

    consecutive_give_ups = 0
    for sample in todo:
        failures = 0
        attempt = attempts.get(sample.sample_id, 0)
        while True:
            attempt += 1
            spec = RequestSpec(sample.sample_id, sample.prompt_tokens, sample.output_tokens, _nonce(sample.index, attempt))
            try:
                measurement = backend.measure(spec)
            except BackendError as exc:
                failures += 1
                summary.failed_attempts += 1
                store.append(
                    SampleRecord(
                        sample.sample_id, sample.bucket, sample.prompt_tokens, sample.output_tokens, sample.repeat,
                        attempt, "failed", None, {"type": type(exc).__name__, "message": str(exc)[:300]},
                    )
                )
                if not exc.retryable:
                    raise
                wait = _backoff_s(plan, exc, failures)
                summary.last_error = f"{type(exc).__name__}: {exc}"
                if failures >= plan.max_attempts or wait is None:
                    summary.gave_up.append(sample.sample_id)
                    consecutive_give_ups += 1
                    break
                clock.sleep(wait)
                continue
            store.append(
                SampleRecord(
                    sample.sample_id, sample.bucket, sample.prompt_tokens, sample.output_tokens, sample.repeat,
                    attempt, "ok", measurement,
                )
            )
            summary.measured += 1
            consecutive_give_ups = 0
            break
        finished += 1
        if consecutive_give_ups >= plan.max_consecutive_give_ups:
            summary.aborted = True
            break
        if on_progress is not None:
            on_progress(finished, total)
    return summary
