"""Parse what OpenAI-compatible servers report: token counts, cached tokens, timings.

Dialects (reference: the GroqCloud API reference, console.groq.com/docs/api-reference;
github.com/groq/groq-python types/completion_usage.py):

- OpenAI/Groq ``usage``: ``prompt_tokens``, ``completion_tokens``,
  ``prompt_tokens_details.cached_tokens``; Groq adds, in seconds,
  ``queue_time``, ``prompt_time``, ``completion_time``, ``total_time``
  (= prompt + completion, queue excluded). In a Groq stream they arrive in
  ``x_groq.usage`` on the final chunk (and in ``usage`` when
  ``stream_options.include_usage`` is set); ``x_groq.usage`` may also carry
  ``sram_cached_tokens`` and ``dram_cached_tokens``.
- llama.cpp's server (C++ ``llama-server``): ``timings`` with ``prompt_n``,
  ``prompt_ms``, ``predicted_n``, ``predicted_ms`` and ``cache_n`` (prompt
  tokens taken from the cache).

Everything is optional: a field the server does not send stays None, and so
does one that is not a finite, non-negative number (a server's NaN is no figure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks.protocol import ServerTimings

__all__ = ["ServerReport", "parse_server_report", "merge_reports"]


@dataclass(frozen=True)
class ServerReport:
    """Token counts and timings found in one response body or stream chunk."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    timings: ServerTimings | None = None


def _int(value: Any) -> int | None:
    """A count: a finite, non-negative number (anything else is treated as not reported)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return int(value)


def _float(value: Any) -> float | None:
    """A time: a finite, non-negative number (anything else is treated as not reported)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _add(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


def parse_server_report(body: dict[str, Any]) -> ServerReport:
    """Read counts and timings from a non-streaming body or one stream chunk."""
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
    x_groq = body.get("x_groq") if isinstance(body.get("x_groq"), dict) else None
    groq_usage = x_groq.get("usage") if x_groq is not None and isinstance(x_groq.get("usage"), dict) else None

    prompt_tokens = completion_tokens = cached = None
    timings: ServerTimings | None = None
    for source in (usage, groq_usage):
        if source is None:
            continue
        prompt_tokens = _int(source.get("prompt_tokens")) if _int(source.get("prompt_tokens")) is not None else prompt_tokens
        completion_tokens = (
            _int(source.get("completion_tokens")) if _int(source.get("completion_tokens")) is not None else completion_tokens
        )
        details = source.get("prompt_tokens_details")
        if isinstance(details, dict) and _int(details.get("cached_tokens")) is not None:
            cached = max(cached or 0, _int(details.get("cached_tokens")) or 0)
        tiered = _add(_int(source.get("sram_cached_tokens")), _int(source.get("dram_cached_tokens")))
        if tiered is not None:
            cached = max(cached or 0, tiered)
        if any(k in source for k in ("queue_time", "prompt_time", "completion_time", "total_time")):
            timings = ServerTimings(
                source="groq",
                queue_s=_float(source.get("queue_time")),
                prompt_s=_float(source.get("prompt_time")),
                completion_s=_float(source.get("completion_time")),
                total_s=_float(source.get("total_time")),
                prompt_n=_int(source.get("prompt_tokens")),
                completion_n=_int(source.get("completion_tokens")),
            )

    llama = body.get("timings") if isinstance(body.get("timings"), dict) else None
    if llama is not None:
        prompt_ms = _float(llama.get("prompt_ms"))
        predicted_ms = _float(llama.get("predicted_ms"))
        prompt_n = _int(llama.get("prompt_n"))
        predicted_n = _int(llama.get("predicted_n"))
        cache_n = _int(llama.get("cache_n"))
        timings = ServerTimings(
            source="llama.cpp",
            queue_s=None,
            prompt_s=prompt_ms / 1e3 if prompt_ms is not None else None,
            completion_s=predicted_ms / 1e3 if predicted_ms is not None else None,
            total_s=None,
            prompt_n=prompt_n,
            completion_n=predicted_n,
        )
        if cache_n is not None:
            cached = max(cached or 0, cache_n)
        if completion_tokens is None:
            completion_tokens = predicted_n
        if prompt_tokens is None and prompt_n is not None:
            prompt_tokens = prompt_n + (cache_n or 0)
    return ServerReport(prompt_tokens, completion_tokens, cached, timings)


def merge_reports(earlier: ServerReport, later: ServerReport) -> ServerReport:
    """Combine reports from successive chunks: a later non-None field wins."""
    return ServerReport(
        prompt_tokens=later.prompt_tokens if later.prompt_tokens is not None else earlier.prompt_tokens,
        completion_tokens=later.completion_tokens if later.completion_tokens is not None else earlier.completion_tokens,
        cached_tokens=later.cached_tokens if later.cached_tokens is not None else earlier.cached_tokens,
        timings=later.timings if later.timings is not None else earlier.timings,
    )
