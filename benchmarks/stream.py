"""Reading an OpenAI-compatible SSE stream: token events, usage, and how it ended.

Protocol (OpenAI's streaming reference; Groq and llama.cpp follow it): events
are ``data: <json>`` lines; the stream ends with a chunk carrying
``finish_reason``, then, when the request set ``stream_options.include_usage``
and the server honours it, one chunk whose ``usage`` holds the counts (its
``choices`` empty), then ``data: [DONE]``. Groq puts its counts and timings in
``x_groq.usage`` of the final chunk; llama.cpp's server puts ``timings`` there.

A **token event** is a chunk that carries output for the choice, whatever its
text: ``choices[i].text`` (completions) or ``choices[i].delta.content`` (chat)
present as a string, even an empty one (a byte token whose text is an
incomplete UTF-8 sequence is sent empty), or several tokens coalesced in one
chunk. Not token events: a chat ``delta`` that only announces the role, the
finishing chunk when its text is empty, usage-only chunks, comments and other
SSE fields. Each event's arrival time is taken when its ``data`` line is read.

:class:`StreamReader` is fed lines with their arrival times and, at the end,
checks that the stream ended as the protocol says: a finish reason, the usage
chunk when the server is known to send one, ``[DONE]`` when it is known to
send it (both learned from a probe request: :class:`StreamExpectations`).
Anything else is a failed sample, never a measurement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from benchmarks.errors import BackendMalformedStream, BackendStreamBroken
from benchmarks.server_fields import ServerReport, merge_reports, parse_server_report

__all__ = ["StreamExpectations", "StreamReader", "StreamResult"]


@dataclass(frozen=True)
class StreamExpectations:
    """What this server's streams end with (learned from a probe; None = not known)."""

    usage: bool = False
    done: bool = False


@dataclass
class StreamResult:
    token_ns: list[int] = field(default_factory=list)
    report: ServerReport = field(default_factory=ServerReport)
    finish_reason: str | None = None
    saw_usage: bool = False
    saw_done: bool = False
    chunks: int = 0


def _has_usage(chunk: dict[str, Any]) -> bool:
    usage = chunk.get("usage")
    x_groq = chunk.get("x_groq")
    return (
        (isinstance(usage, dict) and "completion_tokens" in usage)
        or (isinstance(x_groq, dict) and isinstance(x_groq.get("usage"), dict))
        or isinstance(chunk.get("timings"), dict)
    )


def _is_token_event(choice: dict[str, Any]) -> bool:
    text = choice.get("text")
    if text is None:
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return False
        text = delta.get("content")
        if not isinstance(text, str):
            return False
        if text == "" and "role" in delta:
            return False  # the opening chunk that only names the assistant's role
    if not isinstance(text, str):
        return False
    if text == "" and choice.get("finish_reason"):
        return False  # the finishing marker
    return True


class StreamReader:
    """Accumulates one stream; :meth:`finish` returns the result or raises."""

    def __init__(self, redact: Callable[[str], str] = lambda s: s) -> None:
        self.result = StreamResult()
        self._redact = redact
        self._pending: list[str] = []
        self._pending_ns = 0

    def feed(self, line: str, now_ns: int) -> bool:
        """One line of the body; returns True once ``[DONE]`` arrived (stop reading)."""
        if line == "":
            return self._dispatch()
        if line.startswith(":") or not line.startswith("data:"):
            return False  # SSE comment, event:, id:, retry: fields
        data = line[5:]
        if data.startswith(" "):
            data = data[1:]
        if not self._pending:
            self._pending_ns = now_ns
            if data.strip() == "[DONE]" or self._parses(data):
                self._pending.append(data)
                return self._dispatch()  # one line, one event (blank line or not)
        self._pending.append(data)  # a multi-line data field, dispatched at its blank line
        return False

    @staticmethod
    def _parses(data: str) -> bool:
        try:
            json.loads(data)
        except ValueError:
            return False
        return True

    def _dispatch(self) -> bool:
        if not self._pending:
            return False
        payload = "\n".join(self._pending).strip()
        now = self._pending_ns
        self._pending = []
        if payload == "[DONE]":
            self.result.saw_done = True
            return True
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise BackendMalformedStream(f"stream chunk is not JSON: {self._redact(payload[:80])!r}") from None
        if not isinstance(chunk, dict):
            raise BackendMalformedStream(f"stream chunk is not a JSON object: {self._redact(payload[:80])!r}")
        if "error" in chunk:
            raise BackendStreamBroken(f"error event in stream: {self._redact(str(chunk['error'])[:200])}")
        result = self.result
        result.chunks += 1
        choices = chunk.get("choices")
        if choices is not None and not isinstance(choices, list):
            raise BackendMalformedStream("stream chunk's 'choices' is not a list")
        for choice in choices or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if _is_token_event(choice):
                result.token_ns.append(now)
            reason = choice.get("finish_reason")
            if reason:
                result.finish_reason = self._redact(str(reason))[:40]
        if _has_usage(chunk):
            result.saw_usage = True
        result.report = merge_reports(result.report, parse_server_report(chunk))
        return False

    def finish(self, expect: StreamExpectations) -> StreamResult:
        """Check the ending (see the module docstring); raise BackendStreamBroken if cut."""
        if self._pending:
            self._dispatch()
        result = self.result
        if result.finish_reason is None:
            raise BackendStreamBroken(
                "stream ended before its finish reason" + (" ([DONE] without it)" if result.saw_done else "")
            )
        if expect.usage and not result.saw_usage:
            raise BackendStreamBroken("stream ended after its finish reason but before its usage chunk")
        if expect.done and not result.saw_done:
            raise BackendStreamBroken("stream ended without its [DONE] event")
        if not result.token_ns:
            raise BackendStreamBroken(
                f"stream finished ({result.finish_reason}) without any output event"
                f" (usage: {result.report.completion_tokens} completion tokens); nothing to time"
            )
        return result
