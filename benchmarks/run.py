"""One call from a backend to a profile: sweep, fit, build (what ``lpuplan bench`` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from benchmarks.clock import Clock
from benchmarks.errors import BackendError
from benchmarks.fit import FitResult, fit_samples
from benchmarks.profile_writer import build_profile
from benchmarks.protocol import Backend
from benchmarks.samples import MemoryStore, SampleStore
from benchmarks.sweep import FLOOR_BUCKET, SweepPlan, SweepSummary, run_sweep

__all__ = ["BenchResult", "SweepAborted", "measure_profile"]


class SweepAborted(BackendError):
    """The sweep stopped: too many samples in a row failed every attempt."""


@dataclass(frozen=True)
class BenchResult:
    profile: dict[str, Any]
    fit: FitResult
    summary: SweepSummary


def measure_profile(
    backend: Backend,
    plan: SweepPlan,
    store: SampleStore | MemoryStore,
    artifact: dict[str, Any] | None = None,
    clock: Clock | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    created: str | None = None,
    samples_ref: str | None = None,
) -> BenchResult:
    """Run (or resume) the sweep into ``store``, fit every ``ok`` record, build the profile.

    ``samples_ref`` is the samples path as the profile should record it
    (default: the store's path). Raises the backend's error if ``prepare()``
    fails, and SweepAborted when the server stops answering mid-sweep.
    Only the plan's buckets and output lengths are fitted, so samples of an
    earlier, different plan in the same file do not leak in.
    """
    prepare = getattr(backend, "prepare", None)
    if prepare is not None:
        prepare()  # fail fast on an unreachable or misconfigured server
    summary = run_sweep(backend, plan, store, clock=clock, on_progress=on_progress)
    if summary.aborted:
        raise SweepAborted(
            f"{len(summary.gave_up)} samples failed every attempt, {plan.max_consecutive_give_ups} in a row"
            f" (last error: {summary.last_error}); the samples so far are kept: rerun to resume"
        )
    records = [
        r for r in store.records()
        if (r.bucket in plan.buckets and r.output_tokens in plan.outputs) or (plan.floor and r.bucket == FLOOR_BUCKET)
    ]
    fit = fit_samples(records)
    counts = {
        "failed": sum(1 for r in records if r.status == "failed"),
        "warmup": sum(1 for r in store.records() if r.status == "warmup"),
        "gave_up_this_run": len(summary.gave_up),
    }
    profile = build_profile(
        fit,
        artifact=artifact or {},
        backend=backend.describe(),
        samples_path=samples_ref or (str(store.path) if store.path is not None else None),
        sample_counts=counts,
        created=created,
    )
    return BenchResult(profile, fit, summary)
