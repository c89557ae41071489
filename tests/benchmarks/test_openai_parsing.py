"""OpenAI-compatible boundary: error mapping, Groq and llama.cpp fields, prompts.

Groq bodies follow the GroqCloud API reference (console.groq.com/docs/api-reference;
shape: github.com/groq/groq-python
types/completion_usage.py); the llama.cpp body follows llama-server's
documented ``timings`` object.
"""

from __future__ import annotations

import inspect
import json

import httpx
import pytest

from benchmarks import errors
from benchmarks.errors import (
    BackendError,
    BackendHTTPError,
    BackendRateLimited,
    BackendStreamBroken,
    BackendTimeout,
    BackendUnavailable,
)
from benchmarks.openai_backend import error_for_status, translate_httpx_error, _public_endpoint
from benchmarks.prompts import PromptBuilder
from benchmarks.server_fields import merge_reports, parse_server_report

GROQ_NON_STREAMING = json.loads(
    """{"id": "chatcmpl-f51b2cd2-bef7-417e-964e-a08f0b513c22", "object": "chat.completion",
    "created": 1730241104, "model": "llama-3.3-70b-versatile",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Fast language models ..."},
                 "logprobs": null, "finish_reason": "stop"}],
    "usage": {"queue_time": 0.265612444, "prompt_tokens": 41, "prompt_time": 0.012792436,
              "completion_tokens": 27, "completion_time": 0.055172062, "total_tokens": 68,
              "total_time": 0.067964498},
    "system_fingerprint": "fp_179b0f92c9", "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"}}"""
)

GROQ_FINAL_CHUNK = json.loads(
    """{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1730241104,
    "model": "llama-3.3-70b-versatile",
    "choices": [{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "length"}],
    "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w",
               "usage": {"queue_time": 0.061348671, "prompt_tokens": 18, "prompt_time": 0.000211569,
                         "completion_tokens": 439, "completion_time": 0.798181818, "total_tokens": 457,
                         "total_time": 0.798393387, "sram_cached_tokens": 0, "dram_cached_tokens": 0}}}"""
)

LLAMA_CPP_BODY = {
    "content": " world",
    "stop": True,
    "timings": {
        "cache_n": 0, "prompt_n": 512, "prompt_ms": 30.5, "prompt_per_token_ms": 0.0596, "prompt_per_second": 16786.9,
        "predicted_n": 64, "predicted_ms": 400.0, "predicted_per_token_ms": 6.25, "predicted_per_second": 160.0,
    },
}


def test_groq_non_streaming_usage():
    report = parse_server_report(GROQ_NON_STREAMING)
    assert (report.prompt_tokens, report.completion_tokens) == (41, 27)
    t = report.timings
    assert t is not None and t.source == "groq"
    assert (t.queue_s, t.prompt_s, t.completion_s, t.total_s) == (0.265612444, 0.012792436, 0.055172062, 0.067964498)
    assert t.total_s == pytest.approx(t.prompt_s + t.completion_s)  # queue excluded, as documented


def test_groq_final_stream_chunk_x_groq_usage():
    earlier = parse_server_report({"choices": [{"delta": {"content": "hi"}}]})
    report = merge_reports(earlier, parse_server_report(GROQ_FINAL_CHUNK))
    assert (report.prompt_tokens, report.completion_tokens, report.cached_tokens) == (18, 439, 0)
    assert report.timings.queue_s == 0.061348671
    assert report.timings.prompt_s == 0.000211569
    assert report.timings.completion_s == 0.798181818


def test_cached_tokens_from_usage_details_and_groq_tiers():
    body = {"usage": {"prompt_tokens": 100, "completion_tokens": 5, "prompt_tokens_details": {"cached_tokens": 64}}}
    assert parse_server_report(body).cached_tokens == 64
    tiers = {"x_groq": {"usage": {"prompt_tokens": 100, "sram_cached_tokens": 30, "dram_cached_tokens": 40}}}
    assert parse_server_report(tiers).cached_tokens == 70


def test_llama_cpp_timings():
    report = parse_server_report(LLAMA_CPP_BODY)
    t = report.timings
    assert t is not None and t.source == "llama.cpp"
    assert t.prompt_s == pytest.approx(0.0305) and t.completion_s == pytest.approx(0.4)
    assert (t.prompt_n, t.completion_n, report.cached_tokens) == (512, 64, 0)
    assert (report.prompt_tokens, report.completion_tokens) == (512, 64)


def test_body_without_fields_reports_nothing():
    report = parse_server_report({"choices": [{"text": "x"}]})
    assert report.prompt_tokens is None and report.timings is None and report.cached_tokens is None


def _httpx_exception_classes():
    return sorted(
        {obj for _, obj in inspect.getmembers(httpx) if inspect.isclass(obj) and issubclass(obj, Exception)},
        key=lambda c: c.__name__,
    )


def _instance(cls):
    request = httpx.Request("POST", "http://127.0.0.1:1/v1/completions")
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("boom", request=request, response=httpx.Response(503, headers={"retry-after": "2"}, request=request))
    for args, kwargs in ((("boom",), {"request": request}), (("boom",), {}), ((), {})):
        try:
            return cls(*args, **kwargs)
        except TypeError:
            continue
    raise AssertionError(f"cannot build {cls.__name__}")


@pytest.mark.parametrize("cls", _httpx_exception_classes(), ids=lambda c: c.__name__)
def test_every_httpx_error_maps_to_a_specific_backend_error(cls):
    mapped = translate_httpx_error(_instance(cls))
    assert isinstance(mapped, BackendError) and type(mapped) is not BackendError
    assert "Bearer" not in str(mapped)


@pytest.mark.parametrize(
    "cls, expected",
    [
        (httpx.ConnectTimeout, BackendTimeout),
        (httpx.ReadTimeout, BackendTimeout),
        (httpx.ConnectError, BackendUnavailable),
        (httpx.RemoteProtocolError, BackendStreamBroken),
        (httpx.ReadError, BackendStreamBroken),
    ],
)
def test_transport_errors_map_to_retryable_kinds(cls, expected):
    mapped = translate_httpx_error(_instance(cls))
    assert type(mapped) is expected and mapped.retryable


def test_every_backend_error_is_documented_in_the_tree():
    doc = errors.__doc__
    for name in errors.__all__:
        assert name in doc


@pytest.mark.parametrize(
    "status, expected, retryable",
    [(429, BackendRateLimited, True), (503, BackendRateLimited, True), (498, BackendRateLimited, True),
     (408, BackendTimeout, True), (500, BackendUnavailable, True), (400, BackendHTTPError, False),
     (401, BackendHTTPError, False), (404, BackendHTTPError, False)],
)
def test_status_codes(status, expected, retryable):
    error = error_for_status(status, "{}", retry_after="1.5")
    assert type(error) is expected and error.retryable is retryable
    if expected is BackendRateLimited:
        assert error.retry_after_s == 1.5


def test_endpoint_recorded_without_credentials():
    assert _public_endpoint("https://user:secret@api.groq.com/openai/v1?key=abc") == "https://api.groq.com/openai/v1"


def _byte_tokenizer_with_merges(text: str) -> int:
    """A stand-in tokenizer: one BOS, one token per byte, 'th' and 'in' merged."""
    return 1 + len(text.encode()) - text.count("th") - text.count("in")


@pytest.mark.parametrize("target", [1, 2, 17, 64, 513, 2048])
def test_prompt_builder_hits_exact_counts(target):
    builder = PromptBuilder(_byte_tokenizer_with_merges)
    text, count = builder.build(target, nonce=target)
    assert count == target == _byte_tokenizer_with_merges(text) or (target == 1 and count == 2)


def test_prompts_are_unique_from_their_first_token():
    builder = PromptBuilder(_byte_tokenizer_with_merges)
    texts = [builder.build(128, nonce=n)[0] for n in range(200)]
    assert len(set(texts)) == 200
    assert all(a[0] != b[0] for a, b in zip(texts, texts[1:]))


def test_calibration_without_tokenizer():
    builder = PromptBuilder(None)
    builder.calibrate(lambda text: 7 + len(text) // 4)  # a chat template of 7 tokens, 4 chars per token
    assert builder.overhead == pytest.approx(7, abs=1)
    text, count = builder.build(1000, nonce=1)
    assert count is None
    assert 7 + len(text) // 4 == pytest.approx(1000, abs=3)


def test_api_key_is_never_in_what_the_backend_describes_or_raises(monkeypatch):
    import json as _json

    from benchmarks.openai_backend import OpenAIBackend

    monkeypatch.setenv("LPUPLAN_TEST_KEY", "sk-very-secret")
    with OpenAIBackend("http://127.0.0.1:9/v1", "m", api_key_env="LPUPLAN_TEST_KEY") as backend:
        assert "sk-very-secret" not in _json.dumps(backend.describe())
        assert backend.describe()["api_key_env"] == "LPUPLAN_TEST_KEY"
        with pytest.raises(BackendError) as info:
            backend.prepare()  # nothing listens on port 9
        assert "sk-very-secret" not in str(info.value)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(target=st.integers(2, 3000), nonce=st.integers(0, 2**40), overhead=st.integers(0, 1))
def test_prompt_builder_exact_for_any_target(target, nonce, overhead):
    # overhead 1: the tokenizer does not count a BOS that the request adds.
    count = (lambda text: _byte_tokenizer_with_merges(text) - 1) if overhead else _byte_tokenizer_with_merges
    builder = PromptBuilder(count, overhead=overhead)
    text, expected = builder.build(target, nonce)
    assert expected == target == count(text) + overhead
