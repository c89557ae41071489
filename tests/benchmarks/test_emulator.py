"""The LPU emulator on real loopback sockets: service law, queue, 429, metrics, failures.

Timing checks compare client-observed times with the service law
``S = L_fixed + P_pad/R_prefill + O/R_decode`` written out by hand in each
test (not read back from the emulator). Loopback and scheduler delays only
ever ADD time (a round trip on a loaded 2-core machine costs 3-20 ms), so a
check asserts that no request is early (>= S) and that the least delayed of
several requests (their minimum) is within the stated tolerance of S.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from benchmarks.emulator import METRIC_NAMES, Emulator, EmulatorConfig, PoolSpec, parse_fault
from dimensioning.errors import InvalidInput
from lpuplan.cli import app


def pool(**overrides) -> PoolSpec:
    base = dict(name="p64", max_prompt_tokens=64, max_output_tokens=100, r_prefill=640.0, r_decode=250.0,
                l_fixed_s=0.05, slots=1, replicas=1, queue_cap=None)
    base.update(overrides)
    return PoolSpec(**base)


async def _timed(client: httpx.AsyncClient, url: str, body: dict) -> tuple[float, float | None, httpx.Response, list[float]]:
    """(e2el s, ttft s, response, [headers, chunk times...]) of one request, client-timed."""
    sent = time.perf_counter()
    chunks: list[float] = []
    if body.get("stream"):
        async with client.stream("POST", url, json=body) as response:
            chunks.append(time.perf_counter() - sent)  # headers: sent when service starts
            async for line in response.aiter_lines():
                if line.startswith("data:") and '"text":" tok' in line:
                    chunks.append(time.perf_counter() - sent)
        return time.perf_counter() - sent, chunks[1] if len(chunks) > 1 else None, response, chunks
    response = await client.post(url, json=body)
    return time.perf_counter() - sent, None, response, chunks


def gather(url: str, bodies: list[dict], stagger_s: float = 0.0, warm: bool = True):
    """Send ``bodies`` concurrently (``stagger_s`` apart) on connections opened beforehand."""
    async def main():
        async with httpx.AsyncClient(timeout=30) as client:
            if warm:  # open one connection per request first: connection set-up is not service time
                await asyncio.gather(*(client.get(url[: -len("/v1")] + "/health") for _ in bodies))
            tasks = []
            for body in bodies:
                tasks.append(asyncio.create_task(_timed(client, url, body)))
                if stagger_s:
                    await asyncio.sleep(stagger_s)
            return await asyncio.gather(*tasks)

    return asyncio.run(main())


def words(n: int) -> str:
    return " ".join(["w"] * n)


def test_service_time_matches_the_bucket_law_within_one_percent():
    # 4 slots, 4 requests 20 ms apart: nobody queues, each takes exactly S (1.2 s).
    # On the wire, service runs from the response headers (sent when service
    # starts) to the last byte: both cross the same loopback path, so its delay
    # cancels, while the request's own trip (3-30 ms on a loaded machine) does not enter.
    spec = pool(slots=4, l_fixed_s=0.2, max_output_tokens=225)
    s = 0.2 + 64 / 640 + 225 / 250  # L_fixed + padded prefill + O/R_decode = 1.2 s
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        streamed = gather(emu.url + "/completions", [{"prompt": words(10), "max_tokens": 225, "stream": True}] * 4,
                          stagger_s=0.02)
        results = gather(emu.url + "/completions", [{"prompt": words(10), "max_tokens": 225}] * 2, stagger_s=0.02)
    assert all(r[2].status_code == 200 for r in streamed + results)
    assert all(r[0] >= s for r in streamed + results)  # never faster than the law, end to end
    on_wire = [r[0] - r[3][0] for r in streamed]
    assert statistics.median(on_wire) == pytest.approx(s, rel=0.01)
    usage = results[0][2].json()["x_groq"]["usage"]
    assert usage["prompt_time"] == pytest.approx(0.1) and usage["completion_time"] == pytest.approx(0.9)
    assert usage["total_time"] == pytest.approx(1.0) and usage["queue_time"] == pytest.approx(0.0, abs=1e-9)


def test_streamed_tokens_follow_the_decode_rate_and_ttft():
    spec = pool(slots=4, max_output_tokens=40, r_decode=200.0)
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        results = gather(emu.url + "/completions", [{"prompt": words(3), "max_tokens": 40, "stream": True,
                                                     "stream_options": {"include_usage": True}}] * 4, stagger_s=0.01)
    # headers leave when service starts; the first token follows L_fixed + prefill + 1/R_decode later
    ttft = [r[3][1] - r[3][0] for r in results]
    assert min(ttft) == pytest.approx(0.05 + 0.1 + 1 / 200, abs=0.015)
    for e2el, _, response, chunks in results:
        assert len(chunks) == 1 + 40  # one chunk per token without coalescing
    tpot = statistics.median((r[3][-1] - r[3][1]) / 39 for r in results)
    assert tpot == pytest.approx(1 / 200, rel=0.15)  # a 195 ms span read at both ends
    assert all(r[0] >= 0.05 + 0.1 + 0.2 for r in results)  # never faster than the law
    assert min(r[0] for r in results) == pytest.approx(0.05 + 0.1 + 0.2, abs=0.03)


def test_one_slot_serves_fcfs_back_to_back():
    # M/D/1 with three requests arriving together: they end at S, 2S, 3S.
    spec = pool(max_output_tokens=25, r_decode=250.0)  # S = 0.05 + 0.1 + 0.1 = 0.25 s
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        results = gather(emu.url + "/completions", [{"prompt": words(5), "max_tokens": 25}] * 3, stagger_s=0.005)
    usage = [r[2].json()["x_groq"]["usage"] for r in results]
    # no answer is early: each took at least its queueing plus S, client-timed (the client's send is before
    # the server's arrival, so delays only add; a sleep that overran the stagger on a busy machine cannot fool it)
    assert all(r[0] >= u["queue_time"] + 0.25 - 1e-3 for r, u in zip(results, usage))
    # queue time + arrival spacing = the previous departures, exactly (the schedule is computed, not slept)
    starts = sorted(u["queue_time"] for u in usage)
    assert starts[0] == pytest.approx(0.0, abs=1e-9)
    assert starts[1] < 0.25 and starts[2] < 0.5 and starts[2] - starts[1] > 0.2


def test_full_queue_answers_429_with_retry_after_and_counts_it():
    spec = pool(max_output_tokens=25, queue_cap=1)  # one in service, one waiting, the third is shed
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        results = gather(emu.url + "/completions", [{"prompt": words(5), "max_tokens": 25}] * 3, stagger_s=0.01)
        metrics = httpx.get(emu.root_url + "/metrics").text
    codes = [r[2].status_code for r in results]
    assert codes == [200, 200, 429]
    shed = results[2][2]
    assert shed.headers["retry-after"] == "1"  # whole seconds, rounded up
    # until the first release: S = 250 ms less the time since the first request started (its arrival
    # spacing on the server can be shorter than the client's 10 ms stagger: loopback delays vary)
    assert 0 < float(shed.headers["retry-after-ms"]) < 250
    assert shed.json()["error"]["type"] == "rate_limit_exceeded"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics) for s in f.samples}
    assert samples[("lpu_emulator_shed_total", (("pool", "p64"),))] == 1
    assert samples[("lpu_emulator_requests_total", (("code", "429"), ("pool", "p64")))] == 1
    assert samples[("lpu_emulator_requests_total", (("code", "200"), ("pool", "p64")))] == 2


def test_metrics_parse_and_carry_every_documented_family():
    spec = pool(slots=2, max_output_tokens=10, slo_s=0.2)
    with Emulator(EmulatorConfig(pools=(spec,), time_scale=2.0)).start() as emu:
        results = gather(emu.url + "/completions", [{"prompt": words(5), "max_tokens": 10}] * 2)
        text = httpx.get(emu.root_url + "/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in METRIC_NAMES:
        assert name.removesuffix("_total") in families, name
    latency = {s.labels.get("le"): s.value for s in families["lpu_emulator_request_latency_seconds"].samples
               if s.name.endswith("_bucket")}
    assert "0.2" in latency  # the SLO is a histogram edge
    count = [s.value for s in families["lpu_emulator_request_latency_seconds"].samples if s.name.endswith("_count")][0]
    total = [s.value for s in families["lpu_emulator_request_latency_seconds"].samples if s.name.endswith("_sum")][0]
    assert count == 2
    assert total / count == pytest.approx(0.05 + 0.1 + 0.04, rel=1e-6)  # emulated seconds, exact schedule
    assert [s.value for s in families["lpu_emulator_time_scale"].samples] == [2.0]
    assert [s.value for s in families["lpu_emulator_replicas_up"].samples] == [1.0]
    assert all(0.19 / 2 <= r[0] < 0.19 for r in results)  # wall time is emulated / scale (loopback delays only add)


def test_time_scale_runs_faster_and_reports_emulated_seconds():
    spec = pool(max_output_tokens=250, r_decode=250.0, l_fixed_s=0.0, r_prefill=64.0)  # S = 1 + 1 = 2 s emulated
    with Emulator(EmulatorConfig(pools=(spec,), time_scale=20.0)).start() as emu:
        results = gather(emu.url + "/completions", [{"prompt": words(5), "max_tokens": 250}])
    e2el, _, response, _ = results[0]
    assert 0.1 <= e2el < 1.0  # 2 s emulated in 0.1 s of wall time (loopback delays only add)
    assert response.json()["x_groq"]["usage"]["total_time"] == pytest.approx(2.0)


def test_kill_cuts_streams_fails_over_and_recovers():
    spec = pool(replicas=2, max_output_tokens=50)  # S = 0.05 + 0.1 + 0.2 = 0.35 s
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        async def scenario():
            async with httpx.AsyncClient(timeout=10) as client:
                body = {"prompt": words(5), "max_tokens": 50, "stream": True}
                first = asyncio.create_task(_timed(client, emu.url + "/completions", body))
                second = asyncio.create_task(_timed(client, emu.url + "/completions", body))
                await asyncio.sleep(0.1)
                state = (await client.post(emu.root_url + "/control/pools/p64/replicas/0/kill", json={"duration_s": 0.5})).json()
                outcomes = await asyncio.gather(first, second, return_exceptions=True)
                after = await _timed(client, emu.url + "/completions", {"prompt": words(5), "max_tokens": 50})
                return state, outcomes, after

        state, outcomes, after = asyncio.run(scenario())
        time.sleep(0.5)
        recovered = emu.state()
        metrics = httpx.get(emu.root_url + "/metrics").text
    assert state["state"]["replicas"][0]["state"] == "down"
    cut = [o for o in outcomes if isinstance(o, Exception) or len(o[3]) < 1 + 50]
    whole = [o for o in outcomes if not isinstance(o, Exception) and len(o[3]) == 1 + 50]
    assert len(cut) == 1 and len(whole) == 1  # one stream per replica; replica 0's was cut
    assert after[2].status_code == 200  # replica 1 still serves
    assert recovered["pools"][0]["replicas"][0]["state"] == "up"
    assert 'lpu_emulator_errors_total{pool="p64",reason="replica_killed"} 1.0' in metrics


def test_failover_window_sends_requests_to_the_dead_replica():
    spec = pool(replicas=1, max_output_tokens=10)
    config = EmulatorConfig(pools=(spec,), failover_time_s=0.3)
    with Emulator(config).start() as emu:
        emu.kill("p64", 0)
        during = httpx.post(emu.url + "/completions", json={"prompt": "a", "max_tokens": 10})
        time.sleep(0.35)
        emu.recover("p64", 0)
        time.sleep(0.02)
        later = httpx.post(emu.url + "/completions", json={"prompt": "a", "max_tokens": 10})
    assert during.status_code == 503 and "replica down" in during.json()["error"]["message"]
    assert later.status_code == 200


def test_hang_freezes_requests_and_shifts_them_by_the_hang():
    spec = pool(slots=1, max_output_tokens=25)  # S = 0.25 s
    with Emulator(EmulatorConfig(pools=(spec,))).start() as emu:
        async def scenario():
            async with httpx.AsyncClient(timeout=10) as client:
                task = asyncio.create_task(_timed(client, emu.url + "/completions", {"prompt": "a", "max_tokens": 25}))
                await asyncio.sleep(0.05)
                await client.post(emu.root_url + "/control/pools/p64/replicas/0/hang", json={"after_s": 0.05, "duration_s": 0.3})
                return [await task]

        results = asyncio.run(scenario())
    e2el, _, response, _ = results[0]
    assert 0.25 + 0.3 <= e2el <= 0.25 + 0.3 + 0.2  # started before the hang, delayed by it (delays only add)
    assert response.json()["x_groq"]["usage"]["completion_time"] == pytest.approx(0.1 + 0.3, abs=0.03)


def test_routing_to_the_smallest_pool_that_holds_the_prompt_and_bad_requests():
    pools = (pool(name="small", max_prompt_tokens=8), pool(name="big", max_prompt_tokens=64, r_prefill=6400.0))
    with Emulator(EmulatorConfig(pools=pools)).start() as emu:
        with httpx.Client(timeout=10) as client:
            small = client.post(emu.url + "/completions", json={"prompt": words(8), "max_tokens": 1}).json()
            big = client.post(emu.url + "/chat/completions",
                              json={"messages": [{"role": "user", "content": words(9)}], "max_tokens": 1}).json()
            too_long = client.post(emu.url + "/completions", json={"prompt": words(65), "max_tokens": 1})
            bad = client.post(emu.url + "/completions", json={"prompt": "a", "max_tokens": 0})
            tokens = client.post(emu.root_url + "/extras/tokenize", json={"input": "a b  c"}).json()
            missing = client.post(emu.root_url + "/control/pools/nope/replicas/0/kill")
    assert small["x_groq"]["usage"]["prompt_time"] == pytest.approx(8 / 640)
    assert big["x_groq"]["usage"]["prompt_time"] == pytest.approx(64 / 6400)
    assert big["choices"][0]["message"]["content"] == " tok" and big["usage"]["prompt_tokens"] == 9
    assert too_long.status_code == 400 and too_long.json()["error"]["type"] == "context_length_exceeded"
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "max_tokens"
    assert tokens == {"tokens": [0, 1, 2]}
    assert missing.status_code == 404


def test_round_robin_after_a_kill_and_recovery_routes_as_the_simulator_does():
    """The same arrival sequence through a kill, its failover window, the router
    noticing, and the recovery: the emulator (time scale 10, real sockets) sends
    each request to the replica that :func:`dimensioning.simulate.simulate`
    sends it to. Round-robin assignment depends only on the ORDER of arrivals
    and routing changes, so the test fixes that order (requests one at a time,
    the kill and recovery through the control API between them, the notice
    awaited) and gives the simulator arrival times in the same order. The
    emulator's old rotation (a cycle over every replica, skipping unroutable
    ones) sends phase D to 0, 1, 2, 0 instead of 1, 2, 0, 1: this test fails on it.
    """
    from dimensioning.simulate import DeterministicService, Failure, Pool, TraceArrivals, simulate

    spec = pool(replicas=3, slots=4, max_output_tokens=1, l_fixed_s=0.0, r_prefill=64000.0, r_decode=1000.0)
    config = EmulatorConfig(pools=(spec,), routing="round_robin", time_scale=10.0, failover_time_s=20.0)
    phases = {"A": 7, "B": 4, "C": 5, "D": 4}  # up; killed, still routed; noticed; recovered
    emulated: list[int] = []
    statuses: list[int] = []
    with Emulator(config).start() as emu, httpx.Client(timeout=10) as client:
        def send(count: int) -> None:
            for _ in range(count):
                before = [r["assigned"] for r in emu.state()["pools"][0]["replicas"]]
                statuses.append(client.post(emu.url + "/completions", json={"prompt": "a", "max_tokens": 1}).status_code)
                after = [r["assigned"] for r in emu.state()["pools"][0]["replicas"]]
                emulated.append([k for k in range(3) if after[k] != before[k]][0])

        send(phases["A"])
        emu.kill("p64", 1)
        send(phases["B"])
        assert emu.state()["pools"][0]["replicas"][1]["routed"], "the 2 s failover window closed during phase B"
        deadline = time.monotonic() + 10
        while emu.state()["pools"][0]["replicas"][1]["routed"] and time.monotonic() < deadline:
            time.sleep(0.05)
        send(phases["C"])
        emu.recover("p64", 1)
        send(phases["D"])
        counts = [r["assigned"] for r in emu.state()["pools"][0]["replicas"]]

    # The simulator: the same order of events in emulated seconds (kill at 6.5, noticed 20 s later at 26.5,
    # recovered at 31.5), requests 1 s apart within each phase; service 1 ms, 4 slots: no queueing.
    times = [float(t) for t in range(7)] + [7.0, 7.5, 8.0, 8.5] + [27.0 + t for t in range(5)] + [32.0 + t for t in range(4)]
    n = len(times)
    trace = TraceArrivals(np.asarray(times), np.full(n, 1), np.full(n, 1))
    failure = Failure(replicas=(1,), at_s=6.5, failover_time_s=20.0, recover_at_s=31.5)
    result = simulate(Pool(replicas=3, slots=4, routing="round_robin"), trace, DeterministicService(0.001), seed=0,
                      requests=n, failure=failure, warmup_fraction=0.0)
    predicted = result.records.replica.tolist()
    assert emulated == predicted
    assert counts == np.bincount(predicted, minlength=3).tolist()
    lost = (result.records.outcome == 2).tolist()  # LOST: sent to the dead replica before the router noticed
    assert [status == 503 for status in statuses] == lost and sum(lost) == 2
    assert predicted[-4:] == [1, 2, 0, 1]


def test_a_non_streamed_answer_is_exactly_what_json_dumps_writes():
    """The answer comes from a template (the least work per request); it must stay valid JSON that
    ``json.dumps`` would write byte for byte, with every field a client reads."""
    import json

    with Emulator(EmulatorConfig(pools=(pool(),), time_scale=3.0)).start() as emu, httpx.Client(timeout=10) as client:
        raws = [client.post(emu.url + "/completions", json={"prompt": words(7), "max_tokens": 3}).content,
                client.post(emu.url + "/chat/completions",
                            json={"messages": [{"role": "user", "content": words(2)}], "max_tokens": 2}).content]
    for raw in raws:
        assert json.dumps(json.loads(raw)).encode() == raw
    text, chat = json.loads(raws[0]), json.loads(raws[1])
    assert text["choices"][0]["text"] == " tok tok tok" and text["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert chat["choices"][0]["message"] == {"role": "assistant", "content": " tok tok"} and chat["object"] == "chat.completion"
    assert text["x_groq"]["usage"]["total_time"] == pytest.approx(64 / 640 + 3 / 250)


def test_bad_configuration_names_the_field():
    with pytest.raises(InvalidInput, match="r_decode"):
        pool(r_decode=0.0)
    with pytest.raises(InvalidInput, match="faults\\[0\\].replica"):
        EmulatorConfig(pools=(pool(),), faults=(parse_fault("kill:p64:3@1"),))
    with pytest.raises(InvalidInput, match="--fault"):
        parse_fault("explode:p64:0@1")


def test_cli_rejects_bad_overrides_with_exit_2(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["emulate", "lpuplan/example.toml", "--replicas", "nope=3"])
    assert result.exit_code == 2 and "p512" in result.output
    result = runner.invoke(app, ["emulate", "lpuplan/example.toml", "--fault", "kill:p512"])
    assert result.exit_code == 2 and "ACTION:POOL:REPLICA" in result.output


def test_cli_serves_the_plan_for_a_while():
    result = CliRunner().invoke(app, ["emulate", "lpuplan/example.toml", "--port", "0", "--duration-s", "0.2", "--json"])
    assert result.exit_code == 0, result.output
    import json

    described = json.loads(result.output)
    assert [p["name"] for p in described["pools"]] == ["p512", "p2048", "p4096", "p8192"]
    assert described["pools"][0]["service_bucket_ms"] == pytest.approx((30 + 512 / 40000 * 1e3 + 1024 / 280 * 1e3))
