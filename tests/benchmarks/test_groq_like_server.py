"""The openai backend over real loopback sockets against a Groq-shaped server.

Checks the whole path that GroqCloud takes: no tokenize endpoint (prompt
lengths calibrated from usage), ``x_groq.usage`` on the final stream chunk,
queue time subtracted, 429 ``retry-after`` honoured, 503/498 backed off, a
stream cut halfway recorded as a failed attempt and retried, the API key sent
only in the Authorization header.
"""

from __future__ import annotations

import pytest

from benchmarks.fit import fit_samples
from benchmarks.openai_backend import OpenAIBackend
from benchmarks.protocol import RequestSpec
from benchmarks.samples import MemoryStore
from benchmarks.sweep import SweepPlan, plan_samples, run_sweep
from tests.benchmarks.groq_like_server import PREFILL_RATE, QUEUE_S, prompt_tokens_of, serve_groq_like


def test_stream_with_x_groq_usage(monkeypatch):
    monkeypatch.setenv("LPUPLAN_TEST_GROQ_KEY", "gsk-secret")
    with serve_groq_like() as (url, server):
        with OpenAIBackend(url, "llama-3.3-70b-versatile", api_key_env="LPUPLAN_TEST_GROQ_KEY") as backend:
            m = backend.measure(RequestSpec("a", 400, 12, nonce=1))
            assert backend.describe()["tokenizer"] == "calibrated from usage"
    assert m.completion_tokens == 12 and len(m.token_ns) == 12
    assert m.server.source == "groq" and m.server.queue_s == QUEUE_S
    assert m.server.prompt_s == pytest.approx(m.prompt_tokens / PREFILL_RATE)
    assert m.prompt_tokens == pytest.approx(400, abs=3)  # calibrated: 7 template tokens + 1 per 4 characters
    assert m.service_s == pytest.approx(m.e2el_s - QUEUE_S)
    assert all(r["authorization"] == "Bearer gsk-secret" for r in server.requests)
    assert server.requests[-1]["body"]["stream_options"] == {"include_usage": True}
    assert "ignore_eos" not in server.requests[-1]["body"] and "logit_bias" not in server.requests[-1]["body"]


def test_refusals_and_a_cut_stream_are_retried_and_never_measured():
    plan = SweepPlan((256, 1024), (4,), repeats=2, warmup=0, backoff_base_s=0.01, floor=False)
    with serve_groq_like() as (url, server):
        with OpenAIBackend(url, "m", api_key_env=None) as backend:
            backend.prepare()
            server.script = ["429", "cut", "503", "498"]
            store = MemoryStore()
            summary = run_sweep(backend, plan, store)
    first = plan_samples(plan)[0].sample_id
    records = [r for r in store.records() if r.sample_id == first]
    assert [(r.status, r.error["type"] if r.error else None) for r in records] == [
        ("failed", "BackendRateLimited"), ("failed", "BackendStreamBroken"), ("failed", "BackendRateLimited"),
        ("failed", "BackendRateLimited"),
    ]
    assert summary.gave_up == [first]  # 4 attempts, all failed
    ok = [r for r in store.records() if r.status == "ok"]
    assert len(ok) == 3 and all(r.measurement is not None for r in ok)
    assert all(r.measurement is None for r in store.records() if r.status == "failed")


def test_fit_through_groq_server_timings():
    plan = SweepPlan((256, 1024), (1, 8), repeats=3, warmup=1)
    with serve_groq_like() as (url, _):
        with OpenAIBackend(url, "m", api_key_env=None) as backend:
            store = MemoryStore()
            run_sweep(backend, plan, store)
    fit = fit_samples(store.records())
    assert fit.prefill_method.startswith("server")
    for bucket in fit.r_prefill:
        assert bucket.rate.value == pytest.approx(PREFILL_RATE, rel=1e-9)
    assert fit.r_decode_server.value == pytest.approx(5000.0, rel=1e-9)
    assert fit.l_fixed_s.value > 0
    prompts = [r.measurement.prompt_tokens for r in store.records() if r.status == "ok" and r.bucket == 1024]
    assert all(abs(p - 1024) <= 4 for p in prompts)
    assert prompt_tokens_of("x" * 4) == 8
