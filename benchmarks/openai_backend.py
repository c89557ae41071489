"""The ``openai`` backend: any OpenAI-compatible streaming endpoint over httpx.

GroqCloud (``https://api.groq.com/openai/v1``), an on-prem Groq API, llama.cpp,
vLLM. One synchronous request at a time (the sweep's concurrency model).

- The API key is read from the environment variable named ``api_key_env`` and
  sent only as the ``Authorization`` header; it, the URL's userinfo and its
  credential-like query values are redacted from every error message and
  every string taken from the server (:mod:`benchmarks.secrets`), so they are
  never logged, printed or written.
- Streamed (``stream_options.include_usage``; the stream's events and its
  ending are read by :mod:`benchmarks.stream`) or non-streamed (timed from
  sending to the last byte of the whole answer); client timestamps from
  ``time.perf_counter_ns`` (the backend's clock): sent, first byte (response
  headers), every output event, end.
- Exact output lengths: ``max_tokens``, plus ``ignore_eos`` when the server
  takes it (vLLM, llama.cpp's C++ server) or a ``logit_bias`` of -100 on the
  end token where its id is given; otherwise the real count is recorded.
- Server timings and counts: :mod:`benchmarks.server_fields`.
- Errors are translated at this boundary (:func:`translate_httpx_error`,
  :func:`error_for_status`) into :mod:`benchmarks.errors`.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Literal

import httpx

from benchmarks.clock import Clock, RealClock
from benchmarks.errors import (
    BackendError,
    BackendHTTPError,
    BackendMalformedStream,
    BackendProtocolError,
    BackendRateLimited,
    BackendStreamBroken,
    BackendTimeout,
    BackendUnavailable,
)
from benchmarks.prompts import PromptBuilder
from benchmarks.protocol import Measurement, RequestSpec
from benchmarks.secrets import Redactor, public_url, split_url
from benchmarks.server_fields import parse_server_report
from benchmarks.stream import StreamExpectations, StreamReader

__all__ = ["OpenAIBackend", "translate_httpx_error", "error_for_status", "HTTPX_ERROR_MAP", "parse_retry_after"]

# Most specific first: translate_httpx_error takes the first isinstance match.
HTTPX_ERROR_MAP: tuple[tuple[type[Exception], type[BackendError]], ...] = (
    (httpx.TimeoutException, BackendTimeout),
    (httpx.ConnectError, BackendUnavailable),
    (httpx.ProxyError, BackendUnavailable),
    (httpx.ReadError, BackendStreamBroken),
    (httpx.WriteError, BackendStreamBroken),
    (httpx.CloseError, BackendStreamBroken),
    (httpx.RemoteProtocolError, BackendStreamBroken),
    (httpx.LocalProtocolError, BackendProtocolError),
    (httpx.UnsupportedProtocol, BackendProtocolError),
    (httpx.DecodingError, BackendProtocolError),
    (httpx.TooManyRedirects, BackendProtocolError),
    (httpx.NetworkError, BackendUnavailable),
    (httpx.ProtocolError, BackendProtocolError),
    (httpx.TransportError, BackendUnavailable),
    (httpx.RequestError, BackendUnavailable),
    (httpx.InvalidURL, BackendProtocolError),
    (httpx.StreamError, BackendProtocolError),
    (httpx.CookieConflict, BackendProtocolError),
)


def parse_retry_after(value: str | None) -> float | None:
    """``retry-after`` in seconds (a number; HTTP dates are not used by these APIs)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if 0 <= seconds < float("inf") else None


def parse_retry_after_headers(retry_after: str | None, retry_after_ms: str | None) -> float | None:
    """Seconds to wait from a 429's headers: ``retry-after-ms`` (finer) where it parses, else ``retry-after``."""
    seconds = parse_retry_after(retry_after)
    if retry_after_ms is not None:
        try:
            seconds = float(retry_after_ms) / 1e3
        except ValueError:
            pass
    return seconds


def error_for_status(
    status: int, body: str, retry_after: str | None = None, redact: Callable[[str], str] = lambda s: s
) -> BackendError:
    """The BackendError for a non-2xx status (body excerpt kept, redacted; headers never)."""
    excerpt = redact(body.strip().replace("\n", " "))[:200]
    message = f"HTTP {status}: {excerpt}"
    if status in (429, 498, 503):
        return BackendRateLimited(message, status=status, retry_after_s=parse_retry_after(retry_after))
    if status in (408, 504):
        return BackendTimeout(message)
    if status >= 500:
        return BackendUnavailable(message)
    return BackendHTTPError(message, status=status)


def translate_httpx_error(exc: Exception, redact: Callable[[str], str] = lambda s: s) -> BackendError:
    """Map an httpx exception to the harness's tree (complete over httpx's exceptions)."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return error_for_status(response.status_code, "", response.headers.get("retry-after"), redact)
    for low, high in HTTPX_ERROR_MAP:
        if isinstance(exc, low):
            return high(redact(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, httpx.HTTPError):
        return BackendProtocolError(redact(f"{type(exc).__name__}: {exc}"))
    raise TypeError(f"not an httpx error: {type(exc).__name__}")


def _public_endpoint(url: str) -> str:
    """The URL without credentials, query or fragment."""
    return public_url(url)


class OpenAIBackend:
    """An OpenAI-compatible server, streamed or not (see the module docstring).

    ``base_url`` ends in ``/v1`` (GroqCloud: ``https://api.groq.com/openai/v1``);
    userinfo in it is sent as basic auth and its query parameters with every
    request, and both are secrets (never printed or written). ``api`` picks
    ``/completions`` (exact prompt tokens) or ``/chat/completions`` (GroqCloud
    has only this one; the chat template's tokens are calibrated away).
    ``tokenizer``: ``auto`` tries llama-cpp-python's ``/extras/tokenize`` and
    llama.cpp's ``/tokenize`` next to ``base_url``, ``none`` calibrates from usage.
    Thread-safe: a fixed-concurrency sweep calls :meth:`measure` from several
    threads (one shared connection pool).
    """

    name = "openai"
    concurrent = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str | None = "OPENAI_API_KEY",
        api: Literal["completions", "chat"] = "completions",
        timeout_s: float = 60.0,
        ignore_eos: bool = False,
        end_token_id: int | None = None,
        tokenizer: Literal["auto", "none"] = "auto",
        clock: Clock | None = None,
        transport: httpx.BaseTransport | None = None,
        max_connections: int = 16,
    ) -> None:
        key = os.environ.get(api_key_env) if api_key_env else None
        self.redact = Redactor.for_backend(key, base_url)
        base, auth, query = split_url(base_url.rstrip("/"))
        self.base_url = base.rstrip("/")
        self.model = model
        self.api = api
        self.api_key_env = api_key_env
        self.ignore_eos = ignore_eos
        self.end_token_id = end_token_id
        self.clock: Clock = clock if clock is not None else RealClock()
        headers = {"accept": "text/event-stream"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers,
            params=query,
            auth=auth,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)),
            transport=transport,
            limits=httpx.Limits(max_connections=max(1, max_connections), max_keepalive_connections=max(1, max_connections)),
        )
        self._tokenize_url: str | None = None
        self._tokenizer_mode = tokenizer
        self.prompts: PromptBuilder | None = None
        self.expect: StreamExpectations | None = None
        self._lock = threading.Lock()

    # --- setup -----------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAIBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "name": self.name,
            "endpoint": public_url(self.base_url),
            "model": self.model,
            "api": self.api,
            "api_key_env": self.api_key_env,
            "tokenizer": "server" if self._tokenize_url else "calibrated from usage",
            "exact_output": "ignore_eos" if self.ignore_eos else ("logit_bias" if self.end_token_id is not None else "max_tokens only"),
        }
        if self.expect is not None:
            described["stream_end"] = {"usage": self.expect.usage, "done": self.expect.done}
        return described

    def _error(self, exc: httpx.HTTPError) -> BackendError:
        return translate_httpx_error(exc, self.redact)

    def _status_error(self, response: httpx.Response) -> BackendError:
        return error_for_status(response.status_code, response.text, response.headers.get("retry-after"), self.redact)

    def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(url, json=body, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        if response.status_code != 200:
            raise self._status_error(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise BackendProtocolError(f"{url}: body is not JSON") from exc
        if not isinstance(data, dict):
            raise BackendProtocolError(f"{url}: body is not a JSON object")
        return data

    def _count_tokens(self, text: str) -> int:
        assert self._tokenize_url is not None
        key = "input" if self._tokenize_url.endswith("/extras/tokenize") else "content"
        data = self._post_json(self._tokenize_url, {key: text, "model": self.model})
        tokens = data.get("tokens")
        if not isinstance(tokens, list):
            raise BackendProtocolError(f"{self._tokenize_url}: no 'tokens' list in the answer")
        return len(tokens)

    def _find_tokenizer(self) -> None:
        if self._tokenizer_mode == "none":
            return
        root = self.base_url[: -len("/v1")] if self.base_url.endswith("/v1") else self.base_url
        for url in (f"{root}/extras/tokenize", f"{root}/tokenize"):
            self._tokenize_url = url
            try:
                self._count_tokens("probe")
                return
            except BackendError:
                self._tokenize_url = None

    def _probe_prompt_tokens(self, text: str) -> int:
        body = self._body(text, 1, stream=False)
        data = self._post_json(self._endpoint(), body)
        report = parse_server_report(data)
        if report.prompt_tokens is None:
            raise BackendProtocolError("the server's answer has no usage.prompt_tokens; cannot calibrate prompt lengths")
        return report.prompt_tokens

    def _probe_stream(self) -> StreamExpectations:
        """Send one short streamed request and learn how this server ends its streams."""
        assert self.prompts is not None
        text, _ = self.prompts.build(8, nonce=1 << 41)  # never a sample's nonce
        reader = StreamReader(self.redact)
        self._stream(self._body(text, 2, stream=True), reader)
        result = reader.result
        if result.finish_reason is None and not result.saw_done:
            raise BackendStreamBroken("probe stream ended before its finish reason or [DONE]")
        return StreamExpectations(usage=result.saw_usage, done=result.saw_done)

    def prepare(self) -> None:
        """Find a tokenizer, calibrate prompt lengths, learn the stream's ending (done once)."""
        with self._lock:
            if self.prompts is None:
                self._find_tokenizer()
                builder = PromptBuilder(self._count_tokens if self._tokenize_url else None)
                builder.calibrate(self._probe_prompt_tokens)
                self.prompts = builder
            if self.expect is None:
                self.expect = self._probe_stream()

    # --- one request -----------------------------------------------------------
    def _endpoint(self) -> str:
        return f"{self.base_url}/chat/completions" if self.api == "chat" else f"{self.base_url}/completions"

    def _body(self, text: str, max_tokens: int, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "temperature": 0.0, "stream": stream}
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": text}]
        else:
            body["prompt"] = text
        if stream:
            body["stream_options"] = {"include_usage": True}
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.end_token_id is not None:
            body["logit_bias"] = {str(self.end_token_id): -100}
        return body

    def _stream(self, body: dict[str, Any], reader: StreamReader) -> tuple[int, int, int]:
        """POST a streamed request into ``reader``; return (sent, first byte, end) ns."""
        sent = self.clock.now_ns()
        try:
            with self._client.stream("POST", self._endpoint(), json=body) as response:
                first_byte = self.clock.now_ns()
                if response.status_code != 200:
                    response.read()
                    raise self._status_error(response)
                for line in response.iter_lines():
                    if reader.feed(line, self.clock.now_ns()):
                        break
                end = self.clock.now_ns()
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        return sent, first_byte, end

    def measure(self, request: RequestSpec) -> Measurement:
        self.prepare()
        assert self.prompts is not None and self.expect is not None
        with self._lock:  # the builder keeps the previous prompt's first letter
            text, expected_prompt = self.prompts.build(request.prompt_tokens, request.nonce)
        if request.mode == "non-streamed":
            return self._measure_whole(request, text, expected_prompt)
        reader = StreamReader(self.redact)
        sent, first_byte, end = self._stream(self._body(text, request.output_tokens, stream=True), reader)
        result = reader.finish(self.expect)
        report = result.report
        completion, source = report.completion_tokens, "usage"
        if completion is None and result.finish_reason == "length" and len(result.token_ns) <= request.output_tokens:
            completion, source = request.output_tokens, "finish_reason=length"  # stopped at max_tokens: that many
        elif completion is None:
            source = "events"
        return Measurement(
            sent_ns=sent,
            first_byte_ns=first_byte,
            first_token_ns=result.token_ns[0],
            token_ns=tuple(result.token_ns),
            end_ns=end,
            prompt_tokens=report.prompt_tokens if report.prompt_tokens is not None else expected_prompt,
            completion_tokens=completion,
            cached_tokens=report.cached_tokens,
            finish_reason=result.finish_reason,
            server=report.timings,
            mode="streamed",
            count_source=source,
        )

    def _measure_whole(self, request: RequestSpec, text: str, expected_prompt: int | None) -> Measurement:
        """A non-streamed request: timed from sending to the last byte of the whole answer."""
        body = self._body(text, request.output_tokens, stream=False)
        sent = self.clock.now_ns()
        try:
            with self._client.stream("POST", self._endpoint(), json=body, headers={"accept": "application/json"}) as response:
                first_byte = self.clock.now_ns()
                raw = response.read()
                end = self.clock.now_ns()
                if response.status_code != 200:
                    raise self._status_error(response)
        except httpx.HTTPError as exc:
            raise self._error(exc) from exc
        try:
            data = json.loads(raw)
        except ValueError:
            raise BackendMalformedStream(f"answer is not JSON: {self.redact(raw[:80].decode(errors='replace'))!r}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise BackendMalformedStream("answer has no choices[0] object")
        reason = choices[0].get("finish_reason")
        if not reason:
            raise BackendStreamBroken("answer has no finish_reason: it was cut")
        finish_reason = self.redact(str(reason))[:40]
        report = parse_server_report(data)
        completion, source = report.completion_tokens, "usage"
        if completion is None and finish_reason == "length":
            completion, source = request.output_tokens, "finish_reason=length"  # stopped at max_tokens: that many
        if completion is None:
            raise BackendProtocolError(
                f"answer reports no usage.completion_tokens and stopped early ({finish_reason}): its length is unknown"
            )
        if completion < 1:
            raise BackendStreamBroken(f"answer finished ({finish_reason}) without any output token; nothing to time")
        return Measurement(
            sent_ns=sent,
            first_byte_ns=first_byte,
            first_token_ns=end,
            token_ns=(),
            end_ns=end,
            prompt_tokens=report.prompt_tokens if report.prompt_tokens is not None else expected_prompt,
            completion_tokens=completion,
            cached_tokens=report.cached_tokens,
            finish_reason=finish_reason,
            server=report.timings,
            mode="non-streamed",
            count_source=source,
        )
