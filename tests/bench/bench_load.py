"""How fast the open-loop load generator sends against the emulator, how late, and at what CPU cost.

Run: ``python tests/bench/bench_load.py [RATE ...]`` (not collected by pytest;
under a minute; default rates 500 1000 2000, each after the 100 req/s baseline).

The emulator runs in its own process (no GIL shared with the generator) with
64 slots of 6 ms (no queueing, so every answer is quick); the generator sends
non-streamed requests on a Poisson schedule of 1.5 s per rate, with each client
(``h1``, ``aiohttp``; ``httpx`` up to 500 req/s: past its ceiling a run only
grows a backlog). Per run it prints the achieved send rate, the send lag
(actual - scheduled) p50/p99/max against the target (2,000 req/s with lag
p99 < 2 ms), and the CPU each side spent per request: the generator's
``time.process_time()`` and the emulator process's user + system time from
``/proc/PID/stat``, divided by the requests. CPU per request is what says
whether a rate fits a quiet machine: at R req/s each side needs R x its CPU
per request of a core. The baseline in the same run (100 req/s, each client)
shows how busy the machine was, and the load average is printed before and
after. ``--json`` prints one JSON object instead of the table.

Figures and the machine they were measured on: docs/validate.md.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

from benchmarks.emulator import EmulatorConfig, PoolSpec
from benchmarks.emulator.process import EmulatorProcess
from benchmarks.load import Shape, build_prompts, build_schedule, run_load, summarize

TARGET_RATE = 2000.0
TARGET_LAG_P99_MS = 2.0
DURATION_S = 1.5


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one(emu: EmulatorProcess, prompts: Any, client: str, rate: float, event_loop: str = "auto") -> dict[str, Any]:
    assert emu.process is not None
    schedule = build_schedule((Shape("p32", 16, 4),), rate, duration_s=DURATION_S, seed=1)
    gen0, emu0, wall0 = time.process_time(), _cpu_s(emu.process.pid), time.perf_counter()
    run = run_load(emu.url, schedule, prompts, stream=False, client=client, event_loop=event_loop)
    gen1, emu1, wall1 = time.process_time(), _cpu_s(emu.process.pid), time.perf_counter()
    s = summarize(run, max_send_lag_ms=TARGET_LAG_P99_MS)
    n = len(run.records)
    sent = sorted(r.sent_s for r in run.records)
    return {
        "client": client, "event_loop": run.header()["event_loop"], "target_rate": rate, "requests": n,
        "sent_rate": (n - 1) / max(sent[-1] - sent[0], 1e-9), "completed": s["completed"],
        "send_lag_ms": s["send_lag_ms"], "e2el_ms_median": s["e2el_ms"]["p50"], "wall_s": wall1 - wall0,
        "generator_cpu_us_per_request": (gen1 - gen0) / n * 1e6, "emulator_cpu_us_per_request": (emu1 - emu0) / n * 1e6,
        "meets_target": rate >= TARGET_RATE and s["send_lag_ms"]["p99"] < TARGET_LAG_P99_MS and s["completed"] == n,
    }


def main(rates: list[float], as_json: bool = False) -> dict[str, Any]:
    spec = PoolSpec("p32", 32, 4, 64000.0, 8000.0, 0.005, 64, 1, queue_cap=None)  # S = 6 ms
    load_before = os.getloadavg()
    runs = []
    with EmulatorProcess(EmulatorConfig(pools=(spec,))) as emu:
        prompts = build_prompts([16], "words", emu.url, "m")
        plan = [("h1", r, "auto") for r in [100.0] + rates] + [("h1", TARGET_RATE, "asyncio")]
        plan += [("aiohttp", r, "auto") for r in [100.0] + rates]
        plan += [("httpx", r, "auto") for r in [100.0] + [r for r in rates if r <= 500]]
        for client, rate, loop in plan:
            row = _one(emu, prompts, client, rate, loop)
            runs.append(row)
            if not as_json:
                lag = row["send_lag_ms"]
                verdict = "MEETS" if row["meets_target"] else ("misses" if rate >= TARGET_RATE else "")
                print(f"{client:7s} {row['event_loop']:7s} {rate:5.0f} req/s: sent {row['sent_rate']:5.0f}/s,"
                      f" done {row['completed']}/{row['requests']}, lag p50 {lag['p50']:6.2f} p99 {lag['p99']:7.2f}"
                      f" max {lag['max']:7.2f} ms; CPU/request gen {row['generator_cpu_us_per_request']:4.0f} us"
                      f" emu {row['emulator_cpu_us_per_request']:4.0f} us {verdict}", flush=True)
    load_after = os.getloadavg()
    result = {"load_average_before": load_before, "load_average_after": load_after, "cpus": os.cpu_count(),
              "target": {"rate": TARGET_RATE, "send_lag_p99_ms": TARGET_LAG_P99_MS}, "runs": runs}
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print(f"load average (1/5/15 min) before {load_before[0]:.2f}/{load_before[1]:.2f}/{load_before[2]:.2f},"
              f" after {load_after[0]:.2f}/{load_after[1]:.2f}/{load_after[2]:.2f} on {os.cpu_count()} CPUs")
        for client in ("h1", "aiohttp", "httpx"):
            top = [r for r in runs if r["client"] == client and r["event_loop"] == runs[0]["event_loop"]]
            if top:
                best = max(top, key=lambda r: r["target_rate"])
                need_gen = TARGET_RATE * best["generator_cpu_us_per_request"] / 1e6
                need_emu = TARGET_RATE * best["emulator_cpu_us_per_request"] / 1e6
                print(f"{client}: at {TARGET_RATE:.0f} req/s the generator needs {need_gen:.2f} core and the emulator"
                      f" {need_emu:.2f} core (CPU per request of its {best['target_rate']:.0f} req/s run)")
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--json"]
    main([float(x) for x in args] or [500.0, 1000.0, 2000.0], as_json="--json" in sys.argv[1:])
