"""How fast the open-loop load generator can send against the emulator, and how late.

Run: ``python tests/bench/bench_load.py [RATE ...]`` (not collected by pytest).

The emulator runs in its own process (no GIL shared with the generator) with
64 slots of 5.5 ms (no queueing, so every response is quick); the generator
sends non-streamed requests on a Poisson schedule of 3 s per rate, with each
client (aiohttp, httpx). Per rate and client it prints the achieved send
rate and the send lag (actual - scheduled) p50/p99/max against the target:
2,000 req/s with lag p99 < 2 ms. The baseline in the same run is the same
schedule at 100 req/s, so a loaded machine shows as a worse baseline.

Measured (see docs/validate.md for the figures and the machine's load).
"""

from __future__ import annotations

import os
import sys
import time

from benchmarks.emulator import EmulatorConfig, PoolSpec
from benchmarks.emulator.process import EmulatorProcess
from benchmarks.load import Shape, build_prompts, build_schedule, run_load, summarize


def main(rates: list[float]) -> None:
    spec = PoolSpec("p32", 32, 4, 64000.0, 8000.0, 0.005, 64, 1, queue_cap=None)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    with EmulatorProcess(EmulatorConfig(pools=(spec,))) as emu:
        prompts = build_prompts([16], "words", emu.url, "m")
        for client in ("aiohttp", "httpx"):
            # httpx spends ~4x the CPU per request: past its ceiling a run only grows a backlog, so it stops at 500
            for rate in [100.0] + (rates if client == "aiohttp" else [r for r in rates if r <= 500]):
                schedule = build_schedule((Shape("p32", 16, 4),), rate, duration_s=3.0, seed=1)
                start = time.perf_counter()
                run = run_load(emu.url, schedule, prompts, stream=False, client=client)
                wall = time.perf_counter() - start
                s = summarize(run)
                lag = s["send_lag_ms"]
                achieved = (len(run.records) - 1) / max(run.records[-1].sent_s - run.records[0].sent_s, 1e-9)
                verdict = "MEETS" if rate >= 2000 and lag["p99"] < 2.0 else ("" if rate < 2000 else "misses")
                print(f"{client:7s} target {rate:7.0f} req/s: sent {achieved:7.0f} req/s, completed {s['completed']}/{s['sent']},"
                      f" lag p50 {lag['p50']:7.2f} p99 {lag['p99']:8.2f} max {lag['max']:8.2f} ms,"
                      f" e2el p50 {s['e2el_ms']['p50']:7.1f} ms, wall {wall:5.1f} s {verdict}")


if __name__ == "__main__":
    main([float(x) for x in sys.argv[1:]] or [500.0, 1000.0, 2000.0])
