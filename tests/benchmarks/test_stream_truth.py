"""A token is an event in the stream, whatever its text; a sample is good only when the stream ended as the protocol says.

Against a loopback server (tests/benchmarks/openai_like_server.py) that sends
the stream shapes real servers send: coalesced chunks, empty-text chunks (byte
tokens), a usage-only final chunk, a role chunk first (chat), a stream cut
after its finish reason but before its usage chunk, a malformed chunk.
"""

from __future__ import annotations

import pytest

from benchmarks.errors import BackendMalformedStream, BackendStreamBroken
from benchmarks.openai_backend import OpenAIBackend
from benchmarks.protocol import Measurement, RequestSpec
from benchmarks.samples import MemoryStore
from benchmarks.stream import StreamExpectations, StreamReader
from benchmarks.sweep import SweepPlan, plan_samples, run_sweep
from tests.benchmarks.openai_like_server import serve_openai_like


def _measure(server_setup: dict, request: RequestSpec, api: str = "completions", with_server: bool = False):
    with serve_openai_like() as (url, server):
        for key, value in server_setup.items():
            setattr(server, key, value)
        with OpenAIBackend(url, "m", api_key_env=None, api=api, tokenizer="none") as backend:
            m = backend.measure(request)
            if with_server:
                return m, backend.describe(), server
            return m, backend.describe()


@pytest.mark.parametrize("api", ["completions", "chat"])
@pytest.mark.parametrize("text", ["letters", "empty", "mixed"])
def test_every_chunk_is_a_token_whatever_its_text(text, api):
    m, described = _measure({"text": text}, RequestSpec("a", 40, 12, nonce=1), api)
    assert m.completion_tokens == 12 and len(m.token_ns) == 12
    assert list(m.token_ns) == sorted(m.token_ns) and m.first_token_ns == m.token_ns[0] > m.sent_ns
    assert described["stream_end"] == {"usage": True, "done": True}


@pytest.mark.parametrize("per_chunk", [8, 12, 24])
def test_coalesced_chunks_take_the_count_from_usage_and_do_not_bias_tpot(per_chunk):
    m, _, server = _measure({"per_chunk": per_chunk, "token_gap_s": 0.006}, RequestSpec("a", 40, 24, nonce=2), with_server=True)
    assert m.completion_tokens == 24 and len(m.token_ns) == 24 // per_chunk
    made = server.token_times[-1]  # the server's own clock: when each of the 24 tokens was made
    true_gap = (made[-1] - made[0]) / 23
    if per_chunk < 24:
        # 24 tokens in e chunks: the first chunk holds 24/e of them, so the span covers 24 (e-1)/e tokens
        assert m.tpot_s == pytest.approx(true_gap, rel=0.15)
        naive = (m.token_ns[-1] - m.token_ns[0]) / 1e9 / 23
        assert naive < 0.8 * true_gap  # what counting n - 1 gaps would have said
    else:
        assert m.tpot_s is None  # one event: no inter-token time to measure


def test_without_usage_the_count_is_the_number_of_events():
    m, described = _measure({"usage": "none", "per_chunk": 2}, RequestSpec("a", 40, 8, nonce=3))
    # no usage, but finish_reason "length": the server made exactly max_tokens, whatever the 4 events say
    assert m.completion_tokens == 8 and m.count_source == "finish_reason=length" and len(m.token_ns) == 4
    assert described["stream_end"] == {"usage": False, "done": True}


def test_a_stream_cut_after_finish_but_before_its_usage_chunk_is_a_failed_sample():
    plan = SweepPlan((64,), (6,), repeats=2, warmup=0, floor=False, backoff_base_s=0.01)
    with serve_openai_like() as (url, server):
        with OpenAIBackend(url, "m", api_key_env=None, tokenizer="none") as backend:
            backend.prepare()  # learns: this server sends a usage chunk and [DONE]
            server.script = ["cut_before_usage", "malformed"]
            store = MemoryStore()
            summary = run_sweep(backend, plan, store)
    first = plan_samples(plan)[0].sample_id
    attempts = [r for r in store.records() if r.sample_id == first]
    assert [(r.status, r.error["type"] if r.error else None) for r in attempts] == [
        ("failed", "BackendStreamBroken"), ("failed", "BackendMalformedStream"), ("ok", None)
    ]
    assert "before its usage chunk" in attempts[0].error["message"]
    assert summary.measured == 2 and not summary.gave_up


def test_server_errors_are_failed_samples_that_are_retried():
    plan = SweepPlan((64,), (4,), repeats=2, warmup=0, floor=False, backoff_base_s=0.01)
    with serve_openai_like() as (url, server):
        with OpenAIBackend(url, "m", api_key_env=None, tokenizer="none") as backend:
            backend.prepare()
            server.script = ["500", "429"]
            store = MemoryStore()
            summary = run_sweep(backend, plan, store)
    kinds = [r.error["type"] for r in store.records() if r.status == "failed"]
    assert kinds == ["BackendUnavailable", "BackendRateLimited"] and summary.measured == 2


def _feed(lines: list[str]) -> StreamReader:
    reader = StreamReader()
    for t, line in enumerate(lines):
        if reader.feed(line, 1000 + t):
            break
    return reader


def test_reader_multi_line_data_and_comments():
    reader = _feed([": keep-alive", 'data: {"choices": [{"index": 0,', 'data: "text": "a"}]}', "",
                    'data: {"choices": [{"index": 0, "text": "", "finish_reason": "stop"}], "usage": {"completion_tokens": 1}}',
                    "data: [DONE]"])
    result = reader.finish(StreamExpectations(usage=True, done=True))
    assert result.token_ns == [1001] and result.report.completion_tokens == 1 and result.finish_reason == "stop"


@pytest.mark.parametrize(
    "lines, expect, error, needle",
    [
        (['data: {"choices": [{"text": "a"}]}'], StreamExpectations(), BackendStreamBroken, "before its finish reason"),
        (['data: {"choices": [{"text": "a", "finish_reason": "length"}]}'], StreamExpectations(usage=True), BackendStreamBroken, "usage"),
        (['data: {"choices": [{"text": "a", "finish_reason": "length"}]}', 'data: {"choices": [], "usage": {"completion_tokens": 1}}'],
         StreamExpectations(usage=True, done=True), BackendStreamBroken, "[DONE]"),
        (['data: {"choices": [{"text": "", "finish_reason": "stop"}]}', "data: [DONE]"], StreamExpectations(), BackendStreamBroken, "without any output"),
        (['data: [1, 2]'], StreamExpectations(), BackendMalformedStream, "not a JSON object"),
        (['data: {"choices": "x"}'], StreamExpectations(), BackendMalformedStream, "not a list"),
        (['data: {"error": {"message": "overloaded"}}'], StreamExpectations(), BackendStreamBroken, "overloaded"),
    ],
)
def test_reader_refuses_streams_that_did_not_end_as_the_protocol_says(lines, expect, error, needle):
    with pytest.raises(error) as info:
        _feed(lines).finish(expect)
    assert needle in str(info.value)


def test_server_figures_that_are_not_finite_are_not_reported():
    from benchmarks.server_fields import parse_server_report

    report = parse_server_report({"usage": {"prompt_tokens": float("nan"), "completion_tokens": -3, "queue_time": float("inf"),
                                            "prompt_time": 0.01}})
    assert report.prompt_tokens is None and report.completion_tokens is None
    assert report.timings.queue_s is None and report.timings.prompt_s == 0.01
