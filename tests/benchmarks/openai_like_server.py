"""A loopback OpenAI-compatible server whose streams take the shapes real servers send.

Real sockets, scripted shapes (set on the server before a request):

- ``per_chunk``: tokens coalesced into each content chunk (vLLM, TGI and
  proxies send several tokens per chunk under load);
- ``text``: ``"letters"`` (one letter per token), ``"empty"`` (every token's
  text empty, as a byte token that is an incomplete UTF-8 sequence arrives),
  or ``"mixed"`` (every third token empty);
- ``usage``: ``"final"`` (OpenAI's ``stream_options.include_usage``: a
  usage-only chunk with ``choices: []`` after the finishing chunk), ``"none"``;
- ``done``: send ``data: [DONE]`` at the end;
- ``api``: completions (``text``) or chat (``delta.content``, a role chunk first);
- ``script``: one action per streamed request: ``"ok"``, ``"cut_before_usage"``
  (the connection closes after the finishing chunk, before the usage chunk),
  ``"malformed"`` (one chunk is not JSON), ``"429"``, ``"500"``.

``prefill_s_per_token`` x prompt tokens is slept before the first token and
``token_gap_s`` between tokens, so a coalesced chunk really holds
several tokens' worth of time. Non-streamed requests get the whole answer
with ``usage``. The server counts prompt tokens as one per 4 characters.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

__all__ = ["OpenAILikeServer", "serve_openai_like"]


class OpenAILikeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.per_chunk = 1
        self.text = "letters"
        self.usage = "final"
        self.done = True
        self.token_gap_s = 0.0005
        self.prefill_s_per_token = 0.0  # slept before the first token: a prefill that takes time
        self.script: list[str] = []
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.token_times: list[list[float]] = []  # per streamed request: when each token was made (perf_counter)
        self.in_flight = 0
        self.max_in_flight = 0

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: OpenAILikeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self._leave()
        self.wfile.write(data)

    def _leave(self) -> None:
        # Leave the in-flight count BEFORE the bytes that end the answer: once the client has them it may send
        # its next request, which another handler thread could count while this one still stood at N.
        if not self.counted:
            return
        self.counted = False
        with self.server.lock:
            self.server.in_flight -= 1

    def _event(self, payload: str) -> None:
        data = f"data: {payload}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        server = self.server
        with server.lock:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        self.counted = True
        try:
            self._answer()
        finally:
            self._leave()

    def _answer(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        if not self.path.split("?")[0].endswith("/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        server = self.server
        server.requests.append(body)
        chat = self.path.endswith("/chat/completions")
        prompt = body.get("prompt") or body["messages"][0]["content"]
        n_prompt, n_out = max(1, len(prompt) // 4), int(body.get("max_tokens", 16))
        usage = {"prompt_tokens": n_prompt, "completion_tokens": n_out, "total_tokens": n_prompt + n_out}
        time.sleep(n_prompt * server.prefill_s_per_token)
        if not body.get("stream"):
            time.sleep(n_out * server.token_gap_s)
            choice = {"index": 0, "finish_reason": "length"}
            choice.update({"message": {"role": "assistant", "content": "x" * n_out}} if chat else {"text": "x" * n_out})
            self._json(200, {"object": "text_completion", "choices": [choice], "usage": usage})
            return
        action = server.next_action()
        if action in ("429", "500"):
            self._json(int(action), {"error": {"message": "busy"}}, {"retry-after": "0.01"})
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def choice(text: str, finish: str | None) -> dict:
            out: dict = {"index": 0, "finish_reason": finish}
            out.update({"delta": {"content": text}} if chat else {"text": text})
            return out

        if chat:
            self._event(json.dumps({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}))
        made: list[float] = []
        server.token_times.append(made)
        sent = 0
        while sent < n_out:
            k = min(server.per_chunk, n_out - sent)
            pieces = []
            for i in range(sent, sent + k):
                time.sleep(server.token_gap_s)
                made.append(time.perf_counter())
                empty = server.text == "empty" or (server.text == "mixed" and i % 3 == 2)
                pieces.append("" if empty else chr(ord("a") + i % 26))
            sent += k
            self._event(json.dumps({"object": "text_completion", "choices": [choice("".join(pieces), None)]}))
            if action == "malformed" and sent >= n_out // 2 and sent - k < n_out // 2:
                self._event('{"choices": [{"text": "broken"')
        self._leave()
        self._event(json.dumps({"object": "text_completion", "choices": [choice("", "length")]}))
        if action == "cut_before_usage":
            self.wfile.write(b"0\r\n\r\n")  # a clean end of the body, but the usage chunk never came
            self.wfile.flush()
            self.close_connection = True
            return
        if server.usage == "final":
            self._event(json.dumps({"object": "text_completion", "choices": [], "usage": usage}))
        if server.done:
            self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


@contextlib.contextmanager
def serve_openai_like() -> Iterator[tuple[str, OpenAILikeServer]]:
    server = OpenAILikeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", server
    finally:
        server.shutdown()
        server.server_close()
