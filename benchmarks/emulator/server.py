"""The emulator's HTTP face: an OpenAI-compatible server over aiohttp.

Endpoints (``/v1`` is the OpenAI base URL):

- ``POST /v1/completions`` (``prompt``) and ``POST /v1/chat/completions``
  (``messages``): ``max_tokens`` output tokens exactly (the pool's
  ``max_output_tokens`` caps it, ``finish_reason = "length"``), streamed as
  SSE (``stream: true``; the last chunk carries ``usage`` when
  ``stream_options.include_usage`` is set, and ``x_groq.usage`` always) or
  as one JSON body with ``usage`` and ``x_groq.usage``. Groq's timing fields
  in emulated seconds: ``queue_time``, ``prompt_time`` (prefill),
  ``completion_time`` (decode, plus any hang), ``total_time`` (prompt +
  completion; the fixed overhead L_fixed is outside it, as on GroqCloud).
- Token counting: one token per whitespace-separated word of the prompt (of
  every message's ``content`` for chat); ``POST /tokenize`` (``content``)
  and ``POST /extras/tokenize`` (``input``) answer ``{"tokens": [...]}`` so
  clients can build prompts of exact lengths. Output tokens are words too.
- ``GET /v1/models``, ``GET /health``, ``GET /metrics`` (Prometheus text;
  names in :mod:`benchmarks.emulator.metrics`).
- Control API (game days): ``GET /control/state``;
  ``POST /control/pools/{pool}/replicas/{k}/{kill|hang|recover}`` with an
  optional JSON body ``{"after_s": A, "duration_s": D}`` (emulated seconds:
  act A from now, undo D after acting). Answers the pool's state.

Errors follow OpenAI's shape ``{"error": {"message", "type", "param", "code"}}``:
400 bad request, 429 queue full (``retry-after`` whole seconds, rounded up,
and ``retry-after-ms``; emulated time), 503 no replica or replica down.
A stream whose replica is killed under it is cut without its final event.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from benchmarks.emulator.config import EmulatorConfig, Fault, PoolSpec
from benchmarks.emulator.metrics import EmulatorMetrics
from benchmarks.emulator.pool import Job, NoReplica, PoolRuntime, RequestFailed, Shed

__all__ = ["Emulator", "count_tokens", "CONTROL_ACTIONS"]

CONTROL_ACTIONS = ("kill", "hang", "recover")
_dumps = json.dumps
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


def count_tokens(text: str) -> int:
    """The emulator's tokenizer: one token per whitespace-separated word."""
    return len(text.split())


class _BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


def _error(status: int, message: str, kind: str, param: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": param, "code": kind}}
    return web.Response(status=status, text=_dumps(body), content_type="application/json", headers=headers)


def _prompt_tokens(body: dict[str, Any], chat: bool) -> int:
    if chat:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _BadRequest("messages must be a non-empty list of {role, content}", "messages")
        total = 0
        for i, message in enumerate(messages):
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, list):  # content parts: count the text ones
                content = " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            if not isinstance(content, str):
                raise _BadRequest(f"messages[{i}].content must be a string", f"messages[{i}].content")
            total += count_tokens(content)
        return total
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list) and all(isinstance(t, int) for t in prompt):
        return len(prompt)  # token ids
    if not isinstance(prompt, str):
        raise _BadRequest("prompt must be a string (or one list of token ids)", "prompt")
    return count_tokens(prompt)


class Emulator:
    """An LPU emulator serving ``config`` on ``host:port`` (port 0: a free one).

    Library use (tests, notebooks)::

        with Emulator(config).start() as emu:
            ... emu.url ...            # "http://127.0.0.1:PORT/v1"
            emu.kill("p512", 0, duration_s=30)

    ``start()`` runs the server in a background thread with its own event
    loop and returns once the socket listens; ``stop()`` closes it. The
    control methods are thread-safe and act at once (emulated ``after_s``
    delays them).
    """

    def __init__(self, config: EmulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pools: dict[str, PoolRuntime] = {}
        self.metrics = EmulatorMetrics([p.name for p in config.pools], [p.slo_s for p in config.pools if p.slo_s],
                                       self._snapshot)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._started_wall = 0.0
        self._ids = 0
        self._timers: list[asyncio.TimerHandle] = []
        self._choices: dict[tuple[bool, int], str] = {}  # the non-streamed answer's choices, per (chat, tokens)
        self._model_json = _dumps(config.model)

    # --- lifecycle -----------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The OpenAI base URL (ends in ``/v1``)."""
        return f"{self.root_url}/v1"

    def start(self) -> "Emulator":
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open(loop))
            except BaseException as exc:  # noqa: BLE001 - reported to start()'s caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._close())
            loop.close()

        self._thread = threading.Thread(target=run, name="lpu-emulator", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self.loop is not None and self._thread is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _open(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        cfg = self.config
        self.pools = {p.name: PoolRuntime(p, loop, cfg.time_scale, cfg.routing, cfg.failover_time_s) for p in cfg.pools}
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/completions", self._completions)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/tokenize", self._tokenize)
        app.router.add_post("/extras/tokenize", self._tokenize)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/control/state", self._control_state)
        app.router.add_post("/control/pools/{pool}/replicas/{replica}/{action}", self._control)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, backlog=4096, reuse_address=True)
        await site.start()
        sockets = self._runner.addresses
        self.port = int(sockets[0][1])
        self._started_wall = loop.time()
        for fault in cfg.faults:
            self._schedule_fault(fault)

    async def _close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- time ---------------------------------------------------------------------
    def emulated_now(self) -> float:
        """Emulated seconds since start."""
        assert self.loop is not None
        return (self.loop.time() - self._started_wall) * self.config.time_scale

    def _snapshot(self) -> dict[str, Any]:
        return {
            "time_scale": self.config.time_scale,
            "emulated_s": self.emulated_now() if self.loop is not None else 0.0,
            "routing": self.config.routing,
            "pools": [pool.state() for pool in self.pools.values()],
        }

    # --- failures -----------------------------------------------------------------
    def _act(self, pool: str, replica: int, action: str) -> None:
        runtime = self.pools[pool]
        getattr(runtime, action)(replica)

    def _schedule_fault(self, fault: Fault) -> None:
        assert self.loop is not None
        scale = self.config.time_scale
        at_wall = self._started_wall + fault.at_s / scale
        self._timers.append(self.loop.call_at(at_wall, self._act, fault.pool, fault.replica, fault.action))
        if fault.duration_s is not None:
            self._timers.append(self.loop.call_at(at_wall + fault.duration_s / scale, self._act, fault.pool,
                                                  fault.replica, "recover"))

    def _apply(self, pool: str, replica: int, action: str, after_s: float, duration_s: float | None) -> None:
        """Act now (``after_s = 0``, before the caller answers) or schedule it; undo after ``duration_s``."""
        assert self.loop is not None
        scale = self.config.time_scale
        if after_s > 0:
            self._timers.append(self.loop.call_later(after_s / scale, self._act, pool, replica, action))
        else:
            self._act(pool, replica, action)
        if duration_s is not None and action != "recover":
            self._timers.append(self.loop.call_later((after_s + duration_s) / scale, self._act, pool, replica, "recover"))

    def _validate_target(self, pool: str, replica: int, action: str) -> None:
        if action not in CONTROL_ACTIONS:
            raise _BadRequest(f"action {action!r}: use one of {', '.join(CONTROL_ACTIONS)}", "action")
        if pool not in self.pools:
            raise _BadRequest(f"pool {pool!r}: use one of {', '.join(self.pools)}", "pool")
        if not 0 <= replica < len(self.pools[pool].replicas):
            raise _BadRequest(f"replica {replica}: pool {pool} has replicas 0..{len(self.pools[pool].replicas) - 1}", "replica")

    def control(self, pool: str, replica: int, action: str, after_s: float = 0.0, duration_s: float | None = None) -> dict[str, Any]:
        """Kill, hang or recover a replica (thread-safe); returns the pool's state."""
        assert self.loop is not None

        async def act() -> dict[str, Any]:
            self._validate_target(pool, replica, action)
            self._apply(pool, replica, action, after_s, duration_s)
            return self.pools[pool].state()

        return asyncio.run_coroutine_threadsafe(act(), self.loop).result(timeout=10)

    def kill(self, pool: str, replica: int, after_s: float = 0.0, duration_s: float | None = None) -> dict[str, Any]:
        return self.control(pool, replica, "kill", after_s, duration_s)

    def hang(self, pool: str, replica: int, after_s: float = 0.0, duration_s: float | None = None) -> dict[str, Any]:
        return self.control(pool, replica, "hang", after_s, duration_s)

    def recover(self, pool: str, replica: int, after_s: float = 0.0) -> dict[str, Any]:
        return self.control(pool, replica, "recover", after_s)

    def state(self) -> dict[str, Any]:
        """Pools, replicas and queues now (thread-safe)."""
        assert self.loop is not None

        async def read() -> dict[str, Any]:
            return self._snapshot()

        return asyncio.run_coroutine_threadsafe(read(), self.loop).result(timeout=10)

    # --- small endpoints --------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.config.model, "object": "model", "owned_by": "lpuplan"}]})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _tokenize(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "body is not JSON", "invalid_request_error")
        text = body.get("input", body.get("content")) if isinstance(body, dict) else None
        if not isinstance(text, str):
            return _error(400, "give the text as 'content' (or 'input')", "invalid_request_error", "content")
        return web.Response(text=_dumps({"tokens": list(range(count_tokens(text)))}), content_type="application/json")

    async def _metrics(self, request: web.Request) -> web.Response:
        data = generate_latest(self.metrics.registry)
        return web.Response(body=data, headers={"content-type": CONTENT_TYPE_LATEST})

    async def _control_state(self, request: web.Request) -> web.Response:
        return web.json_response(self._snapshot())

    async def _control(self, request: web.Request) -> web.Response:
        pool = request.match_info["pool"]
        action = request.match_info["action"]
        try:
            replica = int(request.match_info["replica"])
        except ValueError:
            return _error(400, "replica must be a whole number", "invalid_request_error", "replica")
        after_s, duration_s = 0.0, None
        if request.can_read_body:
            try:
                body = await request.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                return _error(400, "body is not JSON", "invalid_request_error")
            if not isinstance(body, dict):
                return _error(400, "body must be a JSON object", "invalid_request_error")
            after_s = body.get("after_s", 0.0)
            duration_s = body.get("duration_s")
            for name, value in (("after_s", after_s), ("duration_s", duration_s)):
                if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or not math.isfinite(value) or value < 0):
                    return _error(400, f"{name} must be a number of seconds >= 0", "invalid_request_error", name)
        try:
            self._validate_target(pool, replica, action)
        except _BadRequest as exc:
            return _error(404 if exc.param in ("pool", "replica", "action") else 400, str(exc), "not_found", exc.param)
        self._apply(pool, replica, action, float(after_s), float(duration_s) if duration_s else None)
        return web.json_response({"action": action, "pool": pool, "replica": replica, "after_s": after_s,
                                  "duration_s": duration_s, "state": self.pools[pool].state()})

    # --- completions -------------------------------------------------------------------
    async def _completions(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=False)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, chat=True)

    async def _serve(self, request: web.Request, chat: bool) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return _error(400, "body is not JSON", "invalid_request_error")
        try:
            if not isinstance(body, dict):
                raise _BadRequest("body must be a JSON object")
            prompt_tokens = _prompt_tokens(body, chat)
            max_tokens = body.get("max_completion_tokens", body.get("max_tokens", 16))
            if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
                raise _BadRequest("max_tokens must be a whole number >= 1", "max_tokens")
            stream = bool(body.get("stream", False))
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        except _BadRequest as exc:
            return _error(400, str(exc), "invalid_request_error", exc.param)
        spec = self.config.pool_for_prompt(prompt_tokens)
        if spec is None:
            largest = self.config.pools[-1].max_prompt_tokens
            return _error(400, f"prompt has {prompt_tokens} tokens; the largest compiled shape holds {largest}",
                          "context_length_exceeded", "prompt")
        pool = self.pools[spec.name]
        output_tokens = min(max_tokens, spec.max_output_tokens)
        m = self.metrics
        try:
            job = pool.submit(prompt_tokens, output_tokens)
        except Shed as exc:
            m.shed.labels(spec.name).inc()
            m.requests.labels(spec.name, "429").inc()
            seconds = exc.retry_after_s
            headers = {"retry-after": str(max(1, math.ceil(seconds))), "retry-after-ms": f"{seconds * 1e3:.0f}"}
            return _error(429, f"pool {spec.name}: queue full ({spec.queue_cap} waiting); retry after {seconds:.3f} s",
                          "rate_limit_exceeded", headers=headers)
        except NoReplica:
            m.errors.labels(spec.name, "no_replica").inc()
            m.requests.labels(spec.name, "503").inc()
            return _error(503, f"pool {spec.name}: no replica available", "service_unavailable")
        self._ids += 1
        ident = f"{'chatcmpl' if chat else 'cmpl'}-emu{self._ids}"
        try:
            await job.started
        except RequestFailed as exc:
            m.errors.labels(spec.name, exc.reason).inc()
            m.requests.labels(spec.name, "503").inc()
            return _error(503, f"pool {spec.name}: {exc.reason.replace('_', ' ')}", "service_unavailable")
        except asyncio.CancelledError:
            self._abandon(job, spec)
            raise
        if stream:
            return await self._stream(request, job, spec, ident, chat, include_usage)
        return await self._whole(job, spec, ident, chat)

    def _abandon(self, job: Job, spec: PoolSpec) -> None:
        """The client went away. Its slot stays taken for the request's service
        (an LPU does not stop a compiled run), or it leaves the queue."""
        self.metrics.errors.labels(spec.name, "client_disconnected").inc()
        if job.start is None:
            pool = self.pools[spec.name]
            for queue in [pool.queue] + [r.queue for r in pool.replicas]:
                try:
                    queue.remove(job)
                except ValueError:
                    continue

    def _usage(self, job: Job, spec: PoolSpec) -> tuple[dict[str, Any], dict[str, Any]]:
        scale = self.config.time_scale
        assert job.start is not None
        prompt_time = spec.prefill_s(job.prompt_tokens)
        completion_time = job.output_tokens / spec.r_decode + job.shift * scale
        usage = {"prompt_tokens": job.prompt_tokens, "completion_tokens": job.output_tokens,
                 "total_tokens": job.prompt_tokens + job.output_tokens}
        groq = dict(usage, queue_time=(job.start - job.arrival) * scale, prompt_time=prompt_time,
                    completion_time=completion_time, total_time=prompt_time + completion_time)
        return usage, groq

    def _observe(self, job: Job, spec: PoolSpec) -> None:
        assert self.loop is not None and job.start is not None
        scale = self.config.time_scale
        m = self.metrics.served[spec.name]
        end = job.at + job.service
        first = job.at + (spec.l_fixed_s + spec.prefill_s(job.prompt_tokens) + 1 / spec.r_decode) / scale
        m.requests.inc()
        m.tokens.inc(job.output_tokens)
        m.latency.observe((end - job.arrival) * scale)
        m.ttft.observe((first - job.arrival) * scale)
        m.wait.observe((job.start - job.arrival) * scale)
        m.lag.observe(max(self.loop.time() - end, 0.0))

    def _failed(self, spec: PoolSpec, reason: str) -> None:
        self.metrics.errors.labels(spec.name, reason).inc()
        self.metrics.requests.labels(spec.name, "503").inc()

    async def _whole(self, job: Job, spec: PoolSpec, ident: str, chat: bool) -> web.StreamResponse:
        try:
            await job.wait_offset(job.service)
        except RequestFailed as exc:
            self._failed(spec, exc.reason)
            return _error(503, f"pool {spec.name}: {exc.reason.replace('_', ' ')}", "service_unavailable")
        except asyncio.CancelledError:
            self._abandon(job, spec)
            raise
        self._observe(job, spec)
        return web.Response(body=self._whole_body(job, spec, ident, chat), headers=_JSON_HEADERS)

    def _whole_body(self, job: Job, spec: PoolSpec, ident: str, chat: bool) -> bytes:
        """The non-streamed answer, byte for byte what ``json.dumps`` writes of
        ``{"id", "object", "created", "model", "choices", "usage", "x_groq": {"id", "usage"}}``,
        from a template: the choice is cached per (api, tokens) and numbers are
        formatted as json formats them (``repr`` of a float), the least work per request."""
        usage, groq = self._usage(job, spec)
        key = (chat, job.output_tokens)
        choices = self._choices.get(key)
        if choices is None:
            text = " tok" * job.output_tokens
            choice = ({"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "length", "logprobs": None}
                      if chat else {"index": 0, "text": text, "finish_reason": "length", "logprobs": None})
            choices = self._choices[key] = _dumps([choice])
        p, c = usage["prompt_tokens"], usage["completion_tokens"]
        usage_json = f'{{"prompt_tokens": {p}, "completion_tokens": {c}, "total_tokens": {p + c}}}'
        groq_json = (f'{{"prompt_tokens": {p}, "completion_tokens": {c}, "total_tokens": {p + c}, '
                     f'"queue_time": {groq["queue_time"]!r}, "prompt_time": {groq["prompt_time"]!r}, '
                     f'"completion_time": {groq["completion_time"]!r}, "total_time": {groq["total_time"]!r}}}')
        kind = "chat.completion" if chat else "text_completion"
        return (f'{{"id": "{ident}", "object": "{kind}", "created": {int(time.time())}, "model": {self._model_json}, '
                f'"choices": {choices}, "usage": {usage_json}, "x_groq": {{"id": "{ident}", "usage": {groq_json}}}}}').encode()

    def _token_groups(self, job: Job, spec: PoolSpec) -> list[tuple[float, int]]:
        """(wall offset from schedule origin, tokens) per chunk: tokens due within
        ``token_coalesce_s`` of a chunk's first token ride in it, sent when its last is due."""
        scale = self.config.time_scale
        before = (spec.l_fixed_s + spec.prefill_s(job.prompt_tokens)) / scale
        step = 1.0 / spec.r_decode / scale
        window = self.config.token_coalesce_s / scale
        per_chunk = max(1, int(window / step) + 1) if window > 0 else 1
        groups = []
        k = 0
        n = job.output_tokens
        while k < n:
            count = min(per_chunk, n - k)
            k += count
            groups.append((before + k * step, count))
        groups[-1] = (job.service, groups[-1][1])  # the last token is due exactly at release
        return groups

    async def _stream(self, request: web.Request, job: Job, spec: PoolSpec, ident: str, chat: bool,
                      include_usage: bool) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream", "cache-control": "no-cache"})
        await response.prepare(request)
        created = int(time.time())
        model = self.config.model
        kind = "chat.completion.chunk" if chat else "text_completion"
        head = f'{{"id":"{ident}","object":"{kind}","created":{created},"model":"{model}","choices":['
        try:
            if chat:
                await response.write(f'data: {head}{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}\n\n'.encode())
            for offset, count in self._token_groups(job, spec):
                await job.wait_offset(offset)
                piece = " tok" * count
                if chat:
                    line = f'data: {head}{{"index":0,"delta":{{"content":"{piece}"}},"finish_reason":null}}]}}\n\n'
                else:
                    line = f'data: {head}{{"index":0,"text":"{piece}","finish_reason":null}}]}}\n\n'
                await response.write(line.encode())
        except RequestFailed as exc:
            self._failed(spec, exc.reason)
            request.transport.close() if request.transport is not None else None  # the replica is gone: cut
            return response
        except (asyncio.CancelledError, ConnectionResetError):
            self._abandon(job, spec)
            raise
        usage, groq = self._usage(job, spec)
        final: dict[str, Any] = {"id": ident, "object": kind, "created": created, "model": model,
                                 "choices": [{"index": 0, ("delta" if chat else "text"): ({} if chat else ""), "finish_reason": "length"}],
                                 "x_groq": {"id": ident, "usage": groq}}
        if include_usage:
            final["usage"] = usage
        self._observe(job, spec)
        await response.write(f"data: {_dumps(final)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response
