"""The open-loop load generator: schedules, token events, summaries, and a run on real sockets.

Summary figures are checked against arithmetic written out in the test
(vLLM's definitions), not against the module's own helpers.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from benchmarks.emulator import EmulatorConfig, PoolSpec
from benchmarks.emulator.process import EmulatorProcess
from benchmarks.load import LoadRun, RequestRecord, Shape, build_prompts, build_schedule, run_load, summarize, summary_csv
from benchmarks.load.runner import _is_token
from dimensioning.errors import InvalidInput
from lpuplan.cli import app


def test_poisson_schedule_is_seeded_and_has_the_rate():
    shapes = (Shape("a", 10, 5, 0.25), Shape("b", 20, 5, 0.75))
    one = build_schedule(shapes, 50.0, count=20000, seed=3)
    two = build_schedule(shapes, 50.0, count=20000, seed=3)
    assert np.array_equal(one.times_s, two.times_s) and np.array_equal(one.shape_index, two.shape_index)
    gaps = np.diff(one.times_s)
    assert one.times_s[0] == 0.0 and (gaps >= 0).all()
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.03)
    assert np.var(gaps) / gaps.mean() ** 2 == pytest.approx(1.0, rel=0.06)  # exponential: SCV 1
    assert (one.shape_index == 1).mean() == pytest.approx(0.75, abs=0.015)
    assert set(one.prompt_tokens.tolist()) == {10, 20}


def test_gamma_burstiness_is_the_inverse_scv_and_constant_is_exact():
    shapes = (Shape("a", 10, 5),)
    bursty = build_schedule(shapes, 20.0, arrivals="gamma", burstiness=0.25, count=40000, seed=1)
    gaps = np.diff(bursty.times_s)
    assert gaps.mean() == pytest.approx(1 / 20, rel=0.04)
    assert np.var(gaps) / gaps.mean() ** 2 == pytest.approx(4.0, rel=0.08)  # SCV = 1 / burstiness
    constant = build_schedule(shapes, 8.0, arrivals="constant", duration_s=1.0)
    assert constant.times_s.tolist() == [i / 8 for i in range(8)]


def test_trace_replay_keeps_times_and_shapes(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("timestamp,prompt_tokens,output_tokens\n10.0,5,3\n10.5,7,2\n12.0,5,3\n")
    schedule = build_schedule((), None, arrivals="trace", trace=trace, count=3)
    assert schedule.times_s.tolist() == [0.0, 0.5, 2.0]
    assert schedule.prompt_tokens.tolist() == [5, 7, 5] and schedule.output_tokens.tolist() == [3, 2, 3]


def test_bad_schedules_name_the_field():
    with pytest.raises(InvalidInput, match="--rate"):
        build_schedule((Shape("a", 1, 1),), 0.0, count=3)
    with pytest.raises(InvalidInput, match="--requests/--duration-s"):
        build_schedule((Shape("a", 1, 1),), 1.0)
    with pytest.raises(InvalidInput, match="--burstiness"):
        build_schedule((Shape("a", 1, 1),), 1.0, arrivals="gamma", burstiness=0.0, count=3)


@pytest.mark.parametrize("choice, counted", [
    ({"index": 0, "text": "ab", "finish_reason": None}, True),
    ({"index": 0, "text": "", "finish_reason": None}, True),  # a byte token that is not text on its own
    ({"index": 0, "text": "", "finish_reason": "length"}, False),  # the final event
    ({"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}, False),
    ({"index": 0, "delta": {"content": "x"}, "finish_reason": None}, True),
    ({"index": 0, "delta": {}, "finish_reason": "stop"}, False),
])
def test_token_events_are_content_events_whatever_their_text(choice, counted):
    assert _is_token(choice) is counted


def _record(i, sent, tokens, end, status=200, shape="a", completion=None, error=None):
    return RequestRecord(i, shape, 10, len(tokens), sent, sent, sent, tuple(tokens), end, status, error,
                         completion_tokens=completion)


def test_summary_follows_vllm_definitions():
    records = (
        _record(0, 0.0, [0.1, 0.2, 0.3], 0.3),  # ttft 100, e2el 300, tpot (300-100)/2 = 100, itl 100, 100
        _record(1, 1.0, [1.2, 1.25], 1.3),  # ttft 200, e2el 300, tpot 100/1 = 100, itl 50
        RequestRecord(2, "a", 10, 2, 1.5, 1.5, 1.5, (), 1.5, 429, "HTTP 429", retry_after_s=1.0),
    )
    run = LoadRun(records, "http://x/v1", 2.0, "poisson", 0, True, "completions", 1.0)
    s = summarize(run, slo_e2el_ms=300.0, slo_ttft_ms=150.0)
    assert s["sent"] == 3 and s["completed"] == 2 and s["shed"] == 1 and s["errors"] == 0
    assert s["ttft_ms"]["mean"] == pytest.approx(150.0)
    assert s["tpot_ms"]["mean"] == pytest.approx(100.0)
    assert sorted([s["itl_ms"]["p50"]]) == [pytest.approx(100.0)]
    assert s["itl_ms"]["mean"] == pytest.approx((100 + 100 + 50) / 3)
    assert s["e2el_ms"]["p99"] == pytest.approx(300.0)
    assert s["duration_s"] == pytest.approx(1.5)  # first send 0.0 to last end 1.5
    assert s["request_throughput"] == pytest.approx(2 / 1.5)
    assert s["goodput_requests"] == 1  # the second misses the TTFT objective
    assert s["send_lag_ms"]["max"] == 0.0 and s["fell_behind"] is False
    header, row = summary_csv([s]).splitlines()
    assert dict(zip(header.split(","), row.split(",")))["e2el_ms_p99"] == "300.0"


def test_time_scale_converts_latencies_but_not_send_lag():
    rec = RequestRecord(0, "a", 10, 1, 0.0, 0.001, 0.001, (0.011,), 0.011, 200)
    s = summarize(LoadRun((rec,), "u", 1.0, "poisson", 0, True, "completions", 10.0))
    assert s["e2el_ms"]["mean"] == pytest.approx(100.0)  # 10 ms of wall at time scale 10
    assert s["send_lag_ms"]["p50"] == pytest.approx(1.0)  # the generator's own lag stays wall ms


@pytest.fixture(scope="module")
def emulator():
    spec = PoolSpec("p32", 32, 10, 3200.0, 1000.0, 0.02, 2, 1, queue_cap=1)  # S = 20 + 10 + 10 = 40 ms
    with EmulatorProcess(EmulatorConfig(pools=(spec,))) as emu:
        yield emu


@pytest.mark.parametrize("client", ["h1", "aiohttp", "httpx"])
def test_open_loop_run_against_the_emulator(emulator, client):
    schedule = build_schedule((Shape("p32", 20, 10),), 20.0, count=40, seed=5)
    prompts = build_prompts([20], "server", emulator.url, "m")  # exact lengths through /extras/tokenize
    run = run_load(emulator.url, schedule, prompts, stream=True, client=client)
    assert len(run.records) == 40
    assert [r.scheduled_s for r in run.records] == pytest.approx(schedule.times_s.tolist())
    ok = [r for r in run.records if r.ok]
    assert len(ok) >= 30  # 20 req/s on 2 slots of 40 ms with one waiting place sheds a few at most
    for r in ok:
        assert r.prompt_tokens_reported == 20 and r.completion_tokens == 10 and len(r.token_s) == 10
        assert r.end_s - r.sent_s >= 0.04 - 1e-3  # never faster than the service law
        assert r.server is not None and r.server["total_time"] == pytest.approx(0.02)
    assert all(r.sent_s >= r.scheduled_s for r in run.records)


def test_a_burst_beyond_the_queue_is_shed_with_retry_after(emulator):
    schedule = build_schedule((Shape("p32", 20, 10),), 1000.0, arrivals="constant", count=6)
    prompts = build_prompts([20], "words", emulator.url, "m")
    run = run_load(emulator.url, schedule, prompts, stream=False)
    shed = [r for r in run.records if r.status == 429]
    assert len(shed) >= 2  # 2 slots + 1 waiting place, 6 requests within 5 ms
    assert all(r.retry_after_s is not None and 0 < r.retry_after_s <= 0.04 for r in shed)
    assert summarize(run)["shed"] == len(shed)


def test_cli_load_writes_jsonl_and_summaries(emulator, tmp_path):
    result = CliRunner().invoke(app, ["load", emulator.url, "--shape", "20:5", "--rates", "5,10", "--requests", "10",
                                      "--tokenizer", "words", "--out", str(tmp_path), "--max-send-lag-ms", "1000",
                                      "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [run["rate"] for run in data["runs"]] == [5.0, 10.0]
    lines = (tmp_path / "requests-5.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["kind"] == "run" and len(lines) == 11
    assert json.loads(lines[1])["kind"] == "request"
    assert (tmp_path / "summary.csv").read_text().count("\n") == 3


def test_cli_load_rejects_bad_input_with_exit_2(emulator):
    runner = CliRunner()
    assert runner.invoke(app, ["load", emulator.url, "--shape", "20", "--rate", "1", "--requests", "2"]).exit_code == 2
    assert runner.invoke(app, ["load", emulator.url, "--shape", "20:5", "--requests", "2"]).exit_code == 2
    result = runner.invoke(app, ["load", emulator.url, "--shape", "20:5", "--rate", "1", "--requests", "2", "--scv", "2"])
    assert result.exit_code == 2 and "gamma" in result.output
    for option, value in (("--client", "curl"), ("--event-loop", "trio")):
        result = runner.invoke(app, ["load", emulator.url, "--shape", "20:5", "--rate", "1", "--requests", "2", option, value])
        assert result.exit_code == 2 and option in result.output and value in result.output


def test_every_client_records_the_same_answers(emulator):
    """h1, aiohttp and httpx read the same schedule's answers alike (status, tokens, usage, server timings)."""
    schedule = build_schedule((Shape("p32", 20, 10),), 10.0, arrivals="constant", count=6, seed=2)
    prompts = build_prompts([20], "words", emulator.url, "m")
    seen = {}
    for client in ("h1", "aiohttp", "httpx"):
        for stream in (True, False):
            run = run_load(emulator.url, schedule, prompts, stream=stream, client=client)
            assert run.header()["client"] == client
            seen[client, stream] = [(r.status, r.error, len(r.token_s), r.prompt_tokens_reported, r.completion_tokens,
                                     r.server["total_time"] if r.server else None) for r in run.records]
    for stream in (True, False):
        assert seen["h1", stream] == seen["aiohttp", stream] == seen["httpx", stream]
        assert all(row[0] == 200 and row[1] is None for row in seen["h1", stream])
    assert {row[2] for row in seen["h1", True]} == {10} and {row[2] for row in seen["h1", False]} == {1}


def test_h1_client_names_refused_connections_and_read_timeouts():
    import socket

    from benchmarks.emulator import Emulator

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    schedule = build_schedule((Shape("p32", 4, 2),), 50.0, arrivals="constant", count=3)
    prompts = build_prompts([4], "words", "http://unused/v1", "m")
    refused = run_load(f"http://127.0.0.1:{port}/v1", schedule, prompts, client="h1", timeout_s=1.0)
    assert all(r.status == 0 and r.error.startswith("ConnectionRefusedError") for r in refused.records)
    assert summarize(refused)["failures"] == {"ConnectionRefusedError": 3}

    spec = PoolSpec("p32", 32, 10, 3200.0, 100.0, 0.0, 4, 1)  # 10 tokens at 100/s: 0.1 s of decode
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        emu.hang("p32", 0, after_s=0.03)  # the replica freezes mid-stream: no byte for longer than the timeout
        run = run_load(emu.url, schedule, prompts, client="h1", timeout_s=0.3, stream=True)
    assert all(r.error == "timeout: ReadTimeout" and r.end_s is None for r in run.records)
    assert summarize(run)["failures"] == {"timeout": 3}


def test_h1_client_reports_a_stream_cut_by_a_kill():
    from benchmarks.emulator import Emulator

    spec = PoolSpec("p32", 32, 50, 3200.0, 100.0, 0.0, 4, 1)  # 50 tokens at 100/s: 0.5 s
    schedule = build_schedule((Shape("p32", 4, 50),), 1.0, arrivals="constant", count=1)
    prompts = build_prompts([4], "words", "http://unused/v1", "m")
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        emu.kill("p32", 0, after_s=0.2)
        run = run_load(emu.url, schedule, prompts, client="h1", stream=True)
    (record,) = run.records
    assert record.status == 200 and record.error == "stream ended before its final event"
    assert 5 <= len(record.token_s) < 50 and record.end_s is not None
    assert summarize(run)["failures"] == {"stream_cut": 1}


def test_h1_and_aiohttp_read_a_threaded_server_alike():
    """Another server's shapes (http.server, chunked SSE, usage after the finishing chunk, a stream cut before
    its usage, a malformed chunk, 429 with retry-after, 500): h1 records what aiohttp records."""
    from benchmarks.load.summary import _error_kind
    from tests.benchmarks.openai_like_server import serve_openai_like

    script = ["ok", "cut_before_usage", "malformed", "429", "500", "ok"]
    schedule = build_schedule((Shape("s", 8, 6),), 8.0, arrivals="constant", count=len(script))
    seen = {}
    with serve_openai_like() as (url, server):
        prompts = build_prompts([8], "none", url, "m")
        for client in ("h1", "aiohttp"):
            server.script = list(script)
            run = run_load(url, schedule, prompts, client=client, stream=True, timeout_s=5.0)
            seen[client] = [(r.status, _error_kind(r.status, r.error) if r.error else None, len(r.token_s),
                             r.completion_tokens, r.retry_after_s) for r in run.records]
    assert seen["h1"] == seen["aiohttp"]
    # the cut after the finishing chunk loses only the usage: the tokens were all seen
    assert [row[1] for row in seen["h1"]] == [None, None, "JSONDecodeError", "shed_429", "http_500", None]
    assert seen["h1"][0][3] == 6 and seen["h1"][1][3] is None and seen["h1"][1][2] == 6
    assert seen["h1"][3][4] is not None
