"""The load generator's lean HTTP/1.1 client (``--client h1``): the least CPU per request.

A load generator's CPU is its send lag, so this client does only what an
open-loop run needs: each request is pre-encoded once (request line,
headers and body as one ``bytes``), written with ONE ``transport.write`` on
an idle keep-alive connection, and its response is parsed by httptools (the
C llhttp parser uvicorn uses) in protocol callbacks that fill the request's
slots in preallocated per-run lists. No task, future or response object per
request: the sender calls :meth:`H1Client.submit` and moves on.

Connections: idle ones are reused last-in first-out; when none is idle a new
one is opened at once (never waiting for a busy one: a connection limit
would make requests queue in the client, a closed loop by the back door).
:meth:`H1Client.warm` opens a first set before the run (connection set-up
is not the server's latency), sized by the caller from rate x expected
latency. Idle connections beyond ``max_idle`` are closed.

Times: ``sent`` is taken just before the request's bytes are written (so a
request that had to open a connection shows that wait as send lag),
``first_byte`` when the response headers are parsed, ``tokens`` at each
streamed content event (SSE ``data:`` lines are split from the de-chunked
body; compact token chunks are recognised without JSON parsing, as in
:mod:`benchmarks.load.runner`), ``end`` at the stream's ``[DONE]`` or the
end of the body. Read timeout: no byte for ``timeout_s`` on a busy
connection fails its request (``timeout: ReadTimeout``), checked by one
sweeper every 0.1 s (not a timer per request).

Errors (strings as the other clients write them, so summaries count them
alike): ``HTTP <status>: <body>`` (with ``retry-after`` / ``retry-after-ms``
parsed for 429), ``stream ended before its final event`` (a cut stream),
``ConnectionClosed: ...``, ``<OSError name>: ...`` (connect), ``HttpParserError:
...``, ``JSONDecodeError: ...``.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable
from urllib.parse import urlsplit

from benchmarks.openai_backend import parse_retry_after_headers

__all__ = ["H1Client", "available", "encode_post"]

try:  # an optional extra (pyproject's "fast"); the runner falls back to aiohttp without it
    import httptools
except ImportError:  # pragma: no cover - exercised where the extra is absent
    httptools = None


def available() -> bool:
    """True when httptools is installed (the ``h1`` client can run)."""
    return httptools is not None


def encode_post(host: str, path: str, body: bytes, accept: str) -> bytes:
    """One POST request as the bytes that go on the wire (HTTP/1.1, keep-alive)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: {accept}\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class _Slots:
    """Per-request results, preallocated lists indexed by request (filled by the callbacks)."""

    __slots__ = ("sent", "first_byte", "end", "status", "error", "retry_after", "tokens", "usage")

    def __init__(self, n: int) -> None:
        self.sent: list[float | None] = [None] * n
        self.first_byte: list[float | None] = [None] * n
        self.end: list[float | None] = [None] * n
        self.status = [0] * n
        self.error: list[str | None] = [None] * n
        self.retry_after: list[float | None] = [None] * n
        self.tokens: list[list[float] | None] = [None] * n
        self.usage: list[tuple[int | None, int | None, dict[str, Any] | None] | None] = [None] * n


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one request in flight on it."""

    def __init__(self, client: "H1Client") -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.index = -1  # the request in flight, -1 when idle
        self.last_io = 0.0
        self.body: list[bytes] = []
        self.partial = b""
        self.state: dict[str, Any] | None = None  # SSE state of a streamed 200
        self.retry_after: str | None = None
        self.retry_after_ms: str | None = None
        self.open = False

    # --- asyncio.Protocol --------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open = True

    def data_received(self, data: bytes) -> None:
        self.last_io = time.perf_counter()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.index >= 0:
                self.client._finish(self, f"HttpParserError: {str(exc)[:160]}", keep=False)
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        self.client._lost(self, exc)

    def _close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()

    # --- httptools callbacks -------------------------------------------------------
    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"retry-after":
            self.retry_after = value.decode("latin-1")
        elif lowered == b"retry-after-ms":
            self.retry_after_ms = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.client._headers(self, self.parser.get_status_code())

    def on_body(self, body: bytes) -> None:
        if self.state is None:
            self.body.append(body)
            return
        lines = (self.partial + body).split(b"\n")
        self.partial = lines.pop()
        self.client._sse(self, lines)

    def on_message_complete(self) -> None:
        if self.index >= 0:
            self.client._complete(self, self.parser.should_keep_alive())


class H1Client:
    """Send pre-encoded requests to one ``http://host:port`` and record their responses in ``slots``.

    ``parse_sse(line, now, state) -> bool`` folds one SSE line into a state
    dictionary (the runner's parser, shared with the other clients; True at
    the final event); ``usage(body) -> (prompt, completion, server)`` reads a
    non-streamed answer. ``clock()`` is ``time.perf_counter`` and ``origin``
    the run's zero (set before the first submit).
    """

    def __init__(self, url: str, n: int, *, stream: bool, timeout_s: float,
                 parse_sse: Callable[[str, float, dict[str, Any]], bool],
                 usage: Callable[[dict[str, Any]], tuple[int | None, int | None, dict[str, Any] | None]],
                 max_idle: int = 1024) -> None:
        if httptools is None:
            raise RuntimeError("the h1 client needs httptools (pip install 'lpuplan[fast]')")
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the h1 client speaks plain http://host:port only, not {url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.authority = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"  # Host header
        self.stream = stream
        self.timeout_s = timeout_s
        self.parse_sse = parse_sse
        self.usage = usage
        self.max_idle = max_idle
        self.slots = _Slots(n)
        self.origin = 0.0
        self.idle: list[_Connection] = []
        self.busy: set[_Connection] = set()
        self.outstanding = 0
        self.opened = 0  # connections opened, warm-up included (reported in the run's header)
        self.loop = asyncio.get_running_loop()
        self._drained: asyncio.Future[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._connecting: set[asyncio.Task[None]] = set()

    # --- connections -------------------------------------------------------------
    async def _connect(self) -> _Connection:
        _, conn = await self.loop.create_connection(lambda: _Connection(self), self.host, self.port)
        self.opened += 1
        return conn  # type: ignore[return-value]

    async def warm(self, count: int) -> None:
        """Open ``count`` idle connections before the run."""
        conns = await asyncio.gather(*(self._connect() for _ in range(count)), return_exceptions=True)
        self.idle.extend(c for c in conns if isinstance(c, _Connection))
        self._sweeper = self.loop.create_task(self._sweep())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        for task in list(self._connecting):
            task.cancel()
        for conn in self.idle + list(self.busy):
            conn._close()
        self.idle.clear()
        self.busy.clear()

    # --- sending -------------------------------------------------------------------
    def submit(self, index: int, payload: bytes) -> None:
        """Send request ``index`` now on an idle connection, or on a new one as soon as it is open."""
        self.outstanding += 1
        idle = self.idle
        while idle:
            conn = idle.pop()
            if conn.open:
                self._write(conn, index, payload)
                return
        task = self.loop.create_task(self._open_and_send(index, payload))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _open_and_send(self, index: int, payload: bytes) -> None:
        try:
            conn = await self._connect()
        except OSError as exc:
            self.slots.sent[index] = time.perf_counter() - self.origin
            self.slots.error[index] = f"{type(exc).__name__}: {str(exc)[:160]}"
            self._done_one()
            return
        self._write(conn, index, payload)

    def _write(self, conn: _Connection, index: int, payload: bytes) -> None:
        conn.index = index
        conn.body = []
        conn.partial = b""
        conn.state = None
        conn.retry_after = conn.retry_after_ms = None
        self.busy.add(conn)
        now = time.perf_counter()
        conn.last_io = now
        self.slots.sent[index] = now - self.origin
        conn.transport.write(payload)  # type: ignore[union-attr]

    # --- responses (called by the connection) -------------------------------------------
    def _headers(self, conn: _Connection, status: int) -> None:
        i = conn.index
        if i < 0:
            return
        slots = self.slots
        slots.first_byte[i] = time.perf_counter() - self.origin
        slots.status[i] = status
        if status == 200 and self.stream:
            conn.state = {"tokens": [], "finished": False, "error": None, "prompt": None, "completion": None,
                          "server": None, "stop": False}
            slots.tokens[i] = conn.state["tokens"]

    def _sse(self, conn: _Connection, lines: list[bytes]) -> None:
        state = conn.state
        if conn.index < 0 or state is None:
            return
        if state["stop"]:
            return
        now = time.perf_counter() - self.origin
        parse = self.parse_sse
        for raw in lines:
            if not raw.startswith(b"data:"):
                continue
            try:
                stop = parse(raw.decode("utf-8", "replace").rstrip("\r"), now, state)
            except (json.JSONDecodeError, ValueError) as exc:
                state["error"] = f"{type(exc).__name__}: {str(exc)[:160]}"
                stop = True
            if stop:  # [DONE] or an error event: the stream's end, as the other clients take it
                state["stop"] = True
                self.slots.end[conn.index] = now
                return

    def _complete(self, conn: _Connection, keep_alive: bool) -> None:
        i = conn.index
        slots = self.slots
        now = time.perf_counter() - self.origin
        status = slots.status[i]
        error = None
        if status != 200:
            text = b"".join(conn.body).decode("utf-8", "replace")
            slots.retry_after[i] = parse_retry_after_headers(conn.retry_after, conn.retry_after_ms)
            error = f"HTTP {status}: {text[:160]}"
            slots.end[i] = now
        elif conn.state is not None:
            state = conn.state
            if conn.partial:  # a last line without its newline
                self._sse(conn, [conn.partial])
                conn.partial = b""
            if slots.end[i] is None:
                slots.end[i] = now
            error = state["error"]
            slots.usage[i] = (state["prompt"], state["completion"], state["server"])
            if not state["finished"] and error is None:
                error = "stream ended before its final event"
        else:
            try:
                data = json.loads(b"".join(conn.body))
                slots.usage[i] = self.usage(data)
                slots.end[i] = now
                slots.tokens[i] = [now]  # one event: the whole answer
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as exc:
                error = f"{type(exc).__name__}: {str(exc)[:160]}"
        self._finish(conn, error, keep=keep_alive)

    def _finish(self, conn: _Connection, error: str | None, *, keep: bool) -> None:
        i = conn.index
        if error is not None:
            self.slots.error[i] = error
        conn.index = -1
        conn.state = None
        conn.body = []
        self.busy.discard(conn)
        if keep and conn.open and len(self.idle) < self.max_idle:
            self.idle.append(conn)
        else:
            conn._close()
        self._done_one()

    def _lost(self, conn: _Connection, exc: Exception | None) -> None:
        self.busy.discard(conn)
        if conn.index < 0:
            return
        if self.slots.first_byte[conn.index] is not None:
            # The headers came: the body ends here. A body read to the close (no length) is whole; a stream
            # without its final event is cut ("stream ended before its final event"); a truncated JSON fails.
            self._complete(conn, False)
            return
        self._finish(conn, f"ConnectionClosed: {exc or 'the server closed the connection'}"[:200], keep=False)

    def _done_one(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0 and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    async def drain(self) -> None:
        """Wait until every submitted request has its answer (or its error)."""
        if self.outstanding:
            self._drained = self.loop.create_future()
            await self._drained

    async def _sweep(self) -> None:
        """Fail requests whose connection has been silent for ``timeout_s`` (read timeout)."""
        while True:
            await asyncio.sleep(0.1)
            limit = time.perf_counter() - self.timeout_s
            for conn in [c for c in self.busy if c.last_io < limit]:
                if conn.index >= 0:
                    self._finish(conn, "timeout: ReadTimeout", keep=False)
