"""The API key never leaves: a loopback server echoes it back in every place it can.

The server repeats the Authorization header (Bearer key, or Basic base64 of
the URL's userinfo) and the query string in error bodies (401, 429, 500), in
response headers, in a stream error event, in a malformed chunk and in
``finish_reason``. Nothing the tool writes or prints may hold the key, the
userinfo password or a key-bearing query value, in any form.
"""

from __future__ import annotations

import base64
import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from typer.testing import CliRunner

from lpuplan.cli import app

KEY = "sk-echo-SECRET-0123456789abcdef"
PASSWORD = "pw-SECRET-userinfo-42"
QUERY_KEY = "qk-SECRET-in-the-url-77"


class _Echo(BaseHTTPRequestHandler):
    script: list[str] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        echo = f"{self.headers.get('authorization')} {self.path}"
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("x-echo-authorization", echo)
        self.send_header("retry-after", "0.01")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        echo = f"{self.headers.get('authorization')} {self.path}"
        if "/completions" not in self.path:
            self._send(404, json.dumps({"error": {"message": f"no tokenizer here; you sent {echo}"}}).encode())
            return
        n_out = int(body.get("max_tokens", 4))
        usage = {"prompt_tokens": max(1, len(body.get("prompt", "")) // 4), "completion_tokens": n_out}
        if not body.get("stream"):
            self._send(200, json.dumps({"choices": [{"text": "x", "finish_reason": "length"}], "usage": usage}).encode())
            return
        action = _Echo.script.pop(0) if _Echo.script else "ok"
        if action in ("401", "429", "500"):
            self._send(int(action), json.dumps({"error": {"message": f"bad credentials: {echo}", "header": echo}}).encode())
            return
        events = [json.dumps({"choices": [{"index": 0, "text": "a", "finish_reason": None}]})] * n_out
        if action == "error_event":
            events = events[:1] + [json.dumps({"error": {"message": f"upstream said {echo}"}})]
        elif action == "malformed":
            events = events[:1] + [f'{{"choices": [{{"text": "{echo}"']
        else:
            reason = echo if action == "finish_key" else "length"
            events += [json.dumps({"choices": [{"index": 0, "text": "", "finish_reason": reason}]}),
                       json.dumps({"choices": [], "usage": usage}), "[DONE]"]
        self._send(200, "".join(f"data: {e}\n\n" for e in events).encode(), "text/event-stream")


@contextmanager
def _serve():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _forms() -> list[str]:
    out = []
    for secret in (KEY, PASSWORD, QUERY_KEY):
        out += [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]
    out.append(base64.b64encode(f"user:{PASSWORD}".encode()).decode())
    return out


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for form in _forms():
            assert form not in text, f"a secret leaked ({form[:6]}...): {text[:300]}"


def test_nothing_written_or_printed_holds_the_key_when_the_server_echoes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("LPUPLAN_ECHO_KEY", KEY)
    _Echo.script = ["ok", "401", "ok", "429", "ok", "500", "error_event", "ok", "malformed", "finish_key", "ok"]  # the first: the probe
    out = tmp_path / "profile.json"
    with _serve() as port:
        url = f"http://user:{PASSWORD}@127.0.0.1:{port}/v1?api_key={QUERY_KEY}"
        result = CliRunner().invoke(app, [
            "bench", "--backend", "openai", "--url", url, "--model", "m", "--api-key-env", "LPUPLAN_ECHO_KEY",
            "--buckets", "64", "--outputs", "1,4", "--repeats", "2", "--warmup", "0", "-o", str(out),
        ])
    samples = (tmp_path / "profile.samples.jsonl").read_text()
    assert '"status":"failed"' in samples and "***" in samples  # the echoes were recorded, masked
    assert "Traceback" not in result.output
    _assert_clean(result.output, samples, out.read_text() if out.exists() else "")


def test_refused_at_the_start_the_message_holds_no_key(tmp_path, monkeypatch):
    monkeypatch.setenv("LPUPLAN_ECHO_KEY", KEY)
    with _serve() as port:
        _Echo.script = ["401"] * 3
        url = f"http://user:{PASSWORD}@127.0.0.1:{port}/v1?api_key={QUERY_KEY}"
        result = CliRunner().invoke(app, ["bench", "--backend", "openai", "--url", url, "--model", "m", "--api-key-env",
                                          "LPUPLAN_ECHO_KEY", "--buckets", "64", "--outputs", "1,4", "--repeats", "2",
                                          "-o", str(tmp_path / "p.json")])
    assert result.exit_code in (2, 3), result.output
    _assert_clean(result.output, *(p.read_text() for p in tmp_path.iterdir()))


def test_an_unreachable_url_with_credentials_is_printed_without_them(tmp_path, monkeypatch):
    from tests.benchmarks.llama_server import free_port

    monkeypatch.setenv("LPUPLAN_ECHO_KEY", KEY)
    for url in (f"http://user:{PASSWORD}@127.0.0.1:{free_port()}/v1?api_key={QUERY_KEY}",
                f"ftp://user:{PASSWORD}@127.0.0.1/v1?token={QUERY_KEY}"):
        result = CliRunner().invoke(app, ["bench", "--backend", "openai", "--url", url, "--model", "m", "--api-key-env",
                                          "LPUPLAN_ECHO_KEY", "-o", str(tmp_path / "p.json"), "--timeout-s", "2"])
        assert result.exit_code == 2, result.output
        assert "--url" in result.output and "Traceback" not in result.output
        _assert_clean(result.output)
