"""The harness's exception tree: every backend failure is a ``BackendError``.

Low-level errors (httpx's transport and protocol errors, JSON decoding) are
translated at the backend boundary (``raise BackendTimeout(...) from exc``),
so sweeps handle one family. ``retryable`` says whether a sweep may send the
sample again; a failed sample is never recorded as a measurement, and never
stops the sweep: it is recorded as failed with its reason (the sweep stops
only when several samples in a row fail every attempt: the server is gone).
Messages never hold a secret: the backend redacts them
(:mod:`benchmarks.secrets`) before raising.

Tree::

    BackendError (LpuplanError)
    ├── BackendTimeout         connect/read/write/pool timeout        retryable
    ├── BackendUnavailable     connection refused or reset            retryable
    ├── BackendStreamBroken    stream ended before its final event    retryable
    │                          (finish reason, usage when the server
    │                          sends it, [DONE] when it sends it)
    ├── BackendMalformedStream one chunk is not JSON / not an object   retryable
    ├── BackendRateLimited     429, 503 or 498 (retry_after_s kept)   retryable
    ├── BackendHTTPError       any other non-2xx status               not retryable
    └── BackendProtocolError   a body that is not the documented form not retryable
"""

from __future__ import annotations

from dimensioning.errors import LpuplanError

__all__ = [
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "BackendStreamBroken",
    "BackendMalformedStream",
    "BackendRateLimited",
    "BackendHTTPError",
    "BackendProtocolError",
]


class BackendError(LpuplanError):
    """A request to a backend failed; ``retryable`` says whether to send it again."""

    retryable: bool = False


class BackendTimeout(BackendError):
    """The server did not answer (or stopped streaming) within the timeout."""

    retryable = True


class BackendUnavailable(BackendError):
    """The connection could not be opened or was reset."""

    retryable = True


class BackendStreamBroken(BackendError):
    """The stream ended before the protocol says it ends.

    A stream ends well with a finish reason, then the usage chunk when the
    server sends usage in streams (``stream_options.include_usage``, Groq's
    ``x_groq.usage``, llama.cpp's ``timings``), then ``[DONE]`` when the server
    sends it; anything cut before that, or an error event, is this error.
    """

    retryable = True


class BackendMalformedStream(BackendError):
    """One stream chunk was not a JSON object: that sample fails, a fresh attempt may not."""

    retryable = True


class BackendRateLimited(BackendError):
    """The server refused for load: 429, 503 or 498 (Groq flex capacity).

    ``retry_after_s`` is the server's ``retry-after`` header in seconds, or None.
    """

    retryable = True

    def __init__(self, message: str, status: int, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s


class BackendHTTPError(BackendError):
    """A non-2xx status other than the load refusals: a bad request, auth, a missing model."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class BackendProtocolError(BackendError):
    """The server answered, but not in the documented OpenAI-compatible form."""
