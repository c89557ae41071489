"""The open-loop runner: every request leaves at its scheduled time, answered or not.

One asyncio loop and one HTTP client with no connection limit (a pool limit
would make requests wait for a connection: closed loop by the back door).
Clients (``client=``), all asyncio, measured in tests/bench/bench_load.py
(figures in docs/validate.md):

- ``h1`` (default when httptools is installed: the ``fast`` extra): the lean
  client of :mod:`benchmarks.load.h1`: pre-encoded requests, one write each
  on keep-alive connections, httptools parsing in protocol callbacks, no
  task per request; the least CPU per request by far;
- ``aiohttp`` (the default without httptools): aiohttp's client session;
- ``httpx``: what the issue named; about four times aiohttp's CPU per
  request here, so it falls behind first.

A load generator's CPU is its send lag. The sender sleeps until the next
scheduled instant and starts every request that is due (several due at once
all leave, in order); it never waits for a response. The loop's timers have
1 ms granularity; with ``spin_s > 0`` the sender wakes that much early and
yields (``asyncio.sleep(0)``, responses keep being read) until the instant:
sharper sends for a busier CPU, worth it only when the generator has a core
to itself. ``event_loop``: ``uvloop`` when installed (``auto``) or asyncio's
own; :func:`run_load` creates it.

Every timestamp is ``time.perf_counter()`` in WALL seconds from the run's
origin: ``scheduled_s`` (the plan), ``sent_s`` (``h1``: just before the
request's bytes are written; ``aiohttp``/``httpx``: when the request's task
ran and handed it to the library), ``first_byte_s`` (response headers),
``token_s`` (each content chunk, whatever its text: a byte token that is not
valid UTF-8 on its own still counts), ``end_s``. The send lag
``sent_s - scheduled_s`` is the generator's own delay and is reported, so a
run whose generator fell behind is flagged rather than trusted.

``time_scale`` (for ``lpuplan emulate --time-scale K``): the schedule is in
emulated seconds and is played K times faster; the records stay in wall
seconds and the summary converts latencies back (send lag stays wall).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from benchmarks.load import h1
from benchmarks.load.prompts import PromptSet
from benchmarks.load.schedule import Schedule
from benchmarks.openai_backend import parse_retry_after_headers
from dimensioning.errors import InvalidInput

__all__ = ["CLIENTS", "EVENT_LOOPS", "RequestRecord", "LoadRun", "default_client", "run_load", "run_load_async"]

CLIENTS = ("h1", "aiohttp", "httpx")
EVENT_LOOPS = ("auto", "uvloop", "asyncio")


def default_client() -> str:
    """``h1`` when httptools is installed, else ``aiohttp``."""
    return "h1" if h1.available() else "aiohttp"


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop



@dataclass(frozen=True)
class RequestRecord:
    """One request of a load run (wall seconds from the run's origin)."""

    index: int
    shape: str
    prompt_tokens: int
    output_tokens: int  # requested (max_tokens)
    scheduled_s: float
    sent_s: float
    first_byte_s: float | None
    token_s: tuple[float, ...]
    end_s: float | None
    status: int  # HTTP status; 0 when no response came (connection or timeout)
    error: str | None = None
    retry_after_s: float | None = None
    prompt_tokens_reported: int | None = None
    completion_tokens: int | None = None
    server: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.error is None and self.end_s is not None

    @property
    def first_token_s(self) -> float | None:
        return self.token_s[0] if self.token_s else None

    @property
    def output_count(self) -> int:
        return self.completion_tokens if self.completion_tokens is not None else len(self.token_s)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "kind": "request", "index": self.index, "shape": self.shape, "prompt_tokens": self.prompt_tokens,
            "output_tokens": self.output_tokens, "scheduled_s": self.scheduled_s, "sent_s": self.sent_s,
            "first_byte_s": self.first_byte_s, "first_token_s": self.first_token_s, "token_s": list(self.token_s),
            "end_s": self.end_s, "status": self.status, "error": self.error, "retry_after_s": self.retry_after_s,
            "prompt_tokens_reported": self.prompt_tokens_reported, "completion_tokens": self.completion_tokens,
            "server": self.server,
        }


@dataclass(frozen=True)
class LoadRun:
    """The records of one run and how it was driven."""

    records: tuple[RequestRecord, ...]
    url: str
    rate: float
    arrivals: str
    seed: int
    stream: bool
    api: str
    time_scale: float
    meta: dict[str, Any] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        return {"kind": "run", "url": self.url, "rate": self.rate, "arrivals": self.arrivals, "seed": self.seed,
                "stream": self.stream, "api": self.api, "time_scale": self.time_scale, "requests": len(self.records),
                "times": "wall seconds from the run's origin", **self.meta}


def _is_token(choice: dict[str, Any]) -> bool:
    """A content event: text present (even empty: a partial UTF-8 byte), not the role or final event."""
    if "delta" in choice:
        delta = choice.get("delta") or {}
        content = delta.get("content")
        if content is None or "role" in delta and content == "":
            return False
        return content != "" or choice.get("finish_reason") is None
    if "text" in choice:
        text = choice.get("text")
        if text is None:
            return False
        return text != "" or choice.get("finish_reason") is None
    return False


def _usage(body: dict[str, Any]) -> tuple[int | None, int | None, dict[str, Any] | None]:
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else None
    groq = body.get("x_groq", {}).get("usage") if isinstance(body.get("x_groq"), dict) else None
    timings = body.get("timings") if isinstance(body.get("timings"), dict) else None
    source = usage or groq or {}
    server = groq if isinstance(groq, dict) else ({"llama.cpp": timings} if timings else None)
    prompt = source.get("prompt_tokens")
    completion = source.get("completion_tokens")
    return (prompt if isinstance(prompt, int) else None, completion if isinstance(completion, int) else None, server)


class _Runner:
    def __init__(self, url: str, schedule: Schedule, prompts: PromptSet, *, model: str, api: str, stream: bool,
                 timeout_s: float, time_scale: float, extra_body: dict[str, Any] | None, spin_s: float = 0.0,
                 warm_connections: int | None = None, client: str = "auto") -> None:
        if client == "auto":
            client = default_client()
        if client not in CLIENTS:
            raise InvalidInput("--client", client, f"use one of auto, {', '.join(CLIENTS)}")
        if client == "h1" and not h1.available():
            raise InvalidInput("--client", client, "h1 needs httptools: pip install 'lpuplan[fast]', or use aiohttp")
        self.client = client
        self.spin_s = spin_s
        self.warm_connections = warm_connections
        self.base = url.rstrip("/")
        self.schedule = schedule
        self.prompts = prompts
        self.model = model
        self.api = api
        self.stream = stream
        self.timeout_s = timeout_s
        self.scale = time_scale
        self.extra = extra_body or {}
        self.endpoint = f"{self.base}/chat/completions" if api == "chat" else f"{self.base}/completions"
        self.origin = 0.0
        self._bodies: dict[tuple[str, int], bytes] = {}
        self.connections_opened: int | None = None

    def _body(self, text: str, max_tokens: int) -> bytes:
        """The request's JSON, encoded once per distinct (prompt, max_tokens): the prompts are a few variants."""
        key = (text, max_tokens)
        cached = self._bodies.get(key)
        if cached is None:
            cached = self._bodies[key] = self._encode(text, max_tokens)
        return cached

    def _encode(self, text: str, max_tokens: int) -> bytes:
        body: dict[str, Any] = {"model": self.model, "max_tokens": max_tokens, "temperature": 0.0, "stream": self.stream}
        if self.api == "chat":
            body["messages"] = [{"role": "user", "content": text}]
        else:
            body["prompt"] = text
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        body.update(self.extra)
        return json.dumps(body).encode()

    async def one(self, client: httpx.AsyncClient, i: int, scheduled: float, body: bytes, shape: str) -> RequestRecord:
        clock = time.perf_counter
        origin = self.origin
        sent = clock() - origin
        first_byte = None
        tokens: list[float] = []
        end = None
        status = 0
        error = None
        retry_after = None
        prompt_reported = completion = None
        server = None
        sched = self.schedule
        try:
            request = client.build_request("POST", self.endpoint, content=body,
                                           headers={"content-type": "application/json"})
            response = await client.send(request, stream=True)
            try:
                first_byte = clock() - origin
                status = response.status_code
                if status != 200:
                    await response.aread()
                    retry_after = parse_retry_after_headers(response.headers.get("retry-after"),
                                                            response.headers.get("retry-after-ms"))
                    error = f"HTTP {status}: {response.text[:160]}"
                    end = clock() - origin
                elif self.stream:
                    state: dict[str, Any] = {"tokens": tokens, "finished": False, "error": None, "prompt": None,
                                             "completion": None, "server": None}
                    async for line in response.aiter_lines():
                        if self._parse_sse_line(line, clock() - origin, state):
                            break
                    end = clock() - origin
                    error = state["error"]
                    prompt_reported, completion, server = state["prompt"], state["completion"], state["server"]
                    if not state["finished"] and error is None:
                        error = "stream ended before its final event"
                else:
                    data = json.loads(await response.aread())
                    end = clock() - origin
                    tokens.append(end)  # one event: the whole answer
                    prompt_reported, completion, server = _usage(data)
            finally:
                await response.aclose()
        except httpx.TimeoutException as exc:
            error = f"timeout: {type(exc).__name__}"
        except (httpx.HTTPError, json.JSONDecodeError, ValueError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:160]}"
        return RequestRecord(
            index=i, shape=shape, prompt_tokens=int(sched.prompt_tokens[i]), output_tokens=int(sched.output_tokens[i]),
            scheduled_s=scheduled, sent_s=sent, first_byte_s=first_byte, token_s=tuple(tokens), end_s=end,
            status=status, error=error, retry_after_s=retry_after, prompt_tokens_reported=prompt_reported,
            completion_tokens=completion, server=server,
        )

    def _parse_sse_line(self, line: str, now: float, state: dict[str, Any]) -> bool:
        """Fold one SSE line into ``state``; True at the stream's final event."""
        if not line.startswith("data:"):
            return False
        payload = line[5:].strip()
        if payload == "[DONE]":
            state["finished"] = True
            return True
        if ('"finish_reason":null' in payload and '"usage"' not in payload and '"error"' not in payload
                and '"role"' not in payload and '"delta":{}' not in payload and '"text":null' not in payload and '"content":null' not in payload):
            state["tokens"].append(now)  # a compact token chunk: no need to parse it (the CPU is the send lag)
            return False
        chunk = json.loads(payload)
        if "error" in chunk:
            state["error"] = f"error event: {str(chunk['error'])[:160]}"
            return True
        for choice in chunk.get("choices") or ():
            if _is_token(choice):
                state["tokens"].append(now)
            if choice.get("finish_reason"):
                state["finished"] = True
        p, c, srv = _usage(chunk)
        if p is not None:
            state["prompt"] = p
        if c is not None:
            state["completion"] = c
        if srv is not None:
            state["server"] = srv
        return False

    async def one_aiohttp(self, session: Any, i: int, scheduled: float, body: bytes, shape: str) -> RequestRecord:
        """The same request over aiohttp's client (about 4x less CPU per request than httpx)."""
        import aiohttp

        clock = time.perf_counter
        origin = self.origin
        sent = clock() - origin
        first_byte = end = None
        status = 0
        error = retry_after = None
        state: dict[str, Any] = {"tokens": [], "finished": False, "error": None, "prompt": None, "completion": None,
                                 "server": None}
        sched = self.schedule
        try:
            async with session.post(self.endpoint, data=body, headers={"content-type": "application/json"}) as response:
                first_byte = clock() - origin
                status = response.status
                if status != 200:
                    text = await response.text()
                    retry_after = parse_retry_after_headers(response.headers.get("retry-after"),
                                                            response.headers.get("retry-after-ms"))
                    error = f"HTTP {status}: {text[:160]}"
                    end = clock() - origin
                elif self.stream:
                    async for raw in response.content:
                        if self._parse_sse_line(raw.decode("utf-8", "replace").rstrip("\r\n"), clock() - origin, state):
                            break
                    end = clock() - origin
                    error = state["error"]
                    if not state["finished"] and error is None:
                        error = "stream ended before its final event"
                else:
                    data = json.loads(await response.read())
                    end = clock() - origin
                    state["tokens"].append(end)
                    state["prompt"], state["completion"], state["server"] = _usage(data)
        except asyncio.TimeoutError:
            error = "timeout: TimeoutError"
        except (aiohttp.ClientError, json.JSONDecodeError, ValueError, UnicodeDecodeError) as exc:
            error = f"{type(exc).__name__}: {str(exc)[:160]}"
        return RequestRecord(
            index=i, shape=shape, prompt_tokens=int(sched.prompt_tokens[i]), output_tokens=int(sched.output_tokens[i]),
            scheduled_s=scheduled, sent_s=sent, first_byte_s=first_byte, token_s=tuple(state["tokens"]), end_s=end,
            status=status, error=error, retry_after_s=retry_after, prompt_tokens_reported=state["prompt"],
            completion_tokens=state["completion"], server=state["server"],
        )

    def _warm_count(self) -> int:
        """Connections to open before the run: rate x 50 ms, 4 to 512 (the requests in flight over a loopback
        round trip and a short service, with room for the burst that follows a 50 ms stall of a busy machine)."""
        if self.warm_connections is not None:
            return self.warm_connections
        times = self.schedule.times_s
        span = float(times[-1] - times[0]) / self.scale if times.size > 1 else 0.0
        rate = (times.size - 1) / span if span > 0 else 1.0
        return max(4, min(512, math.ceil(rate * 0.05)))

    async def _send_all(self, launch: Any) -> None:
        """Call ``launch(i)`` at each request's scheduled instant (all that are due, in order); never wait."""
        times = (self.schedule.times_s / self.scale).tolist()
        clock = time.perf_counter
        sleep = asyncio.sleep
        origin = self.origin
        spin = self.spin_s
        n = len(times)
        i = 0
        while i < n:
            target = times[i]
            delay = target - (clock() - origin)
            if delay > spin:
                await sleep(delay - spin)
            if spin:
                while clock() - origin < target:
                    await sleep(0)
            now = clock() - origin
            while i < n and times[i] <= now:  # everything due leaves now, in order
                launch(i)
                i += 1

    def _bodies_of_schedule(self) -> list[bytes]:
        sched = self.schedule
        return [self._body(self.prompts.take(int(p)), int(o)) for p, o in zip(sched.prompt_tokens, sched.output_tokens)]

    async def _run_tasks(self, start: Any, warm: Any) -> list[RequestRecord]:
        """aiohttp and httpx: one task per request."""
        sched = self.schedule
        bodies = self._bodies_of_schedule()
        names = [s.name for s in sched.shapes]
        times = (sched.times_s / self.scale).tolist()
        count = self._warm_count()
        if count:  # connection set-up is not the server's latency: open some first
            await asyncio.gather(*(warm() for _ in range(count)), return_exceptions=True)
        tasks: list[asyncio.Task[RequestRecord]] = []
        create = asyncio.get_running_loop().create_task
        index = sched.shape_index

        def launch(i: int) -> None:
            tasks.append(create(start(i, times[i], bodies[i], names[int(index[i])])))

        self.origin = time.perf_counter() + 0.05
        await self._send_all(launch)
        return list(await asyncio.gather(*tasks))

    async def run_h1(self) -> list[RequestRecord]:
        """The lean client: pre-encoded requests, no task per request (see :mod:`benchmarks.load.h1`)."""
        sched = self.schedule
        n = len(sched)
        client = h1.H1Client(self.endpoint, n, stream=self.stream, timeout_s=self.timeout_s,
                             parse_sse=self._parse_sse_line, usage=_usage)
        path = "/" + self.endpoint.split("/", 3)[3]
        host = client.authority
        accept = "text/event-stream" if self.stream else "application/json"
        wire: dict[bytes, bytes] = {}
        payloads = []
        for body in self._bodies_of_schedule():
            encoded = wire.get(body)
            if encoded is None:
                encoded = wire[body] = h1.encode_post(host, path, body, accept)
            payloads.append(encoded)
        try:
            await client.warm(self._warm_count())
            submit = client.submit
            self.origin = client.origin = time.perf_counter() + 0.05
            await self._send_all(lambda i: submit(i, payloads[i]))
            await client.drain()
        finally:
            await client.close()
        self.connections_opened = client.opened
        slots = client.slots
        times = (sched.times_s / self.scale).tolist()
        names = [s.name for s in sched.shapes]
        records = []
        for i in range(n):
            usage = slots.usage[i] or (None, None, None)
            tokens = slots.tokens[i]
            records.append(RequestRecord(
                index=i, shape=names[int(sched.shape_index[i])], prompt_tokens=int(sched.prompt_tokens[i]),
                output_tokens=int(sched.output_tokens[i]), scheduled_s=times[i], sent_s=slots.sent[i],  # type: ignore[arg-type]
                first_byte_s=slots.first_byte[i], token_s=tuple(tokens) if tokens else (), end_s=slots.end[i],
                status=slots.status[i], error=slots.error[i], retry_after_s=slots.retry_after[i],
                prompt_tokens_reported=usage[0], completion_tokens=usage[1], server=usage[2],
            ))
        return records

    async def run_aiohttp(self) -> list[RequestRecord]:
        import aiohttp

        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30.0)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=min(self.timeout_s, 10.0), sock_read=self.timeout_s)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         headers={"accept": "text/event-stream"}) as session:
            async def warm() -> None:
                async with session.get(f"{self.base}/models") as response:
                    await response.read()

            return await self._run_tasks(lambda *a: self.one_aiohttp(session, *a), warm)

    async def run(self) -> list[RequestRecord]:
        if self.client == "h1":
            return await self.run_h1()
        if self.client == "aiohttp":
            return await self.run_aiohttp()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=30.0)
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0))
        async with httpx.AsyncClient(limits=limits, timeout=timeout, headers={"accept": "text/event-stream"}) as client:
            async def warm() -> None:
                await client.get(f"{self.base}/models")

            return await self._run_tasks(lambda *a: self.one(client, *a), warm)


async def run_load_async(url: str, schedule: Schedule, prompts: PromptSet, *, model: str = "default",
                         api: str = "completions", stream: bool = True, timeout_s: float = 60.0,
                         time_scale: float = 1.0, extra_body: dict[str, Any] | None = None,
                         spin_s: float = 0.0, warm_connections: int | None = None, client: str = "auto") -> LoadRun:
    """Play ``schedule`` against the OpenAI-compatible server at ``url`` (ends in ``/v1``).

    ``client``: ``auto`` (``h1`` when httptools is installed, else
    ``aiohttp``), ``h1``, ``aiohttp`` or ``httpx``. ``warm_connections``:
    connections opened before the run (None: rate x 50 ms, 4 to 512).
    """
    runner = _Runner(url, schedule, prompts, model=model, api=api, stream=stream, timeout_s=timeout_s,
                     time_scale=time_scale, extra_body=extra_body, spin_s=spin_s,
                     warm_connections=warm_connections, client=client)
    records = await runner.run()
    loop = asyncio.get_running_loop()
    uv = _uvloop()
    meta: dict[str, Any] = {"tokenizer": prompts.tokenizer, "model": model, "client": runner.client,
                            "event_loop": "uvloop" if uv is not None and isinstance(loop, uv.Loop) else "asyncio"}
    if runner.connections_opened is not None:
        meta["connections_opened"] = runner.connections_opened
    return LoadRun(tuple(records), url, schedule.rate, schedule.arrivals, schedule.seed, stream, api, time_scale, meta)


def run_load(url: str, schedule: Schedule, prompts: PromptSet, *, event_loop: str = "auto", **options: Any) -> LoadRun:
    """Synchronous wrapper of :func:`run_load_async` in its own event loop.

    ``event_loop``: ``auto`` (uvloop when installed: the ``fast`` extra),
    ``uvloop`` or ``asyncio``.
    """
    if event_loop not in EVENT_LOOPS:
        raise InvalidInput("--event-loop", event_loop, f"use one of {', '.join(EVENT_LOOPS)}")
    uv = _uvloop()
    if event_loop == "uvloop" and uv is None:
        raise InvalidInput("--event-loop", event_loop, "uvloop is not installed: pip install 'lpuplan[fast]', or use asyncio")
    factory = uv.new_event_loop if uv is not None and event_loop != "asyncio" else None
    box: list[LoadRun] = []

    async def main() -> None:  # the run is not the task's result: asyncio.Runner would repr every record of it
        box.append(await run_load_async(url, schedule, prompts, **options))

    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
    return box[0]
