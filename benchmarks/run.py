"""One call from a backend to a profile: bind, sweep, fit, build (what ``lpuplan bench`` runs)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from benchmarks.clock import Clock
from benchmarks.errors import BackendError
from benchmarks.fit import FitImpossible, FitResult, StreamingOverhead, fit_samples, fit_streaming_overhead
from benchmarks.profile_writer import build_profile
from benchmarks.protocol import Backend
from benchmarks.samples import MemoryStore, SampleRecord, SampleStore
from benchmarks.sweep import SweepPlan, SweepSummary, plan_samples, run_sweep

__all__ = ["BenchResult", "SweepAborted", "binding_for", "dropped_report", "measure_profile"]


class SweepAborted(BackendError):
    """The sweep stopped: too many samples in a row failed every attempt."""


@dataclass(frozen=True)
class BenchResult:
    profile: dict[str, Any]
    fit: FitResult
    summary: SweepSummary
    fits: dict[str, FitResult]
    streaming_overhead: StreamingOverhead | None = None


def binding_for(backend: Backend, plan: SweepPlan, artifact: dict[str, Any]) -> dict[str, Any]:
    """What a samples file is bound to: endpoint, model, hardware, artifact, mode and sweep plan."""
    described = backend.describe()
    binding: dict[str, Any] = {
        "backend": described.get("name"),
        "endpoint": described.get("endpoint"),
        "model": described.get("model", artifact.get("model")),
        "hardware": artifact.get("hardware"),
        "artifact": artifact.get("id"),
        "mode": "both" if len(plan.modes) > 1 else plan.modes[0],
        "plan": plan.binding(),
    }
    for key in ("api", "truth_sha256"):
        if key in described:
            binding[key] = described[key]
    return binding


def dropped_report(records: list[SampleRecord], plan: SweepPlan) -> dict[str, Any]:
    """Planned samples without a measurement and why (the last error of each), and failed attempts by kind."""
    planned = {s.sample_id for s in plan_samples(plan)}
    ok = {r.sample_id for r in records if r.status == "ok"}
    last_error: dict[str, str] = {}
    attempts: Counter[str] = Counter()
    for r in records:
        if r.status == "failed" and r.sample_id in planned:
            kind = (r.error or {}).get("type", "unknown")
            last_error[r.sample_id] = kind
            attempts[kind] += 1
    dropped = sorted(planned - ok)
    reasons = Counter(last_error.get(sid, "not sent yet") for sid in dropped)
    return {
        "planned": len(planned),
        "dropped": len(dropped),
        "dropped_by_reason": dict(sorted(reasons.items())),
        "dropped_ids": dropped[:20],
        "failed": sum(attempts.values()),
        "failed_by_reason": dict(sorted(attempts.items())),
    }


def measure_profile(
    backend: Backend,
    plan: SweepPlan,
    store: SampleStore | MemoryStore,
    artifact: dict[str, Any] | None = None,
    clock: Clock | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    created: str | None = None,
    samples_ref: str | None = None,
    fresh: bool = False,
) -> BenchResult:
    """Bind the store, run (or resume) the sweep into it, fit every mode, build the profile.

    The store is bound first (:meth:`SampleStore.bind`): a samples file that
    measured another endpoint, model, hardware, artifact, mode or plan is
    refused (BindingMismatch, exit 2) before anything is sent, unless
    ``fresh``. ``samples_ref`` is the samples path as the profile should
    record it (default: the store's path). Raises the backend's error if
    ``prepare()`` fails, SweepAborted when the server stops answering
    mid-sweep, and FitImpossible (with ``.summary`` and ``.dropped``) when
    the samples cannot support a finite fit.
    """
    artifact = artifact or {}
    binding = binding_for(backend, plan, artifact)
    store.bind(binding, fresh=fresh)
    prepare = getattr(backend, "prepare", None)
    if prepare is not None:
        prepare()  # fail fast on an unreachable or misconfigured server
    summary = run_sweep(backend, plan, store, clock=clock, on_progress=on_progress)
    planned = {s.sample_id for s in plan_samples(plan)}
    all_records = store.records()
    records = [r for r in all_records if r.sample_id in planned]
    dropped = dropped_report(all_records, plan)
    if summary.aborted:
        raise SweepAborted(
            f"{len(summary.gave_up)} samples failed every attempt, {plan.max_consecutive_give_ups} in a row"
            f" (last error: {summary.last_error}); the samples so far are kept: rerun to resume"
        )
    try:
        fits = {mode: fit_samples(records, mode=mode, occupancy=plan.concurrency) for mode in plan.modes}
        overhead = fit_streaming_overhead(records, occupancy=plan.concurrency) if len(plan.modes) > 1 else None
    except FitImpossible as exc:
        exc.summary = summary  # type: ignore[attr-defined]
        exc.dropped = dropped  # type: ignore[attr-defined]
        if dropped["dropped"]:
            exc.fix += f" ({dropped['dropped']} of {dropped['planned']} samples dropped: {dropped['dropped_by_reason']})"
        raise
    primary = fits["streamed"] if "streamed" in fits else fits[plan.modes[0]]
    counts = {
        **dropped,
        "warmup": sum(1 for r in all_records if r.status == "warmup"),
        "fillers": sum(1 for r in all_records if r.status == "filler"),
        "gave_up_this_run": len(summary.gave_up),
    }
    profile = build_profile(
        primary,
        artifact=artifact,
        backend=backend.describe(),
        samples_path=samples_ref or (str(store.path) if store.path is not None else None),
        sample_counts=counts,
        created=created,
        fits=fits,
        streaming_overhead=overhead,
        measurement={"modes": list(plan.modes), "concurrency": plan.concurrency, "plan": plan.binding(), "binding": binding},
    )
    return BenchResult(profile, primary, summary, fits, overhead)
