"""A loopback HTTP server that answers like GroqCloud's OpenAI-compatible API.

Real sockets, scripted behaviour: the test decides per request whether to
refuse (429 with ``retry-after``, 503, 498), cut the stream halfway, or stream
``max_tokens`` tokens whose final chunk carries ``x_groq.usage`` in the shape
of Groq's API reference (console.groq.com/docs/api-reference): queue,
prompt and completion times in seconds, which it also spends. Prompt time is ``prompt_tokens /
PREFILL_RATE``; usage counts 7 template tokens plus one token per 4 characters.
No tokenize endpoint (404), as on GroqCloud.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

__all__ = ["GroqLikeServer", "serve_groq_like", "PREFILL_RATE", "QUEUE_S"]

PREFILL_RATE = 50_000.0
QUEUE_S = 0.004


def prompt_tokens_of(text: str) -> int:
    return 7 + len(text) // 4


class GroqLikeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[str] = []  # actions for the next streaming requests: "429", "503", "498", "cut", "ok"
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def next_action(self) -> str:
        with self.lock:
            return self.script.pop(0) if self.script else "ok"


class _Handler(BaseHTTPRequestHandler):
    server: GroqLikeServer

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _json(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length", 0))
        body = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/completions"):
            self._json(404, {"error": {"message": "not found"}})
            return
        self.server.requests.append({"body": body, "authorization": self.headers.get("authorization")})
        prompt = body.get("prompt") or body["messages"][0]["content"]
        n_prompt = prompt_tokens_of(prompt)
        n_out = int(body.get("max_tokens", 16))
        usage = {
            "queue_time": QUEUE_S, "prompt_tokens": n_prompt, "prompt_time": n_prompt / PREFILL_RATE,
            "completion_tokens": n_out, "completion_time": n_out * 0.0002, "total_tokens": n_prompt + n_out,
            "total_time": n_prompt / PREFILL_RATE + n_out * 0.0002,
        }
        if not body.get("stream"):
            self._json(200, {"choices": [{"text": "x" * n_out, "finish_reason": "length"}], "usage": usage})
            return
        action = self.server.next_action()
        if action in ("429", "503", "498"):
            self._json(int(action), {"error": {"message": "over capacity"}}, {"retry-after": "0.05"} if action == "429" else None)
            return
        time.sleep(QUEUE_S + usage["prompt_time"])  # it takes the time it reports
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for i in range(n_out):
            time.sleep(0.0002)
            chunk = {"id": "chatcmpl-1", "object": "text_completion", "choices": [{"index": 0, "text": "ab", "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            if action == "cut" and i == n_out // 2:
                self.close_connection = True
                self.connection.shutdown(2)  # the server dies mid-stream
                return
        final = {
            "id": "chatcmpl-1", "object": "text_completion",
            "choices": [{"index": 0, "text": "", "finish_reason": "length"}],
            "x_groq": {"id": "req_1", "usage": usage},
        }
        self.wfile.write(f"data: {json.dumps(final)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()


@contextlib.contextmanager
def serve_groq_like() -> Iterator[tuple[str, GroqLikeServer]]:
    server = GroqLikeServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/openai/v1", server
    finally:
        server.shutdown()
        server.server_close()
