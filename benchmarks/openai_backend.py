"""The ``openai`` backend: any OpenAI-compatible streaming endpoint over httpx.

GroqCloud (``https://api.groq.com/openai/v1``), an on-prem Groq API, llama.cpp,
vLLM. One synchronous request at a time (the sweep's concurrency model).

- The API key is read from the environment variable named ``api_key_env`` and
  sent only as the ``Authorization`` header; it is never logged, put in an
  error message or written to a profile.
- Streaming with ``stream_options.include_usage``; client timestamps from
  ``time.perf_counter_ns`` (the backend's clock): sent, first byte (response
  headers), first token, every content chunk, end.
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
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from benchmarks.clock import Clock, RealClock
from benchmarks.errors import (
    BackendError,
    BackendHTTPError,
    BackendProtocolError,
    BackendRateLimited,
    BackendStreamBroken,
    BackendTimeout,
    BackendUnavailable,
)
from benchmarks.prompts import PromptBuilder
from benchmarks.protocol import Measurement, RequestSpec
from benchmarks.server_fields import ServerReport, merge_reports, parse_server_report

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
    return seconds if seconds >= 0 else None


def error_for_status(status: int, body: str, retry_after: str | None = None) -> BackendError:
    """The BackendError for a non-2xx status (body excerpt kept, headers never)."""
    excerpt = body.strip().replace("\n", " ")[:200]
    message = f"HTTP {status}: {excerpt}"
    if status in (429, 498, 503):
        return BackendRateLimited(message, status=status, retry_after_s=parse_retry_after(retry_after))
    if status in (408, 504):
        return BackendTimeout(message)
    if status >= 500:
        return BackendUnavailable(message)
    return BackendHTTPError(message, status=status)


def translate_httpx_error(exc: Exception) -> BackendError:
    """Map an httpx exception to the harness's tree (complete over httpx's exceptions)."""
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        return error_for_status(response.status_code, "", response.headers.get("retry-after"))
    for low, high in HTTPX_ERROR_MAP:
        if isinstance(exc, low):
            return high(f"{type(exc).__name__}: {exc}")
    if isinstance(exc, httpx.HTTPError):
        return BackendProtocolError(f"{type(exc).__name__}: {exc}")
    raise TypeError(f"not an httpx error: {type(exc).__name__}")


def _public_endpoint(url: str) -> str:
    """The URL without credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class OpenAIBackend:
    """An OpenAI-compatible server, streaming (see the module docstring).

    ``base_url`` ends in ``/v1`` (GroqCloud: ``https://api.groq.com/openai/v1``);
    ``api`` picks ``/completions`` (exact prompt tokens) or ``/chat/completions``
    (GroqCloud has only this one; the chat template's tokens are calibrated away).
    ``tokenizer``: ``auto`` tries llama-cpp-python's ``/extras/tokenize`` and
    llama.cpp's ``/tokenize`` next to ``base_url``, ``none`` calibrates from usage.
    """

    name = "openai"

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
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api = api
        self.api_key_env = api_key_env
        self.ignore_eos = ignore_eos
        self.end_token_id = end_token_id
        self.clock: Clock = clock if clock is not None else RealClock()
        headers = {"accept": "text/event-stream"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["authorization"] = f"Bearer {key}"
        self._client = httpx.Client(
            headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 10.0)), transport=transport
        )
        self._tokenize_url: str | None = None
        self._tokenizer_mode = tokenizer
        self.prompts: PromptBuilder | None = None

    # --- setup -----------------------------------------------------------------
    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAIBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": _public_endpoint(self.base_url),
            "model": self.model,
            "api": self.api,
            "api_key_env": self.api_key_env,
            "tokenizer": "server" if self._tokenize_url else "calibrated from usage",
            "exact_output": "ignore_eos" if self.ignore_eos else ("logit_bias" if self.end_token_id is not None else "max_tokens only"),
        }

    def _post_json(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self._client.post(url, json=body, headers={"accept": "application/json"})
        except httpx.HTTPError as exc:
            raise translate_httpx_error(exc) from exc
        if response.status_code != 200:
            raise error_for_status(response.status_code, response.text, response.headers.get("retry-after"))
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

    def prepare(self) -> None:
        """Find a tokenizer and calibrate prompt lengths (done on first use)."""
        if self.prompts is not None:
            return
        self._find_tokenizer()
        builder = PromptBuilder(self._count_tokens if self._tokenize_url else None)
        builder.calibrate(self._probe_prompt_tokens)
        self.prompts = builder

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

    def measure(self, request: RequestSpec) -> Measurement:
        self.prepare()
        assert self.prompts is not None
        text, expected_prompt = self.prompts.build(request.prompt_tokens, request.nonce)
        body = self._body(text, request.output_tokens, stream=True)
        token_ns: list[int] = []
        report = ServerReport()
        finish_reason: str | None = None
        done = False
        sent = self.clock.now_ns()
        try:
            with self._client.stream("POST", self._endpoint(), json=body) as response:
                first_byte = self.clock.now_ns()
                if response.status_code != 200:
                    response.read()
                    raise error_for_status(response.status_code, response.text, response.headers.get("retry-after"))
                for line in response.iter_lines():
                    now = self.clock.now_ns()
                    if not line.startswith("data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        done = True
                        break
                    try:
                        chunk = json.loads(payload)
                    except json.JSONDecodeError as exc:
                        raise BackendProtocolError(f"stream chunk is not JSON: {payload[:80]!r}") from exc
                    if not isinstance(chunk, dict):
                        raise BackendProtocolError("stream chunk is not a JSON object")
                    if "error" in chunk:
                        raise BackendStreamBroken(f"error event in stream: {str(chunk['error'])[:200]}")
                    for choice in chunk.get("choices") or []:
                        piece = choice.get("text")
                        if piece is None and isinstance(choice.get("delta"), dict):
                            piece = choice["delta"].get("content")
                        if piece:
                            token_ns.append(now)
                        if choice.get("finish_reason"):
                            finish_reason = choice["finish_reason"]
                    report = merge_reports(report, parse_server_report(chunk))
                end = self.clock.now_ns()
        except httpx.HTTPError as exc:
            raise translate_httpx_error(exc) from exc
        if not done and finish_reason is None:
            raise BackendStreamBroken("stream ended before its final event ([DONE] or a finish reason)")
        if not token_ns:
            raise BackendProtocolError("the stream carried no token")
        return Measurement(
            sent_ns=sent,
            first_byte_ns=first_byte,
            first_token_ns=token_ns[0],
            token_ns=tuple(token_ns),
            end_ns=end,
            prompt_tokens=report.prompt_tokens if report.prompt_tokens is not None else expected_prompt,
            completion_tokens=report.completion_tokens if report.completion_tokens is not None else len(token_ns),
            cached_tokens=report.cached_tokens,
            finish_reason=finish_reason,
            server=report.timings,
        )
