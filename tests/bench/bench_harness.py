"""Speed of the harness itself: a default mock sweep (virtual clock), its fit and profile.

Run: ``python tests/bench/bench_harness.py`` (not collected by pytest).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.fit import fit_samples
from benchmarks.mock import MockBackend, MockTruth
from benchmarks.run import measure_profile
from benchmarks.samples import MemoryStore, SampleStore
from benchmarks.sweep import SweepPlan


def main() -> None:
    truth = MockTruth.model_validate(
        {
            "jitter_cv": 0.05,
            "bucket": [
                {"max_prompt_tokens": p, "r_prefill": r, "r_decode": 280.0, "l_fixed_ms": 30.0}
                for p, r in ((512, 40000.0), (1024, 38000.0), (2048, 32000.0), (8192, 25000.0))
            ],
        }
    )
    plan = SweepPlan((512, 1024, 2048, 8192), (1, 64, 256), repeats=10)
    for label, make_store in (("memory", lambda d: MemoryStore()), ("jsonl", lambda d: SampleStore(Path(d) / "s.jsonl"))):
        with tempfile.TemporaryDirectory() as folder:
            backend = MockBackend(truth)
            store = make_store(folder)
            start = time.perf_counter()
            result = measure_profile(backend, plan, store, clock=backend.clock, created="2026-01-01T00:00:00+00:00")
            total = time.perf_counter() - start
            start = time.perf_counter()
            fit_samples(store.records())
            fit_s = time.perf_counter() - start
            print(f"{label:6s}: default sweep ({result.fit.counts['ok']} samples) + fit + profile {total:.3f} s; fit alone {fit_s:.3f} s")


if __name__ == "__main__":
    main()
