"""Sweeps: order, warm-up, retries, resumption, failed samples never measured."""

from __future__ import annotations

import dataclasses

import pytest

from benchmarks.clock import VirtualClock
from benchmarks.errors import BackendHTTPError, BackendRateLimited, BackendStreamBroken, BackendTimeout
from benchmarks.fit import fit_samples
from benchmarks.mock import MockBackend
from benchmarks.samples import MemoryStore, SampleStore, read_samples
from benchmarks.sweep import SweepPlan, plan_samples, run_sweep
from dimensioning.errors import InvalidInput
from tests.benchmarks.conftest import make_truth


class Scripted:
    """Wraps the mock: raises the scripted errors for given sample ids, in turn."""

    name = "scripted"

    def __init__(self, inner: MockBackend, script: dict[str, list[Exception]]) -> None:
        self.inner = inner
        self.script = {k: list(v) for k, v in script.items()}
        self.sent: list[tuple[str, int]] = []

    def describe(self):
        return {"name": self.name}

    def measure(self, request):
        self.sent.append((request.sample_id, request.nonce))
        pending = self.script.get(request.sample_id)
        if pending:
            raise pending.pop(0)
        return self.inner.measure(request)


def test_order_is_shuffled_deterministically_and_complete():
    plan = SweepPlan((512, 2048), (1, 64), repeats=5, floor=False)
    order = [s.sample_id for s in plan_samples(plan)]
    assert order == [s.sample_id for s in plan_samples(plan)]
    assert sorted(order) == sorted({f"{b}x{o}#{r}" for b in (512, 2048) for o in (1, 64) for r in range(5)})
    assert order != sorted(order, key=lambda s: (int(s.split("x")[0]), s))
    assert order != [s.sample_id for s in plan_samples(dataclasses.replace(plan, seed=1))]
    with_floor = plan_samples(dataclasses.replace(plan, floor=True))
    floor = [s for s in with_floor if s.bucket == 0]
    assert [s.sample_id for s in floor] != [] and all(s.prompt_tokens == 1 and s.output_tokens == 1 for s in floor)
    assert len(floor) == plan.repeats


def test_every_sample_gets_a_distinct_nonce_and_warmups_are_not_fitted():
    backend = Scripted(MockBackend(make_truth()), {})
    store = MemoryStore()
    summary = run_sweep(backend, SweepPlan((512, 2048), (1, 8), repeats=3, warmup=2, floor=False), store, clock=backend.inner.clock)
    nonces = [n for _, n in backend.sent]
    assert len(set(nonces)) == len(nonces)
    assert summary.warmup == 2 and summary.measured == 12
    statuses = [r.status for r in store.records()]
    assert statuses[:2] == ["warmup", "warmup"] and statuses.count("ok") == 12
    assert fit_samples(store.records()).counts["ok"] == 12


def test_retries_honour_retry_after_then_backoff_and_record_failures():
    inner = MockBackend(make_truth())
    clock: VirtualClock = inner.clock  # type: ignore[assignment]
    plan = SweepPlan((512,), (4,), repeats=2, warmup=0, backoff_base_s=0.5, floor=False)
    first = plan_samples(plan)[0].sample_id
    backend = Scripted(inner, {first: [BackendRateLimited("429", 429, retry_after_s=7.0), BackendTimeout("slow")]})
    store = MemoryStore()
    start = clock.now_ns()
    summary = run_sweep(backend, plan, store, clock=clock)
    records = [r for r in store.records() if r.sample_id == first]
    assert [(r.status, r.attempt) for r in records] == [("failed", 1), ("failed", 2), ("ok", 3)]
    assert records[0].measurement is None and records[0].error["type"] == "BackendRateLimited"
    assert summary.failed_attempts == 2 and summary.measured == 2
    waited = (clock.now_ns() - start) / 1e9
    service = sum(r.measurement.e2el_s for r in store.records() if r.status == "ok")
    assert waited == pytest.approx(7.0 + 1.0 + service, abs=1e-6)  # retry-after, then 0.5 * 2**1
    nonces = [n for sid, n in backend.sent if sid == first]
    assert len(set(nonces)) == 3  # a retry never resends the same prompt


def test_a_sample_that_always_fails_is_given_up_and_never_measured():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512,), (4,), repeats=2, warmup=0, max_attempts=3)
    victim = plan_samples(plan)[1].sample_id
    backend = Scripted(inner, {victim: [BackendStreamBroken("cut")] * 5})
    store = MemoryStore()
    summary = run_sweep(backend, plan, store, clock=inner.clock)
    assert summary.gave_up == [victim]
    assert all(r.status == "failed" for r in store.records() if r.sample_id == victim)
    assert sum(1 for r in store.records() if r.sample_id == victim) == 3


def test_retry_after_beyond_the_bound_gives_up():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512,), (4,), repeats=2, warmup=0, max_retry_after_s=60.0)
    victim = plan_samples(plan)[0].sample_id
    backend = Scripted(inner, {victim: [BackendRateLimited("429", 429, retry_after_s=3600.0)]})
    summary = run_sweep(backend, plan, MemoryStore(), clock=inner.clock)
    assert summary.gave_up == [victim]


def test_a_non_retryable_error_gives_that_sample_up_at_once_and_the_sweep_goes_on():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512,), (4,), repeats=3, warmup=0)
    victim = plan_samples(plan)[0].sample_id
    backend = Scripted(inner, {victim: [BackendHTTPError("HTTP 400: prompt too long", 400)]})
    store = MemoryStore()
    summary = run_sweep(backend, plan, store, clock=inner.clock)
    assert summary.gave_up == [victim] and not summary.aborted
    assert summary.measured == len(plan_samples(plan)) - 1
    failed = [r for r in store.records() if r.status == "failed"]
    assert len(failed) == 1 and failed[0].sample_id == victim
    assert failed[0].error == {"type": "BackendHTTPError", "message": "HTTP 400: prompt too long", "retryable": False}


def test_a_malformed_chunk_fails_one_attempt_and_the_retry_measures_it():
    from benchmarks.errors import BackendMalformedStream

    inner = MockBackend(make_truth())
    plan = SweepPlan((512,), (4,), repeats=2, warmup=0, floor=False)
    victim = plan_samples(plan)[0].sample_id
    backend = Scripted(inner, {victim: [BackendMalformedStream("stream chunk is not JSON: 'data: {'")]})
    store = MemoryStore()
    summary = run_sweep(backend, plan, store, clock=inner.clock)
    assert summary.measured == 2 and not summary.gave_up
    assert [(r.status, r.attempt) for r in store.records() if r.sample_id == victim] == [("failed", 1), ("ok", 2)]


class Interrupted(Exception):
    pass


def test_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    plan = SweepPlan((512, 2048), (1, 8), repeats=4, warmup=1, floor=False)
    path = tmp_path / "s.jsonl"
    inner = MockBackend(make_truth())
    calls = {"n": 0}

    class Dying:
        name = "dying"

        def describe(self):
            return {}

        def measure(self, request):
            calls["n"] += 1
            if calls["n"] > 7:
                raise Interrupted()
            return inner.measure(request)

    with pytest.raises(Interrupted):
        run_sweep(Dying(), plan, SampleStore(path), clock=inner.clock)
    with open(path, "a") as handle:
        handle.write('{"id": "torn')  # a line cut by the kill
    done_before = {r.sample_id for r in read_samples(path) if r.status == "ok"}
    assert len(done_before) == 6
    backend = Scripted(MockBackend(make_truth()), {})
    summary = run_sweep(backend, plan, SampleStore(path), clock=backend.inner.clock)
    assert summary.skipped_done == 6 and summary.measured == 10
    sent = {sid for sid, _ in backend.sent if not sid.startswith("warmup")}
    assert sent.isdisjoint(done_before)
    ok = [r.sample_id for r in read_samples(path) if r.status == "ok"]
    assert len(ok) == len(set(ok)) == 16
    again = run_sweep(backend, plan, SampleStore(path), clock=backend.inner.clock)
    assert again.measured == 0 and again.skipped_done == 16


def test_outlier_is_excluded_and_counted():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512, 2048), (1, 8), repeats=10, warmup=0)
    store = MemoryStore()
    run_sweep(inner, plan, store, clock=inner.clock)
    records = store.records()
    bad = records[0]
    m = bad.measurement
    slow = dataclasses.replace(m, end_ns=m.end_ns + 500_000_000, token_ns=m.token_ns[:-1] + (m.token_ns[-1] + 500_000_000,))
    records[0] = dataclasses.replace(bad, measurement=slow)
    fit = fit_samples(records)
    assert fit.counts["outliers"] == 1
    assert fit.l_fixed_s.value == pytest.approx(0.030, rel=1e-3)


def test_samples_with_cached_prompt_tokens_are_not_prefill_measurements():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512, 2048), (1, 8), repeats=4, warmup=0)
    store = MemoryStore()
    run_sweep(inner, plan, store, clock=inner.clock)
    records = store.records()
    cached = records[0]
    m = cached.measurement
    fast = dataclasses.replace(m, cached_tokens=400, server=dataclasses.replace(m.server, prompt_s=m.server.prompt_s / 10))
    records[0] = dataclasses.replace(cached, measurement=fast)
    fit = fit_samples(records)
    assert fit.counts["cached"] == 1
    bucket = next(b for b in fit.r_prefill if b.bucket == cached.bucket)
    assert bucket.rate.samples == 7
    assert bucket.rate.value == pytest.approx(40000.0 if cached.bucket == 512 else 32000.0, rel=1e-6)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"buckets": ()}, "buckets"),
        ({"buckets": (512, 512)}, "buckets"),
        ({"outputs": (0,)}, "outputs"),
        ({"repeats": 1}, "repeats"),
        ({"warmup": -1}, "warmup"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_plan_rejects_bad_input_naming_the_field(kwargs, field):
    base = {"buckets": (512,), "outputs": (1,)}
    base.update(kwargs)
    with pytest.raises(InvalidInput) as info:
        SweepPlan(**base)
    assert info.value.field == field


def test_virtual_and_real_clock_mock_agree(monkeypatch):
    from benchmarks.clock import RealClock

    truth = make_truth(rates=((512, 400000.0),), r_decode=20000.0, l_fixed_ms=2.0)
    from benchmarks.protocol import RequestSpec

    spec = RequestSpec("a", 512, 20, nonce=3)
    virtual = MockBackend(truth).measure(spec)
    real = MockBackend(truth, clock=RealClock()).measure(spec)
    assert real.e2el_s >= virtual.e2el_s - 1e-9
    assert real.e2el_s == pytest.approx(virtual.e2el_s, abs=0.05)


def test_a_server_that_stops_answering_aborts_the_sweep():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512,), (4,), repeats=10, warmup=0, max_attempts=2, max_consecutive_give_ups=3, floor=False)
    ids = [s.sample_id for s in plan_samples(plan)]
    backend = Scripted(inner, {sid: [BackendTimeout("gone")] * 2 for sid in ids[2:]})
    summary = run_sweep(backend, plan, MemoryStore(), clock=inner.clock)
    assert summary.aborted and summary.measured == 2 and len(summary.gave_up) == 3
    assert "BackendTimeout" in summary.last_error


def test_short_completion_is_fitted_with_its_real_count():
    from benchmarks.protocol import Measurement

    m = Measurement(0, 10, 100, (100, 110, 120, 130), 130, prompt_tokens=512, completion_tokens=4)
    assert m.tpot_s == pytest.approx(10e-9)  # 3 gaps over 4 real tokens, not the 64 asked


def test_a_sample_without_server_timings_is_left_out_of_the_server_fit():
    inner = MockBackend(make_truth())
    plan = SweepPlan((512, 2048), (1, 8), repeats=4, warmup=0)
    store = MemoryStore()
    run_sweep(inner, plan, store, clock=inner.clock)
    records = store.records()
    records[0] = dataclasses.replace(records[0], measurement=dataclasses.replace(records[0].measurement, server=None))
    fit = fit_samples(records)
    assert fit.prefill_method.startswith("server") and fit.counts["without_server_timings"] == 1
    assert fit.l_fixed_s.value == pytest.approx(0.030, rel=1e-6)
