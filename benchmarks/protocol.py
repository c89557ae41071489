"""The backend protocol: one method that answers one measured request.

A sweep hands a backend a :class:`RequestSpec` (target prompt and output token
counts, and a nonce that makes the prompt unique from its first token) and
gets back a :class:`Measurement`: client timestamps (sent, first byte, first
token, every token, end) in integer nanoseconds of the backend's clock, the
server's token counts, cached prompt tokens where reported, and the server's
own timings where it reports them (Groq ``usage``/``x_groq.usage``, llama.cpp
``timings``; reference: the GroqCloud API
reference and github.com/groq/groq-python, types/completion_usage.py). A backend raises a :class:`~benchmarks.errors.BackendError`
instead of returning a partial measurement.

Names follow vLLM/GuideLLM's vocabulary: ``ttft_s`` (time to first token),
``tpot_s`` (time per output token after the first), ``e2el_s`` (end-to-end
latency).

A token is an event in the stream, whatever its text: ``token_ns`` holds the
arrival time of every chunk that carries output (a byte token whose text is an
incomplete UTF-8 sequence and so arrives empty, or several tokens coalesced in
one chunk, are one event each); the token COUNT is the server's
``usage.completion_tokens`` where it reports one (``completion_tokens``), else
the number of events. A non-streamed request (``mode = "non-streamed"``) has no
events: only the whole response's times.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

__all__ = ["MODES", "Mode", "RequestSpec", "ServerTimings", "Measurement", "Backend"]

Mode = Literal["streamed", "non-streamed"]
MODES: tuple[Mode, ...] = ("streamed", "non-streamed")


@dataclass(frozen=True)
class RequestSpec:
    """One request of a sweep.

    ``prompt_tokens`` and ``output_tokens`` are the targets (tokens); ``nonce``
    seeds the prompt text so that no two samples share a prompt prefix;
    ``mode`` says whether the answer is streamed (SSE) or sent whole.
    """

    sample_id: str
    prompt_tokens: int
    output_tokens: int
    nonce: int
    mode: Mode = "streamed"


@dataclass(frozen=True)
class ServerTimings:
    """What the server says it spent, in seconds (None where not reported).

    ``source`` names the dialect: ``groq`` (usage.queue_time, prompt_time,
    completion_time, total_time), ``llama.cpp`` (timings.prompt_ms,
    predicted_ms, prompt_n, predicted_n) or ``mock``.
    """

    source: str
    queue_s: float | None = None
    prompt_s: float | None = None
    completion_s: float | None = None
    total_s: float | None = None
    prompt_n: int | None = None
    completion_n: int | None = None


@dataclass(frozen=True)
class Measurement:
    """A completed request. Timestamps are integer ns of the backend's clock.

    ``token_ns``: arrival of every output-carrying stream event (empty for a
    non-streamed request, whose ``first_token_ns`` is then ``end_ns``);
    ``completion_tokens``: the server's count (None when it reports none);
    ``count_source``: where the count came from: ``usage`` (the server's),
    ``finish_reason=length`` (no usage, but the server says it stopped at
    ``max_tokens``, so it made exactly that many), or ``events`` (neither: the
    number of token events, a lower bound when the server coalesces tokens).
    """

    sent_ns: int
    first_byte_ns: int
    first_token_ns: int
    token_ns: tuple[int, ...]
    end_ns: int
    prompt_tokens: int | None
    completion_tokens: int | None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    server: ServerTimings | None = None
    mode: Mode = "streamed"
    count_source: str | None = None

    @property
    def ttft_s(self) -> float:
        """Time to first token, s."""
        return (self.first_token_ns - self.sent_ns) / 1e9

    @property
    def e2el_s(self) -> float:
        """End-to-end latency, s."""
        return (self.end_ns - self.sent_ns) / 1e9

    @property
    def output_count(self) -> int:
        """Output tokens: the server's count, else the number of token events."""
        return self.completion_tokens if self.completion_tokens is not None else len(self.token_ns)

    @property
    def tpot_s(self) -> float | None:
        """Mean time per output token after the first event, s (None below 2 events).

        ``(t_last - t_first) / spanned`` where ``spanned`` is the number of
        tokens generated between the first and the last event. With one event
        per token (``e = n``) that is ``n - 1``. When the server coalesces
        ``n`` tokens into ``e < n`` events, the first event already holds
        about ``n / e`` of them, so ``spanned = n (e - 1) / e`` (exact when every
        chunk holds the same number of tokens): counting ``n - 1`` would bias
        the decode time low by the first chunk's share.
        """
        n = self.output_count
        e = len(self.token_ns)
        if n < 2 or e < 2:
            return None
        spanned = n - 1 if e >= n else n * (e - 1) / e
        return (self.token_ns[-1] - self.token_ns[0]) / 1e9 / spanned

    @property
    def service_s(self) -> float:
        """End-to-end latency less the server-reported queue time, s."""
        queue = self.server.queue_s if self.server is not None and self.server.queue_s else 0.0
        return self.e2el_s - queue

    def to_json_dict(self) -> dict[str, Any]:
        """JSON form: timestamps relative to ``sent_ns`` (ns), as in samples files."""
        base = self.sent_ns
        return {
            "first_byte_ns": self.first_byte_ns - base,
            "first_token_ns": self.first_token_ns - base,
            "token_ns": [t - base for t in self.token_ns],
            "end_ns": self.end_ns - base,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "finish_reason": self.finish_reason,
            "server": asdict(self.server) if self.server is not None else None,
            "mode": self.mode,
            "count_source": self.count_source,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> "Measurement":
        """Inverse of :meth:`to_json_dict` (``sent_ns`` becomes 0)."""
        server = data.get("server")
        return cls(
            sent_ns=0,
            first_byte_ns=int(data["first_byte_ns"]),
            first_token_ns=int(data["first_token_ns"]),
            token_ns=tuple(int(t) for t in data["token_ns"]),
            end_ns=int(data["end_ns"]),
            prompt_tokens=data.get("prompt_tokens"),
            completion_tokens=data.get("completion_tokens"),
            cached_tokens=data.get("cached_tokens"),
            finish_reason=data.get("finish_reason"),
            server=ServerTimings(**server) if server else None,
            mode=data.get("mode", "streamed"),
            count_source=data.get("count_source"),
        )


class Backend(Protocol):
    """Anything that answers one measured request at a time."""

    name: str

    def measure(self, request: RequestSpec) -> Measurement:
        """Send ``request``, stream the answer, return its timings; raise BackendError on failure."""
        ...

    def describe(self) -> dict[str, Any]:
        """Name, endpoint (no secrets), model: what a profile records as ``backend``."""
        ...
